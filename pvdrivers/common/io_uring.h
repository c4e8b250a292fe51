// The io_uring a back-end queue thread waits on (blkback's BlkQueue,
// netback's NetQueue): set up with IORING_SETUP_COOP_TASKRUN (no task work
// interrupting the thread: it reaps completions itself), or plainly on a
// kernel that does not know that flag, and torn down on destruction. The
// owner must have let every request complete (or cancelled it) before the
// object goes: the kernel may still be using the buffers of one in flight.
#pragma once
#include <liburing.h>

#include <string>

namespace pv {

class IoUring {
 public:
  // `who` names the owner in the SystemError thrown when the kernel
  // refuses ("vif1.0 queue 0: io_uring_queue_init: ...").
  IoUring(unsigned entries, const std::string& who);
  ~IoUring();
  IoUring(const IoUring&) = delete;
  IoUring& operator=(const IoUring&) = delete;

  io_uring* get() { return &ring_; }

  // A free submission entry; when the queue is full, what is in it goes to
  // the kernel first. Throws SystemError when there is still none.
  io_uring_sqe* sqe();

  // Calls fn(cqe) for every completion ready now and consumes them;
  // returns how many there were.
  template <typename Fn>
  unsigned for_each_completion(Fn&& fn) {
    io_uring_cqe* cqe;
    unsigned head, seen = 0;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      seen++;
      fn(cqe);
    }
    io_uring_cq_advance(&ring_, seen);
    return seen;
  }

 private:
  io_uring ring_{};
  std::string who_;
};

}  // namespace pv
