// The PV console back-end: relays the guest's console ring (the page named
// by HVM_PARAM_CONSOLE_PFN) to the console sink, and input into the ring.
// Ring indices come from the guest and are checked: a producer more than a
// ring ahead of the consumer is a broken ring, reported once and resynced.
#pragma once
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string_view>

#include <xen/console.h>

#include "console/console_sink.h"
#include "memory/guest_memory.h"

namespace pv {

class ConsoleRing {
 public:
  using NotifyFn = std::function<void()>;  // raises the console event channel
  ConsoleRing(const GuestMemory& mem, uint64_t gfn, ConsoleSink& out);
  void set_notify(NotifyFn fn) { notify_ = std::move(fn); }

  // The guest sent on the console port: drain its output.
  void on_guest_notify();
  // Queues bytes for the guest; returns how many fit.
  size_t push_input(std::string_view bytes);
  uint64_t bytes_out() const { return bytes_out_.load(); }
  uint64_t gfn() const { return gfn_; }

 private:
  const uint64_t gfn_;
  xen::console::interface* ring_;
  ConsoleSink& out_;
  NotifyFn notify_;
  std::mutex mu_;
  std::atomic<uint64_t> bytes_out_{0};
  bool reported_broken_ = false;
};

// Writes all of `data` to `fd`, retrying on EINTR and short writes.
void write_all(int fd, std::string_view data);

}  // namespace pv
