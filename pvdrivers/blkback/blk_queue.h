// blkback: one queue of a virtual disk. One shared ring, one io_uring and
// one thread.
//
// The thread takes every request the ring holds (a copy: the guest may
// change the slot at any time), checks it (request_check.h), maps its
// grants with the access it needs, asks the disk image where the bytes
// are (disk/disk_image.h: map_read / map_write give runs of host files,
// zeros, or bytes the image makes itself) and queues the I/O on the
// io_uring: readv/writev straight between each host file and the granted
// guest pages (one SQE per file run, the guest's iovecs split along the
// runs; O_DIRECT when the run's file and alignment allow, else through
// the page cache). Zero runs are filled in place, copy runs through the
// image's read_sync. A request completes when all its parts did; a short
// transfer or EAGAIN is continued per part. A flush is an fdatasync of the
// image's file, then the image's own flush (its metadata), a discard the
// image's discard. The whole batch goes to the kernel with one
// io_uring_enter, which also waits for the first completion; the guest's
// kicks arrive through the same io_uring (a poll on the event channel's
// eventfd), so one wait sleeps for both. Responses are pushed once per
// batch of completions, and the guest is notified only when the ring
// protocol says it asked to be; req_event is re-armed (final check) only
// when no I/O is in flight, because every completion makes the thread look
// at the ring again anyway.
//
// Durability: a flush is acknowledged only after fdatasync and the
// image's flush completed, and only after every write submitted before
// the flush completed (so every write the guest saw acknowledged before it
// sent the flush is covered).
//
// A failure of the disk itself (ENOSPC on a full file system, EIO, an
// image that shrank, image metadata that cannot be read or is corrupt)
// answers the request with BLKIF_RSP_ERROR, is counted (err_io) and is
// logged with the operation, the sectors, the reason and the file through
// the device's rate-limited log.
//
// Every request is untrusted: a bad one gets BLKIF_RSP_ERROR (or
// EOPNOTSUPP) and a fault counter; a ring whose producer index is
// impossible is broken: the thread stops taking requests and reports it
// once through `fatal` (the device then disconnects). stop() lets I/O in
// flight complete before it returns, so no grant is released while the
// kernel may still write into the page.
#pragma once
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "disk/disk_image.h"
#include "blkback/blk_ring.h"
#include "blkback/blk_stats.h"
#include "blkback/grant_cache.h"
#include "blkback/io_throttle.h"
#include "blkback/request_check.h"
#include "common/io_uring.h"
#include "common/rate_limited_log.h"
#include "pv/grant_access.h"
#include "pv/unique_fd.h"

namespace pv::blkback {

// Linux blkback's default bound on persistent grants per ring.
inline constexpr uint32_t kMaxPersistentGrants = 1056;

struct QueueConfig {
  uint32_t index = 0;
  std::string thread_name;  // at most 15 characters shown (e.g. "vbd1.51712q0")
  Abi abi = Abi::kNative;
  void* ring = nullptr;  // the mapped ring pages (outlive the queue)
  uint64_t ring_bytes = 0;
  int kick_fd = -1;              // eventfd, readable when the guest sent on the port
  std::function<void()> notify;  // raises the guest's port
  GrantAccess* grants = nullptr;
  std::shared_ptr<disk::DiskImage> image;  // null: an empty drive (every data request fails)
  Limits limits;
  IoThrottle* throttle = nullptr;  // the device's I/O limits (null: none); outlives the queue
  bool persistent = false;
  uint32_t max_persistent = kMaxPersistentGrants;
  BlkStats* stats = nullptr;
  backd::RateLimitedLog* io_errors = nullptr;  // host-side I/O errors (null: only counted)
  std::function<void(const std::string&)> fatal;  // broken ring (called once, from the queue thread)
};

class BlkQueue {
 public:
  // Throws when the ring is unusable or io_uring cannot be set up.
  explicit BlkQueue(QueueConfig c);
  ~BlkQueue();
  BlkQueue(const BlkQueue&) = delete;
  BlkQueue& operator=(const BlkQueue&) = delete;

  void start();
  // Idempotent: stops taking requests, completes what is in flight,
  // pushes the last responses, joins the thread.
  void stop();
  uint32_t ring_size() const { return ring_.size(); }
  // Thread-safe: the disk grew (online resize); requests up to the new end
  // are accepted from the queue thread's next pass on.
  void set_disk_sectors(uint64_t sectors);
  // From the device's thread: the queue stops taking requests and pause()
  // returns once nothing it took is in flight (its thread then waits);
  // set_image() swaps the image under it (a snapshot), resume() lets it go
  // on. The guest's requests wait on the ring meanwhile.
  void pause();
  void set_image(std::shared_ptr<disk::DiskImage> image);  // only while paused
  void resume();

 private:
  struct Pending;
  struct Part;
  enum Tag : uint64_t { kKickTag = 1, kStopTag = 2, kTimerTag = 3, kWakeTag = 4 };
  void park();

  void run();
  void serve();
  void consume();
  void handle(const BlkRequest& r);
  Fault fetch_indirect(Pending* p);
  Fault map_segments(Pending* p, const xen::blkif::blkif_request_segment* segs);
  void dispatch(Pending* p);
  void run_deferred();
  void arm_timer(uint64_t ns);
  void submit_rw(Pending* p);
  bool split_runs(Pending* p, uint64_t off, uint64_t len, std::string& why);
  void submit_part(Part* part);
  void map_error(Pending* p, const std::string& reason);
  void queue_flush(Pending* p);
  void submit_fsync(Pending* p);
  void release_flushes();
  void submit_discard(Pending* p);
  void on_cqe(uint64_t tag, int res);
  void on_completion(Part* part, int res);
  void finish(Pending* p, Fault f);
  void host_error(const Pending* p, const char* op, const std::string& reason, const std::string& path);
  void publish_written();
  void push_responses();
  void broken(const std::string& why);
  void arm_poll(int fd, uint64_t tag);
  Pending* get_pending();
  void put_pending(Pending* p);

  QueueConfig c_;
  BlkRing ring_;
  GrantCache grants_;
  IoUring uring_;
  UniqueFd stop_fd_;
  std::thread thread_;
  bool started_ = false, stopped_ = false;

  // queue-thread state
  bool stopping_ = false, broken_ = false;
  uint32_t inflight_ = 0;  // Pendings with an SQE in the kernel
  uint64_t write_seq_ = 0;
  std::set<uint64_t> writes_in_flight_;
  std::deque<Pending*> waiting_flushes_;  // in barrier order
  // Requests the I/O limits hold back, in ring order (anything behind a
  // held request waits too, so flushes keep their place), and the
  // io_uring timeout that brings the thread back for them.
  std::deque<Pending*> deferred_;
  bool timer_armed_ = false;
  __kernel_timespec timer_ts_{};
  std::atomic<uint64_t> new_disk_sectors_{0};
  // pause() / resume(): the queue thread parks on park_cv_.
  UniqueFd wake_fd_;
  std::atomic<bool> pause_requested_{false};
  std::mutex park_mu_;
  std::condition_variable park_cv_;
  bool parked_ = false, exited_ = false;  // guarded by park_mu_
  std::vector<std::unique_ptr<Pending>> pool_;
  std::vector<Pending*> free_;
  std::vector<disk::ImageRun> runs_;  // scratch: one request's runs
  // Writes completed since the last push: their byte ranges, whose image
  // metadata goes to the file before the responses go out (publish_written).
  std::vector<std::pair<uint64_t, uint64_t>> written_;
  std::vector<iovec> copy_iov_;       // scratch: a copy run's guest memory
};

}  // namespace pv::blkback
