#include "config/domain_config.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

using namespace pv::config;

namespace {

const char* kMinimal = "name = \"web1\"\nmemory = 512\nkernel = \"/boot/pvguest.elf\"\n";

DomainConfig good(const std::string& text) {
  ParseResult r = parse_domain_config(text, "guest.cfg");
  EXPECT_TRUE(r.ok()) << (r.errors.empty() ? "" : r.errors[0].to_string());
  return r.config.value_or(DomainConfig{});
}

}  // namespace

TEST(DomainConfig, MinimalDefaults) {
  ParseResult r = parse_domain_config(kMinimal, "guest.cfg");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.warnings.empty());
  const DomainConfig& c = *r.config;
  EXPECT_EQ(c.name, "web1");
  EXPECT_EQ(c.type, "pvh");
  EXPECT_EQ(c.memory_mib, 512u);
  EXPECT_EQ(c.maxmem_mib, 512u);
  EXPECT_EQ(c.vcpus, 1u);
  EXPECT_EQ(c.maxvcpus, 1u);
  EXPECT_EQ(c.cpu_weight, 256u);  // xl's default share
  EXPECT_EQ(c.cap, 0u);
  EXPECT_EQ(c.kernel, "/boot/pvguest.elf");
  EXPECT_EQ(c.ramdisk, "");
  EXPECT_EQ(c.cmdline, "");
  EXPECT_EQ(c.on_poweroff, ShutdownAction::kDestroy);
  EXPECT_EQ(c.on_reboot, ShutdownAction::kRestart);
  EXPECT_EQ(c.on_watchdog, ShutdownAction::kDestroy);
  EXPECT_EQ(c.on_crash, ShutdownAction::kDestroy);
  EXPECT_EQ(c.on_soft_reset, ShutdownAction::kSoftReset);
  EXPECT_EQ(c.uuid, "");
  EXPECT_TRUE(c.disks.empty());
  EXPECT_TRUE(c.vifs.empty());
}

TEST(DomainConfig, Full) {
  DomainConfig c = good(R"(# A full PVH guest
name = 'db-2.prod'
type = "pvh"
uuid = "6E8A1A6B-1C5C-4B7D-9D7E-3F0A2B1C4D5E"
memory = 1024
maxmem = 2048
vcpus = 2
maxvcpus = 4
kernel = "/var/lib/pv/vmlinuz"
ramdisk = "/var/lib/pv/initrd"
cmdline = "console=hvc0 quiet"
on_poweroff = "destroy"
on_reboot = 'restart'
on_crash = "preserve"
on_watchdog = "coredump-restart"
disk = [
    'format=raw, vdev=xvda, access=rw, target=/var/lib/pv/db.img',
    '/var/lib/pv/data.img,raw,xvdb,ro',   # positional form
    '/srv/install.iso,,hdc,cdrom',
]
vif = [ 'mac=00:16:3e:01:02:03, bridge=pvbr0, ip=10.0.0.2 10.0.0.3',
        'bridge=nat0', ]
)");
  EXPECT_EQ(c.name, "db-2.prod");
  EXPECT_EQ(c.uuid, "6e8a1a6b-1c5c-4b7d-9d7e-3f0a2b1c4d5e");
  EXPECT_EQ(c.memory_mib, 1024u);
  EXPECT_EQ(c.maxmem_mib, 2048u);
  EXPECT_EQ(c.vcpus, 2u);
  EXPECT_EQ(c.maxvcpus, 4u);
  EXPECT_EQ(c.ramdisk, "/var/lib/pv/initrd");
  EXPECT_EQ(c.cmdline, "console=hvc0 quiet");
  EXPECT_EQ(c.on_crash, ShutdownAction::kPreserve);
  EXPECT_EQ(c.on_watchdog, ShutdownAction::kCoredumpRestart);
  ASSERT_EQ(c.disks.size(), 3u);
  EXPECT_EQ(c.disks[0].target, "/var/lib/pv/db.img");
  EXPECT_FALSE(c.disks[0].readonly());
  EXPECT_EQ(c.disks[1].vdev, "xvdb");
  EXPECT_TRUE(c.disks[1].readonly());
  EXPECT_EQ(c.disks[2].devtype, DiskDevType::kCdrom);
  ASSERT_EQ(c.vifs.size(), 2u);
  EXPECT_EQ(c.vifs[0].ips, (std::vector<std::string>{"10.0.0.2", "10.0.0.3"}));
  EXPECT_EQ(c.vifs[1].bridge, "nat0");
  EXPECT_FALSE(c.vifs[1].mac);
}

TEST(DomainConfig, NumbersAsXlReadsThem) {
  EXPECT_EQ(good("name='a'\nkernel='k'\nmemory=\"768\"").memory_mib, 768u);   // quoted number
  EXPECT_EQ(good("name='a'\nkernel='k'\nmemory=0x200").memory_mib, 512u);     // hex
  ParseResult r = parse_domain_config("name='a'\nkernel='k'\nmemory=0400", "g.cfg");  // octal, as strtol(,0)
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config->memory_mib, 256u);
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].key, "memory");
}

TEST(DomainConfig, CmdlineRootExtraAsXl) {
  std::string base = kMinimal;
  EXPECT_EQ(good(base + "root = '/dev/xvda1'\nextra = 'console=hvc0'\n").cmdline, "root=/dev/xvda1 console=hvc0");
  EXPECT_EQ(good(base + "root = '/dev/xvda1'\n").cmdline, "root=/dev/xvda1");
  EXPECT_EQ(good(base + "extra = 'quiet'\n").cmdline, "quiet");
  ParseResult r = parse_domain_config(base + "cmdline = 'a b'\nextra = 'ignored'\n", "g.cfg");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r.config->cmdline, "a b");
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_NE(r.warnings[0].message.find("in favour of cmdline"), std::string::npos);
}

TEST(DomainConfig, ShutdownActions) {
  for (const char* a : {"destroy", "restart", "rename-restart", "preserve", "coredump-destroy",
                        "coredump-restart", "soft-reset"}) {
    for (const char* key : {"on_poweroff", "on_reboot", "on_crash", "on_watchdog", "on_soft_reset"}) {
      DomainConfig c = good(std::string(kMinimal) + key + " = \"" + a + "\"\n");
      EXPECT_EQ(std::string(to_string(*parse_shutdown_action(a))), a);
      ShutdownAction got = std::string(key) == "on_poweroff" ? c.on_poweroff
                           : std::string(key) == "on_reboot" ? c.on_reboot
                           : std::string(key) == "on_crash"  ? c.on_crash
                           : std::string(key) == "on_watchdog" ? c.on_watchdog
                                                               : c.on_soft_reset;
      EXPECT_EQ(got, *parse_shutdown_action(a)) << key << "=" << a;
    }
  }
  EXPECT_FALSE(parse_shutdown_action("Destroy"));  // xl compares exactly
  EXPECT_FALSE(parse_shutdown_action("reboot"));
}

TEST(DomainConfig, UnknownKeys) {
  // A key xl knows but we do not use: a warning.
  ParseResult r = parse_domain_config(std::string(kMinimal) + "cpus = \"0-1\"\nvfb = [ 'vnc=1' ]\n", "g.cfg");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.warnings.size(), 2u);
  EXPECT_EQ(r.warnings[0].key, "cpus");
  // An unknown key far from any we use: a warning.
  r = parse_domain_config(std::string(kMinimal) + "my_custom_tag = \"x\"\n", "g.cfg");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(r.warnings[0].line, 4);
  // A typo of a key we use: an error with a suggestion.
  r = parse_domain_config(std::string(kMinimal) + "on_crsah = \"preserve\"\n", "g.cfg");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].to_string(), "g.cfg:4: on_crsah: unknown key; did you mean 'on_crash'?");
  r = parse_domain_config(std::string(kMinimal) + "ramdsk = \"/i\"\n", "g.cfg");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].message.find("'ramdisk'"), std::string::npos);
}

TEST(DomainConfig, NameRules) {
  EXPECT_EQ(check_domain_name("web-1_a.b"), "");
  EXPECT_NE(check_domain_name(""), "");
  EXPECT_NE(check_domain_name("123"), "");
  EXPECT_NE(check_domain_name("a b"), "");
  EXPECT_NE(check_domain_name("a/b"), "");
  EXPECT_NE(check_domain_name("-x"), "");
  EXPECT_NE(check_domain_name(".x"), "");
  EXPECT_NE(check_domain_name(std::string(65, 'a')), "");
  EXPECT_EQ(check_domain_name(std::string(64, 'a')), "");
}

TEST(DomainConfig, UuidForms) {
  EXPECT_EQ(canonical_uuid("00000000-0000-0000-0000-00000000000A"), "00000000-0000-0000-0000-00000000000a");
  EXPECT_FALSE(canonical_uuid("00000000000000000000000000000000"));
  EXPECT_FALSE(canonical_uuid("0000000-00000-0000-0000-000000000000"));
  EXPECT_FALSE(canonical_uuid("g0000000-0000-0000-0000-000000000000"));
}

TEST(DomainConfig, LoadFromFile) {
  std::string path = ::testing::TempDir() + "/domain_config_test.cfg";
  {
    std::ofstream f(path);
    f << kMinimal << "memory = lots\n";
  }
  ParseResult r = load_domain_config(path);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].file, path);
  EXPECT_EQ(r.errors[0].line, 4);
  {
    std::ofstream f(path);
    f << kMinimal;
  }
  EXPECT_EQ(load_domain_config_or_throw(path).name, "web1");
  std::remove(path.c_str());
  r = load_domain_config(path);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].to_string().find("cannot open"), std::string::npos);
}

TEST(DomainConfig, ThrowingVariantCarriesAllErrors) {
  try {
    parse_domain_config_or_throw("memory = 0\n", "bad.cfg");
    FAIL() << "no exception";
  } catch (const ConfigError& e) {
    EXPECT_GE(e.errors().size(), 3u);  // name, kernel missing; memory 0
    EXPECT_NE(std::string(e.what()).find("bad.cfg:1: memory: must be at least 1 MiB"), std::string::npos);
  }
}

TEST(DomainConfig, TooLargeInputRefused) {
  std::string big(kMaxConfigBytes + 1, '\n');
  ParseResult r = parse_domain_config(big, "api");
  EXPECT_FALSE(r.ok());
}
