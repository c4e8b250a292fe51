// Templates end to end (issue 14): `pvctl template create` from a running
// domain, then three clones with `pvctl create --template` (copy-on-write
// qcow2 overlays on the template's base, made in seconds); each clone reads
// the base's data and writes its own; the base never changes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <regex>
#include <string>
#include <vector>

#include "storage_fixture.h"

namespace {

using namespace pvtest;

class Template : public StorageFixture {};

TEST_F(Template, ThreeClonesWriteTheirOwnDataAndTheBaseNeverChanges) {
  const std::string base = raw("src", 16);
  write_file_at(base, 0, guest_pattern(0, 4096, 11));
  const uint32_t src = create("src", "blkio=info idle", disk(base, "raw"));
  ASSERT_TRUE(console_has(src, "BLKIO DONE", 60s)) << console(src);
  Result t = pvctl({"template", "create", "t1", "--from", "src"});
  ASSERT_EQ(t.exit_code, 0) << t.out << t.err << slurp(state_ + "/pv-backd.log");
  EXPECT_EQ(t.out, "t1: " + base + "\n");
  struct stat st{};
  ASSERT_EQ(::stat(base.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0444u) << "the base is not read-only";
  // The source domain goes on in its snapshot overlay.
  EXPECT_EQ(xs_read(backend(src) + "/params"), dir_ + "/src.tmpl-t1.qcow2");
  const std::string before = slurp(base);

  std::vector<uint32_t> ids;
  for (int i = 1; i <= 3; i++) {
    const std::string vm = "vm" + std::to_string(i);
    const auto t0 = std::chrono::steady_clock::now();
    Result c = pvctl({"create", "--template", "t1", "--name", vm,
                      "extra=blkio=read,seq,bs=64k,bytes=2m,seed=11,verify;write,seq,bs=64k,start=8192,bytes=1m,seed=" +
                          std::to_string(20 + i) + ",verify,flush idle"});
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ASSERT_EQ(c.exit_code, 0) << c.out << c.err;
    EXPECT_LT(secs, 15.0) << "a clone took " << secs << " s";
    std::fprintf(stderr, "measured: clone %s created in %.2f s\n", vm.c_str(), secs);
    std::smatch m;
    ASSERT_TRUE(std::regex_search(c.out, m, std::regex("\\(id ([0-9]+)\\) from template t1"))) << c.out;
    ids.push_back(uint32_t(std::stoul(m[1])));
  }
  for (int i = 1; i <= 3; i++) {
    const std::string out = wait_blkio(ids[i - 1], 120s);
    EXPECT_NE(out.find("BLKIO DONE cmds=2 failed=0"), std::string::npos) << out;
    EXPECT_NE(out.find("BLKIO verify ok sectors=4096"), std::string::npos) << "the base did not show through\n" << out;
  }
  for (int i = 1; i <= 3; i++) {
    const std::string vm = "vm" + std::to_string(i);
    const std::string overlay = state_ + "/templates/t1/clones/" + vm + ".xvda.qcow2";
    destroy_and_release(vm, overlay);
    EXPECT_EQ(qemu_check(overlay), "");
    const std::string flat = dir_ + "/" + vm + ".flat";
    ASSERT_EQ(qemu_img({"convert", "-q", "-O", "raw", overlay, flat}).exit_code, 0);
    EXPECT_EQ(check_guest_pattern(flat, 0, 4096, 11), "") << vm;
    EXPECT_EQ(check_guest_pattern(flat, 8192, 2048, 20 + uint64_t(i)), "") << vm;
  }
  EXPECT_TRUE(slurp(base) == before) << "the base changed";
  Result list = pvctl({"template", "list"});
  EXPECT_EQ(list.out, "t1: " + base + "\n") << list.err;
  EXPECT_EQ(pvctl({"template", "create", "t1", "--from", "src"}).exit_code, 1);  // exists
  Result bad = pvctl({"create", "--template", "t1", "--name", "vm9", "kernel=/x"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("not 'kernel='"), std::string::npos) << bad.err;
  EXPECT_EQ(pvctl({"template", "delete", "t1"}).exit_code, 0);
  EXPECT_EQ(pvctl({"template", "list"}).out, "");
  EXPECT_EQ(pvctl({"create", "--template", "t1", "--name", "vm4"}).exit_code, 1);
}

}  // namespace
