// The domain's timers: per-vCPU single-shot and periodic timers and the
// SCHEDOP_watchdog timers, all served by one thread that sleeps until the
// earliest deadline (in guest system time) and runs the fire callback.
#pragma once
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>

#include "time/pvclock.h"

namespace pv {

struct TimerKey {
  enum Kind : uint8_t { kSingleShot, kPeriodic, kWatchdog } kind;
  uint32_t id;  // vCPU for the first two, watchdog id for the last
  auto operator<=>(const TimerKey&) const = default;
};

class DomainTimers {
 public:
  using FireFn = std::function<void(TimerKey)>;
  DomainTimers(const PvClock& clock, FireFn fire);
  ~DomainTimers();
  DomainTimers(const DomainTimers&) = delete;
  DomainTimers& operator=(const DomainTimers&) = delete;

  // Arms (or re-arms) `key` to fire at guest time `deadline_ns`, then every
  // `period_ns` when that is non-zero.
  void arm(TimerKey key, uint64_t deadline_ns, uint64_t period_ns = 0);
  void cancel(TimerKey key);
  void stop();

 private:
  struct Timer {
    uint64_t deadline;
    uint64_t period;
  };
  void run();

  const PvClock& clock_;
  FireFn fire_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<TimerKey, Timer> timers_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace pv
