#include "netback/net_queue.h"

#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <vector>

#include "common/io_uring.h"
#include "netback/tx_path.h"
#include "pv/error.h"
#include "pv/log.h"
#include "pv/mapping.h"

namespace pv::netback {

namespace {
// user_data: what completed (high 32 bits) and which buffer (low 32).
enum Kind : uint64_t { kStop = 1, kKickTx, kKickRx, kTapRead, kTapWrite, kCancel };
uint64_t tag(Kind k, uint32_t i = 0) { return (uint64_t(k) << 32) | i; }

Mapping alloc_buffers(size_t n, const char* what) {
  void* p = ::mmap(nullptr, n * kPacketBufBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
  if (p == MAP_FAILED) throw_errno(std::string("mmap(") + what + ")");
  return Mapping(p, n * kPacketBufBytes);
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

struct NetQueue::Impl {
  QueueParams p;
  int stop_fd;
  TxPath tx;
  RxPath rx;
  Mapping tx_mem, rx_mem;
  IoUring ring;  // after the buffers: torn down before they are unmapped
  std::vector<uint32_t> tx_free;
  struct Held {
    uint32_t buf;
    uint32_t len;
    int64_t since_ns;
  };
  std::deque<Held> held;  // tap frames waiting for rx requests, oldest first
  uint64_t kick_buf[3] = {};
  unsigned inflight = 0;
  bool broken = false, tap_failed = false, stopping = false;
  bool split;

  Impl(QueueParams params, int stop)
      : p(std::move(params)),
        stop_fd(stop),
        tx(p.tx, *p.grants, p.policy, *p.stats),
        rx(p.rx, *p.grants, p.rx_features, *p.stats),
        tx_mem(alloc_buffers(p.tx_buffers, "tx buffers")),
        rx_mem(alloc_buffers(p.rx_buffers, "rx buffers")),
        ring(2 * (p.tx_buffers + p.rx_buffers) + 16, p.name),
        split(p.tx_kick_fd != p.rx_kick_fd) {
    for (uint32_t i = p.tx_buffers; i-- > 0;) tx_free.push_back(i);
  }

  uint8_t* tx_buf(uint32_t i) const { return tx_mem.data() + size_t(i) * kPacketBufBytes; }
  uint8_t* rx_buf(uint32_t i) const { return rx_mem.data() + size_t(i) * kPacketBufBytes; }

  void read_fd(int fd, void* buf, unsigned len, uint64_t t) {
    io_uring_sqe* s = ring.sqe();
    io_uring_prep_read(s, fd, buf, len, 0);
    io_uring_sqe_set_data64(s, t);
    inflight++;
  }
  void arm_tap_read(uint32_t i) {
    if (tap_failed || broken || stopping) return;
    read_fd(p.packet_fd, rx_buf(i), kPacketBufBytes, tag(kTapRead, i));
  }
  void write_tap(uint32_t i, size_t len) {
    io_uring_sqe* s = ring.sqe();
    io_uring_prep_write(s, p.packet_fd, tx_buf(i), unsigned(len), 0);
    io_uring_sqe_set_data64(s, tag(kTapWrite, i));
    inflight++;
  }
  void notify(bool tx_event, bool rx_event) {
    if (!split && (tx_event || rx_event)) {
      p.notify_tx();
      VifStats::add(p.stats->notify_tx);
      return;
    }
    if (tx_event) {
      p.notify_tx();
      VifStats::add(p.stats->notify_tx);
    }
    if (rx_event) {
      p.notify_rx();
      VifStats::add(p.stats->notify_rx);
    }
  }
  void go_broken(const std::string& why) {
    if (broken) return;
    broken = true;
    log::error(p.name + ": " + why);
    if (p.fatal) p.fatal(why);
  }

  // The guest's tx ring -> tap writes. Returns whether the ring may hold
  // more (false: it is idle and req_event is armed).
  bool service_tx(bool& tx_event) {
    bool answered = false, more = true;
    uint64_t logged = 0;
    while (!tx_free.empty()) {
      size_t len = 0;
      const uint32_t b = tx_free.back();
      const TxPath::Step s = tx.next(tx_buf(b), len);
      if (s == TxPath::Step::kIdle) {
        more = false;
        break;
      }
      if (s == TxPath::Step::kBroken) {
        go_broken("tx ring overflow (the front-end published more requests than the ring holds)");
        return false;
      }
      answered = true;
      if (s == TxPath::Step::kPacket) {
        tx_free.pop_back();
        write_tap(b, len);
      } else if (!tx.last_error().empty() && logged++ == 0 && log_budget()) {
        log::warning(p.name + ": dropped a malformed tx packet: " + tx.last_error());
      }
    }
    if (answered && tx.push_responses()) tx_event = true;
    if (!more) more = tx.final_check();
    return more && !tx_free.empty();
  }

  // Held tap frames -> the guest's rx ring. Returns whether to go round
  // again without sleeping.
  bool service_rx(bool& rx_event, int64_t& wake_ns) {
    if (rx.broken()) {
      go_broken("rx ring overflow (the front-end published more requests than the ring holds)");
      return false;
    }
    bool delivered = false, again = false;
    const int64_t now = now_ns();
    const int64_t hold = std::chrono::duration_cast<std::chrono::nanoseconds>(p.rx_hold).count();
    while (!held.empty()) {
      Held& h = held.front();
      const RxPath::Result r = rx.deliver(rx_buf(h.buf), h.len);
      if (r == RxPath::Result::kNoRoom) {
        if (now - h.since_ns >= hold) {  // waited long enough: drop it
          VifStats::add(p.stats->rx_dropped_no_buffer);
        } else {
          if (!p.rx_notify) {
            wake_ns = now + 10'000'000;  // the front-end never tells: look again soon
          } else if (rx.final_check(rx.slots_needed(rx_buf(h.buf), h.len))) {
            again = true;
          }
          const int64_t expiry = h.since_ns + hold;
          if (wake_ns == 0 || expiry < wake_ns) wake_ns = expiry;
          break;
        }
      }
      delivered = true;  // responses to push (a dropped frame may have used slots too)
      const uint32_t b = h.buf;
      held.pop_front();
      arm_tap_read(b);
    }
    if (delivered && rx.push_responses()) rx_event = true;
    return again;
  }

  void on_tap_read(uint32_t b, int res) {
    if (res > 0) {
      if (held.size() >= p.rx_queue_limit) {
        VifStats::add(p.stats->rx_dropped_no_buffer);
        arm_tap_read(b);
        return;
      }
      held.push_back({b, uint32_t(res), now_ns()});
      return;
    }
    if (res == -EAGAIN || res == -EINTR) {
      arm_tap_read(b);
      return;
    }
    if (res == -ECANCELED) return;
    if (!tap_failed) {
      tap_failed = true;
      log::error(p.name + ": reading the tap: " + (res == 0 ? "end of file" : std::strerror(-res)));
    }
  }

  bool log_budget() {
    static std::atomic<int> budget{20};  // malformed-packet lines per pv-backd run
    return budget.fetch_sub(1, std::memory_order_relaxed) > 0;
  }

  void handle(io_uring_cqe* c) {
    const uint64_t t = io_uring_cqe_get_data64(c);
    const Kind k = Kind(t >> 32);
    const uint32_t i = uint32_t(t);
    if (k != kCancel) inflight--;
    switch (k) {
      case kStop:
        stopping = true;
        break;
      case kKickTx:
      case kKickRx:
        VifStats::add(p.stats->kicks);
        if (!stopping && c->res > 0)
          read_fd(k == kKickTx ? p.tx_kick_fd : p.rx_kick_fd, &kick_buf[k == kKickTx ? 0 : 1], 8, t);
        break;
      case kTapRead:
        on_tap_read(i, c->res);
        break;
      case kTapWrite:
        if (c->res < 0) VifStats::add(p.stats->tx_tap_errors);
        tx_free.push_back(i);
        break;
      case kCancel:
        break;
    }
  }

  void run() {
    read_fd(stop_fd, &kick_buf[2], 8, tag(kStop));
    read_fd(p.tx_kick_fd, &kick_buf[0], 8, tag(kKickTx));
    if (split) read_fd(p.rx_kick_fd, &kick_buf[1], 8, tag(kKickRx));
    for (uint32_t i = 0; i < p.rx_buffers; i++) arm_tap_read(i);
    while (!stopping) {
      bool tx_event = false, rx_event = false, again = false;
      int64_t wake_ns = 0;
      if (!broken) {
        again |= service_tx(tx_event);
        again |= service_rx(rx_event, wake_ns);
        notify(tx_event, rx_event);
      }
      int rc;
      if (again) {
        rc = io_uring_submit(ring.get());
      } else {
        io_uring_cqe* cqe = nullptr;
        __kernel_timespec ts{};
        if (wake_ns) {
          const int64_t d = std::max<int64_t>(wake_ns - now_ns(), 100'000);
          ts.tv_sec = d / 1'000'000'000;
          ts.tv_nsec = d % 1'000'000'000;
        }
        rc = io_uring_submit_and_wait_timeout(ring.get(), &cqe, 1, wake_ns ? &ts : nullptr, nullptr);
      }
      if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) {
        go_broken(std::string("io_uring: ") + std::strerror(-rc));
        break;
      }
      reap();
    }
    shutdown();
  }

  void reap() {
    ring.for_each_completion([this](io_uring_cqe* c) { handle(c); });
  }

  // Cancels every read still in flight and waits until the kernel has let
  // go of every buffer.
  void shutdown() {
    stopping = true;
    io_uring_sqe* s = io_uring_get_sqe(ring.get());
    if (s) {
      io_uring_prep_cancel64(s, 0, IORING_ASYNC_CANCEL_ANY);
      io_uring_sqe_set_data64(s, tag(kCancel));
    }
    io_uring_submit(ring.get());
    while (inflight > 0) {
      io_uring_cqe* cqe = nullptr;
      __kernel_timespec ts{1, 0};
      const int rc = io_uring_wait_cqe_timeout(ring.get(), &cqe, &ts);
      if (rc == -ETIME) {
        // Something ignored the cancel: ask again.
        if (io_uring_sqe* again = io_uring_get_sqe(ring.get())) {
          io_uring_prep_cancel64(again, 0, IORING_ASYNC_CANCEL_ANY);
          io_uring_sqe_set_data64(again, tag(kCancel));
          io_uring_submit(ring.get());
        }
        continue;
      }
      if (rc < 0 && rc != -EINTR) break;
      reap();
    }
  }
};

NetQueue::NetQueue(QueueParams p) {
  stop_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!stop_fd_) throw_errno("eventfd(queue stop)");
  impl_ = std::make_unique<Impl>(std::move(p), stop_fd_.get());
  thread_ = std::thread([this] {
    // "vif1.0" / "vif1.0 queue 1" -> "vif1.0" / "vif1.0/1" (15 characters at most).
    std::string tname = impl_->p.name;
    if (const auto q = tname.find(" queue "); q != std::string::npos) tname = tname.substr(0, q) + "/" + tname.substr(q + 7);
    ::pthread_setname_np(::pthread_self(), tname.substr(0, 15).c_str());
    try {
      impl_->run();
    } catch (const std::exception& e) {
      log::error(impl_->p.name + ": " + e.what());
      impl_->go_broken(e.what());
      impl_->shutdown();
    }
  });
}

NetQueue::~NetQueue() {
  const uint64_t one = 1;
  (void)!::write(stop_fd_.get(), &one, sizeof one);
  if (thread_.joinable()) thread_.join();
}

}  // namespace pv::netback
