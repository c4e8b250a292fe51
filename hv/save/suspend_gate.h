// Where a save or checkpoint meets the guest's cooperative suspend
// (docs/save-format.md, "Suspend"): the control thread arms the gate and
// waits; the guest's SCHEDOP_shutdown(SHUTDOWN_suspend) holds its vCPU in
// the gate (instead of ending the domain) until the control thread lets it
// go with the hypercall's result: 1 (cancelled, Xen's suspend_cancel: the
// guest carries on, as after `xl save -c`). With no save asked for, a
// guest's suspend ends the domain (exit status "suspend") as before.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>

namespace pv {

class SuspendGate {
 public:
  // Control thread. Arms the gate: from now on the guest's suspend holds.
  // False when a save is already under way or the domain is ending.
  bool arm();
  // Waits up to `timeout` for a vCPU to hold in the armed gate: true when
  // the guest has suspended (its vCPU waits for release()); false when it
  // did not in time or the domain is ending. A suspend that arrives after a
  // timeout is cancelled at once, so a guest that was slow is not lost.
  bool await_suspend(std::chrono::milliseconds timeout);
  // Lets the held vCPU return from the hypercall with `result`.
  void release(int64_t result);

  // vCPU thread, from SCHEDOP_shutdown(suspend): nullopt when no save is
  // waiting for it (the domain suspends, i.e. ends); otherwise blocks until
  // release() (or abort()) and returns the hypercall's result.
  std::optional<int64_t> hold(uint32_t vcpu);
  // The vCPU held, while await_suspend() has returned true.
  uint32_t held_vcpu() {
    std::lock_guard lk(mu_);
    return held_vcpu_;
  }

  // The domain is ending: nothing waits any more.
  void abort();

 private:
  enum class State { kIdle, kArmed, kHeld, kReleased, kCancelLate };
  std::mutex mu_;
  std::condition_variable cv_;
  State state_ = State::kIdle;
  bool aborted_ = false;
  int64_t result_ = 1;
  uint32_t held_vcpu_ = 0;
};

}  // namespace pv
