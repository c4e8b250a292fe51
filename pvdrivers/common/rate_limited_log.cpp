#include "common/rate_limited_log.h"

#include "pv/log.h"

namespace pv::backd {

RateLimitedLog::RateLimitedLog(std::string prefix, std::string what, Options o)
    : prefix_(std::move(prefix)), what_(std::move(what)), opts_(std::move(o)) {}

void RateLimitedLog::summarize(Clock::time_point t) {
  if (suppressed_ > 0) {
    const auto secs = std::chrono::duration_cast<std::chrono::seconds>(t - window_start_).count();
    pv::log::error(prefix_ + ": " + std::to_string(suppressed_) + " more " + what_ + " in the last " +
                   std::to_string(secs) + " s (last: " + last_ + ")");
  }
  suppressed_ = 0;
  in_window_ = 0;
  window_open_ = false;
  last_.clear();
}

void RateLimitedLog::report(std::string_view message) {
  std::lock_guard lk(mu_);
  const auto t = now();
  total_++;
  if (window_open_ && t - window_start_ >= opts_.interval) summarize(t);
  if (!window_open_) {
    window_open_ = true;
    window_start_ = t;
  }
  if (in_window_++ < opts_.burst) {
    pv::log::error(prefix_ + ": " + std::string(message));
    if (in_window_ == opts_.burst)
      pv::log::error(prefix_ + ": further " + what_ + " are counted, one line every " +
                     std::to_string(std::chrono::duration_cast<std::chrono::seconds>(opts_.interval).count()) + " s");
    return;
  }
  suppressed_++;
  last_ = message;
}

void RateLimitedLog::tick() {
  std::lock_guard lk(mu_);
  const auto t = now();
  if (window_open_ && t - window_start_ >= opts_.interval) summarize(t);
}

void RateLimitedLog::flush() {
  std::lock_guard lk(mu_);
  if (window_open_) summarize(now());
}

uint64_t RateLimitedLog::total() const {
  std::lock_guard lk(mu_);
  return total_;
}

}  // namespace pv::backd
