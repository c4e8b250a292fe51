// blkback: one queue of a virtual disk. One shared ring, one io_uring and
// one thread.
//
// The thread takes every request the ring holds (a copy: the guest may
// change the slot at any time), checks it (request_check.h), maps its
// grants with the access it needs and queues its I/O on the io_uring:
// readv/writev straight between the backing store and the granted guest
// pages (O_DIRECT when the alignment allows, else through the page cache),
// fdatasync for a flush, a punched hole (or BLKDISCARD) for a discard. The
// whole batch goes to the kernel with one io_uring_enter, which also waits
// for the first completion; the guest's kicks arrive through the same
// io_uring (a poll on the event channel's eventfd), so one wait sleeps for
// both. Responses are pushed once per batch of completions, and the guest
// is notified only when the ring protocol says it asked to be; req_event
// is re-armed (final check) only when no I/O is in flight, because every
// completion makes the thread look at the ring again anyway.
//
// Durability: a flush is acknowledged only after fdatasync completed, and
// only after every write submitted before the flush completed (so every
// write the guest saw acknowledged before it sent the flush is covered).
//
// A failure of the backing store itself (ENOSPC on a full file system,
// EIO, an image that shrank) answers the request with BLKIF_RSP_ERROR, is
// counted (err_io) and is logged with the operation, the sectors and the
// error through the device's rate-limited log.
//
// Every request is untrusted: a bad one gets BLKIF_RSP_ERROR (or
// EOPNOTSUPP) and a fault counter; a ring whose producer index is
// impossible is broken: the thread stops taking requests and reports it
// once through `fatal` (the device then disconnects). stop() lets I/O in
// flight complete before it returns, so no grant is released while the
// kernel may still write into the page.
#pragma once
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "disk/host_file.h"
#include "blkback/blk_ring.h"
#include "blkback/blk_stats.h"
#include "blkback/grant_cache.h"
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
  std::shared_ptr<disk::HostFile> store;  // null: an empty drive (every data request fails)
  Limits limits;
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

 private:
  struct Pending;
  enum Tag : uint64_t { kKickTag = 1, kStopTag = 2 };

  void run();
  void serve();
  void consume();
  void handle(const BlkRequest& r);
  Fault fetch_indirect(Pending* p);
  Fault map_segments(Pending* p, const xen::blkif::blkif_request_segment* segs);
  void submit_rw(Pending* p);
  void queue_flush(Pending* p);
  void submit_fsync(Pending* p);
  void release_flushes();
  void submit_discard(Pending* p);
  void on_cqe(uint64_t tag, int res);
  void on_completion(Pending* p, int res);
  void finish(Pending* p, Fault f);
  void host_error(const Pending* p, const char* op, int res);
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
  std::vector<std::unique_ptr<Pending>> pool_;
  std::vector<Pending*> free_;
};

}  // namespace pv::blkback
