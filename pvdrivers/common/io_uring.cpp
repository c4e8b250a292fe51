#include "common/io_uring.h"

#include <cerrno>

#include "pv/error.h"

namespace pv {

IoUring::IoUring(unsigned entries, const std::string& who) : who_(who) {
  io_uring_params params{};
  params.flags = IORING_SETUP_COOP_TASKRUN;
  int rc = io_uring_queue_init_params(entries, &ring_, &params);
  if (rc == -EINVAL) {  // an older kernel: plain setup
    params = {};
    rc = io_uring_queue_init_params(entries, &ring_, &params);
  }
  if (rc < 0) throw SystemError(who_ + ": io_uring_queue_init", -rc);
}

IoUring::~IoUring() { io_uring_queue_exit(&ring_); }

io_uring_sqe* IoUring::sqe() {
  io_uring_sqe* s = io_uring_get_sqe(&ring_);
  if (!s) {  // full: hand what is there to the kernel
    const int rc = io_uring_submit(&ring_);
    s = io_uring_get_sqe(&ring_);
    if (!s) throw SystemError(who_ + ": io_uring submission queue full", rc < 0 ? -rc : EBUSY);
  }
  return s;
}

}  // namespace pv
