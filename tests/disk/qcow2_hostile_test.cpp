// Hostile qcow2 images: hand-corrupted headers refused at open with a
// message naming the problem; corrupt L1/L2/refcount entries failing I/O
// with -EUCLEAN (never a crash, never bytes from outside the image);
// backing chains that loop, name the image itself or go too deep.
#include <sys/stat.h>

#include "disk/qcow2/qcow2_create.h"
#include "disk/qcow2/qcow2_header.h"
#include "disk/qcow2/qcow2_image.h"
#include "disk_test_util.h"
#include "pv/error.h"

namespace disktest {
namespace {

using pv::disk::Qcow2Image;
using pv::disk::qcow2::load_be64;
using pv::disk::qcow2::store_be32;
using pv::disk::qcow2::store_be64;

constexpr uint64_t kMiB = 1 << 20, kCluster = 65536;

class Patchable {
 public:
  explicit Patchable(const std::string& path) : fd_(::open(path.c_str(), O_RDWR | O_CLOEXEC)) { EXPECT_TRUE(bool(fd_)); }
  uint64_t be64(uint64_t off) {
    uint8_t b[8];
    EXPECT_EQ(::pread(fd_.get(), b, 8, off_t(off)), 8);
    return load_be64(b);
  }
  void set64(uint64_t off, uint64_t v) {
    uint8_t b[8];
    store_be64(b, v);
    ASSERT_EQ(::pwrite(fd_.get(), b, 8, off_t(off)), 8);
  }
  void set32(uint64_t off, uint32_t v) {
    uint8_t b[4];
    store_be32(b, v);
    ASSERT_EQ(::pwrite(fd_.get(), b, 4, off_t(off)), 4);
  }
  void set16(uint64_t off, uint16_t v) {
    uint8_t b[2] = {uint8_t(v >> 8), uint8_t(v)};
    ASSERT_EQ(::pwrite(fd_.get(), b, 2, off_t(off)), 2);
  }
  uint64_t size() {
    struct stat st{};
    ::fstat(fd_.get(), &st);
    return uint64_t(st.st_size);
  }

 private:
  pv::UniqueFd fd_;
};

// A 4 MiB image with data in its first cluster and at 1 MiB.
std::string make_image(const TempDir& dir, const std::string& name = "h.qcow2") {
  const auto img = dir.file(name);
  qemu("qemu-img create -q -f qcow2 '" + img + "' 4M");
  qemu("qemu-io -f qcow2 -c 'write -P 0x61 0 65536' -c 'write -P 0x62 1M 65536' '" + img + "'");
  return img;
}

std::string open_error(const std::string& img, bool readonly = false) {
  try {
    Qcow2Image q(img, readonly);
  } catch (const pv::UserError& e) {
    return e.what();
  }
  return "";
}

struct HeaderPatch {
  const char* name;
  uint64_t offset;
  unsigned width;  // bytes
  uint64_t value;  // ~0: past the end of the file (aligned)
  const char* message;
};

TEST(Qcow2Hostile, CorruptHeadersAreRefusedByName) {
  SKIP_WITHOUT_QEMU_IMG();
  const uint64_t kPastEnd = ~uint64_t(0);
  const HeaderPatch patches[] = {
      {"magic", 0, 4, 0x51464900, "not a qcow2 image"},
      {"version 1", 4, 4, 1, "qcow2 version 1 is not supported"},
      {"version 4", 4, 4, 4, "qcow2 version 4 is not supported"},
      {"cluster_bits 8", 20, 4, 8, "cluster_bits 8 is outside 9..21"},
      {"cluster_bits 22", 20, 4, 22, "cluster_bits 22 is outside 9..21"},
      {"AES", 32, 4, 1, "encrypted images (AES)"},
      {"LUKS", 32, 4, 2, "encrypted images (LUKS)"},
      {"huge L1", 36, 4, 0xffffffff, "larger than 32 MiB"},
      {"short L1", 36, 4, 0, "too small for the virtual size"},
      {"huge virtual size", 24, 8, uint64_t(1) << 62, "too small for the virtual size"},
      {"L1 past the end", 40, 8, kPastEnd, "L1 table lies past the end of the file"},
      {"L1 unaligned", 40, 8, 0x30200, "is not a cluster boundary"},
      {"L1 on the header", 40, 8, 0, "is not a cluster boundary after the header"},
      {"refcount table past the end", 48, 8, kPastEnd, "refcount table lies past the end"},
      {"refcount table overflow", 56, 4, 0xffffffff, "larger than 8 MiB"},
      {"empty refcount table", 56, 4, 0, "refcount table is empty"},
      {"refcount_order 7", 96, 4, 7, "refcount_order 7 is invalid"},
      {"header_length 100", 100, 4, 100, "header_length 100 is invalid"},
      {"header_length 108", 100, 4, 108, "header_length 108 is invalid"},
      {"external data file", 72, 8, 1u << 2, "external data file"},
      {"compression type", 72, 8, 1u << 3, "compression type"},
      {"extended L2", 72, 8, 1u << 4, "extended L2 entries"},
      {"unknown incompatible bit", 72, 8, uint64_t(1) << 40, "unsupported incompatible feature unknown bit 40"},
      {"backing name too long", 16, 4, 4000, "backing file name"},
  };
  TempDir dir;
  const auto pristine = make_image(dir, "pristine.qcow2");
  for (const auto& p : patches) {
    SCOPED_TRACE(p.name);
    const auto img = dir.file("h.qcow2");
    std::filesystem::copy_file(pristine, img, std::filesystem::copy_options::overwrite_existing);
    Patchable f(img);
    if (std::string(p.name) == "backing name too long") f.set64(8, 512);  // a backing name offset, so the size counts
    const uint64_t v = p.value == kPastEnd ? (f.size() + 16 * kCluster) & ~(kCluster - 1) : p.value;
    if (p.width == 8) f.set64(p.offset, v);
    else f.set32(p.offset, uint32_t(v));
    const auto err = open_error(img);
    EXPECT_NE(err.find(p.message), std::string::npos) << "got: " << err;
    EXPECT_NE(err.find(img), std::string::npos) << "the message names the image: " << err;
  }
}

TEST(Qcow2Hostile, DirtyAndCorruptImagesOpenOnlyReadOnly) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  for (uint64_t bit : {uint64_t(1), uint64_t(2)}) {
    const auto img = make_image(dir, "b" + std::to_string(bit) + ".qcow2");
    Patchable(img).set64(72, bit);
    const auto err = open_error(img);
    EXPECT_NE(err.find(bit == 1 ? "marked dirty" : "marked corrupt"), std::string::npos) << err;
    EXPECT_NE(err.find("qemu-img check -r all"), std::string::npos) << err;
    Qcow2Image q(img, true);
    EXPECT_EQ(image_read(q, 0, 65536), std::vector<uint8_t>(65536, 0x61));
  }
}

TEST(Qcow2Hostile, InternalSnapshotsOpenOnlyReadOnly) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  const auto img = make_image(dir);
  qemu("qemu-img snapshot -c snap1 '" + img + "'");
  EXPECT_NE(open_error(img).find("internal snapshots"), std::string::npos);
  Qcow2Image q(img, true);
  EXPECT_EQ(image_read(q, kMiB, 65536), std::vector<uint8_t>(65536, 0x62));
}

// The layout of make_image()'s file, read from it.
struct Layout {
  uint64_t l1, l2, data0, reftable, refblock;
};
Layout layout(Patchable& f) {
  Layout l;
  l.l1 = f.be64(40);
  l.l2 = f.be64(l.l1) & pv::disk::qcow2::kOffsetMask;
  l.data0 = f.be64(l.l2) & pv::disk::qcow2::kOffsetMask;
  l.reftable = f.be64(48);
  l.refblock = f.be64(l.reftable);
  return l;
}

TEST(Qcow2Hostile, CorruptL1AndL2EntriesFailIoWithEuclean) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  const auto pristine = make_image(dir, "pristine.qcow2");
  struct Case {
    const char* name;
    bool l1;  // patch L1 entry 0, else L2 entry 0
    uint64_t (*value)(const Layout&, uint64_t file_size);
  };
  const Case cases[] = {
      {"L1 past the end", true, [](const Layout&, uint64_t sz) -> uint64_t { return ((sz + 64 * kCluster) & ~(kCluster - 1)) | (1ull << 63); }},
      {"L1 on the refcount table", true, [](const Layout& l, uint64_t) -> uint64_t { return l.reftable | (1ull << 63); }},
      {"L1 reserved bits", true, [](const Layout& l, uint64_t) -> uint64_t { return l.l2 | 1; }},
      {"L2 past the end", false, [](const Layout&, uint64_t sz) -> uint64_t { return ((sz + 64 * kCluster) & ~(kCluster - 1)) | (1ull << 63); }},
      {"L2 unaligned", false, [](const Layout& l, uint64_t) -> uint64_t { return (l.data0 + 512) | (1ull << 63); }},
      {"L2 on the header", false, [](const Layout&, uint64_t) -> uint64_t { return 1ull << 63; }},
      {"L2 on the L1 table", false, [](const Layout& l, uint64_t) -> uint64_t { return l.l1 | (1ull << 63); }},
      {"L2 reserved bits", false, [](const Layout& l, uint64_t) -> uint64_t { return l.data0 | (1ull << 63) | (1ull << 60); }},
      {"L2 compressed past the end", false, [](const Layout&, uint64_t sz) -> uint64_t { return (1ull << 62) | (sz + 4096); }},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto img = dir.file("c.qcow2");
    std::filesystem::copy_file(pristine, img, std::filesystem::copy_options::overwrite_existing);
    {
      Patchable f(img);
      const Layout l = layout(f);
      f.set64(c.l1 ? l.l1 : l.l2, c.value(l, f.size()));
    }
    Qcow2Image q(img, false);
    std::vector<ImageRun> runs;
    EXPECT_EQ(q.map_read(0, 4096, runs), -EUCLEAN);
    EXPECT_TRUE(runs.empty());
    std::vector<uint8_t> buf(4096);
    iovec iov{buf.data(), buf.size()};
    EXPECT_EQ(q.read_sync(0, 4096, &iov, 1), -EUCLEAN);
    EXPECT_EQ(q.map_write(0, 4096, runs), -EUCLEAN);
    EXPECT_EQ(q.discard(0, kCluster), -EUCLEAN);
    // Once corruption is seen the image takes no more writes, anywhere.
    EXPECT_EQ(q.map_write(2 * kMiB, 4096, runs), -EUCLEAN);
    if (!c.l1) {
      EXPECT_EQ(image_read(q, kMiB, 65536), std::vector<uint8_t>(65536, 0x62));  // the rest still reads
    }
  }
}

TEST(Qcow2Hostile, GarbageCompressedClusterFailsTheRead) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  const auto img = make_image(dir);
  {
    Patchable f(img);
    const Layout l = layout(f);
    // Compressed data "at" the refcount table: not a deflate stream.
    const unsigned x = 62 - (16 - 8);
    f.set64(l.l2, (1ull << 62) | (uint64_t(3) << x) | l.reftable);
  }
  Qcow2Image q(img, true);
  std::vector<ImageRun> runs;
  ASSERT_EQ(q.map_read(0, 4096, runs), 0);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].kind, ImageRun::Kind::kCopy);
  std::vector<uint8_t> buf(4096);
  iovec iov{buf.data(), buf.size()};
  EXPECT_EQ(q.read_sync(0, 4096, &iov, 1), -EUCLEAN);
}

TEST(Qcow2Hostile, CorruptRefcountsStopAllocation) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  {
    // A refcount table entry past the end of the file.
    const auto img = make_image(dir, "a.qcow2");
    Patchable f(img);
    f.set64(layout(f).reftable, (f.size() + 64 * kCluster) & ~(kCluster - 1));
    Qcow2Image q(img, false);
    EXPECT_EQ(image_read(q, 0, 65536), std::vector<uint8_t>(65536, 0x61));  // reads need no refcounts
    std::vector<ImageRun> runs;
    EXPECT_EQ(q.map_write(3 * kMiB, 4096, runs), -EUCLEAN);
  }
  {
    // A data cluster whose refcount is 0: dropping it would underflow.
    const auto img = make_image(dir, "b.qcow2");
    {
      Patchable f(img);
      const Layout l = layout(f);
      f.set16(l.refblock + (l.data0 / kCluster) * 2, 0);
    }
    Qcow2Image q(img, false);
    ASSERT_EQ(q.discard(0, kCluster), 0);
    EXPECT_EQ(image_flush(q), 0);  // the discard itself is durable; the bad refcount is logged
    std::vector<ImageRun> runs;
    EXPECT_EQ(q.map_write(3 * kMiB, 4096, runs), -EUCLEAN);
  }
}

TEST(Qcow2Hostile, BackingChainsThatLoopOrGoTooDeep) {
  SKIP_WITHOUT_QEMU_IMG();
  TempDir dir;
  // The image itself, through a symbolic link.
  pv::disk::create_qcow2(dir.file("b.qcow2"), kMiB);
  pv::disk::create_qcow2(dir.file("self.qcow2"), kMiB, "b.qcow2", "qcow2");
  ASSERT_EQ(::unlink(dir.file("b.qcow2").c_str()), 0);
  ASSERT_EQ(::symlink("self.qcow2", dir.file("b.qcow2").c_str()), 0);
  EXPECT_NE(open_error(dir.file("self.qcow2"), true).find("is the image itself"), std::string::npos) << open_error(dir.file("self.qcow2"), true);
  // Also when the header says raw.
  pv::disk::create_qcow2(dir.file("r.raw.tmp"), kMiB);
  ASSERT_EQ(::rename(dir.file("r.raw.tmp").c_str(), dir.file("r.raw").c_str()), 0);
  pv::disk::create_qcow2(dir.file("selfraw.qcow2"), kMiB, "r.raw", "raw");
  ASSERT_EQ(::unlink(dir.file("r.raw").c_str()), 0);
  ASSERT_EQ(::symlink("selfraw.qcow2", dir.file("r.raw").c_str()), 0);
  EXPECT_NE(open_error(dir.file("selfraw.qcow2"), true).find("is the image itself"), std::string::npos);

  // A loop: x -> y -> z -> x.
  pv::disk::create_qcow2(dir.file("z.qcow2"), kMiB);
  pv::disk::create_qcow2(dir.file("y.qcow2"), kMiB, "z.qcow2", "qcow2");
  pv::disk::create_qcow2(dir.file("x.qcow2"), kMiB, "y.qcow2", "qcow2");
  ASSERT_EQ(::unlink(dir.file("z.qcow2").c_str()), 0);
  ASSERT_EQ(::symlink("x.qcow2", dir.file("z.qcow2").c_str()), 0);
  const auto loop = open_error(dir.file("x.qcow2"), true);
  EXPECT_NE(loop.find("loop in the backing chain"), std::string::npos) << loop;

  // 16 backing files are fine, 17 are refused.
  pv::disk::create_qcow2(dir.file("d0.qcow2"), kMiB);
  for (int i = 1; i <= 17; i++)
    pv::disk::create_qcow2(dir.file("d" + std::to_string(i) + ".qcow2"), kMiB, "d" + std::to_string(i - 1) + ".qcow2", "qcow2");
  EXPECT_EQ(open_error(dir.file("d16.qcow2"), true), "");
  EXPECT_NE(open_error(dir.file("d17.qcow2"), true).find("deeper than 16"), std::string::npos);

  // Missing, or of a format we do not read.
  qemu("qemu-img create -q -f qcow2 -u -b gone.raw -F raw '" + dir.file("m.qcow2") + "' 1M");
  const auto missing = open_error(dir.file("m.qcow2"), true);
  EXPECT_NE(missing.find("gone.raw"), std::string::npos) << missing;
  qemu("qemu-img create -q -f qcow2 -u -b v.vmdk -F vmdk '" + dir.file("v.qcow2") + "' 1M");
  EXPECT_NE(open_error(dir.file("v.qcow2"), true).find("\"vmdk\" is not supported"), std::string::npos);
}

}  // namespace
}  // namespace disktest
