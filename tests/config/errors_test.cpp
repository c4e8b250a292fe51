// Every error names file, line and key, and no config comes from a bad file.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "config/domain_config.h"

using namespace pv::config;

namespace {

struct Case {
  const char* text;      // appended after a valid 3-line base unless `replace`
  const char* expected;  // the first error, exactly
  bool replace = false;
};

const std::string kBase = "name = \"g\"\nmemory = 512\nkernel = \"/k\"\n";

class ErrorCase : public ::testing::TestWithParam<Case> {};

}  // namespace

TEST_P(ErrorCase, NamesFileLineKey) {
  const Case& c = GetParam();
  std::string text = c.replace ? std::string(c.text) : kBase + c.text;
  ParseResult r = parse_domain_config(text, "guest.cfg");
  EXPECT_FALSE(r.config.has_value());
  ASSERT_FALSE(r.errors.empty()) << text;
  EXPECT_EQ(r.errors[0].to_string(), c.expected);
}

INSTANTIATE_TEST_SUITE_P(
    All, ErrorCase,
    ::testing::Values(
        Case{"name = \"g\"\nkernel = \"/k\"\n\n\n\n\nmemory = \"lots\"\n",
             "guest.cfg:7: memory: expected a number of MiB, got \"lots\"", true},
        Case{"name = \"g\"\nkernel = \"/k\"\n", "guest.cfg: memory: required key is missing: the guest's memory in MiB, "
             "e.g. memory = 512", true},
        Case{"memory = 512\nkernel = \"/k\"\n", "guest.cfg: name: required key is missing: the domain's name, "
             "e.g. name = \"web1\"", true},
        Case{"name = \"g\"\nmemory = 512\n", "guest.cfg: kernel: required key is missing: the PVH kernel to boot, "
             "e.g. kernel = \"/boot/vmlinuz\"", true},
        Case{"memory = 0\n", "guest.cfg:4: memory: must be at least 1 MiB, got 0"},
        Case{"memory = \"-1\"\n", "guest.cfg:4: memory: must be at least 1 MiB, got -1"},
        Case{"memory = 512\nmemory += 1\n", "guest.cfg:5: memory: '+=' cannot be used with numbers"},
        Case{"memory = 99999999999\n", "guest.cfg:4: memory: 99999999999 MiB is more than the limit of 16777216 MiB"},
        Case{"memory = 512M\n", "guest.cfg:4: memory: unquoted value '512M': put strings in quotes (\"...\" or "
             "'...'); numbers are decimal, 0x hex or 0 octal"},
        Case{"maxmem = 256\n", "guest.cfg:4: maxmem: maxmem (256 MiB) must be at least memory (512 MiB)"},
        Case{"vcpus = 0\n", "guest.cfg:4: vcpus: must be between 1 and 32, got 0"},
        Case{"vcpus = 33\n", "guest.cfg:4: vcpus: must be between 1 and 32, got 33"},
        Case{"vcpus = 4\nmaxvcpus = 2\n", "guest.cfg:5: maxvcpus: maxvcpus (2) must be at least vcpus (4)"},
        Case{"name = \"a b\"\n", "guest.cfg:4: name: invalid character \" \" in \"a b\" (use letters, digits, "
             "'_', '-' and '.')"},
        Case{"name = 42\n", "guest.cfg:4: name: \"42\" is all digits and would be taken for a domain ID"},
        Case{"name = [ \"a\" ]\n", "guest.cfg:4: name: expected a single value, got a list"},
        Case{"kernel = \"\"\n", "guest.cfg:4: kernel: must not be empty: the PVH kernel to boot, "
             "e.g. kernel = \"/boot/vmlinuz\""},
        Case{"type = \"hvm\"\n", "guest.cfg:4: type: guest type \"hvm\" is not supported: this platform runs PVH "
             "guests only (type = \"pvh\")"},
        Case{"builder = \"generic\"\n", "guest.cfg:4: builder: builder \"generic\" selects a PV guest, which this "
             "platform does not run; remove it and use type = \"pvh\""},
        Case{"on_crash = \"reboot\"\n", "guest.cfg:4: on_crash: unknown action \"reboot\" (one of destroy, restart, "
             "rename-restart, preserve, coredump-destroy, coredump-restart, soft-reset)"},
        Case{"uuid = \"nope\"\n", "guest.cfg:4: uuid: invalid UUID \"nope\" (expected the form "
             "01234567-89ab-cdef-0123-456789abcdef)"},
        Case{"memroy = 512\n", "guest.cfg:4: memroy: unknown key; did you mean 'memory'?"},
        Case{"disk = '/img,raw,xvda'\n", "guest.cfg:4: disk: expected a list of specs, e.g. disk = [ 'format=raw, "
             "vdev=xvda, access=rw, target=/path/disk.img' ]"},
        Case{"disk = [\n  '/a,raw,xvda',\n  '/b,raw',\n]\n",
             "guest.cfg:6: disk[1]: no vdev specified (the guest's device name, e.g. vdev=xvda) in \"/b,raw\""},
        Case{"disk = [ '/a,raw,xvda,rx' ]\n", "guest.cfg:4: disk[0]: unknown value for access: 'rx' (ro, r, rw, w, or w! to share it read-write) "
             "(the order is target, format, vdev, access) in \"/a,raw,xvda,rx\""},
        Case{"disk = [ 'vdev=xvda, speed=fast, target=/a' ]\n",
             "guest.cfg:4: disk[0]: unknown parameter 'speed' (known: target, format, vdev, access, devtype, backend, "
             "backendtype, script, specification, the I/O limits iops, iops_rd, iops_wr, bps, bps_rd, bps_wr, burst_ms, and the flags cdrom, discard, no-discard, direct-io-safe, trusted, "
             "untrusted, force-raw) in \"vdev=xvda, speed=fast, target=/a\""},
        Case{"disk = [ '/a,,xvda', '/b,,xvda' ]\n", "guest.cfg:4: disk[1]: vdev xvda is the same device as xvda of an "
             "earlier disk; each disk needs its own vdev"},
        Case{"disk = [ [ '/a,,xvda' ] ]\n", "guest.cfg:4: disk[0]: expected a disk spec string, got a list"},
        Case{"vif = [ 'mac=00:16:3e:zz:00:01' ]\n", "guest.cfg:4: vif[0]: invalid mac '00:16:3e:zz:00:01': write six "
             "pairs of hex digits separated by ':', e.g. mac=00:16:3e:12:34:56 in \"mac=00:16:3e:zz:00:01\""},
        Case{"vif = [ 'mac=00:16:3e:00:00:01', 'mac=00:16:3E:00:00:01' ]\n",
             "guest.cfg:4: vif[1]: mac 00:16:3e:00:00:01 is already used by vif[0]"},
        Case{"vif = [ 'bridge=br0, colour=blue' ]\n", "guest.cfg:4: vif[0]: unrecognized argument 'colour' (known: "
             "mac, bridge, ip, model, script, vifname, rate, backend, type, gatewaydev, mtu, devid, vlan, trusted, "
             "untrusted) in \"bridge=br0, colour=blue\""},
        Case{"extra = \"unterminated\n", "guest.cfg:4: extra: unterminated string: a quoted string must end on the "
             "line it starts"},
        Case{"Memory = 5\n", "guest.cfg:4: invalid key name 'Memory': keys are lower-case letters, digits, '_' and "
             "'.', starting with a letter"}));

TEST(Errors, AllErrorsOfAFileAreReported) {
  ParseResult r = parse_domain_config(
      "name = \"ok\"\nmemory = \"lots\"\nkernel = \"/k\"\nvcpus = 0\non_reboot = \"nope\"\n", "guest.cfg");
  EXPECT_FALSE(r.ok());
  ASSERT_EQ(r.errors.size(), 3u);
  EXPECT_EQ(r.errors[0].line, 2);
  EXPECT_EQ(r.errors[1].line, 4);
  EXPECT_EQ(r.errors[2].line, 5);
}

TEST(Errors, SyntaxErrorsStopBeforeMeaning) {
  // A file that does not parse yields only its syntax errors (no "name
  // missing" noise caused by the broken line).
  ParseResult r = parse_domain_config("name = 'a\nmemory = 512\nkernel = '/k'\n", "guest.cfg");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].key, "name");
  EXPECT_EQ(r.errors[0].line, 1);
}

TEST(Errors, DeepNestingIsRefusedNotRecursedInto) {
  std::string text = "a = " + std::string(100000, '[') + "\n";
  ParseResult r = parse_domain_config(text, "api");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.errors[0].message.find("nested"), std::string::npos);
}

TEST(Errors, GarbageNeverCrashes) {
  // Deterministic mutations of a good config: each must give a config or
  // errors, never a crash (this suite runs under ASan/UBSan).
  const std::string good =
      "name = \"g\"\nmemory = 512\nkernel = '/k'\ndisk = [ '/a,raw,xvda,rw', 'vdev=xvdb, target=/b' ]\n"
      "vif = [ 'mac=00:16:3e:00:00:01, ip=10.0.0.1, rate=1MB/s@20ms' ]\nextra = \"a\\tb\"\n";
  const std::string alphabet = "[]=,;#'\"\\\n\r\t +-:x0a@/\x01\xff";
  std::uint32_t seed = 12345;
  auto rnd = [&] { return seed = seed * 1103515245u + 12345u, (seed >> 16) & 0x7fff; };
  for (int i = 0; i < 3000; i++) {
    std::string t = good;
    for (int m = 0, n = 1 + rnd() % 4; m < n; m++) {
      size_t at = rnd() % (t.size() + 1);
      switch (rnd() % 3) {
        case 0: t.insert(at, 1, alphabet[rnd() % alphabet.size()]); break;
        case 1: if (at < t.size()) t.erase(at, 1); break;
        default: if (at < t.size()) t[at] = alphabet[rnd() % alphabet.size()]; break;
      }
    }
    ParseResult r = parse_domain_config(t, "fuzz");
    EXPECT_NE(r.ok(), !r.errors.empty());
    if (r.ok()) {
      ParseResult again = parse_domain_config(to_string(*r.config), "again");
      ASSERT_TRUE(again.ok()) << t;
      EXPECT_EQ(*again.config, *r.config) << t;
    }
  }
}
