#include "save/suspend_gate.h"

namespace pv {

bool SuspendGate::arm() {
  std::lock_guard lk(mu_);
  if (aborted_ || state_ == State::kArmed || state_ == State::kHeld || state_ == State::kReleased) return false;
  state_ = State::kArmed;
  return true;
}

bool SuspendGate::await_suspend(std::chrono::milliseconds timeout) {
  std::unique_lock lk(mu_);
  if (cv_.wait_for(lk, timeout, [&] { return state_ == State::kHeld || aborted_; }) && state_ == State::kHeld)
    return true;
  if (state_ == State::kArmed) state_ = State::kCancelLate;
  return false;
}

void SuspendGate::release(int64_t result) {
  std::lock_guard lk(mu_);
  if (state_ != State::kHeld) return;
  result_ = result;
  state_ = State::kReleased;
  cv_.notify_all();
}

std::optional<int64_t> SuspendGate::hold(uint32_t vcpu) {
  std::unique_lock lk(mu_);
  if (aborted_) return std::nullopt;
  if (state_ == State::kCancelLate) {
    state_ = State::kIdle;
    return 1;
  }
  if (state_ != State::kArmed) return std::nullopt;
  state_ = State::kHeld;
  held_vcpu_ = vcpu;
  cv_.notify_all();
  cv_.wait(lk, [&] { return state_ == State::kReleased || aborted_; });
  const int64_t r = state_ == State::kReleased ? result_ : 1;
  state_ = State::kIdle;
  cv_.notify_all();
  return r;
}

void SuspendGate::abort() {
  std::lock_guard lk(mu_);
  aborted_ = true;
  cv_.notify_all();
}

}  // namespace pv
