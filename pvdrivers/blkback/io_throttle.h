// blkback: per-disk I/O limits (issue 14, "Sharing the host's disks
// fairly"): token buckets for requests per second and bytes per second,
// each for reads, writes and both together, as QEMU's throttle groups
// have them (iops / iops_rd / iops_wr, bps / bps_rd / bps_wr).
//
// A request is admitted when none of the buckets it draws on is in debt;
// it then takes its cost from all of them, even into debt (so a 1 MiB
// write passes a 512 KiB/s bucket, and the next one waits two seconds).
// A request that is not admitted is delayed by the queue (blk_queue.h),
// never dropped: admit() says how long until it may ask again. Buckets
// refill at their rate up to their capacity, `burst_ms` worth of the rate
// (so an idle disk may go that much faster for a moment).
//
// Shared by a device's queue threads; the limits change at any time
// (pv-backd reads them from the back-end's qos-* keys).
#pragma once
#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>

namespace pv::blkback {

struct IoLimits {
  enum Dir : unsigned { kTotal = 0, kRead = 1, kWrite = 2 };
  uint64_t iops[3] = {0, 0, 0};  // requests per second; 0: no limit
  uint64_t bps[3] = {0, 0, 0};   // bytes per second; 0: no limit
  uint64_t burst_ms = kDefaultBurstMs;
  static constexpr uint64_t kDefaultBurstMs = 100;

  bool any() const {
    for (unsigned d = 0; d < 3; d++)
      if (iops[d] || bps[d]) return true;
    return false;
  }
  bool operator==(const IoLimits&) const = default;
  // "iops_rd=100 bps_wr=1048576 burst_ms=100", or "none".
  std::string describe() const;
};

// One bucket; time is passed in (nanoseconds on any monotonic clock).
class TokenBucket {
 public:
  // rate 0: unlimited (never in debt).
  void configure(uint64_t rate_per_s, uint64_t burst_ms, uint64_t now_ns);
  bool unlimited() const { return rate_ == 0; }
  // Nanoseconds until the bucket is out of debt; 0 when it is now.
  uint64_t wait_ns(uint64_t now_ns);
  void take(uint64_t cost) { level_ -= double(cost); }
  double level() const { return level_; }

 private:
  void refill(uint64_t now_ns);
  uint64_t rate_ = 0;
  double capacity_ = 0, level_ = 0;
  uint64_t last_ns_ = 0;
};

class IoThrottle {
 public:
  void set(const IoLimits& l, uint64_t now_ns);
  IoLimits limits() const;
  bool limited() const { return limited_.load(std::memory_order_relaxed); }
  // 0: admitted, its cost taken; else nanoseconds to wait before asking again.
  uint64_t admit(bool write, uint64_t bytes, uint64_t now_ns);

 private:
  mutable std::mutex mu_;
  IoLimits limits_;
  TokenBucket iops_[3], bps_[3];
  std::atomic<bool> limited_{false};
};

}  // namespace pv::blkback
