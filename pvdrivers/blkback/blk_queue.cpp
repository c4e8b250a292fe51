#include "blkback/blk_queue.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pv/error.h"

namespace pv::blkback {
namespace B = xen::blkif;

struct BlkQueue::Pending {
  enum class Stage : uint8_t { kIo, kFsync, kDiscard };
  BlkRequest req;
  std::vector<B::blkif_request_segment> segs;  // indirect descriptors
  std::vector<MappedGrant> temps;              // grant uses held for the I/O
  std::vector<iovec> iov;
  size_t iov_next = 0;      // first iovec not fully transferred
  uint64_t offset = 0;      // file offset of iov[iov_next]
  uint64_t sectors = 0;     // request length
  uint64_t write_seq = 0;   // 0: not a write in flight
  uint64_t barrier = 0;     // flush: writes up to this sequence first
  uint64_t taken_ns = 0;    // when it came off the ring
  Stage stage = Stage::kIo;
  bool flush_after = false;  // a flush carrying data: fdatasync after the write
  bool direct = false;
  bool write = false;

  void reset() {
    segs.clear();
    temps.clear();
    iov.clear();
    iov_next = 0;
    offset = sectors = write_seq = barrier = 0;
    stage = Stage::kIo;
    flush_after = direct = write = false;
  }
};

namespace {
// One SQE per request at a time (a ring can hold ring_size requests not
// yet answered), the two polls, and slack.
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
}

BlkQueue::~BlkQueue() { stop(); }

void BlkQueue::start() {
  if (started_) return;
  started_ = true;
  thread_ = std::thread([this] { run(); });
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
        if (tag != kKickTag && tag != kStopTag) inflight_--;
      });
    }
  }
}

void BlkQueue::serve() {
  arm_poll(c_.kick_fd, kKickTag);
  arm_poll(stop_fd_.get(), kStopTag);
  for (;;) {
    if (!stopping_ && !broken_) consume();
    if (ring_.has_unpushed()) push_responses();
    if (stopping_ && inflight_ == 0 && waiting_flushes_.empty()) break;
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
  io_uring_submit(uring_.get());
}

void BlkQueue::on_cqe(uint64_t tag, int res) {
  if (tag == kKickTag) {
    uint64_t n;
    if (::read(c_.kick_fd, &n, sizeof n) == sizeof n) c_.stats->add(c_.stats->kicks);
    if (!stopping_) arm_poll(c_.kick_fd, kKickTag);
  } else if (tag == kStopTag) {
    stopping_ = true;
  } else {
    on_completion(reinterpret_cast<Pending*>(tag), res);
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

void BlkQueue::host_error(const Pending* p, const char* op, int res) {
  if (!c_.io_errors) return;
  std::string m = op;
  if (p->stage == Pending::Stage::kIo)
    m += " of " + std::to_string(p->sectors) + " sectors at sector " + std::to_string(p->req.sector);
  else if (p->stage == Pending::Stage::kDiscard || p->req.op == B::BLKIF_OP_DISCARD)
    m += " of " + std::to_string(p->req.nr_sectors) + " sectors at sector " + std::to_string(p->req.sector);
  m += " failed: ";
  m += res == 0 ? "end of file (the image is smaller than the disk)" : std::strerror(-res);
  m += " (" + c_.store->path() + ")";
  c_.io_errors->report(m);
}

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
  if (!c_.store) return finish(p, Fault::kBadRange);  // an empty drive has no sectors
  if ((f = map_segments(p, segs)) != Fault::kNone) return finish(p, f);
  submit_rw(p);
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
  p->offset = p->req.sector << B::kSectorShift;
  bool direct = c_.store->direct();
  for (const auto& v : p->iov)
    if (!c_.store->direct_ok(p->offset, v.iov_len, v.iov_base)) direct = false;
  p->direct = direct;
  c_.stats->add(direct ? c_.stats->direct_io : c_.stats->buffered_io);
  return Fault::kNone;
}

void BlkQueue::submit_rw(Pending* p) {
  p->stage = Pending::Stage::kIo;
  const int fd = p->direct ? c_.store->direct_fd() : c_.store->buffered_fd();
  io_uring_sqe* s = uring_.sqe();
  const unsigned n = unsigned(p->iov.size() - p->iov_next);
  if (p->write) io_uring_prep_writev(s, fd, &p->iov[p->iov_next], n, p->offset);
  else io_uring_prep_readv(s, fd, &p->iov[p->iov_next], n, p->offset);
  io_uring_sqe_set_data(s, p);
  if (p->write && p->write_seq == 0) {
    p->write_seq = ++write_seq_;
    writes_in_flight_.insert(p->write_seq);
  }
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
  if (!c_.store) return finish(p, Fault::kNone);  // an empty drive: nothing to flush
  p->stage = Pending::Stage::kFsync;
  io_uring_sqe* s = uring_.sqe();
  io_uring_prep_fsync(s, c_.store->buffered_fd(), IORING_FSYNC_DATASYNC);
  io_uring_sqe_set_data(s, p);
  inflight_++;
}

void BlkQueue::submit_discard(Pending* p) {
  if (!c_.store) return finish(p, Fault::kUnsupportedOp);
  const uint64_t off = p->req.sector << B::kSectorShift, len = p->req.nr_sectors << B::kSectorShift;
  if (c_.store->block_device()) {
    // BLKDISCARD has no io_uring operation: done here (discards are rare).
    const int rc = c_.store->discard_sync(off, len);
    if (rc != 0 && rc != -EOPNOTSUPP) host_error(p, "discard", rc);
    if (rc == 0) c_.stats->add(c_.stats->sectors_discarded, p->req.nr_sectors);
    return finish(p, rc == 0 ? Fault::kNone : rc == -EOPNOTSUPP ? Fault::kUnsupportedOp : Fault::kIoError);
  }
  p->stage = Pending::Stage::kDiscard;
  io_uring_sqe* s = uring_.sqe();
  io_uring_prep_fallocate(s, c_.store->buffered_fd(), disk::HostFile::punch_hole_mode(), off, len);
  io_uring_sqe_set_data(s, p);
  inflight_++;
}

void BlkQueue::on_completion(Pending* p, int res) {
  inflight_--;
  BlkStats& st = *c_.stats;
  switch (p->stage) {
    case Pending::Stage::kIo: {
      if (res == -EAGAIN || res == -EINTR) return submit_rw(p);
      bool failed = res <= 0;  // 0: end of file inside the disk (the image shrank)
      if (!failed) {
        // Short transfer: move past what was done and issue the rest.
        size_t done = size_t(res);
        p->offset += done;
        while (p->iov_next < p->iov.size() && done >= p->iov[p->iov_next].iov_len) done -= p->iov[p->iov_next++].iov_len;
        if (p->iov_next < p->iov.size()) {
          p->iov[p->iov_next].iov_base = static_cast<uint8_t*>(p->iov[p->iov_next].iov_base) + done;
          p->iov[p->iov_next].iov_len -= done;
          if (p->direct && !c_.store->direct_ok(p->offset, p->iov[p->iov_next].iov_len, p->iov[p->iov_next].iov_base))
            p->direct = false;
          return submit_rw(p);
        }
      }
      if (p->write_seq) {
        writes_in_flight_.erase(p->write_seq);
        p->write_seq = 0;
      }
      p->temps.clear();
      if (failed) {
        host_error(p, p->write ? "write" : "read", res);
        finish(p, Fault::kIoError);
      } else {
        st.add(p->write ? st.sectors_written : st.sectors_read, p->sectors);
        if (p->flush_after) queue_flush(p);
        else finish(p, Fault::kNone);
      }
      release_flushes();
      return;
    }
    case Pending::Stage::kFsync:
      if (res < 0) host_error(p, "flush (fdatasync)", res);
      return finish(p, res < 0 ? Fault::kIoError : Fault::kNone);
    case Pending::Stage::kDiscard:
      if (res < 0 && res != -EOPNOTSUPP) host_error(p, "discard", res);
      if (res >= 0) st.add(st.sectors_discarded, p->req.nr_sectors);
      return finish(p, res >= 0 ? Fault::kNone : res == -EOPNOTSUPP ? Fault::kUnsupportedOp : Fault::kIoError);
  }
}

}  // namespace pv::blkback
