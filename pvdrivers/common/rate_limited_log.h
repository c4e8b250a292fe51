// Logs a recurring host-side error (a disk image on a full file system, a
// failing device) without flooding pv-backd's log: within each interval
// the first `burst` reports are logged in full; the others are only
// counted, and one summary line per interval says how many there were
// ("vbd 3/51712: 1234 more I/O errors in the last 10 s (last: ...)"). The
// summary is written by the first report after the interval ended, by
// tick() (called periodically by the owner) or by flush().
//
// Thread-safe: a device's queue threads share one.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>

namespace pv::backd {

class RateLimitedLog {
 public:
  using Clock = std::chrono::steady_clock;
  struct Options {
    unsigned burst = 5;
    std::chrono::milliseconds interval{10000};
    std::function<Clock::time_point()> now;  // the clock (tests); steady_clock when empty
  };

  // `prefix` starts every line ("vbd 3/51712"); `what` names the reports
  // in the summary, plural ("I/O errors").
  RateLimitedLog(std::string prefix, std::string what, Options o);
  RateLimitedLog(std::string prefix, std::string what)
      : RateLimitedLog(std::move(prefix), std::move(what), Options{}) {}

  void report(std::string_view message);
  // The summary, if the interval is over and reports were suppressed.
  void tick();
  // The summary of what was suppressed, whether or not the interval is over.
  void flush();
  uint64_t total() const;  // every report so far

 private:
  Clock::time_point now() const { return opts_.now ? opts_.now() : Clock::now(); }
  void summarize(Clock::time_point t);  // with mu_ held

  const std::string prefix_, what_;
  const Options opts_;
  mutable std::mutex mu_;
  Clock::time_point window_start_{};
  bool window_open_ = false;
  unsigned in_window_ = 0;   // reports in this interval
  uint64_t suppressed_ = 0;  // of those, not logged
  uint64_t total_ = 0;
  std::string last_;  // the last suppressed message
};

}  // namespace pv::backd
