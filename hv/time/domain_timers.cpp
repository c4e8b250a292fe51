#include "time/domain_timers.h"

#include <pthread.h>

#include <chrono>
#include <vector>

namespace pv {

DomainTimers::DomainTimers(const PvClock& clock, FireFn fire) : clock_(clock), fire_(std::move(fire)) {
  thread_ = std::thread([this] { run(); });
  pthread_setname_np(thread_.native_handle(), "pv-timers");
}

DomainTimers::~DomainTimers() { stop(); }

void DomainTimers::stop() {
  {
    std::lock_guard lk(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DomainTimers::arm(TimerKey key, uint64_t deadline_ns, uint64_t period_ns) {
  {
    std::lock_guard lk(mu_);
    timers_[key] = {deadline_ns, period_ns};
  }
  cv_.notify_all();
}

void DomainTimers::cancel(TimerKey key) {
  std::lock_guard lk(mu_);
  timers_.erase(key);
}

void DomainTimers::run() {
  std::unique_lock lk(mu_);
  std::vector<TimerKey> due;
  while (!stopping_) {
    const uint64_t now = clock_.now_ns();
    uint64_t next = UINT64_MAX;
    due.clear();
    for (auto it = timers_.begin(); it != timers_.end();) {
      auto& [key, t] = *it;
      if (t.deadline <= now) {
        due.push_back(key);
        if (t.period) {
          // Skip missed periods rather than firing a burst.
          uint64_t missed = (now - t.deadline) / t.period + 1;
          t.deadline += missed * t.period;
        } else {
          it = timers_.erase(it);
          continue;
        }
      }
      next = std::min(next, t.deadline);
      ++it;
    }
    if (!due.empty()) {
      lk.unlock();
      for (auto k : due) fire_(k);
      lk.lock();
      continue;
    }
    if (next == UINT64_MAX) {
      cv_.wait(lk);
    } else {
      const int64_t at = clock_.host_monotonic_at(next);
      std::chrono::steady_clock::time_point tp{std::chrono::nanoseconds(at)};
      cv_.wait_until(lk, tp);
    }
  }
}

}  // namespace pv
