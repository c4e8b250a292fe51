#include "netback/stats_writer.h"

#include <vector>

namespace pv::netback {

StatsWriter::StatsWriter(XsClient& xs, std::string dir, const VifStats& stats, std::chrono::milliseconds period)
    : xs_(xs), dir_(std::move(dir)), stats_(stats), period_(period) {
  thread_ = std::thread([this] { run(); });
}

StatsWriter::~StatsWriter() {
  {
    std::lock_guard lk(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StatsWriter::publish() {
  std::vector<std::pair<std::string, uint64_t>> changed;
  for (const auto& [k, v] : stats_.snapshot()) {
    auto it = written_.find(k);
    if (it == written_.end() || it->second != v) changed.emplace_back(k, v);
  }
  if (changed.empty()) return;
  try {
    for (int attempt = 0; attempt < 3; attempt++) {
      const uint32_t tx = xs_.transaction_start();
      // Never bring back a device directory the toolstack removed (a
      // write creates missing parents).
      if (!xs_.read(dir_ + "/state", tx)) {
        xs_.transaction_end(tx, false);
        return;
      }
      for (const auto& [k, v] : changed) xs_.write(dir_ + "/statistics/" + k, std::to_string(v), tx);
      if (xs_.transaction_end(tx, true)) {
        for (const auto& [k, v] : changed) written_[k] = v;
        return;
      }
    }
  } catch (const std::exception&) {
    // The device directory went away or xenstored did: nothing to publish to.
  }
}

void StatsWriter::run() {
  std::unique_lock lk(mu_);
  for (;;) {
    lk.unlock();
    publish();
    lk.lock();
    if (stop_) return;
    cv_.wait_for(lk, period_, [this] { return stop_; });
  }
}

}  // namespace pv::netback
