// A guest without a VM, for driving blkback's BlkQueue directly: guest RAM
// (anonymous memory), a GrantShared region with one grant frame placed in
// that RAM, the GrantAccess pv-backd would use over them, a blkif ring in
// guest pages (driven with xen::ring::FrontRing, as a front-end does) and
// the two event-channel eventfds. The disk is a DiskImage: a RawImage over
// a sparse temporary file under /var/tmp (a real file system: O_DIRECT and
// hole punching work), or a test's own image.
#pragma once
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <xen/grant_table.h>
#include <xen/io/blkif.h>

#include "blkback/blk_queue.h"
#include "disk/raw_image.h"
#include "fake_guest_memory.h"
#include "pv/error.h"
#include "pv/unique_fd.h"

namespace blktest {

namespace B = xen::blkif;
namespace G = xen::gnttab;
using namespace pv::blkback;
using pv::disk::DiskImage;
using pv::disk::HostFile;
using pv::disk::RawImage;

inline constexpr uint64_t kRamPages = 2048;   // 8 MiB by default
inline constexpr uint64_t kGrantFrameGfn = 1;  // grant frames from here (512 entries each, up to 14)
inline constexpr uint64_t kRingGfn = 16;       // up to 16 ring pages
inline constexpr uint64_t kDataGfn = 64;       // data pages from here
inline constexpr uint64_t kDiskBytes = 4 << 20;
inline constexpr uint64_t kDiskSectors = kDiskBytes / 512;

using backtest::eventually;

// The pattern a sector holds: its number and a salt in every 8 bytes.
inline void fill_pattern(uint8_t* p, size_t bytes, uint64_t first_sector, uint64_t salt) {
  for (size_t off = 0; off < bytes; off += 8) {
    const uint64_t v = ((first_sector + off / 512) << 20) ^ (off % 512) ^ (salt << 40);
    std::memcpy(p + off, &v, 8);
  }
}

class TempDisk {
 public:
  explicit TempDisk(uint64_t bytes = kDiskBytes, const char* dir = "/var/tmp") {
    path_ = std::string(dir) + "/blkback-test.XXXXXX";
    fd_.reset(::mkstemp(path_.data()));
    if (!fd_) pv::throw_errno("mkstemp");
    if (::ftruncate(fd_.get(), off_t(bytes)) != 0) pv::throw_errno("ftruncate");
  }
  ~TempDisk() { ::unlink(path_.c_str()); }
  const std::string& path() const { return path_; }
  std::vector<uint8_t> read(uint64_t off, size_t len) const {
    std::vector<uint8_t> v(len);
    EXPECT_EQ(::pread(fd_.get(), v.data(), len, off_t(off)), ssize_t(len));
    return v;
  }
  void write(uint64_t off, const void* data, size_t len) const {
    ASSERT_EQ(::pwrite(fd_.get(), data, len, off_t(off)), ssize_t(len));
    ::fsync(fd_.get());
  }
  uint64_t allocated_bytes() const {
    struct stat st{};
    ::fstat(fd_.get(), &st);
    return uint64_t(st.st_blocks) * 512;
  }

 private:
  std::string path_;
  pv::UniqueFd fd_;
};

class FakeGuest : public backtest::FakeGuestMemory {
 public:
  explicit FakeGuest(uint64_t ram_pages = kRamPages, uint32_t grant_frames = 1)
      : FakeGuestMemory(ram_pages, grant_frames, kGrantFrameGfn) {
    kick_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    irq_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  }
  ~FakeGuest() { queue_.reset(); }

  // Starts a queue over a fresh ring of 2^order pages in `abi`, serving
  // `file` as a raw image (null: an empty drive).
  void start(std::shared_ptr<HostFile> file, Limits limits, unsigned order = 0, Abi abi = Abi::kNative,
             bool persistent = false) {
    start_image(file ? std::make_shared<RawImage>(std::move(file)) : nullptr, limits, order, abi, persistent);
  }
  void start(std::nullptr_t, Limits limits) { start_image(nullptr, limits); }
  // The same over any disk image.
  void start_image(std::shared_ptr<DiskImage> image, Limits limits, unsigned order = 0, Abi abi = Abi::kNative,
                   bool persistent = false) {
    abi_ = abi;
    const uint64_t bytes = (1u << order) * 4096;
    std::memset(page(kRingGfn), 0, bytes);
    if (abi == Abi::kNative) {
      front_ = B::FrontRing(page(kRingGfn), bytes);
      front_.init_shared();
    } else {
      front32_ = B::x86_32::FrontRing(page(kRingGfn), bytes);
      front32_.init_shared();
    }
    QueueConfig c;
    c.abi = abi;
    c.ring = page(kRingGfn);
    c.ring_bytes = bytes;
    c.kick_fd = kick_.get();
    const int irq = irq_.get();
    c.notify = [irq] {
      const uint64_t one = 1;
      (void)!::write(irq, &one, 8);
    };
    c.grants = &access();
    c.image = std::move(image);
    c.limits = limits;
    c.persistent = persistent;
    c.stats = &stats;
    c.io_errors = io_errors;
    c.fatal = [this](const std::string& why) {
      std::lock_guard lk(mu_);
      fatal_.push_back(why);
    };
    queue_ = std::make_unique<BlkQueue>(std::move(c));
    queue_->start();
  }
  void stop() { queue_.reset(); }

  uint32_t ring_size() const { return abi_ == Abi::kNative ? front_.size() : front32_.size(); }
  int irq_fd() const { return irq_.get(); }
  uint32_t free_requests() const { return abi_ == Abi::kNative ? front_.free_requests() : front32_.free_requests(); }

  // Puts one request (native layout bytes; translated for x86_32) on the
  // ring without publishing it.
  void queue_request(const B::blkif_request& r) {
    if (abi_ == Abi::kNative) {
      std::memcpy(&front_.next_request(), &r, sizeof r);
      front_.req_prod_pvt++;
    } else {
      B::x86_32::blkif_request c{};
      // The operations used with x86_32 in the tests: read/write/flush.
      c.operation = r.operation;
      c.nr_segments = r.nr_segments;
      c.handle = r.handle;
      c.id = r.id;
      c.sector_number = r.sector_number;
      std::memcpy(c.seg, r.seg, sizeof c.seg);
      std::memcpy(&front32_.next_request(), &c, sizeof c);
      front32_.req_prod_pvt++;
    }
  }
  template <typename T>
  void queue_raw(const T& r) {
    static_assert(sizeof(T) <= sizeof(B::blkif_request));
    B::blkif_request full{};
    std::memcpy(&full, &r, sizeof r);
    queue_request(full);
  }
  // Publishes and kicks if the back-end asked for it. Returns whether it kicked.
  bool push() {
    const bool notify = abi_ == Abi::kNative ? front_.push_requests() : front32_.push_requests();
    if (notify) {
      const uint64_t one = 1;
      (void)!::write(kick_.get(), &one, 8);
      kicks_sent++;
    }
    return notify;
  }

  struct Rsp {
    uint64_t id;
    uint8_t op;
    int16_t status;
  };
  // Collects `n` responses (arming rsp_event as a front-end does), or
  // fewer on timeout.
  std::vector<Rsp> responses(size_t n, std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    std::vector<Rsp> out;
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (out.size() < n && std::chrono::steady_clock::now() < end) {
      bool more = true;
      while (more && out.size() < n) {
        if (abi_ == Abi::kNative) {
          while (front_.has_unconsumed_responses() && out.size() < n) {
            const auto& r = front_.response(front_.rsp_cons++);
            out.push_back({r.id, r.operation, r.status});
          }
          more = front_.final_check_for_responses();
        } else {
          while (front32_.has_unconsumed_responses() && out.size() < n) {
            B::x86_32::blkif_response r;
            std::memcpy(&r, &front32_.response(front32_.rsp_cons++), sizeof r);
            out.push_back({r.id, r.operation, r.status});
          }
          more = front32_.final_check_for_responses();
        }
      }
      if (out.size() < n) {
        pollfd p{irq_.get(), POLLIN, 0};
        ::poll(&p, 1, 20);
        uint64_t v;
        if (::read(irq_.get(), &v, 8) == 8) irqs_seen += v;
      }
    }
    uint64_t v;
    if (::read(irq_.get(), &v, 8) == 8) irqs_seen += v;
    return out;
  }
  // Takes every response there is, then arms rsp_event (native ABI). True
  // if more arrived meanwhile (call again); false: wait for irq_fd().
  bool drain(std::vector<Rsp>& out) {
    while (front_.has_unconsumed_responses()) {
      const auto& r = front_.response(front_.rsp_cons++);
      out.push_back({r.id, r.operation, r.status});
    }
    return front_.final_check_for_responses();
  }

  // One request: queue, push, wait for its response.
  Rsp run(const B::blkif_request& r) {
    queue_request(r);
    push();
    auto rs = responses(1);
    EXPECT_EQ(rs.size(), 1u) << "no response";
    return rs.empty() ? Rsp{~0ull, 0xff, 99} : rs[0];
  }
  template <typename T>
  Rsp run_raw(const T& r) {
    queue_raw(r);
    push();
    auto rs = responses(1);
    EXPECT_EQ(rs.size(), 1u) << "no response";
    return rs.empty() ? Rsp{~0ull, 0xff, 99} : rs[0];
  }

  // Breaks the ring the way a hostile front-end can: req_prod far ahead.
  void overflow_ring() {
    auto* h = abi_ == Abi::kNative ? front_.header() : front32_.header();
    xen::ring::store_idx(&h->req_prod, h->rsp_prod + 16 * ring_size());
    const uint64_t one = 1;
    (void)!::write(kick_.get(), &one, 8);
  }
  std::vector<std::string> fatal() {
    std::lock_guard lk(mu_);
    return fatal_;
  }

  BlkStats stats;
  pv::backd::RateLimitedLog* io_errors = nullptr;  // set before start(): the queue logs host-side errors there
  uint64_t irqs_seen = 0, kicks_sent = 0;

 private:
  pv::UniqueFd kick_, irq_;
  Abi abi_ = Abi::kNative;
  B::FrontRing front_;
  B::x86_32::FrontRing front32_;
  std::unique_ptr<BlkQueue> queue_;
  std::mutex mu_;
  std::vector<std::string> fatal_;
};

// A read/write request over `nsegs` whole pages starting at data page
// `first_page`, each granted with ref `ref0 + i`.
inline B::blkif_request rw_request(uint8_t op, uint64_t id, uint64_t sector, unsigned nsegs, xen::grant_ref_t ref0,
                                   uint8_t first = 0, uint8_t last = 7) {
  B::blkif_request r{};
  r.operation = op;
  r.nr_segments = uint8_t(nsegs);
  r.id = id;
  r.sector_number = sector;
  for (unsigned i = 0; i < nsegs && i < B::BLKIF_MAX_SEGMENTS_PER_REQUEST; i++) r.seg[i] = {ref0 + i, first, last, 0};
  return r;
}

}  // namespace blktest
