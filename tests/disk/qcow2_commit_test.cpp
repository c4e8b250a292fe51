// Commit (disk/image_commit.h): a qcow2 overlay merged into its base, judged
// by QEMU's tools: after the commit `qemu-img compare` finds the base equal
// to the overlay as it was before (converted to raw first), `qemu-img
// check` finds the base clean, and the base equals what `qemu-img commit`
// makes of a copy of the same chain. Refusals change nothing.
#include <sys/stat.h>

#include <filesystem>

#include "disk/image_commit.h"
#include "disk/open_disk_image.h"
#include "disk/qcow2/qcow2_image.h"
#include "disk/qcow2/qcow2_rebase.h"
#include "disk_test_util.h"
#include "pv/error.h"

namespace {

using namespace disktest;
using pv::disk::Qcow2Image;

std::string q(const std::string& p) { return "'" + p + "'"; }

// The overlay's guest bytes: data in several clusters (whole and partial,
// across a cluster boundary), a zero cluster over base data, a discard.
void write_overlay(const std::string& top) {
  qemu("qemu-io -f qcow2 -c 'write -P 0x11 0 64k' -c 'write -P 0x22 100k 10k' -c 'write -P 0x33 1020k 8k'"
       " -c 'write -z 2m 64k' -c 'write -P 0x44 3m 1m' -c 'discard 3m 64k' " + q(top));
}

void write_base(const std::string& base, const std::string& format) {
  qemu("qemu-io -f " + format + " -c 'write -P 0xaa 0 4m' -c 'write -P 0xbb 5m 1m' " + q(base));
}

std::string compare(const std::string& a, const std::string& fa, const std::string& b, const std::string& fb) {
  const auto r = run("qemu-img compare -f " + fa + " -F " + fb + " " + q(a) + " " + q(b));
  return r.status == 0 ? "" : r.output;
}

// base.qcow2 (8 MiB, with data) and top.qcow2 over it, named relatively
// (a copy of the directory stands on its own base).
void base_and_top(const TempDir& t) {
  qemu("qemu-img create -q -f qcow2 " + q(t.file("base.qcow2")) + " 8M");
  write_base(t.file("base.qcow2"), "qcow2");
  qemu("cd " + q(t.path()) + " && qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 top.qcow2");
}

TEST(Qcow2Commit, MergesTheOverlayAsQemuImgCommitDoes) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir t;
  const std::string base = t.file("base.qcow2"), top = t.file("top.qcow2");
  base_and_top(t);
  write_overlay(top);
  const std::string before = t.file("before.raw");
  qemu("qemu-img convert -f qcow2 -O raw " + q(top) + " " + q(before));
  std::filesystem::create_directory(t.file("qemu"));
  std::filesystem::copy_file(base, t.file("qemu/base.qcow2"));
  std::filesystem::copy_file(top, t.file("qemu/top.qcow2"));
  qemu("qemu-img commit -q -f qcow2 " + q(t.file("qemu/top.qcow2")));

  const pv::disk::CommitStats s = pv::disk::commit_offline(top);
  EXPECT_EQ(s.base, base);
  EXPECT_EQ(s.base_format, "qcow2");
  EXPECT_GE(s.clusters, 4u);
  EXPECT_EQ(qemu_check(base).status, 0) << qemu_check(base).output;
  EXPECT_EQ(compare(base, "qcow2", before, "raw"), "");
  EXPECT_EQ(compare(base, "qcow2", t.file("qemu/base.qcow2"), "qcow2"), "");
  // The overlay is left as it was, and reads the same over the new base.
  EXPECT_EQ(qemu_check(top).status, 0);
  EXPECT_EQ(compare(top, "qcow2", before, "raw"), "");
}

TEST(Qcow2Commit, IntoAShorterRawBaseGrowsIt) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir t;
  const std::string base = t.file("base.img"), top = t.file("top.qcow2");
  qemu("qemu-img create -q -f raw " + q(base) + " 4M");
  qemu("qemu-io -f raw -c 'write -P 0xaa 0 4m' " + q(base));
  qemu("qemu-img create -q -f qcow2 -b " + q(base) + " -F raw " + q(top) + " 8M");
  write_overlay(top);
  qemu("qemu-io -f qcow2 -c 'write -P 0x55 7m 1m' " + q(top));
  const std::string before = t.file("before.raw");
  qemu("qemu-img convert -f qcow2 -O raw " + q(top) + " " + q(before));

  const auto s = pv::disk::commit_offline(top);
  EXPECT_EQ(s.base_format, "raw");
  EXPECT_EQ(std::filesystem::file_size(base), 8u << 20);
  EXPECT_EQ(compare(base, "raw", before, "raw"), "");
}

TEST(Qcow2Commit, TheMiddleOfAChainTakesTheTopAndTheBottomStaysAsItWas) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir t;
  const std::string bottom = t.file("bottom.qcow2"), mid = t.file("mid.qcow2"), top = t.file("top.qcow2");
  qemu("qemu-img create -q -f qcow2 " + q(bottom) + " 8M");
  write_base(bottom, "qcow2");
  const std::string bottom_before = t.file("bottom.raw"), top_before = t.file("top.raw");
  qemu("qemu-img convert -f qcow2 -O raw " + q(bottom) + " " + q(bottom_before));
  // The middle image has its own 128 KiB clusters: the copy's sub-cluster
  // writes there copy the rest from the bottom.
  qemu("qemu-img create -q -f qcow2 -o cluster_size=128k -b " + q(bottom) + " -F qcow2 " + q(mid));
  qemu("qemu-io -f qcow2 -c 'write -P 0x66 6m 64k' " + q(mid));
  qemu("qemu-img create -q -f qcow2 -o cluster_size=4k -b " + q(mid) + " -F qcow2 " + q(top));
  write_overlay(top);
  qemu("qemu-img convert -f qcow2 -O raw " + q(top) + " " + q(top_before));

  pv::disk::commit_offline(top);
  EXPECT_EQ(qemu_check(mid).status, 0) << qemu_check(mid).output;
  EXPECT_EQ(compare(mid, "qcow2", top_before, "raw"), "");
  EXPECT_EQ(compare(bottom, "qcow2", bottom_before, "raw"), "");
}

TEST(Qcow2Commit, RefusesWhatItMustNotWriteAndChangesNothing) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir t;
  const std::string lone = t.file("lone.qcow2");
  qemu("qemu-img create -q -f qcow2 " + q(lone) + " 1M");
  try {
    pv::disk::commit_offline(lone);
    ADD_FAILURE() << "an image without a backing file was committed";
  } catch (const pv::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("has no backing file"), std::string::npos) << e.what();
  }

  // A template's base: mode 0444.
  const std::string base = t.file("base.qcow2"), top = t.file("top.qcow2"), before = t.file("before.raw");
  base_and_top(t);
  qemu("qemu-img convert -f qcow2 -O raw " + q(base) + " " + q(before));
  write_overlay(top);
  ASSERT_EQ(::chmod(base.c_str(), 0444), 0);
  try {
    pv::disk::commit_offline(top);
    ADD_FAILURE() << "a read-only base was written";
  } catch (const pv::UserError& e) {
    EXPECT_NE(std::string(e.what()).find("is read-only (mode 0444"), std::string::npos) << e.what();
  }
  EXPECT_EQ(compare(base, "qcow2", before, "raw"), "");

  // A raw image is no overlay.
  ASSERT_EQ(::chmod(base.c_str(), 0644), 0);
  qemu("qemu-img create -q -f raw " + q(t.file("r.img")) + " 1M");
  EXPECT_THROW(pv::disk::commit_offline(t.file("r.img")), pv::UserError);
}

// What pv-backd's live commit is made of: allocated_clusters() lists the
// overlay's own clusters (data, zero, compressed), not the base's.
TEST(Qcow2Commit, AllocatedClustersAreTheOverlaysOwn) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir t;
  const std::string top = t.file("top.qcow2");
  base_and_top(t);
  qemu("qemu-io -f qcow2 -c 'write -P 1 64k 64k' -c 'write -P 2 200k 1k' -c 'write -z 1m 64k' " + q(top));
  Qcow2Image img(top, true);
  std::vector<uint64_t> c;
  ASSERT_EQ(img.allocated_clusters(c), 0);
  EXPECT_EQ(c, (std::vector<uint64_t>{1, 3, 16}));
}

// A merged overlay dropped from the middle of a chain: commit it, then
// rename the backing file of the image above it, as qemu-img rebase -u.
TEST(Qcow2Commit, RebaseDropsAMergedOverlayFromAChain) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir t;
  const std::string base = t.file("base.qcow2"), mid = t.file("top.qcow2"), top = t.file("upper.qcow2");
  base_and_top(t);
  write_overlay(mid);
  qemu("qemu-img create -q -f qcow2 -b " + q(mid) + " -F qcow2 " + q(top));
  qemu("qemu-io -f qcow2 -c 'write -P 0x77 1m 128k' " + q(top));
  const std::string before = t.file("before.raw");
  qemu("qemu-img convert -f qcow2 -O raw " + q(top) + " " + q(before));
  pv::disk::commit_offline(mid);
  pv::disk::rebase_qcow2_unsafe(top, base, "qcow2");
  const auto info = run("qemu-img info " + q(top));
  EXPECT_NE(info.output.find("backing file: " + base + "\n"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("backing file format: qcow2"), std::string::npos) << info.output;
  std::filesystem::remove(mid);
  EXPECT_EQ(qemu_check(top).status, 0) << qemu_check(top).output;
  EXPECT_EQ(compare(top, "qcow2", before, "raw"), "");
  Qcow2Image reopened(top, true);
  EXPECT_EQ(reopened.backing_path(), base);
  // A name that cannot fit is refused and changes nothing.
  EXPECT_THROW(pv::disk::rebase_qcow2_unsafe(top, std::string(1024, 'x'), "qcow2"), pv::UserError);
  EXPECT_EQ(compare(top, "qcow2", before, "raw"), "");
}

}  // namespace
