#include "blkback/io_throttle.h"

#include <algorithm>
#include <cmath>

namespace pv::blkback {

std::string IoLimits::describe() const {
  static const char* const kDir[3] = {"", "_rd", "_wr"};
  std::string s;
  for (unsigned d = 0; d < 3; d++) {
    if (iops[d]) s += (s.empty() ? "" : " ") + std::string("iops") + kDir[d] + "=" + std::to_string(iops[d]);
    if (bps[d]) s += (s.empty() ? "" : " ") + std::string("bps") + kDir[d] + "=" + std::to_string(bps[d]);
  }
  if (s.empty()) return "none";
  return s + " burst_ms=" + std::to_string(burst_ms);
}

void TokenBucket::configure(uint64_t rate_per_s, uint64_t burst_ms, uint64_t now_ns) {
  const bool was_limited = rate_ != 0;
  if (was_limited && rate_per_s) refill(now_ns);  // a changed rate keeps what was saved (or owed)
  rate_ = rate_per_s;
  capacity_ = double(rate_per_s) * double(burst_ms) / 1000.0;
  if (!rate_) level_ = 0;
  else if (!was_limited) level_ = capacity_;  // a bucket that starts limiting starts full
  else level_ = std::min(level_, capacity_);
  last_ns_ = now_ns;
}

void TokenBucket::refill(uint64_t now_ns) {
  if (now_ns <= last_ns_) return;
  level_ = std::min(capacity_, level_ + double(rate_) * double(now_ns - last_ns_) / 1e9);
  last_ns_ = now_ns;
}

uint64_t TokenBucket::wait_ns(uint64_t now_ns) {
  if (!rate_) return 0;
  refill(now_ns);
  if (level_ >= 0) return 0;
  return std::max<uint64_t>(1, uint64_t(std::ceil(-level_ * 1e9 / double(rate_))));
}

void IoThrottle::set(const IoLimits& l, uint64_t now_ns) {
  std::lock_guard lock(mu_);
  limits_ = l;
  for (unsigned d = 0; d < 3; d++) {
    iops_[d].configure(l.iops[d], l.burst_ms, now_ns);
    bps_[d].configure(l.bps[d], l.burst_ms, now_ns);
  }
  limited_.store(l.any(), std::memory_order_relaxed);
}

IoLimits IoThrottle::limits() const {
  std::lock_guard lock(mu_);
  return limits_;
}

uint64_t IoThrottle::admit(bool write, uint64_t bytes, uint64_t now_ns) {
  std::lock_guard lock(mu_);
  const unsigned dir = write ? IoLimits::kWrite : IoLimits::kRead;
  uint64_t wait = 0;
  for (unsigned d : {unsigned(IoLimits::kTotal), dir})
    wait = std::max({wait, iops_[d].wait_ns(now_ns), bps_[d].wait_ns(now_ns)});
  if (wait) return wait;
  for (unsigned d : {unsigned(IoLimits::kTotal), dir}) {
    iops_[d].take(1);
    bps_[d].take(bytes);
  }
  return 0;
}

}  // namespace pv::blkback
