#include "common/stats_writer.h"

namespace pv::backd {
namespace {
constexpr int kAttempts = 5;  // transactions that conflicted are tried again
}

StatsWriter::StatsWriter(XsClient& xs, std::string dir, std::string guard_key, Snapshot snapshot,
                         std::chrono::milliseconds period)
    : xs_(xs), dir_(std::move(dir)), guard_key_(std::move(guard_key)), snapshot_(std::move(snapshot)), period_(period) {
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

void StatsWriter::poke() {
  {
    std::lock_guard lk(mu_);
    poked_ = true;
  }
  cv_.notify_all();
}

void StatsWriter::publish() {
  // A new connection to xenstored (pvd restarted): the store may have been
  // recreated without our keys, so everything is written again once.
  if (const uint64_t gen = xs_.generation(); gen != generation_) {
    generation_ = gen;
    written_.clear();
  }
  std::vector<std::pair<std::string, uint64_t>> changed;
  for (const auto& [k, v] : snapshot_()) {
    auto it = written_.find(k);
    if (it == written_.end() || it->second != v) changed.emplace_back(k, v);
  }
  if (changed.empty()) return;
  try {
    for (int attempt = 0; attempt < kAttempts; attempt++) {
      const uint32_t tx = xs_.transaction_start();
      if (!xs_.read(dir_ + "/" + guard_key_, tx)) {
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
    // The device directory went away or xenstored did (it may come back:
    // the next period tries again, on the new connection).
  }
}

void StatsWriter::run() {
  std::unique_lock lk(mu_);
  for (;;) {
    poked_ = false;
    lk.unlock();
    publish();
    lk.lock();
    if (stop_) return;
    cv_.wait_for(lk, period_, [this] { return stop_ || poked_; });
  }
}

}  // namespace pv::backd
