// qcow2 served by the real BlkQueue, as a guest sees it: a fake guest
// writes and reads through the ring into a qcow2 overlay that QEMU's
// qemu-img made on a raw base, flushes, and QEMU's tools then judge the
// result: `qemu-img check` finds the image clean and `qemu-img compare`
// finds exactly the bytes the guest saw acknowledged; the base never
// changes. (tests/disk drives Qcow2Image directly; this is the path
// pv-backd takes.)
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "disk/open_disk_image.h"
#include "fake_guest.h"

namespace {

using namespace blktest;

std::string slurp_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), {});
}

bool have_qemu_img() { return std::system("qemu-img --version >/dev/null 2>&1") == 0; }

int sh(const std::string& cmd) {
  const int rc = std::system(cmd.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

TEST(Qcow2Queue, GuestWritesOnAnOverlayAreWhatQemuImgReads) {
  if (!have_qemu_img()) GTEST_SKIP() << "qemu-img is not installed (package qemu-utils)";
  char tmpl[] = "/var/tmp/qcow2-queue.XXXXXX";
  const std::string dir = ::mkdtemp(tmpl);
  const std::string base = dir + "/base.raw", overlay = dir + "/overlay.qcow2", expect = dir + "/expect.raw";
  {
    std::vector<uint8_t> img(kDiskBytes);
    fill_pattern(img.data(), img.size(), 0, 1);
    std::FILE* f = std::fopen(base.c_str(), "wb");
    ASSERT_TRUE(f);
    std::fwrite(img.data(), 1, img.size(), f);
    std::fclose(f);
    f = std::fopen(expect.c_str(), "wb");
    std::fwrite(img.data(), 1, img.size(), f);
    std::fclose(f);
  }
  // 4 KiB clusters: a 4 MiB disk gets many of them, sub-cluster writes happen.
  ASSERT_EQ(sh("qemu-img create -q -f qcow2 -o cluster_size=4096 -b " + base + " -F raw " + overlay), 0);
  const std::string base_before = slurp_file(base);

  FakeGuest g;
  Limits l;
  l.disk_sectors = kDiskSectors;
  l.discard = true;
  g.start_image(pv::disk::open_disk_image(overlay, "qcow2", false), l);

  std::vector<uint8_t> model = std::vector<uint8_t>(base_before.begin(), base_before.end());
  std::mt19937 rng(7);
  for (unsigned i = 0; i < 200; i++) {
    // 1-4 pages at a random sector; sometimes only part of the first page.
    const unsigned pages = 1 + rng() % 4;
    const uint8_t first = (i % 3 == 0) ? uint8_t(rng() % 8) : 0;
    const uint64_t sectors = pages * 8 - first;
    const uint64_t sector = rng() % (kDiskSectors - sectors);
    for (unsigned p = 0; p < pages; p++) {
      g.grant(100 + p, kDataGfn + p);
      fill_pattern(g.page(kDataGfn + p), 4096, sector + p * 8, 100 + i);
    }
    auto r = rw_request(B::BLKIF_OP_WRITE, i, sector, pages, 100, 0, 7);
    r.seg[0].first_sect = first;
    ASSERT_EQ(g.run(r).status, B::BLKIF_RSP_OKAY) << i;
    // What the guest wrote: from sector `first` of its first page on.
    std::memcpy(&model[sector * 512], g.page(kDataGfn) + first * 512, (8 - first) * 512);
    for (unsigned p = 1; p < pages; p++)
      std::memcpy(&model[(sector + (8 - first) + (p - 1) * 8) * 512], g.page(kDataGfn + p), 4096);
    if (i % 50 == 49) {
      ASSERT_EQ(g.run(rw_request(B::BLKIF_OP_FLUSH_DISKCACHE, 1000 + i, 0, 0, 0)).status, B::BLKIF_RSP_OKAY);
    }
  }
  // Reads through the ring see the model, written and unwritten parts alike.
  for (uint64_t sector = 0; sector < kDiskSectors; sector += 64) {
    for (unsigned p = 0; p < 8; p++) g.grant(200 + p, kDataGfn + 16 + p);
    ASSERT_EQ(g.run(rw_request(B::BLKIF_OP_READ, 5000 + sector, sector, 8, 200)).status, B::BLKIF_RSP_OKAY);
    for (unsigned p = 0; p < 8; p++) {
      ASSERT_EQ(std::memcmp(g.page(kDataGfn + 16 + p), &model[(sector + p * 8) * 512], 4096), 0) << sector + p * 8;
    }
  }
  ASSERT_EQ(g.run(rw_request(B::BLKIF_OP_FLUSH_DISKCACHE, 9999, 0, 0, 0)).status, B::BLKIF_RSP_OKAY);
  g.stop();

  std::FILE* f = std::fopen(expect.c_str(), "wb");
  std::fwrite(model.data(), 1, model.size(), f);
  std::fclose(f);
  EXPECT_EQ(sh("qemu-img check -q " + overlay), 0) << "qemu-img check found errors or leaks";
  EXPECT_EQ(sh("qemu-img compare -q -f qcow2 -F raw " + overlay + " " + expect), 0)
      << "qemu-img reads other bytes than the guest saw acknowledged";
  EXPECT_TRUE(slurp_file(base) == base_before) << "the base changed";
  sh("rm -rf " + dir);
}

}  // namespace
