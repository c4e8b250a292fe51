#include <gtest/gtest.h>

#include "config/domain_config.h"

using namespace pv::config;

TEST(RoundTrip, MinimalConfig) {
  DomainConfig c = parse_domain_config_or_throw("name='a'\nmemory=64\nkernel='/k'\n", "a.cfg");
  std::string text = to_string(c);
  ParseResult again = parse_domain_config(text, "persisted.cfg");
  ASSERT_TRUE(again.ok()) << text;
  EXPECT_TRUE(again.warnings.empty()) << again.warnings[0].to_string();
  EXPECT_EQ(*again.config, c);
  EXPECT_EQ(to_string(*again.config), text);  // canonical: a fixed point
}

TEST(RoundTrip, FullConfigWithAwkwardStrings) {
  DomainConfig c = parse_domain_config_or_throw(R"(
name = "rt"
uuid = "6e8a1a6b-1c5c-4b7d-9d7e-3f0a2b1c4d5e"
memory = 300
maxmem = 600
vcpus = 3
maxvcpus = 8
cpu_weight = 768
cap = 350
kernel = "/path with spaces/it's \"quoted\"\\k"
ramdisk = '/r'
root = "/dev/xvda1"
extra = "console=hvc0\tfoo=#notacomment"
on_poweroff = "preserve"
on_reboot = "rename-restart"
on_crash = "coredump-destroy"
on_watchdog = "restart"
on_soft_reset = "destroy"
disk = [ '/a,,xvda', 'phy:/dev/vg/lv,xvdb,r', ',hdc:cdrom,r',
         'vdev=xvdd, no-discard, target=/odd,path' ]
vif = [ 'mac=00:16:3e:00:00:01,ip=10.1.1.1 10.1.1.2,rate=5MB/s', '' ]
)",
                                                "full.cfg");
  EXPECT_EQ(c.cmdline, "root=/dev/xvda1 console=hvc0\tfoo=#notacomment");
  EXPECT_EQ(c.cpu_weight, 768u);
  EXPECT_EQ(c.cap, 350u);
  std::string text = to_string(c);
  ParseResult again = parse_domain_config(text, "persisted.cfg");
  ASSERT_TRUE(again.ok()) << text << "\n" << again.errors[0].to_string();
  EXPECT_EQ(*again.config, c) << text;
  EXPECT_EQ(to_string(*again.config), text);
}

TEST(RoundTrip, CanonicalTextLooksLikeXl) {
  DomainConfig c;
  c.name = "x";
  c.memory_mib = c.maxmem_mib = 128;
  c.kernel = "/k";
  c.disks.push_back(*parse_disk_spec("/img,,xvda").disk);
  EXPECT_EQ(to_string(c),
            "name = \"x\"\n"
            "type = \"pvh\"\n"
            "memory = 128\n"
            "maxmem = 128\n"
            "vcpus = 1\n"
            "maxvcpus = 1\n"
            "kernel = \"/k\"\n"
            "on_poweroff = \"destroy\"\n"
            "on_reboot = \"restart\"\n"
            "on_watchdog = \"destroy\"\n"
            "on_crash = \"destroy\"\n"
            "on_soft_reset = \"soft-reset\"\n"
            "disk = [\n"
            "    \"format=raw, vdev=xvda, access=rw, target=/img\",\n"
            "]\n");
}
