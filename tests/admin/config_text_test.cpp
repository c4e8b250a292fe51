// pvctl's preparation of a configuration before `create` sends it
// (dom0-tools/pvctl/config_text.h): UTF-8 only, relative paths made
// absolute against the file's directory, nothing else changed.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "config/domain_config.h"
#include "config_text.h"

using pv::pvctl::prepare_config;

TEST(ConfigText, RelativePathsBecomeAbsoluteAgainstTheFilesDirectory) {
  const std::string text =
      "# guest\nname = \"g\"\nmemory = 64\nkernel = \"boot/k.elf\"   # keep me\nramdisk = '../initrd'\n"
      "disk = [ 'format=raw, vdev=xvda, access=rw, target=img/a.img',\n"
      "         '/abs/b.img,raw,xvdb,ro' ]\nmaxvcpus = 4\nmy_note = 1\n";
  const auto p = prepare_config(text, "/etc/pv/guests/g.cfg");
  ASSERT_EQ(p.error, "");
  const auto cfg = pv::config::parse_domain_config(p.text, "g.cfg");
  ASSERT_TRUE(cfg.ok());
  EXPECT_EQ(cfg.config->kernel, "/etc/pv/guests/boot/k.elf");
  EXPECT_EQ(cfg.config->ramdisk, "/etc/pv/initrd");
  EXPECT_EQ(cfg.config->disks[0].target, "/etc/pv/guests/img/a.img");
  EXPECT_EQ(cfg.config->disks[1].target, "/abs/b.img");
  ASSERT_EQ(p.resolved.size(), 3u);
  EXPECT_EQ(p.resolved[0], "kernel: boot/k.elf -> /etc/pv/guests/boot/k.elf");
  // The other lines, and so the line numbers of pvd's messages, are kept.
  EXPECT_NE(p.text.find("# guest\nname = \"g\"\nmemory = 64\nkernel = \"/etc/pv/guests/boot/k.elf\"   # keep me\n"),
            std::string::npos)
      << p.text;
  EXPECT_NE(p.text.find("'/abs/b.img,raw,xvdb,ro' ]\nmaxvcpus = 4\n"), std::string::npos) << p.text;
  ASSERT_EQ(cfg.warnings.size(), 1u);
  EXPECT_EQ(cfg.warnings[0].line, 9);  // my_note (unknown: warned), where the user wrote it
}

TEST(ConfigText, AbsolutePathsAndUnparsableFilesAreSentAsTheyAre) {
  const std::string abs = "name = \"g\"\nmemory = 64\nkernel = \"/k\"\n";
  EXPECT_EQ(prepare_config(abs, "g.cfg").text, abs);
  EXPECT_TRUE(prepare_config(abs, "g.cfg").resolved.empty());
  const std::string bad = "name = \"g\"\nmemory = lots\nkernel = \"k\"\n";  // pvd names the errors
  EXPECT_EQ(prepare_config(bad, "g.cfg").text, bad);
  EXPECT_EQ(prepare_config(bad, "g.cfg").error, "");
}

TEST(ConfigText, ARelativeConfigPathUsesTheWorkingDirectory) {
  const auto p = prepare_config("name = \"g\"\nmemory = 64\nkernel = \"k\"\n", "sub/g.cfg");
  ASSERT_EQ(p.error, "");
  const std::string cwd = std::filesystem::current_path().string();
  EXPECT_NE(p.text.find("kernel = \"" + cwd + "/sub/k\""), std::string::npos) << p.text;
}

TEST(ConfigText, TextThatIsNotUtf8IsRefusedWithItsPlace) {
  const auto p = prepare_config("name = \"g\"\nmemory = 64\nkernel = \"/boot/caf\xe9\"\n", "g.cfg");
  EXPECT_EQ(p.error.rfind("g.cfg:3: not valid UTF-8 (byte \\xe9 at column 20", 0), 0u) << p.error;
}

TEST(ConfigText, APathItCannotRewriteIsAnError) {
  // The same literal twice on the line: which one is the kernel is not clear.
  const auto p = prepare_config("name = \"g\"\nmemory = 64\nkernel = \"k\"; cmdline = \"k\"\n", "/d/g.cfg");
  EXPECT_EQ(p.error.rfind("/d/g.cfg:3: kernel: cannot make the relative path", 0), 0u) << p.error;
}
