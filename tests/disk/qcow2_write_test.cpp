// Qcow2Image writing: random, sub-cluster, overwriting and discarding
// writes on images QEMU made (cluster sizes 4K/64K/2M, with and without a
// raw or qcow2 backing file, refcount widths 1..64 bits), checked against a
// raw reference file with `qemu-img compare` and for consistency with
// `qemu-img check`; compressed clusters overwritten; threads; the refcount
// table growing; and create_qcow2 / describe_image.
#include <sys/stat.h>

#include <thread>

#include "disk/image_info.h"
#include "disk/qcow2/qcow2_create.h"
#include "disk/qcow2/qcow2_image.h"
#include "disk_test_util.h"
#include "pv/error.h"

namespace disktest {
namespace {

using pv::disk::Qcow2Image;

constexpr uint64_t kMiB = 1 << 20;

void expect_clean(const std::string& img) {
  auto r = qemu_check(img);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output.find("leaked"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("ERROR"), std::string::npos) << r.output;
}

void expect_same(const std::string& raw, const std::string& img) {
  auto r = run("qemu-img compare -f raw -F qcow2 '" + raw + "' '" + img + "'");
  EXPECT_EQ(r.status, 0) << r.output;
}

// Random writes (sector-granular, sub-cluster to several clusters),
// overwrites, whole-cluster discards and flushes, mirrored in `ref`.
void random_io(Qcow2Image& q, RawFile& ref, uint64_t seed, int ops, bool discards = true) {
  std::mt19937_64 rng(seed);
  const uint64_t sectors = q.bytes() / 512, cs = q.cluster_size();
  for (int i = 0; i < ops; i++) {
    const unsigned what = rng() % 10;
    if (what < 7) {
      const uint64_t len = 512 * (1 + rng() % std::max<uint64_t>(1, 3 * cs / 512));
      const uint64_t off = 512 * (rng() % (sectors - len / 512 + 1));
      auto d = pattern(len, off, seed + i);
      ASSERT_EQ(image_write(q, off, d), 0) << "write " << off << "+" << len;
      ref.write(off, d);
    } else if (what < 8 && discards) {
      const uint64_t clusters = q.bytes() / cs, c = rng() % clusters, n = 1 + rng() % std::min<uint64_t>(4, clusters - c);
      ASSERT_EQ(q.discard(c * cs, n * cs), 0);
      ref.zero(c * cs, n * cs);
    } else {
      ASSERT_EQ(image_flush(q), 0);
    }
  }
}

struct WriteCase {
  uint64_t cluster_size;
  const char* backing;  // "", "raw", "qcow2"
};

class Qcow2Writes : public ::testing::TestWithParam<WriteCase> {};

TEST_P(Qcow2Writes, MatchARawReferenceAndPassQemuImgCheck) {
  SKIP_WITHOUT_QEMU_IMG();
  const auto [cs, backing] = GetParam();
  const uint64_t size = cs >= 2 * kMiB ? 32 * kMiB : 16 * kMiB;
  TempDir dir;
  const auto img = dir.file("t.qcow2");
  RawFile ref(dir.file("ref.raw"), size);
  std::string opts = "-o cluster_size=" + std::to_string(cs);
  if (std::string(backing) == "raw") {
    RawFile base(dir.file("base.raw"), size - 3 * cs / 2);  // shorter than the overlay
    base.write(0, pattern(size - 3 * cs / 2, 0, 42));
    ref.write(0, pattern(size - 3 * cs / 2, 0, 42));
    opts += " -b base.raw -F raw";
  } else if (std::string(backing) == "qcow2") {
    qemu("qemu-img create -q -f qcow2 '" + dir.file("base.qcow2") + "' " + std::to_string(size));
    qemu("qemu-io -f qcow2 -c 'write -P 0x5c 0 " + std::to_string(size / 2) + "' '" + dir.file("base.qcow2") + "'");
    ref.write(0, std::vector<uint8_t>(size / 2, 0x5c));
    opts += " -b base.qcow2 -F qcow2";
  }
  qemu("qemu-img create -q -f qcow2 " + opts + " '" + img + "' " + std::to_string(size));
  {
    Qcow2Image q(img, false);
    random_io(q, ref, cs + size, cs >= 2 * kMiB ? 40 : 150);
    ASSERT_EQ(image_flush(q), 0);
    EXPECT_EQ(image_read(q, 0, size), ref.read(0, size));
  }
  expect_clean(img);
  expect_same(ref.path(), img);
  // And again on the reopened image.
  {
    Qcow2Image q(img, false);
    EXPECT_EQ(image_read(q, 0, size), ref.read(0, size));
    random_io(q, ref, cs + size + 1, cs >= 2 * kMiB ? 20 : 50);
    ASSERT_EQ(image_flush(q), 0);
  }
  expect_clean(img);
  expect_same(ref.path(), img);
}

INSTANTIATE_TEST_SUITE_P(Images, Qcow2Writes,
                         ::testing::Values(WriteCase{4096, ""}, WriteCase{65536, ""}, WriteCase{2 * kMiB, ""},
                                           WriteCase{4096, "raw"}, WriteCase{65536, "raw"}, WriteCase{2 * kMiB, "raw"},
                                           WriteCase{65536, "qcow2"}),
                         [](const auto& p) {
                           return std::to_string(p.param.cluster_size) + "_" + (*p.param.backing ? p.param.backing : "none");
                         });

TEST(Qcow2Write, RefcountWidthsFrom1To64Bits) {
  SKIP_WITHOUT_QEMU_IMG();
  for (int bits : {1, 8, 64}) {
    TempDir dir;
    const auto img = dir.file("r.qcow2");
    RawFile ref(dir.file("ref.raw"), 8 * kMiB);
    qemu("qemu-img create -q -f qcow2 -o refcount_bits=" + std::to_string(bits) + ",cluster_size=4096 '" + img + "' 8M");
    {
      Qcow2Image q(img, false);
      EXPECT_EQ(q.refcount_bits(), unsigned(bits));
      random_io(q, ref, bits, 120);
    }
    expect_clean(img);
    expect_same(ref.path(), img);
  }
}

TEST(Qcow2Write, Version2ImagesAreWritable) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  const auto img = dir.file("v2.qcow2");
  RawFile base(dir.file("base.raw"), 4 * kMiB);
  base.write(0, pattern(4 * kMiB, 0, 5));
  RawFile ref(dir.file("ref.raw"), 4 * kMiB);
  ref.write(0, pattern(4 * kMiB, 0, 5));
  qemu("qemu-img create -q -f qcow2 -o compat=0.10 -b base.raw -F raw '" + img + "'");
  {
    Qcow2Image q(img, false);
    random_io(q, ref, 77, 100, /*discards=*/false);
    // Version 2 has no zero clusters: a discarded cluster shows the backing file again.
    ASSERT_EQ(image_write(q, 0, std::vector<uint8_t>(65536, 0xee)), 0);
    ASSERT_EQ(q.discard(0, 65536), 0);
    EXPECT_EQ(image_read(q, 0, 65536), pattern(65536, 0, 5));
    ref.write(0, pattern(65536, 0, 5));
  }
  expect_clean(img);
  expect_same(ref.path(), img);
}

TEST(Qcow2Write, OverwritingCompressedClusters) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  RawFile ref(dir.file("ref.raw"), 4 * kMiB);
  for (uint64_t off = 0; off < 4 * kMiB; off += 65536) ref.write(off, std::vector<uint8_t>(65536, uint8_t(off >> 16)));
  const auto img = dir.file("c.qcow2");
  qemu("qemu-img convert -q -c -f raw -O qcow2 '" + ref.path() + "' '" + img + "'");
  {
    Qcow2Image q(img, false);
    // A sub-cluster write over a compressed cluster: the rest inflated into the new one.
    auto d = pattern(4096, 8192, 1);
    ASSERT_EQ(image_write(q, 65536 + 8192, d), 0);
    ref.write(65536 + 8192, d);
    ASSERT_EQ(q.discard(3 * 65536, 65536), 0);
    ref.zero(3 * 65536, 65536);
    random_io(q, ref, 5, 80);
    ASSERT_EQ(image_flush(q), 0);
    EXPECT_EQ(image_read(q, 0, 4 * kMiB), ref.read(0, 4 * kMiB));
  }
  expect_clean(img);
  expect_same(ref.path(), img);
}

TEST(Qcow2Write, ThreadsWritingAtOnce) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  const auto img = dir.file("t.qcow2");
  qemu("qemu-img create -q -f qcow2 -o cluster_size=16384 '" + img + "' 32M");
  {
    Qcow2Image q(img, false);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; t++) {
      threads.emplace_back([&q, t] {
        std::mt19937_64 rng(t);
        const uint64_t base = uint64_t(t) * 8 * kMiB;  // each thread its own quarter
        for (int i = 0; i < 300; i++) {
          const uint64_t off = base + 4096 * (rng() % 2047);
          auto d = pattern(8192, off, 100);
          EXPECT_EQ(image_write(q, off, d), 0);
          std::vector<uint8_t> back(8192);
          EXPECT_EQ(image_read(q, off, back.data(), back.size()), 0);
          EXPECT_EQ(back, d);
          if (i % 50 == 0) {
            EXPECT_EQ(image_flush(q), 0);
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    ASSERT_EQ(image_flush(q), 0);
  }
  expect_clean(img);
}

TEST(Qcow2Write, RefcountTableGrows) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  const auto img = dir.file("g.qcow2");
  RawFile ref(dir.file("ref.raw"), 32 * kMiB);
  // 512-byte clusters: one refcount table cluster counts 8 MiB of file.
  qemu("qemu-img create -q -f qcow2 -o cluster_size=512 '" + img + "' 32M");
  const auto before = run("qemu-img info '" + img + "'");
  {
    Qcow2Image q(img, false);
    for (uint64_t off = 0; off < 20 * kMiB; off += 256 * 1024) {
      auto d = pattern(128 * 1024, off, 9);
      ASSERT_EQ(image_write(q, off, d), 0);
      ref.write(off, d);
    }
    ASSERT_EQ(image_flush(q), 0);
  }
  struct stat st{};
  ASSERT_EQ(::stat(img.c_str(), &st), 0);
  EXPECT_GT(uint64_t(st.st_size), 10 * kMiB);
  expect_clean(img);
  expect_same(ref.path(), img);
}

TEST(Qcow2Write, DiscardGivesSpaceBackAndHidesTheBackingFile) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  RawFile base(dir.file("base.raw"), 8 * kMiB);
  base.write(0, pattern(8 * kMiB, 0, 3));
  const auto img = dir.file("d.qcow2");
  qemu("qemu-img create -q -f qcow2 -b base.raw -F raw '" + img + "'");
  Qcow2Image q(img, false);
  ASSERT_EQ(image_write(q, 0, std::vector<uint8_t>(4 * kMiB, 0xab)), 0);
  ASSERT_EQ(image_flush(q), 0);
  struct stat st{};
  ASSERT_EQ(::stat(img.c_str(), &st), 0);
  const uint64_t full = uint64_t(st.st_blocks) * 512;
  // Whole clusters: zero clusters (the backing file must not show), space freed at flush.
  ASSERT_EQ(q.discard(0, 3 * kMiB), 0);
  EXPECT_EQ(image_read(q, 0, 3 * kMiB), std::vector<uint8_t>(3 * kMiB, 0));
  // Not cluster-aligned: the allocated part reads zeros, the rest keeps its data.
  ASSERT_EQ(q.discard(3 * kMiB + 4096, 8192), 0);
  auto part = image_read(q, 3 * kMiB, 65536);
  EXPECT_EQ(std::vector<uint8_t>(part.begin(), part.begin() + 4096), std::vector<uint8_t>(4096, 0xab));
  EXPECT_EQ(std::vector<uint8_t>(part.begin() + 4096, part.begin() + 12288), std::vector<uint8_t>(8192, 0));
  // Unallocated with a backing file: becomes a zero cluster too.
  ASSERT_EQ(q.discard(6 * kMiB, 65536), 0);
  EXPECT_EQ(image_read(q, 6 * kMiB, 65536), std::vector<uint8_t>(65536, 0));
  ASSERT_EQ(image_flush(q), 0);
  ASSERT_EQ(::stat(img.c_str(), &st), 0);
  EXPECT_LT(uint64_t(st.st_blocks) * 512, full - 2 * kMiB);
  // Freed clusters are used again.
  ASSERT_EQ(image_write(q, 0, std::vector<uint8_t>(kMiB, 0xcd)), 0);
  ASSERT_EQ(image_flush(q), 0);
  struct stat st2{};
  ASSERT_EQ(::stat(img.c_str(), &st2), 0);
  EXPECT_EQ(st2.st_size, st.st_size);
  EXPECT_EQ(image_read(q, 0, kMiB), std::vector<uint8_t>(kMiB, 0xcd));
  auto r = qemu_check(img);
  EXPECT_NE(r.status, 2) << r.output;
}

TEST(Qcow2Write, ReadOnlyImagesRefuseWrites) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  const auto img = dir.file("ro.qcow2");
  qemu("qemu-img create -q -f qcow2 '" + img + "' 1M");
  Qcow2Image q(img, true);
  std::vector<ImageRun> runs;
  EXPECT_EQ(q.map_write(0, 512, runs), -EROFS);
  EXPECT_EQ(q.discard(0, 65536), -EROFS);
  EXPECT_FALSE(q.discard_supported());
  EXPECT_EQ(q.flush(), 0);
}

TEST(Qcow2Write, AVirtualSizeEndingInsideACluster) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  const uint64_t size = 3 * kMiB + 4096;  // the last 64 KiB cluster is mostly past the end
  RawFile base(dir.file("base.raw"), 3 * kMiB + 1024);
  base.write(0, pattern(3 * kMiB + 1024, 0, 4));
  RawFile ref(dir.file("ref.raw"), size);
  ref.write(0, pattern(3 * kMiB + 1024, 0, 4));
  const auto img = dir.file("u.qcow2");
  qemu("qemu-img create -q -f qcow2 -b base.raw -F raw '" + img + "' " + std::to_string(size));
  {
    Qcow2Image q(img, false);
    EXPECT_EQ(q.bytes(), size);
    auto d = pattern(512, size - 1024, 6);
    ASSERT_EQ(image_write(q, size - 1024, d), 0);  // inside the last cluster
    ref.write(size - 1024, d);
    std::vector<ImageRun> runs;
    EXPECT_EQ(q.map_write(size - 512, 1024, runs), -EINVAL);  // past the end
    random_io(q, ref, 11, 60);
    ASSERT_EQ(q.discard(3 * kMiB, 4096), 0);  // the whole (short) last cluster
    ref.zero(3 * kMiB, 4096);
    ASSERT_EQ(image_flush(q), 0);
    EXPECT_EQ(image_read(q, 0, size), ref.read(0, size));
  }
  expect_clean(img);
  expect_same(ref.path(), img);
}

// qcow2 on a block device (a loop device, when this runs as root): the
// device does not grow, so allocation ends with -ENOSPC, cleanly.
TEST(Qcow2Write, OnABlockDeviceUntilItIsFull) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  RawFile backing(dir.file("dev.raw"), 4 * kMiB);
  auto lo = run("losetup -f --show '" + backing.path() + "'");
  std::string dev = lo.output;
  while (!dev.empty() && (dev.back() == '\n' || dev.back() == ' ')) dev.pop_back();
  if (lo.status != 0 || dev.rfind("/dev/", 0) != 0) GTEST_SKIP() << "no loop device (needs root and losetup)";
  struct Detach {
    std::string dev;
    ~Detach() { run("losetup -d " + dev); }
  } detach{dev};
  qemu("qemu-img create -q -f qcow2 '" + dev + "' 16M");
  RawFile ref(dir.file("ref.raw"), 16 * kMiB);
  {
    Qcow2Image q(dev, false);
    EXPECT_TRUE(q.file().block_device());
    uint64_t off = 0;
    int r = 0;
    for (; off < 16 * kMiB; off += 65536) {
      auto d = pattern(65536, off, 2);
      if ((r = image_write(q, off, d)) != 0) break;
      ref.write(off, d);
    }
    EXPECT_EQ(r, -ENOSPC);
    EXPECT_GT(off, 2 * kMiB);
    EXPECT_LT(off, 4 * kMiB);
    ASSERT_EQ(image_flush(q), 0);
    EXPECT_EQ(image_read(q, 0, off), ref.read(0, off));
  }
  expect_clean(dev);
  expect_same(ref.path(), dev);
}

TEST(Qcow2Write, AutoclearBitsAreClearedByAWriter) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  const auto img = dir.file("a.qcow2");
  qemu("qemu-img create -q -f qcow2 '" + img + "' 1M");
  pv::UniqueFd fd(::open(img.c_str(), O_RDWR));
  const uint8_t bits[8] = {0, 0, 0, 0, 0, 0, 0x80, 0x01};  // an unknown autoclear bit and the bitmaps bit
  ASSERT_EQ(::pwrite(fd.get(), bits, 8, 88), 8);
  { Qcow2Image ro(img, true); }  // a reader leaves them
  uint8_t now[8];
  ASSERT_EQ(::pread(fd.get(), now, 8, 88), 8);
  EXPECT_EQ(std::memcmp(now, bits, 8), 0);
  { Qcow2Image rw(img, false); }
  ASSERT_EQ(::pread(fd.get(), now, 8, 88), 8);
  EXPECT_EQ(std::memcmp(now, std::vector<uint8_t>(8, 0).data(), 8), 0);
  expect_clean(img);
}

TEST(Qcow2Create, ImagesQemuAccepts) {
  SKIP_WITHOUT_QEMU_IMG();
  for (uint64_t cs : {uint64_t(512), uint64_t(4096), uint64_t(65536), uint64_t(2 * kMiB)}) {
    TempDir dir;
    const auto img = dir.file("new.qcow2");
    pv::disk::create_qcow2(img, 100 * kMiB + 4096, "", "", cs);
    expect_clean(img);
    auto info = run("qemu-img info --output=json '" + img + "'");
    EXPECT_NE(info.output.find("\"virtual-size\": " + std::to_string(100 * kMiB + 4096)), std::string::npos) << info.output;
    EXPECT_NE(info.output.find("\"cluster-size\": " + std::to_string(cs)), std::string::npos) << info.output;
    EXPECT_NE(info.output.find("\"compat\": \"1.1\""), std::string::npos) << info.output;
    // Written through us, read by qemu-io.
    {
      Qcow2Image q(img, false);
      ASSERT_EQ(image_write(q, 5 * kMiB + 512, std::vector<uint8_t>(70000 / 512 * 512, 0x3c)), 0);
      ASSERT_EQ(image_flush(q), 0);
    }
    qemu("qemu-io -f qcow2 -c 'read -P 0x3c " + std::to_string(5 * kMiB + 512) + " " + std::to_string(70000 / 512 * 512) + "' '" + img + "'");
    expect_clean(img);
    auto d = pv::disk::describe_image(img);
    EXPECT_EQ(d.format, "qcow2");
    EXPECT_EQ(d.virtual_size, 100 * kMiB + 4096);
    EXPECT_EQ(d.cluster_size, cs);
    EXPECT_GT(d.allocated_bytes, 0u);
    EXPECT_TRUE(d.backing_chain.empty());
    EXPECT_THROW(pv::disk::create_qcow2(img, kMiB), pv::UserError);  // exists already
  }
}

TEST(Qcow2Create, WithABackingFile) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  RawFile base(dir.file("base.raw"), 6 * kMiB);
  base.write(0, pattern(6 * kMiB, 0, 8));
  const auto img = dir.file("over.qcow2");
  pv::disk::create_qcow2(img, 0, "base.raw", "", 65536);  // size and format from the backing file
  expect_clean(img);
  auto info = run("qemu-img info '" + img + "'");
  EXPECT_NE(info.output.find("backing file: base.raw"), std::string::npos) << info.output;
  EXPECT_NE(info.output.find("backing file format: raw"), std::string::npos) << info.output;
  auto cmp = run("qemu-img compare -f raw -F qcow2 '" + base.path() + "' '" + img + "'");
  EXPECT_EQ(cmp.status, 0) << cmp.output;
  const auto top = dir.file("top.qcow2");
  pv::disk::create_qcow2(top, 8 * kMiB, "over.qcow2", "qcow2");
  auto d = pv::disk::describe_image(top);
  EXPECT_EQ(d.virtual_size, 8 * kMiB);
  ASSERT_EQ(d.backing_chain.size(), 2u);
  EXPECT_EQ(d.backing_chain[0].path, dir.path() + "/over.qcow2");
  EXPECT_EQ(d.backing_chain[1].format, "raw");
  EXPECT_EQ(d.backing_chain[1].virtual_size, 6 * kMiB);
  EXPECT_THROW(pv::disk::create_qcow2(dir.file("x.qcow2"), 0, "missing.raw"), pv::UserError);
  EXPECT_THROW(pv::disk::create_qcow2(dir.file("y.qcow2"), kMiB, "", "", 3000), pv::UserError);
  EXPECT_THROW(pv::disk::create_qcow2(dir.file("z.qcow2"), 0), pv::UserError);
  auto raw = pv::disk::describe_image(base.path());
  EXPECT_EQ(raw.format, "raw");
  EXPECT_EQ(raw.virtual_size, 6 * kMiB);
}

}  // namespace
}  // namespace disktest
