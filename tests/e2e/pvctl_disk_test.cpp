// pvctl disk create / info against QEMU's own tools: what pvctl makes,
// qemu-img accepts as it is (format, size, backing file, a clean check),
// and what qemu-img makes, pvctl describes right. No pvd is involved.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include "pvd_fixture.h"

namespace {

using namespace pvtest;

class PvctlDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    if (run({"/usr/bin/env", "qemu-img", "--version"}, 10s).exit_code != 0)
      GTEST_SKIP() << "qemu-img is not installed (package qemu-utils)";
    char tmpl[] = "/var/tmp/pvctl-disk.XXXXXX";
    dir_ = ::mkdtemp(tmpl);
  }
  void TearDown() override {
    if (!dir_.empty()) fs::remove_all(dir_);
  }
  Result pvctl(std::vector<std::string> args) {
    args.insert(args.begin(), {kPvctl, "disk"});
    return run(args, 30s);
  }
  Result qemu_img(std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/env", "qemu-img"});
    return run(args, 30s);
  }
  std::string dir_;
};

TEST_F(PvctlDisk, ACreatedQcow2IsWhatQemuImgExpects) {
  const std::string img = dir_ + "/a.qcow2";
  Result c = pvctl({"create", img, "64M"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.out.find("created " + img + " (qcow2, 67108864 bytes)"), std::string::npos) << c.out;
  Result i = qemu_img({"info", "--output=json", img});
  ASSERT_EQ(i.exit_code, 0) << i.err;
  EXPECT_NE(i.out.find("\"format\": \"qcow2\""), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("\"virtual-size\": 67108864"), std::string::npos) << i.out;
  EXPECT_EQ(qemu_img({"check", img}).exit_code, 0);
  // Thin: a 64 MiB disk takes a few clusters of metadata.
  struct stat st{};
  ASSERT_EQ(::stat(img.c_str(), &st), 0);
  EXPECT_LT(uint64_t(st.st_blocks) * 512, 1u << 20);

  // An overlay takes its base's size and names it as qemu-img reads it.
  const std::string top = dir_ + "/top.qcow2";
  Result o = pvctl({"create", top, "--backing", img});
  ASSERT_EQ(o.exit_code, 0) << o.err;
  Result oi = qemu_img({"info", "--output=json", top});
  EXPECT_NE(oi.out.find("\"backing-filename\": \"" + img + "\""), std::string::npos) << oi.out;
  EXPECT_NE(oi.out.find("\"virtual-size\": 67108864"), std::string::npos) << oi.out;
  EXPECT_EQ(qemu_img({"check", top}).exit_code, 0);

  Result info = pvctl({"info", top});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("format: qcow2\nvirtual size: 67108864 bytes\n"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("cluster size: 65536\n"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("backing file: " + img + " (qcow2, 67108864 bytes)"), std::string::npos) << info.out;
  Result j = pvctl({"info", top, "--json"});
  EXPECT_NE(j.out.find("\"format\": \"qcow2\", \"virtual_size\": 67108864"), std::string::npos) << j.out;
  EXPECT_NE(j.out.find("\"backing_chain\": [{\"path\": \"" + img + "\", \"format\": \"qcow2\""), std::string::npos)
      << j.out;
}

TEST_F(PvctlDisk, QemuImgsImagesAreDescribed) {
  const std::string base = dir_ + "/base.raw", top = dir_ + "/top.qcow2";
  ASSERT_EQ(qemu_img({"create", "-q", "-f", "raw", base, "16M"}).exit_code, 0);
  ASSERT_EQ(qemu_img({"create", "-q", "-f", "qcow2", "-o", "cluster_size=4096", "-b", "base.raw", "-F", "raw", top})
                .exit_code,
            0);
  Result info = pvctl({"info", top});
  ASSERT_EQ(info.exit_code, 0) << info.err;
  EXPECT_NE(info.out.find("virtual size: 16777216 bytes"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("cluster size: 4096"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("backing file: " + base + " (raw, 16777216 bytes)"), std::string::npos) << info.out;
  Result raw = pvctl({"info", base});
  EXPECT_NE(raw.out.find("format: raw\nvirtual size: 16777216 bytes"), std::string::npos) << raw.out;
}

TEST_F(PvctlDisk, RawImagesAreSparseAndNothingIsOverwritten) {
  const std::string img = dir_ + "/r.img";
  ASSERT_EQ(pvctl({"create", img, "1g", "--format=raw"}).exit_code, 0);
  struct stat st{};
  ASSERT_EQ(::stat(img.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 1 << 30);
  EXPECT_LT(st.st_blocks, 64);
  Result again = pvctl({"create", img, "1M"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("exists"), std::string::npos) << again.err;
  ASSERT_EQ(::stat(img.c_str(), &st), 0);
  EXPECT_EQ(st.st_size, 1 << 30) << "an existing file was changed";
}

TEST_F(PvctlDisk, BadWordsAndBadImagesAreRefused) {
  for (std::vector<std::string> bad : {std::vector<std::string>{"create", dir_ + "/x"}, {"create", dir_ + "/x", "12q"},
                                       {"create", dir_ + "/x", "0"}, {"create", dir_ + "/x", "1M", "--format=vmdk"},
                                       {"create", dir_ + "/x", "1M", "--format=raw", "--backing=/b"}, {"info"}})
    EXPECT_EQ(pvctl(bad).exit_code, 2) << bad.back();
  EXPECT_FALSE(fs::exists(dir_ + "/x"));
  const std::string junk = dir_ + "/junk.qcow2";
  std::ofstream(junk) << std::string("QFI\xfb", 4) << std::string(100, '\xff');
  Result r = pvctl({"info", junk});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(junk), std::string::npos) << r.err;
  Result missing = pvctl({"create", dir_ + "/o.qcow2", "--backing", dir_ + "/none.qcow2"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_FALSE(fs::exists(dir_ + "/o.qcow2")) << "a failed create left a file";
}

// disk resize PATH SIZE on images no domain uses: a qemu-img qcow2 (with
// data, which stays) and a raw file grow; qemu-img agrees; shrinking and
// bad sizes are refused.
TEST_F(PvctlDisk, ResizeGrowsAnImageNotInUse) {
  const std::string q = dir_ + "/g.qcow2", r = dir_ + "/g.img";
  ASSERT_EQ(qemu_img({"create", "-q", "-f", "qcow2", q, "16M"}).exit_code, 0);
  ASSERT_EQ(run({"/usr/bin/env", "qemu-io", "-c", "write -P 0x5a 15M 1M", q}, 30s).exit_code, 0);
  Result g = pvctl({"resize", q, "1G"});
  ASSERT_EQ(g.exit_code, 0) << g.err;
  EXPECT_NE(g.out.find("resized " + q + " (qcow2) to 1073741824 bytes"), std::string::npos) << g.out;
  Result info = qemu_img({"info", q});
  EXPECT_NE(info.out.find("virtual size: 1 GiB"), std::string::npos) << info.out;
  Result check = qemu_img({"check", q});
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  Result io = run({"/usr/bin/env", "qemu-io", "-c", "read -P 0x5a 15M 1M", "-c", "read -P 0 16M 1008M", q}, 30s);
  EXPECT_EQ(io.exit_code, 0) << io.out << io.err;
  EXPECT_EQ(io.out.find("verification failed"), std::string::npos) << io.out;

  ASSERT_EQ(pvctl({"create", r, "8M", "--format=raw"}).exit_code, 0);
  ASSERT_EQ(pvctl({"resize", r, "24M"}).exit_code, 0);
  EXPECT_EQ(fs::file_size(r), uint64_t(24) << 20);

  Result shrink = pvctl({"resize", q, "8M"});
  EXPECT_EQ(shrink.exit_code, 1);
  EXPECT_NE(shrink.err.find("shrinking is not supported"), std::string::npos) << shrink.err;
  EXPECT_EQ(pvctl({"resize", r, "1000"}).exit_code, 2);  // not whole sectors
  EXPECT_EQ(pvctl({"resize", r}).exit_code, 2);
}

}  // namespace
