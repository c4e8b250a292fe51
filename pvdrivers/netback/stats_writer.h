// Publishes a vif's counters under <backend>/statistics/ in xenstore, at
// most every `period` and only the keys that changed (in one transaction,
// so watchers see one change), from a thread of its own: the queue threads
// never wait for xenstore. Stopping writes the final values.
#pragma once
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "common/xs_client.h"
#include "netback/vif_stats.h"

namespace pv::netback {

class StatsWriter {
 public:
  // `dir`: the device's back-end directory.
  StatsWriter(XsClient& xs, std::string dir, const VifStats& stats,
              std::chrono::milliseconds period = std::chrono::milliseconds(500));
  ~StatsWriter();
  StatsWriter(const StatsWriter&) = delete;
  StatsWriter& operator=(const StatsWriter&) = delete;

 private:
  void run();
  void publish();

  XsClient& xs_;
  std::string dir_;
  const VifStats& stats_;
  std::chrono::milliseconds period_;
  std::map<std::string, uint64_t> written_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace pv::netback
