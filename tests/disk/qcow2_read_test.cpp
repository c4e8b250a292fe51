// Qcow2Image reading images QEMU made: data written with qemu-io, cluster
// sizes 4K/64K/2M, version 2 (compat=0.10), backing files (raw, qcow2, a
// chain of three), compressed clusters from `qemu-img convert -c`, zero
// clusters; and the runs it maps (kFile on the right file, kZero, kCopy).
#include "disk/qcow2/qcow2_image.h"

#include <algorithm>

#include "disk/format_probe.h"
#include "disk/image_info.h"
#include "disk_test_util.h"
#include "pv/error.h"

namespace disktest {
namespace {

using pv::disk::Qcow2Image;

constexpr uint64_t kMiB = 1 << 20;

// qemu-io writes of a byte pattern (`-P value`).
void qemu_write(const std::string& img, const std::string& fmt, uint64_t off, uint64_t len, int value) {
  qemu("qemu-io -f " + fmt + " -c 'write -P " + std::to_string(value) + " " + std::to_string(off) + " " + std::to_string(len) + "' '" + img + "'");
}

bool all_bytes(const std::vector<uint8_t>& v, uint8_t b) {
  for (uint8_t x : v)
    if (x != b) return false;
  return true;
}

class Qcow2ReadClusterSize : public ::testing::TestWithParam<std::pair<uint64_t, const char*>> {};

TEST_P(Qcow2ReadClusterSize, ReadsWhatQemuIoWrote) {
  SKIP_WITHOUT_QEMU_IMG();
  const auto [cs, compat] = GetParam();
  TempDir dir;
  const auto img = dir.file("a.qcow2");
  qemu("qemu-img create -q -f qcow2 -o cluster_size=" + std::to_string(cs) + ",compat=" + compat + " '" + img + "' 64M");
  qemu_write(img, "qcow2", 0, 4096, 0x11);
  qemu_write(img, "qcow2", 3 * kMiB + 512, 9000, 0x22);      // sub-cluster, unaligned
  qemu_write(img, "qcow2", 40 * kMiB - 4096, 8192, 0x33);    // across clusters
  qemu_write(img, "qcow2", 64 * kMiB - 512, 512, 0x44);      // the last sector
  Qcow2Image q(img, true);
  EXPECT_EQ(q.bytes(), 64 * kMiB);
  EXPECT_EQ(q.cluster_size(), cs);
  EXPECT_EQ(q.version(), std::string(compat) == "0.10" ? 2u : 3u);
  EXPECT_TRUE(all_bytes(image_read(q, 0, 4096), 0x11));
  EXPECT_TRUE(all_bytes(image_read(q, 4096, 4096), 0));
  EXPECT_TRUE(all_bytes(image_read(q, 3 * kMiB, 512), 0));
  EXPECT_TRUE(all_bytes(image_read(q, 3 * kMiB + 512, 9000), 0x22));
  EXPECT_TRUE(all_bytes(image_read(q, 40 * kMiB - 4096, 8192), 0x33));
  EXPECT_TRUE(all_bytes(image_read(q, 64 * kMiB - 512, 512), 0x44));
  EXPECT_TRUE(all_bytes(image_read(q, 20 * kMiB, kMiB), 0));
  // Runs: unallocated space without a backing file is kZero, data kFile.
  std::vector<ImageRun> runs;
  ASSERT_EQ(q.map_read(20 * kMiB, kMiB, runs), 0);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].kind, ImageRun::Kind::kZero);
  runs.clear();
  ASSERT_EQ(q.map_read(0, 4096, runs), 0);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].kind, ImageRun::Kind::kFile);
  EXPECT_EQ(runs[0].file, &q.file());
  // Out of range.
  EXPECT_EQ(q.map_read(64 * kMiB, 512, runs), -EINVAL);
}

INSTANTIATE_TEST_SUITE_P(Sizes, Qcow2ReadClusterSize,
                         ::testing::Values(std::make_pair(uint64_t(4096), "1.1"), std::make_pair(uint64_t(65536), "1.1"),
                                           std::make_pair(uint64_t(2 * kMiB), "1.1"), std::make_pair(uint64_t(65536), "0.10"),
                                           std::make_pair(uint64_t(512), "1.1")),
                         [](const auto& p) {
                           return std::to_string(p.param.first) + (std::string(p.param.second) == "0.10" ? "_v2" : "_v3");
                         });

TEST(Qcow2Read, RawBackingShowsThroughUnallocatedClusters) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  const auto base = dir.file("base.raw"), top = dir.file("top.qcow2");
  RawFile raw(base, 8 * kMiB);  // shorter than the overlay: past it reads zeros
  raw.write(0, pattern(8 * kMiB, 0, 7));
  qemu("qemu-img create -q -f qcow2 -b base.raw -F raw '" + top + "' 16M");
  qemu_write(top, "qcow2", kMiB, 4096, 0x55);
  Qcow2Image q(top, true);
  EXPECT_EQ(q.backing_format(), "raw");
  EXPECT_EQ(q.backing_path(), dir.path() + "/base.raw");  // relative to the overlay's directory
  EXPECT_EQ(image_read(q, 0, kMiB), pattern(kMiB, 0, 7));
  EXPECT_TRUE(all_bytes(image_read(q, kMiB, 4096), 0x55));
  EXPECT_EQ(image_read(q, kMiB + 4096, 60 * 1024), pattern(60 * 1024, kMiB + 4096, 7));  // the rest of the cluster: the backing
  EXPECT_TRUE(all_bytes(image_read(q, 8 * kMiB, 8 * kMiB), 0));
  // A run across the end of the backing file: backing kFile, then kZero.
  std::vector<ImageRun> runs;
  ASSERT_EQ(q.map_read(8 * kMiB - 4096, 8192, runs), 0);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].kind, ImageRun::Kind::kFile);
  EXPECT_EQ(runs[0].file->path(), dir.path() + "/base.raw");
  EXPECT_EQ(runs[1].kind, ImageRun::Kind::kZero);
}

TEST(Qcow2Read, ChainOfThreeWithQcow2AndRawBelow) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  const auto base = dir.file("base.raw"), mid = dir.file("mid.qcow2"), top = dir.file("top.qcow2");
  RawFile raw(base, 16 * kMiB);
  raw.write(0, pattern(16 * kMiB, 0, 1));
  qemu("qemu-img create -q -f qcow2 -b base.raw -F raw '" + mid + "'");
  qemu_write(mid, "qcow2", 2 * kMiB, 128 * 1024, 0x66);
  qemu("qemu-img create -q -f qcow2 -b mid.qcow2 -F qcow2 '" + top + "'");
  qemu_write(top, "qcow2", 2 * kMiB + 65536, 4096, 0x77);
  qemu("qemu-img create -q -f qcow2 -b top.qcow2 -F qcow2 '" + dir.file("leaf.qcow2") + "'");
  Qcow2Image q(dir.file("leaf.qcow2"), true);
  EXPECT_EQ(q.bytes(), 16 * kMiB);
  auto got = image_read(q, 0, 16 * kMiB);
  auto want = pattern(16 * kMiB, 0, 1);
  std::memset(&want[2 * kMiB], 0x66, 128 * 1024);
  std::memset(&want[2 * kMiB + 65536], 0x77, 4096);
  EXPECT_TRUE(got == want);
  auto info = pv::disk::describe_image(dir.file("leaf.qcow2"));
  EXPECT_EQ(info.format, "qcow2");
  EXPECT_EQ(info.virtual_size, 16 * kMiB);
  ASSERT_EQ(info.backing_chain.size(), 3u);
  EXPECT_EQ(info.backing_chain[0].format, "qcow2");
  EXPECT_EQ(info.backing_chain[2].format, "raw");
  EXPECT_EQ(info.backing_chain[2].path, dir.path() + "/base.raw");
}

TEST(Qcow2Read, BackingFormatIsProbedWhenNotRecorded) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  qemu("qemu-img create -q -f qcow2 '" + dir.file("base.qcow2") + "' 4M");
  qemu_write(dir.file("base.qcow2"), "qcow2", 0, 65536, 0x12);
  qemu("qemu-img create -q -f qcow2 -b base.qcow2 -F qcow2 '" + dir.file("top.qcow2") + "' 4M");
  // An old-style image: the backing format extension renamed to an unknown
  // one (which must be ignored), so the format is probed.
  {
    pv::UniqueFd fd(::open(dir.file("top.qcow2").c_str(), O_RDWR));
    std::vector<uint8_t> hdr(4096);
    ASSERT_EQ(::pread(fd.get(), hdr.data(), hdr.size(), 0), 4096);
    const uint8_t type[4] = {0xe2, 0x79, 0x2a, 0xca};
    auto it = std::search(hdr.begin() + 104, hdr.end(), type, type + 4);
    ASSERT_NE(it, hdr.end());
    const uint8_t unknown[4] = {0x12, 0x34, 0x56, 0x78};
    ASSERT_EQ(::pwrite(fd.get(), unknown, 4, it - hdr.begin()), 4);
  }
  Qcow2Image q(dir.file("top.qcow2"), true);
  EXPECT_EQ(q.backing_format(), "qcow2");
  EXPECT_TRUE(all_bytes(image_read(q, 0, 65536), 0x12));
}

TEST(Qcow2Read, CompressedClustersFromQemuImgConvert) {
  SKIP_WITHOUT_QEMU_IMG();
  for (uint64_t cs : {uint64_t(4096), uint64_t(65536)}) {
    TempDir dir;
    RawFile raw(dir.file("src.raw"), 8 * kMiB);
    // Compressible halves and incompressible (patterned) parts, and holes.
    for (uint64_t off = 0; off < 6 * kMiB; off += 256 * 1024) {
      auto d = pattern(128 * 1024, off, 3);
      std::memset(d.data(), int(off >> 18), 32 * 1024);
      raw.write(off, d);
    }
    const auto img = dir.file("c.qcow2");
    qemu("qemu-img convert -q -c -f raw -O qcow2 -o cluster_size=" + std::to_string(cs) + " '" + raw.path() + "' '" + img + "'");
    Qcow2Image q(img, true);
    EXPECT_EQ(image_read(q, 0, 8 * kMiB), raw.read(0, 8 * kMiB)) << "cluster size " << cs;
    // Compressed clusters are kCopy runs (holes stay kZero).
    std::vector<ImageRun> runs;
    ASSERT_EQ(q.map_read(0, 8 * kMiB, runs), 0);
    size_t copies = 0;
    for (const auto& r : runs) copies += r.kind == ImageRun::Kind::kCopy;
    EXPECT_GT(copies, 10u);
    EXPECT_EQ(runs.back().kind, ImageRun::Kind::kZero);
    // read_sync into several iovecs, from the middle of a cluster.
    std::vector<uint8_t> a(1000), b(5000);
    iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
    ASSERT_EQ(q.read_sync(300, 6000, iov, 2), 0);
    EXPECT_EQ(a, raw.read(300, 1000));
    EXPECT_EQ(b, raw.read(1300, 5000));
  }
}

TEST(Qcow2Read, ZeroClustersReadAsZerosOverABackingFile) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  RawFile raw(dir.file("base.raw"), 4 * kMiB);
  raw.write(0, pattern(4 * kMiB, 0, 9));
  const auto top = dir.file("top.qcow2");
  qemu("qemu-img create -q -f qcow2 -b base.raw -F raw '" + top + "'");
  qemu("qemu-io -f qcow2 -c 'write -z 65536 131072' '" + top + "'");
  Qcow2Image q(top, true);
  EXPECT_EQ(image_read(q, 0, 65536), pattern(65536, 0, 9));
  EXPECT_TRUE(all_bytes(image_read(q, 65536, 131072), 0));
  std::vector<ImageRun> runs;
  ASSERT_EQ(q.map_read(65536, 131072, runs), 0);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].kind, ImageRun::Kind::kZero);
}

TEST(Qcow2Read, ProbeFormat) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  qemu("qemu-img create -q -f qcow2 '" + dir.file("a.qcow2") + "' 1M");
  RawFile raw(dir.file("b.raw"), kMiB);
  EXPECT_EQ(pv::disk::probe_format(dir.file("a.qcow2")), "qcow2");
  EXPECT_EQ(pv::disk::probe_format(dir.file("b.raw")), "raw");
  EXPECT_THROW(pv::disk::probe_format(dir.file("missing")), pv::UserError);
  // A raw file is not opened as qcow2.
  EXPECT_THROW(Qcow2Image(dir.file("b.raw"), true), pv::UserError);
}

}  // namespace
}  // namespace disktest
