// BlkQueue over a disk image that is not raw: a DiskImage of the test's
// own (TableImage) maps the virtual disk onto a table of runs: two host
// files at odd offsets, zeros and bytes the image makes itself (kCopy), as
// a qcow2 image does with its clusters. Driven through the real queue and
// io_uring by the fake guest: a request over several runs is split along
// them (guest iovecs cut mid-page), runs in one file that follow each other
// are one part, each part completes on its own and the request answers
// once when all did; a part that runs past its file's end (a short
// transfer, then end of file) fails the request; a flush calls the image's
// flush() after the fdatasync (its file has no dirty pages left by then);
// errors from the image (map_read, map_write, read_sync, flush) answer
// BLKIF_RSP_ERROR and are logged with the reason. And RawImage and
// open_disk_image on their own (the format probe, force-raw).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/syscall.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <optional>

#include "common/rate_limited_log.h"
#include "disk/format_probe.h"
#include "disk/open_disk_image.h"
#include "fake_guest.h"

namespace blktest {
namespace {

using pv::backd::RateLimitedLog;
using pv::disk::ImageRun;
using Kind = ImageRun::Kind;

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) n++;
  return n;
}

// The dirty page-cache pages of a file (cachestat(2), Linux 6.5), or
// nullopt where the kernel does not have it.
std::optional<uint64_t> dirty_pages(int fd) {
  struct {
    uint64_t off, len;  // len 0: to the end of the file
  } range{0, 0};
  struct {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
  } cs{};
  if (::syscall(451 /* __NR_cachestat */, fd, &range, &cs, 0) != 0) return std::nullopt;
  return cs.nr_dirty;
}

// The bytes a kCopy run of the test image holds (its "compressed" data).
void copy_bytes(uint8_t* p, uint64_t off, uint64_t len) {
  std::vector<uint8_t> whole((off % 512 + len + 511) / 512 * 512);
  fill_pattern(whole.data(), whole.size(), off / 512, 0xc0);
  std::memcpy(p, whole.data() + off % 512, len);
}

class TableImage : public DiskImage {
 public:
  struct Extent {
    uint64_t sector, sectors;
    Kind kind;
    const HostFile* file;  // kFile
    uint64_t file_offset;
  };
  TableImage(std::shared_ptr<HostFile> main, std::shared_ptr<HostFile> other, std::vector<Extent> table,
             uint64_t sectors)
      : main_(std::move(main)), other_(std::move(other)), table_(std::move(table)), bytes_(sectors * 512) {}

  const std::string& path() const override { return main_->path(); }
  std::string_view format() const override { return "table"; }
  uint64_t bytes() const override { return bytes_; }
  bool readonly() const override { return false; }
  const HostFile& file() const override { return *main_; }
  bool discard_supported() const override { return true; }

  int map_read(uint64_t off, uint64_t len, std::vector<ImageRun>& out) override {
    map_reads++;
    if (const int e = next_read_error.exchange(0)) return e;
    return map(off, len, out);
  }
  int map_write(uint64_t off, uint64_t len, std::vector<ImageRun>& out) override {
    map_writes++;
    if (const int e = next_write_error.exchange(0)) return e;
    return map(off, len, out);
  }
  int read_sync(uint64_t off, uint64_t len, const iovec* iov, int iovcnt) override {
    {
      std::lock_guard lk(mu_);
      copies.push_back({off, len});
    }
    if (const int e = next_copy_error.exchange(0)) return e;
    std::vector<uint8_t> bytes(len);
    copy_bytes(bytes.data(), off, len);
    size_t at = 0;
    for (int i = 0; i < iovcnt && at < len; i++) {
      const size_t n = std::min<size_t>(iov[i].iov_len, len - at);
      std::memcpy(iov[i].iov_base, bytes.data() + at, n);
      at += n;
    }
    return at == len ? 0 : -EINVAL;
  }
  int discard(uint64_t, uint64_t) override { return 0; }
  int flush() override {
    flushes++;
    dirty_at_flush = int64_t(dirty_pages(main_->buffered_fd()).value_or(~0ull));
    return next_flush_error.exchange(0);
  }

  std::vector<std::pair<uint64_t, uint64_t>> copies_seen() {
    std::lock_guard lk(mu_);
    return copies;
  }

  std::atomic<int> next_read_error{0}, next_write_error{0}, next_copy_error{0}, next_flush_error{0};
  std::atomic<unsigned> map_reads{0}, map_writes{0}, flushes{0};
  std::atomic<int64_t> dirty_at_flush{-1};

 private:
  int map(uint64_t off, uint64_t len, std::vector<ImageRun>& out) {
    const uint64_t end = off + len;
    for (const auto& e : table_) {
      const uint64_t a = e.sector * 512, b = (e.sector + e.sectors) * 512;
      if (b <= off || a >= end) continue;
      const uint64_t from = std::max(a, off), to = std::min(b, end);
      out.push_back({e.kind, to - from, e.kind == Kind::kFile ? e.file : nullptr,
                     e.kind == Kind::kFile ? e.file_offset + (from - a) : 0});
    }
    return 0;
  }

  std::shared_ptr<HostFile> main_, other_;
  std::vector<Extent> table_;
  uint64_t bytes_;
  std::mutex mu_;
  std::vector<std::pair<uint64_t, uint64_t>> copies;
};

constexpr uint64_t kImageSectors = 512;  // 256 KiB
constexpr uint64_t kFileB = 512 << 10;   // file B's size: the last extent runs past its end

class ImageRunsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    a_ = std::make_unique<TempDisk>(1 << 20);
    b_ = std::make_unique<TempDisk>(kFileB);
    std::vector<uint8_t> bytes(1 << 20);
    fill_pattern(bytes.data(), bytes.size(), 0, 0xa);
    a_->write(0, bytes.data(), bytes.size());
    fill_pattern(bytes.data(), kFileB, 0, 0xb);
    b_->write(0, bytes.data(), kFileB);
    fa_ = std::make_shared<HostFile>(a_->path(), false);
    fb_ = std::make_shared<HostFile>(b_->path(), false);
    const HostFile *A = fa_.get(), *B = fb_.get();
    table_ = {
        {0, 24, Kind::kFile, A, 1000},            // an odd byte offset: through the page cache
        {24, 8, Kind::kZero, nullptr, 0},
        {32, 8, Kind::kFile, B, 1536},            // sector-aligned, not page-aligned
        {40, 8, Kind::kCopy, nullptr, 0},
        {48, 16, Kind::kFile, A, 65536},
        {64, 8, Kind::kFile, A, 65536 + 8192},    // follows the last one in A: one part with it
        {72, 328, Kind::kFile, B, 131072},
        {400, 112, Kind::kFile, B, kFileB - 2048},  // 4 sectors in B, then past its end
    };
    image_ = std::make_shared<TableImage>(fa_, fb_, table_, kImageSectors);
    Limits l;
    l.disk_sectors = kImageSectors;
    l.discard = true;
    g.io_errors = &log_;
    g.start_image(image_, l, 2);
  }

  // What the image holds at [sector, sector + sectors).
  std::vector<uint8_t> expected(uint64_t sector, uint64_t sectors) {
    std::vector<uint8_t> out;
    for (uint64_t s = sector; s < sector + sectors; s++) {
      for (const auto& e : table_) {
        if (s < e.sector || s >= e.sector + e.sectors) continue;
        std::vector<uint8_t> v(512);
        if (e.kind == Kind::kFile) v = (e.file == fa_.get() ? *a_ : *b_).read(e.file_offset + (s - e.sector) * 512, 512);
        if (e.kind == Kind::kCopy) copy_bytes(v.data(), s * 512, 512);
        out.insert(out.end(), v.begin(), v.end());
      }
    }
    return out;
  }

  // 11 segments over pages 64, 66, ... (never adjacent: one iovec each),
  // the first starting at sector 3 of its page: `sectors` = 5 + 8 * 10.
  B::blkif_request scattered(uint8_t op, uint64_t id, uint64_t sector) {
    auto r = rw_request(op, id, sector, 11, 100);
    for (unsigned i = 0; i < 11; i++) g.grant(100 + i, kDataGfn + 2 * i);
    r.seg[0].first_sect = 3;
    return r;
  }
  // The guest bytes of scattered()'s segments, in order.
  std::vector<uint8_t> scattered_bytes() {
    std::vector<uint8_t> v;
    for (unsigned i = 0; i < 11; i++) {
      const uint8_t* p = g.page(kDataGfn + 2 * i) + (i == 0 ? 3 * 512 : 0);
      v.insert(v.end(), p, p + (i == 0 ? 5 * 512 : 4096));
    }
    return v;
  }

  std::unique_ptr<TempDisk> a_, b_;
  std::shared_ptr<HostFile> fa_, fb_;
  std::vector<TableImage::Extent> table_;
  std::shared_ptr<TableImage> image_;
  RateLimitedLog log_{"vbd 5/51712", "I/O errors", {100, std::chrono::hours(1), {}}};
  FakeGuest g;
};

// One read over every kind of run, the guest's iovecs cut mid-page: the
// right bytes everywhere, zeros where the image says so, the copy run read
// through read_sync (its exact range), and one response.
TEST_F(ImageRunsTest, AReadOverManyRunsIsSplitAlongThem) {
  for (unsigned i = 0; i < 22; i++) std::memset(g.page(kDataGfn + i), 0xee, 4096);
  const auto rsp = g.run(scattered(B::BLKIF_OP_READ, 1, 0));
  EXPECT_EQ(rsp.status, B::BLKIF_RSP_OKAY);
  const auto got = scattered_bytes();
  EXPECT_TRUE(got == expected(0, 85));
  // The zero run (sectors 24..31) was filled with zeros over the 0xee.
  EXPECT_TRUE(std::all_of(got.begin() + 24 * 512, got.begin() + 32 * 512, [](uint8_t b) { return b == 0; }));
  EXPECT_EQ(image_->copies_seen(), (std::vector<std::pair<uint64_t, uint64_t>>{{40 * 512, 8 * 512}}));
  EXPECT_EQ(image_->map_reads.load(), 1u);
  // Outside the segments guest memory is untouched: before the first
  // segment's sector 3, and the pages between the segments.
  for (size_t i = 0; i < 3 * 512; i++) ASSERT_EQ(g.page(kDataGfn)[i], 0xee);
  for (unsigned i = 0; i < 11; i++)
    for (size_t j = 0; j < 4096; j++) ASSERT_EQ(g.page(kDataGfn + 2 * i + 1)[j], 0xee) << i;
  EXPECT_EQ(g.stats.sectors_read.load(), 85u);
  EXPECT_EQ(g.stats.errors.load(), 0u);
  // Exactly one response, however many parts completed.
  EXPECT_TRUE(g.responses(1, std::chrono::milliseconds(100)).empty());
  for (unsigned i = 0; i < 11; i++) EXPECT_FALSE(g.in_use(100 + i));
}

// Many requests at once, each over several parts: every one answered
// once, with the right bytes.
TEST_F(ImageRunsTest, ManyMultiPartRequestsInFlight) {
  for (unsigned i = 0; i < 32; i++) {
    g.grant(200 + i, kDataGfn + 100 + 2 * i);
    g.queue_request(rw_request(B::BLKIF_OP_READ, i, 20 + i * 8, 1, 200 + i));  // 4 KiB across run edges
  }
  g.push();
  auto rs = g.responses(33, std::chrono::seconds(2));
  ASSERT_EQ(rs.size(), 32u);
  std::vector<bool> seen(32);
  for (const auto& r : rs) {
    ASSERT_LT(r.id, 32u);
    EXPECT_FALSE(seen[r.id]);
    seen[r.id] = true;
    EXPECT_EQ(r.status, B::BLKIF_RSP_OKAY) << r.id;
    const uint8_t* p = g.page(kDataGfn + 100 + 2 * r.id);
    EXPECT_TRUE(std::vector<uint8_t>(p, p + 4096) == expected(20 + r.id * 8, 8)) << r.id;
  }
}

// A write over runs in both files (A's two runs as one part): each file
// gets its share, nothing around it changes.
TEST_F(ImageRunsTest, AWriteOverTwoFilesLandsInBoth) {
  const auto a_before = a_->read(0, 1 << 20), b_before = b_->read(0, kFileB);
  auto r = scattered(B::BLKIF_OP_WRITE, 2, 48);  // sectors 48..133: A@64K (24), B@128K (61)
  for (unsigned i = 0; i < 11; i++) fill_pattern(g.page(kDataGfn + 2 * i), 4096, 5000 + i * 8, 0x77);
  const auto data = scattered_bytes();
  EXPECT_EQ(g.run(r).status, B::BLKIF_RSP_OKAY);
  EXPECT_EQ(image_->map_writes.load(), 1u);
  auto a_after = a_->read(0, 1 << 20), b_after = b_->read(0, kFileB);
  EXPECT_TRUE(std::equal(data.begin(), data.begin() + 24 * 512, a_after.begin() + 65536));
  EXPECT_TRUE(std::equal(data.begin() + 24 * 512, data.end(), b_after.begin() + 131072));
  std::copy(a_before.begin() + 65536, a_before.begin() + 65536 + 24 * 512, a_after.begin() + 65536);
  std::copy(b_before.begin() + 131072, b_before.begin() + 131072 + 61 * 512, b_after.begin() + 131072);
  EXPECT_TRUE(a_after == a_before) << "file A changed outside the write";
  EXPECT_TRUE(b_after == b_before) << "file B changed outside the write";
  EXPECT_EQ(g.stats.sectors_written.load(), 85u);
}

// A part that runs past the end of its file: the kernel transfers what is
// there (a short read), the rest is asked for and comes back as end of
// file: the request fails once every part is done, and the log says so
// with that file.
TEST_F(ImageRunsTest, APartPastItsFilesEndFailsTheRequest) {
  testing::internal::CaptureStderr();
  g.grant(100, kDataGfn);
  g.grant(101, kDataGfn + 2);
  auto r = rw_request(B::BLKIF_OP_READ, 3, 396, 2, 100);  // 4 sectors in B@128K, 4 at B's end, 8 past it
  r.seg[1].gref = 101;
  EXPECT_EQ(g.run(r).status, B::BLKIF_RSP_ERROR);
  EXPECT_FALSE(g.in_use(100));
  EXPECT_FALSE(g.in_use(101));
  // Inside the file the same sectors read fine.
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_READ, 4, 392, 1, 100)).status, B::BLKIF_RSP_OKAY);
  g.stop();
  log_.flush();
  const std::string out = testing::internal::GetCapturedStderr();
  EXPECT_EQ(count(out, "error: vbd 5/51712: read of 16 sectors at sector 396 failed: end of file (the image is "
                       "smaller than the disk) (" + b_->path() + ")"), 1u) << out;
  EXPECT_EQ(g.stats.fault_count(Fault::kIoError), 1u);
}

// A flush: fdatasync of the image's file first, then the image's flush()
// (which sees no dirty page left of the data written before), for a flush
// alone and one carrying data.
TEST_F(ImageRunsTest, FlushCallsTheImagesFlushAfterTheFdatasync) {
  if (!dirty_pages(fa_->buffered_fd())) GTEST_SKIP() << "no cachestat(2) in this kernel (Linux 6.5)";
  g.grant(100, kDataGfn);
  B::blkif_request f{};
  f.operation = B::BLKIF_OP_FLUSH_DISKCACHE;
  f.id = 9;
  // A write through the page cache (A at byte offset 1000: no O_DIRECT)
  // leaves dirty pages (unless writeback was quicker: then again).
  std::optional<uint64_t> dirty;
  for (int i = 0; i < 5 && dirty.value_or(0) == 0; i++) {
    fill_pattern(g.page(kDataGfn), 4096, 0, 0x50 + i);
    ASSERT_EQ(g.run(rw_request(B::BLKIF_OP_WRITE, 8, 0, 1, 100)).status, B::BLKIF_RSP_OKAY);
    dirty = dirty_pages(fa_->buffered_fd());
  }
  ASSERT_GT(dirty.value_or(0), 0u) << "the write left no dirty page to flush";
  EXPECT_EQ(image_->flushes.load(), 0u);
  EXPECT_EQ(g.run(f).status, B::BLKIF_RSP_OKAY);
  EXPECT_EQ(image_->flushes.load(), 1u);
  EXPECT_EQ(image_->dirty_at_flush.load(), 0) << "image.flush() ran before the data was synced";
  // A flush with data: written, synced, then the image's flush.
  image_->dirty_at_flush = -1;
  fill_pattern(g.page(kDataGfn), 4096, 0, 0x60);
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_FLUSH_DISKCACHE, 10, 0, 1, 100)).status, B::BLKIF_RSP_OKAY);
  EXPECT_EQ(image_->flushes.load(), 2u);
  EXPECT_EQ(image_->dirty_at_flush.load(), 0);
  std::vector<uint8_t> want(4096);
  fill_pattern(want.data(), 4096, 0, 0x60);
  EXPECT_TRUE(a_->read(1000, 4096) == want);
}

// Every error the image can give answers BLKIF_RSP_ERROR, touches no
// file, and is logged with the device, what failed and why.
TEST_F(ImageRunsTest, ImageErrorsAreAnsweredAndLogged) {
  const auto a_before = a_->read(0, 1 << 20), b_before = b_->read(0, kFileB);
  g.grant(100, kDataGfn);
  testing::internal::CaptureStderr();
  image_->next_read_error = -EUCLEAN;
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_READ, 1, 0, 1, 100)).status, B::BLKIF_RSP_ERROR);
  image_->next_read_error = -EIO;
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_READ, 2, 8, 1, 100)).status, B::BLKIF_RSP_ERROR);
  image_->next_write_error = -ENOSPC;
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_WRITE, 3, 48, 1, 100)).status, B::BLKIF_RSP_ERROR);
  image_->next_write_error = -EROFS;
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_WRITE, 4, 56, 1, 100)).status, B::BLKIF_RSP_ERROR);
  image_->next_copy_error = -EIO;
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_READ, 5, 40, 1, 100)).status, B::BLKIF_RSP_ERROR);
  // A write the image maps onto zeros (only file runs can be written): an
  // image bug, refused before any I/O.
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_WRITE, 6, 20, 1, 100)).status, B::BLKIF_RSP_ERROR);
  image_->next_flush_error = -EIO;
  B::blkif_request f{};
  f.operation = B::BLKIF_OP_FLUSH_DISKCACHE;
  EXPECT_EQ(g.run(f).status, B::BLKIF_RSP_ERROR);
  // The image works again: so does the disk.
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_READ, 7, 0, 1, 100)).status, B::BLKIF_RSP_OKAY);
  EXPECT_EQ(g.run(f).status, B::BLKIF_RSP_OKAY);
  g.stop();
  log_.flush();
  const std::string out = testing::internal::GetCapturedStderr();
  const std::string at = " (" + a_->path() + ")";
  for (const std::string& line : {
           "read of 8 sectors at sector 0 failed: the image's metadata is corrupt (Structure needs cleaning)" + at,
           "read of 8 sectors at sector 8 failed: the image's metadata cannot be read (Input/output error)" + at,
           "write of 8 sectors at sector 48 failed: no space left to allocate in the image (No space left on device)" + at,
           "write of 8 sectors at sector 56 failed: the image is read-only (Read-only file system)" + at,
           "read of 8 sectors at sector 40 failed: the image could not produce the data (Input/output error)" + at,
           "write of 8 sectors at sector 20 failed: the image mapped the range wrongly (Input/output error)" + at,
           "flush (image metadata) failed: writing the image's metadata failed (Input/output error)" + at})
    EXPECT_EQ(count(out, "error: vbd 5/51712: " + line + "\n"), 1u) << line << "\n" << out;
  EXPECT_EQ(g.stats.fault_count(Fault::kIoError), 7u);
  EXPECT_EQ(log_.total(), 7u);
  EXPECT_TRUE(a_->read(0, 1 << 20) == a_before);
  EXPECT_TRUE(b_->read(0, kFileB) == b_before);
  EXPECT_FALSE(g.in_use(100));
}

// ---- RawImage and open_disk_image ----

TEST(RawImage, OneFileRunAtTheSameOffset) {
  TempDisk d(1 << 20);
  RawImage img(d.path(), false);
  EXPECT_EQ(img.format(), "raw");
  EXPECT_EQ(img.bytes(), 1u << 20);
  EXPECT_EQ(img.sectors(), 2048u);
  std::vector<ImageRun> runs;
  ASSERT_EQ(img.map_read(4096 + 512, 8192, runs), 0);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].kind, Kind::kFile);
  EXPECT_EQ(runs[0].file, &img.file());
  EXPECT_EQ(runs[0].file_offset, 4096u + 512);
  EXPECT_EQ(runs[0].bytes, 8192u);
  runs.clear();
  ASSERT_EQ(img.map_write(0, 512, runs), 0);
  EXPECT_EQ(runs.size(), 1u);
  EXPECT_EQ(img.map_read((1 << 20) - 512, 1024, runs), -EINVAL);  // past the end
  EXPECT_EQ(img.map_read(~0ull - 10, 20, runs), -EINVAL);         // wraps
  EXPECT_EQ(img.flush(), 0);
  // read_sync gives the file's bytes.
  std::vector<uint8_t> bytes(3000);
  fill_pattern(bytes.data(), 3000 / 8 * 8, 0, 4);
  d.write(700, bytes.data(), bytes.size());
  std::vector<uint8_t> a(1000), b(2000);
  iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
  ASSERT_EQ(img.read_sync(700, 3000, iov, 2), 0);
  EXPECT_TRUE(std::equal(a.begin(), a.end(), bytes.begin()));
  EXPECT_TRUE(std::equal(b.begin(), b.end(), bytes.begin() + 1000));
  // Read-only: no writes, no discard.
  RawImage ro(d.path(), true);
  EXPECT_TRUE(ro.readonly());
  EXPECT_FALSE(ro.discard_supported());
  EXPECT_EQ(ro.map_write(0, 512, runs), -EROFS);
  EXPECT_EQ(ro.discard(0, 4096), -EROFS);
}

TEST(RawImage, DiscardPunchesAHole) {
  TempDisk d(1 << 20);
  std::vector<uint8_t> bytes(1 << 20, 0x5a);
  d.write(0, bytes.data(), bytes.size());
  RawImage img(d.path(), false);
  ASSERT_TRUE(img.discard_supported());
  const uint64_t before = d.allocated_bytes();
  ASSERT_EQ(img.discard(256 << 10, 512 << 10), 0);
  EXPECT_LE(d.allocated_bytes() + (512 << 10), before);
  const auto hole = d.read(256 << 10, 512 << 10);
  EXPECT_TRUE(std::all_of(hole.begin(), hole.end(), [](uint8_t b) { return b == 0; }));
  EXPECT_EQ(d.read((256 << 10) - 1, 1)[0], 0x5a);
  EXPECT_EQ(d.read(768 << 10, 1)[0], 0x5a);
}

// The format probe, and the factory refusing a qcow2 file as raw (what
// pv-backd does whatever pvd checked) unless forced.
TEST(OpenDiskImage, FormatsAndTheProbe) {
  TempDisk raw(1 << 20), q(1 << 20);
  q.write(0, pv::disk::kQcow2Magic.data(), pv::disk::kQcow2Magic.size());
  EXPECT_EQ(pv::disk::probe_format(raw.path()), "raw");
  EXPECT_EQ(pv::disk::probe_format(q.path()), "qcow2");
  TempDisk tiny(2);  // shorter than the magic
  EXPECT_EQ(pv::disk::probe_format(tiny.path()), "raw");
  EXPECT_THROW(pv::disk::probe_format(std::string("/nonexistent/x.img")), pv::UserError);

  auto img = pv::disk::open_disk_image(raw.path(), "raw", false);
  EXPECT_EQ(img->format(), "raw");
  EXPECT_EQ(img->bytes(), 1u << 20);
  try {
    pv::disk::open_disk_image(q.path(), "raw", true);
    ADD_FAILURE() << "a qcow2 file was opened as raw";
  } catch (const pv::UserError& e) {
    EXPECT_NE(std::string(e.what()).find(q.path() + " starts with a qcow2 header but is configured as raw"),
              std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("force-raw"), std::string::npos) << e.what();
  }
  EXPECT_EQ(pv::disk::open_disk_image(q.path(), "raw", true, true)->format(), "raw");  // forced
  EXPECT_THROW(pv::disk::open_disk_image(raw.path(), "vhd", false), pv::UserError);
  EXPECT_THROW(pv::disk::open_disk_image("/nonexistent/x.img", "raw", false), pv::UserError);
}

}  // namespace
}  // namespace blktest
