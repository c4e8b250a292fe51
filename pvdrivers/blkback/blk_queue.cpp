#include "blkback/blk_queue.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>

#include "pv/error.h"

namespace pv::blkback {
namespace B = xen::blkif;

// One file run of a request in flight: its guest iovecs (a range of
// Pending::iov) and where they go in which file. The io_uring's user data
// of every SQE is a Part (a flush's fdatasync uses Pending::sync).
struct BlkQueue::Part {
  Pending* owner = nullptr;
  const disk::HostFile* file = nullptr;
  uint64_t offset = 0;  // file offset of iov[iov_next]
  uint32_t iov_next = 0, iov_end = 0;
  bool direct = false;
};

struct BlkQueue::Pending {
  enum class Stage : uint8_t { kIo, kFsync };
  BlkRequest req;
  std::vector<B::blkif_request_segment> segs;  // indirect descriptors
  std::vector<MappedGrant> temps;              // grant uses held for the I/O
  std::vector<iovec> iov;                      // guest memory, split along the file runs
  std::vector<iovec> guest_iov;                // scratch: guest memory before the split
  std::vector<Part> parts;                     // file runs (fixed once submitted)
  Part sync;                                   // the fdatasync of a flush
  uint32_t parts_left = 0;  // parts with I/O still to complete
  int error = 1;            // first failed part's result (<= 0), 1: none
  const disk::HostFile* error_file = nullptr;
  uint64_t sectors = 0;     // request length
  uint64_t write_seq = 0;   // 0: not a write in flight
  uint64_t barrier = 0;     // flush: writes up to this sequence first
  uint64_t taken_ns = 0;    // when it came off the ring
  Stage stage = Stage::kIo;
  bool flush_after = false;  // a flush carrying data: fdatasync after the write
  bool write = false;
  bool held = false;  // the I/O limits made it wait

  void reset() {
    segs.clear();
    temps.clear();
    iov.clear();
    parts.clear();
    parts_left = 0;
    error = 1;
    error_file = nullptr;
    sectors = write_seq = barrier = 0;
    stage = Stage::kIo;
    flush_after = write = held = false;
  }
};

namespace {
// One SQE per request at a time in the common case (a ring can hold
// ring_size requests not yet answered), the two polls, and slack; a
// request over several file runs takes more (sqe() hands a full queue to
// the kernel, and the kernel keeps completions that do not fit in the
// completion queue).
unsigned uring_entries(uint32_t ring_size) {
  unsigned entries = 64;
  while (entries < ring_size + 8 && entries < 4096) entries *= 2;
  return entries;
}
}  // namespace

BlkQueue::BlkQueue(QueueConfig c)
    : c_(std::move(c)),
      ring_(c_.abi, c_.ring, c_.ring_bytes),
      grants_(*c_.grants, c_.persistent, c_.max_persistent, c_.stats ? &c_.stats->persistent_grants : nullptr),
      uring_(uring_entries(ring_.size()), "queue " + std::to_string(c_.index)) {
  if (!ring_.valid()) throw UserError("queue " + std::to_string(c_.index) + ": ring too small");
  if (!c_.stats || !c_.grants || c_.kick_fd < 0) throw std::logic_error("BlkQueue: incomplete config");
  stop_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_fd_) throw_errno("eventfd(queue stop)");
  wake_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wake_fd_) throw_errno("eventfd(queue wake)");
}

BlkQueue::~BlkQueue() { stop(); }

void BlkQueue::start() {
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] { run(); });
}

void BlkQueue::set_disk_sectors(uint64_t sectors) { new_disk_sectors_.store(sectors, std::memory_order_release); }

void BlkQueue::pause() {
  if (!started_ || stopped_) return;
  std::unique_lock lock(park_mu_);
  pause_requested_.store(true, std::memory_order_release);
  const uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof one);
  park_cv_.wait(lock, [this] { return parked_ || exited_; });
}

void BlkQueue::set_image(std::shared_ptr<disk::DiskImage> image) {
  std::lock_guard lock(park_mu_);
  c_.image = std::move(image);
}

void BlkQueue::resume() {
  std::lock_guard lock(park_mu_);
  pause_requested_.store(false, std::memory_order_release);
  park_cv_.notify_all();
}

// The queue thread, with nothing in flight: waits until resume().
void BlkQueue::park() {
  std::unique_lock lock(park_mu_);
  parked_ = true;
  park_cv_.notify_all();
  park_cv_.wait(lock, [this] { return !pause_requested_.load(std::memory_order_acquire); });
  parked_ = false;
}

void BlkQueue::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (!started_) return;
  const uint64_t one = 1;
  (void)!::write(stop_fd_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

// ---- pool ----
BlkQueue::Pending* BlkQueue::get_pending() {
  if (free_.empty()) {
    pool_.push_back(std::make_unique<Pending>());
    return pool_.back().get();
  }
  Pending* p = free_.back();
  free_.pop_back();
  return p;
}

void BlkQueue::put_pending(Pending* p) {
  p->reset();
  free_.push_back(p);
}

// ---- io_uring helpers ----
void BlkQueue::arm_poll(int fd, uint64_t tag) {
  io_uring_sqe* s = uring_.sqe();
  io_uring_prep_poll_add(s, fd, POLLIN);
  io_uring_sqe_set_data64(s, tag);
}

// ---- the thread ----
void BlkQueue::run() {
  if (!c_.thread_name.empty()) ::pthread_setname_np(::pthread_self(), c_.thread_name.substr(0, 15).c_str());
  struct Exited {  // pause() never waits for a thread that is gone
    BlkQueue* q;
    ~Exited() {
      std::lock_guard lock(q->park_mu_);
      q->exited_ = true;
      q->park_cv_.notify_all();
    }
  } exited{this};
  try {
    serve();
  } catch (const std::exception& e) {
    // Out of memory or a bug: this device stops, pv-backd does not. The
    // kernel may still be doing I/O into guest pages: wait for it before
    // the grants can go.
    broken(std::string("internal error: ") + e.what());
    while (inflight_) {
      const int rc = io_uring_submit_and_wait(uring_.get(), 1);
      if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) break;
      uring_.for_each_completion([&](io_uring_cqe* cqe) {
        const uint64_t tag = io_uring_cqe_get_data64(cqe);
        if (tag != kKickTag && tag != kStopTag && tag != kTimerTag && tag != kWakeTag) inflight_--;
      });
    }
  }
}

void BlkQueue::serve() {
  arm_poll(c_.kick_fd, kKickTag);
  arm_poll(stop_fd_.get(), kStopTag);
  arm_poll(wake_fd_.get(), kWakeTag);
  for (;;) {
    if (const uint64_t n = new_disk_sectors_.exchange(0, std::memory_order_acquire)) c_.limits.disk_sectors = n;
    const bool pausing = pause_requested_.load(std::memory_order_acquire) && !stopping_;
    if (pausing && inflight_ == 0 && waiting_flushes_.empty()) {
      park();
      continue;
    }
    if (!pausing && !stopping_ && !broken_) consume();
    if (!pausing && !deferred_.empty() && (!timer_armed_ || stopping_)) run_deferred();
    if (ring_.has_unpushed()) {
      publish_written();
      push_responses();
    }
    if (stopping_ && inflight_ == 0 && waiting_flushes_.empty() && deferred_.empty()) break;
    // Re-arm req_event only when idle: with I/O in flight, its completion
    // brings us back here to look at the ring without a guest notification.
    if (!stopping_ && !broken_ && inflight_ == 0 && ring_.final_check()) continue;
    const int rc = io_uring_submit_and_wait(uring_.get(), 1);
    if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ETIME) {
      // Cannot happen with a sane kernel; stop serving rather than spin.
      broken("io_uring_enter failed: " + std::string(std::strerror(-rc)));
      if (inflight_ == 0) break;
    }
    uring_.for_each_completion([this](io_uring_cqe* cqe) { on_cqe(io_uring_cqe_get_data64(cqe), cqe->res); });
  }
  // Nothing is in flight now; cancel the polls so the ring can go.
  io_uring_sqe* s = uring_.sqe();
  io_uring_prep_cancel64(s, kKickTag, 0);
  s = uring_.sqe();
  io_uring_prep_cancel64(s, kWakeTag, 0);
  if (timer_armed_) {
    s = uring_.sqe();
    io_uring_prep_timeout_remove(s, kTimerTag, 0);
  }
  io_uring_submit(uring_.get());
}

void BlkQueue::on_cqe(uint64_t tag, int res) {
  if (tag == kKickTag) {
    uint64_t n;
    if (::read(c_.kick_fd, &n, sizeof n) == sizeof n) c_.stats->add(c_.stats->kicks);
    if (!stopping_) arm_poll(c_.kick_fd, kKickTag);
  } else if (tag == kStopTag) {
    stopping_ = true;
  } else if (tag == kWakeTag) {
    uint64_t n;
    (void)!::read(wake_fd_.get(), &n, sizeof n);
    if (!stopping_) arm_poll(wake_fd_.get(), kWakeTag);
  } else if (tag == kTimerTag) {
    timer_armed_ = false;  // run_deferred() looks at the held requests again
  } else {
    on_completion(reinterpret_cast<Part*>(tag), res);
  }
}

void BlkQueue::broken(const std::string& why) {
  if (broken_) return;
  broken_ = true;
  c_.stats->add(c_.stats->ring_broken);
  try {
    if (c_.fatal) c_.fatal("queue " + std::to_string(c_.index) + ": " + why);
  } catch (const std::exception&) {
  }
}

void BlkQueue::consume() {
  // At most one ring's worth per call, so responses go out regularly even
  // when a front-end keeps the ring full of requests that fail at once.
  uint32_t budget = ring_.size();
  while (budget) {
    if (ring_.overflowed()) {
      broken("front-end published more requests than the ring holds (req_prod overflow)");
      return;
    }
    uint32_t n = ring_.unconsumed();
    if (!n) return;
    if (n > budget) n = budget;
    budget -= n;
    for (uint32_t i = 0; i < n; i++) {
      BlkRequest r;
      ring_.take(r);
      handle(r);
    }
  }
}

// Before the guest hears a write is done, the metadata naming where it went
// leaves pv-backd's memory (a kill loses no acknowledged write). On failure
// it stays in memory for the guest's next flush, which then reports it.
void BlkQueue::publish_written() {
  if (written_.empty() || !c_.image) return written_.clear();
  if (const int rc = c_.image->publish_written(written_); rc != 0 && c_.io_errors)
    c_.io_errors->report("writing the image's metadata after " + std::to_string(written_.size()) +
                         " write(s) failed: " + std::strerror(-rc) + " (" + c_.image->path() +
                         "); kept in memory for the next flush");
  written_.clear();
}

void BlkQueue::push_responses() {
  if (ring_.push() && c_.notify) {
    c_.notify();
    c_.stats->add(c_.stats->notifies);
  }
}

namespace {
uint64_t now_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}
}  // namespace

void BlkQueue::finish(Pending* p, Fault f) {
  if (f != Fault::kNone) c_.stats->fault(f);
  c_.stats->add(c_.stats->service_ns, now_ns() - p->taken_ns);
  // As Linux blkback: an indirect request is answered with its inner
  // operation (Linux's blkfront checks that), anything else with its own.
  ring_.respond(p->req.id, p->req.indirect ? p->req.op : p->req.operation, status_for(f));
  put_pending(p);
}

void BlkQueue::host_error(const Pending* p, const char* op, const std::string& reason, const std::string& path) {
  if (!c_.io_errors) return;
  std::string m = op;
  if (p->req.op == B::BLKIF_OP_DISCARD)
    m += " of " + std::to_string(p->req.nr_sectors) + " sectors at sector " + std::to_string(p->req.sector);
  else if (p->stage == Pending::Stage::kIo)
    m += " of " + std::to_string(p->sectors) + " sectors at sector " + std::to_string(p->req.sector);
  m += " failed: " + reason + " (" + path + ")";
  c_.io_errors->report(m);
}

namespace {
// What a failed transfer on a host file means.
std::string io_reason(int res) {
  return res == 0 ? "end of file (the image is smaller than the disk)" : std::strerror(-res);
}

// What an error from the disk image (map_read, map_write, flush) means.
std::string image_reason(int rc, bool flushing) {
  const std::string e = std::strerror(-rc);
  switch (-rc) {
    case EIO: return (flushing ? "writing the image's metadata failed (" : "the image's metadata cannot be read (") + e + ")";
    case EUCLEAN: return "the image's metadata is corrupt (" + e + ")";
    case ENOSPC: return "no space left to allocate in the image (" + e + ")";
    case EROFS: return "the image is read-only (" + e + ")";
    default: return e;
  }
}
}  // namespace

void BlkQueue::handle(const BlkRequest& r) {
  BlkStats& st = *c_.stats;
  st.add(st.requests);
  Pending* p = get_pending();
  p->req = r;
  p->taken_ns = now_ns();
  Fault f = check_header(r, c_.limits);
  if (f != Fault::kNone) return finish(p, f);
  switch (r.op) {
    case B::BLKIF_OP_DISCARD:
      st.add(st.discards);
      if (r.nr_sectors == 0) return finish(p, Fault::kNone);
      return submit_discard(p);
    case B::BLKIF_OP_FLUSH_DISKCACHE:
      st.add(st.flushes);
      if (r.nr_segments == 0) return queue_flush(p);
      p->flush_after = true;  // data with a flush: write it, then fdatasync
      break;
    case B::BLKIF_OP_READ:
      st.add(st.reads);
      break;
    default:
      st.add(st.writes);
      break;
  }
  if (r.indirect) st.add(st.indirect);
  const B::blkif_request_segment* segs = r.seg;
  if (r.indirect) {
    if ((f = fetch_indirect(p)) != Fault::kNone) return finish(p, f);
    segs = p->segs.data();
  }
  if ((f = check_segments(r, segs, c_.limits, &p->sectors)) != Fault::kNone) return finish(p, f);
  if (!c_.image) return finish(p, Fault::kBadRange);  // an empty drive has no sectors
  if ((f = map_segments(p, segs)) != Fault::kNone) return finish(p, f);
  dispatch(p);
}

// ---- I/O limits ----
// Every checked request passes here (flushes and discards too, so nothing
// overtakes a request the limits hold back).
void BlkQueue::dispatch(Pending* p) {
  if (c_.throttle && (!deferred_.empty() || c_.throttle->limited())) {
    deferred_.push_back(p);
    if (!timer_armed_) run_deferred();
    return;
  }
  if (p->req.op == B::BLKIF_OP_DISCARD) return submit_discard(p);
  if (p->req.op == B::BLKIF_OP_FLUSH_DISKCACHE && !p->flush_after) return queue_flush(p);
  submit_rw(p);
}

// Submits held requests in order while the limits admit them; the first
// one that must wait arms the timer. A stopping queue submits them all.
void BlkQueue::run_deferred() {
  while (!deferred_.empty()) {
    Pending* p = deferred_.front();
    const bool data = p->req.op != B::BLKIF_OP_DISCARD && !(p->req.op == B::BLKIF_OP_FLUSH_DISKCACHE && !p->flush_after);
    if (data && !stopping_ && c_.throttle && c_.throttle->limited()) {
      const uint64_t wait = c_.throttle->admit(p->write, p->sectors << B::kSectorShift, now_ns());
      if (wait) {
        if (!p->held) c_.stats->add(c_.stats->throttled);
        p->held = true;
        // At most 100 ms: a limit changed meanwhile is seen soon.
        return arm_timer(std::min<uint64_t>(wait, 100000000ull));
      }
    }
    deferred_.pop_front();
    if (p->req.op == B::BLKIF_OP_DISCARD) submit_discard(p);
    else if (!data) queue_flush(p);
    else submit_rw(p);
  }
}

void BlkQueue::arm_timer(uint64_t ns) {
  timer_ts_.tv_sec = int64_t(ns / 1000000000ull);
  timer_ts_.tv_nsec = int64_t(ns % 1000000000ull);
  io_uring_sqe* s = uring_.sqe();
  io_uring_prep_timeout(s, &timer_ts_, 0, 0);
  io_uring_sqe_set_data64(s, kTimerTag);
  timer_armed_ = true;
}

Fault BlkQueue::fetch_indirect(Pending* p) {
  const BlkRequest& r = p->req;
  p->segs.resize(r.nr_segments);
  uint32_t left = r.nr_segments;
  for (uint32_t page = 0; page < r.indirect_pages(); page++) {
    int16_t status = 0;
    MappedGrant g = grants_.map_temp(r.indirect_grefs[page], false, &status);
    if (!g) return Fault::kBadGrant;
    const uint32_t n = left < B::kSegsPerIndirectFrame ? left : B::kSegsPerIndirectFrame;
    // A copy: the descriptors are checked and used from here only.
    std::memcpy(&p->segs[page * B::kSegsPerIndirectFrame], g.data(), n * sizeof(B::blkif_request_segment));
    left -= n;
  }
  return Fault::kNone;
}

Fault BlkQueue::map_segments(Pending* p, const B::blkif_request_segment* segs) {
  // A READ fills guest memory: it needs writable grants.
  const bool to_guest = p->req.op == B::BLKIF_OP_READ;
  p->write = !to_guest;
  p->iov.reserve(p->req.nr_segments);
  for (uint32_t i = 0; i < p->req.nr_segments; i++) {
    const auto& s = segs[i];
    MappedGrant temp;
    int16_t status = 0;
    uint8_t* page = grants_.map(s.gref, to_guest, temp, &status);
    if (!page) {
      p->temps.clear();
      p->iov.clear();
      return Fault::kBadGrant;
    }
    if (temp) p->temps.push_back(std::move(temp));
    uint8_t* base = page + (uint32_t(s.first_sect) << B::kSectorShift);
    const size_t len = size_t(s.last_sect - s.first_sect + 1) << B::kSectorShift;
    // Consecutive guest frames are consecutive here too: one iovec.
    if (!p->iov.empty() && static_cast<uint8_t*>(p->iov.back().iov_base) + p->iov.back().iov_len == base)
      p->iov.back().iov_len += len;
    else
      p->iov.push_back({base, len});
  }
  return Fault::kNone;
}

void BlkQueue::map_error(Pending* p, const std::string& reason) {
  p->temps.clear();
  host_error(p, p->write ? "write" : "read", reason, c_.image->path());
  finish(p, Fault::kIoError);
}

void BlkQueue::submit_rw(Pending* p) {
  p->stage = Pending::Stage::kIo;
  const uint64_t off = p->req.sector << B::kSectorShift, len = p->sectors << B::kSectorShift;
  runs_.clear();
  const int rc = p->write ? c_.image->map_write(off, len, runs_) : c_.image->map_read(off, len, runs_);
  if (rc != 0) return map_error(p, image_reason(rc, false));
  std::string why;
  if (!split_runs(p, off, len, why)) return map_error(p, why);
  BlkStats& st = *c_.stats;
  if (p->parts.empty()) {  // zeros and bytes the image made: nothing for the kernel to do
    st.add(st.sectors_read, p->sectors);
    p->temps.clear();
    return finish(p, Fault::kNone);
  }
  bool direct = true;
  for (const Part& part : p->parts) direct = direct && part.direct;
  st.add(direct ? st.direct_io : st.buffered_io);
  if (p->write) {
    p->write_seq = ++write_seq_;
    writes_in_flight_.insert(p->write_seq);
  }
  p->parts_left = uint32_t(p->parts.size());
  for (Part& part : p->parts) submit_part(&part);
}

// Turns runs_ into p->parts (the file runs, each over its share of the
// guest's iovecs, adjacent ones in the same file merged) and does the zero
// and copy runs now. False, with `why`, when the runs are not a mapping of
// the request (an image bug: nothing is submitted) or a copy run failed.
bool BlkQueue::split_runs(Pending* p, uint64_t off, uint64_t len, std::string& why) {
  uint64_t total = 0;
  for (const auto& r : runs_) {
    const bool file = r.kind == disk::ImageRun::Kind::kFile;
    if ((file && !r.file) || (p->write && !file) || r.bytes > len - total) {
      why = "the image mapped the range wrongly (Input/output error)";
      return false;
    }
    total += r.bytes;
  }
  if (total != len) {
    why = "the image mapped the range wrongly (Input/output error)";
    return false;
  }
  if (runs_.size() == 1 && runs_[0].kind == disk::ImageRun::Kind::kFile) {
    // Raw, and most requests of other formats: the iovecs as they are.
    p->parts.push_back({p, runs_[0].file, runs_[0].file_offset, 0, uint32_t(p->iov.size()), false});
  } else {
    p->guest_iov.swap(p->iov);
    p->iov.clear();
    size_t gi = 0, gofs = 0;  // where the next run's guest memory starts
    // Calls fn(address, bytes) over the next `bytes` of guest memory.
    auto pieces = [&](uint64_t bytes, auto&& fn) {
      while (bytes && gi < p->guest_iov.size()) {
        const iovec& g = p->guest_iov[gi];
        const size_t n = size_t(std::min<uint64_t>(g.iov_len - gofs, bytes));
        fn(static_cast<uint8_t*>(g.iov_base) + gofs, n);
        bytes -= n;
        if ((gofs += n) == g.iov_len) gi++, gofs = 0;
      }
    };
    uint64_t disk_off = off, part_end = 0;
    for (const auto& r : runs_) {
      if (r.bytes == 0) continue;
      switch (r.kind) {
        case disk::ImageRun::Kind::kFile: {
          const uint32_t first = uint32_t(p->iov.size());
          pieces(r.bytes, [&](uint8_t* a, size_t n) { p->iov.push_back({a, n}); });
          if (!p->parts.empty() && p->parts.back().file == r.file && part_end == r.file_offset)
            p->parts.back().iov_end = uint32_t(p->iov.size());  // continues the last one in its file
          else
            p->parts.push_back({p, r.file, r.file_offset, first, uint32_t(p->iov.size()), false});
          part_end = r.file_offset + r.bytes;
          break;
        }
        case disk::ImageRun::Kind::kZero:
          pieces(r.bytes, [](uint8_t* a, size_t n) { std::memset(a, 0, n); });
          break;
        case disk::ImageRun::Kind::kCopy: {
          copy_iov_.clear();
          pieces(r.bytes, [&](uint8_t* a, size_t n) { copy_iov_.push_back({a, n}); });
          const int rc = c_.image->read_sync(disk_off, r.bytes, copy_iov_.data(), int(copy_iov_.size()));
          if (rc != 0) {
            p->parts.clear();
            why = std::string("the image could not produce the data (") + std::strerror(-rc) + ")";
            return false;
          }
          break;
        }
      }
      disk_off += r.bytes;
    }
  }
  for (Part& part : p->parts) {
    bool direct = part.file->direct();
    for (uint32_t i = part.iov_next; i < part.iov_end && direct; i++)
      direct = part.file->direct_ok(part.offset, p->iov[i].iov_len, p->iov[i].iov_base);
    part.direct = direct;
  }
  return true;
}

void BlkQueue::submit_part(Part* part) {
  const Pending* p = part->owner;
  const int fd = part->direct ? part->file->direct_fd() : part->file->buffered_fd();
  io_uring_sqe* s = uring_.sqe();
  const unsigned n = part->iov_end - part->iov_next;
  if (p->write) io_uring_prep_writev(s, fd, &p->iov[part->iov_next], n, part->offset);
  else io_uring_prep_readv(s, fd, &p->iov[part->iov_next], n, part->offset);
  io_uring_sqe_set_data(s, part);
  inflight_++;
}

void BlkQueue::queue_flush(Pending* p) {
  // Every write submitted so far must be complete before the fdatasync
  // that acknowledges this flush is issued.
  p->barrier = write_seq_;
  if (waiting_flushes_.empty() && (writes_in_flight_.empty() || *writes_in_flight_.begin() > p->barrier))
    return submit_fsync(p);
  waiting_flushes_.push_back(p);
}

void BlkQueue::release_flushes() {
  while (!waiting_flushes_.empty()) {
    Pending* f = waiting_flushes_.front();
    if (!writes_in_flight_.empty() && *writes_in_flight_.begin() <= f->barrier) return;
    waiting_flushes_.pop_front();
    submit_fsync(f);
  }
}

void BlkQueue::submit_fsync(Pending* p) {
  if (!c_.image) return finish(p, Fault::kNone);  // an empty drive: nothing to flush
  p->stage = Pending::Stage::kFsync;
  p->sync = {p, &c_.image->file(), 0, 0, 0, false};
  io_uring_sqe* s = uring_.sqe();
  io_uring_prep_fsync(s, c_.image->file().buffered_fd(), IORING_FSYNC_DATASYNC);
  io_uring_sqe_set_data(s, &p->sync);
  inflight_++;
}

// Synchronous (a raw image punches a hole or issues BLKDISCARD; another
// format also updates its metadata): discards are rare.
void BlkQueue::submit_discard(Pending* p) {
  if (!c_.image) return finish(p, Fault::kUnsupportedOp);
  const uint64_t off = p->req.sector << B::kSectorShift, len = p->req.nr_sectors << B::kSectorShift;
  const int rc = c_.image->discard(off, len);
  if (rc != 0 && rc != -EOPNOTSUPP) host_error(p, "discard", image_reason(rc, false), c_.image->path());
  if (rc == 0) c_.stats->add(c_.stats->sectors_discarded, p->req.nr_sectors);
  finish(p, rc == 0 ? Fault::kNone : rc == -EOPNOTSUPP ? Fault::kUnsupportedOp : Fault::kIoError);
}

void BlkQueue::on_completion(Part* part, int res) {
  inflight_--;
  Pending* p = part->owner;
  if (p->stage == Pending::Stage::kFsync) {
    if (res < 0) {
      host_error(p, "flush (fdatasync)", std::strerror(-res), part->file->path());
      return finish(p, Fault::kIoError);
    }
    // The data is stable: now the image's metadata that points at it.
    if (const int rc = c_.image->flush(); rc != 0) {
      host_error(p, "flush (image metadata)", image_reason(rc, true), c_.image->path());
      return finish(p, Fault::kIoError);
    }
    return finish(p, Fault::kNone);
  }
  if (res == -EAGAIN || res == -EINTR) return submit_part(part);
  if (res > 0) {
    // Short transfer: move past what was done and issue the rest.
    size_t done = size_t(res);
    part->offset += done;
    while (part->iov_next < part->iov_end && done >= p->iov[part->iov_next].iov_len)
      done -= p->iov[part->iov_next++].iov_len;
    if (part->iov_next < part->iov_end) {
      iovec& v = p->iov[part->iov_next];
      v.iov_base = static_cast<uint8_t*>(v.iov_base) + done;
      v.iov_len -= done;
      if (part->direct && !part->file->direct_ok(part->offset, v.iov_len, v.iov_base)) part->direct = false;
      return submit_part(part);
    }
  } else if (p->error > 0) {  // 0: end of file inside the disk (the image shrank)
    p->error = res;
    p->error_file = part->file;
  }
  if (--p->parts_left) return;  // the request's other parts are still in flight
  if (p->write && c_.image)  // a commit follows the writes (disk_image.h: written())
    c_.image->written(p->req.sector << B::kSectorShift, uint64_t(p->sectors) << B::kSectorShift);
  if (p->write_seq) {
    writes_in_flight_.erase(p->write_seq);
    p->write_seq = 0;
  }
  p->temps.clear();
  if (p->error <= 0) {
    host_error(p, p->write ? "write" : "read", io_reason(p->error), p->error_file->path());
    finish(p, Fault::kIoError);
  } else {
    BlkStats& st = *c_.stats;
    st.add(p->write ? st.sectors_written : st.sectors_read, p->sectors);
    if (p->write) written_.emplace_back(p->req.sector << B::kSectorShift, p->sectors << B::kSectorShift);
    if (p->flush_after) queue_flush(p);
    else finish(p, Fault::kNone);
  }
  release_flushes();
}

}  // namespace pv::blkback
