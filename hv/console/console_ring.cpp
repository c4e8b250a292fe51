#include "console/console_ring.h"
#include "pv/log.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace pv {

void write_all(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // output gone (closed pipe): the guest keeps running
    data.remove_prefix(static_cast<size_t>(n));
  }
}

ConsoleRing::ConsoleRing(const GuestMemory& mem, uint64_t gfn, ConsoleSink& out)
    : gfn_(gfn), ring_(reinterpret_cast<xen::console::interface*>(mem.page(gfn))), out_(out) {
  std::memset(ring_, 0, xen::kPageSize);
}

void ConsoleRing::on_guest_notify() {
  std::lock_guard lk(mu_);
  constexpr uint32_t size = xen::console::kOutSize;
  uint32_t cons = __atomic_load_n(&ring_->out_cons, __ATOMIC_RELAXED);
  const uint32_t prod = __atomic_load_n(&ring_->out_prod, __ATOMIC_ACQUIRE);
  if (prod - cons > size) {
    if (!reported_broken_) {
      pv::log::warning("console ring indices invalid (prod " + std::to_string(prod) + ", cons " + std::to_string(cons) + "): resynchronised");
      reported_broken_ = true;
    }
    __atomic_store_n(&ring_->out_cons, prod, __ATOMIC_RELEASE);
    return;
  }
  char buf[size];
  uint32_t n = 0;
  for (; cons != prod; cons++) buf[n++] = ring_->out[cons & (size - 1)];
  __atomic_store_n(&ring_->out_cons, cons, __ATOMIC_RELEASE);
  if (n) {
    out_.write(std::string_view(buf, n));
    bytes_out_ += n;
    if (notify_) notify_();  // tell the guest there is room again
  }
}

size_t ConsoleRing::push_input(std::string_view bytes) {
  size_t pushed = 0;
  {
    std::lock_guard lk(mu_);
    constexpr uint32_t size = xen::console::kInSize;
    const uint32_t cons = __atomic_load_n(&ring_->in_cons, __ATOMIC_ACQUIRE);
    uint32_t prod = __atomic_load_n(&ring_->in_prod, __ATOMIC_RELAXED);
    if (prod - cons > size) return 0;  // broken ring: leave it alone
    while (pushed < bytes.size() && prod - cons < size) ring_->in[prod++ & (size - 1)] = bytes[pushed++];
    __atomic_store_n(&ring_->in_prod, prod, __ATOMIC_RELEASE);
  }
  if (pushed && notify_) notify_();
  return pushed;
}

}  // namespace pv
