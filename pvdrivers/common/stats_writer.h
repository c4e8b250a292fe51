// Publishes a device's counters under <backend>/statistics/ in xenstore, at
// most every `period` and only the keys that changed (in one transaction,
// so watchers see one change), from a thread of its own: the I/O threads
// never wait for xenstore. Used by blkback (statistics/<name>, see
// docs/disks.md) and netback (docs/vifs.md). poke() publishes soon;
// stopping (destruction) writes the final values. While xenstored is away
// (pvd restarting) nothing is written; once the XsClient has reconnected,
// every counter is written again (the store may have been recreated).
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "common/xs_client.h"

namespace pv::backd {

class StatsWriter {
 public:
  // (key, value) pairs in a fixed order; called from the writer's thread.
  using Snapshot = std::function<std::vector<std::pair<std::string, uint64_t>>()>;

  // `dir`: the device's back-end directory. Nothing is written unless
  // `dir`/`guard_key` exists (a write would re-create the directory the
  // toolstack removed when the device went away).
  StatsWriter(XsClient& xs, std::string dir, std::string guard_key, Snapshot snapshot,
              std::chrono::milliseconds period = std::chrono::milliseconds(500));
  ~StatsWriter();
  StatsWriter(const StatsWriter&) = delete;
  StatsWriter& operator=(const StatsWriter&) = delete;

  // Publishes soon instead of at the end of the period.
  void poke();

 private:
  void run();
  void publish();

  XsClient& xs_;
  std::string dir_, guard_key_;
  Snapshot snapshot_;
  std::chrono::milliseconds period_;
  std::map<std::string, uint64_t> written_;
  uint64_t generation_ = 0;  // of the connection written_ describes
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, poked_ = false;
  std::thread thread_;
};

}  // namespace pv::backd
