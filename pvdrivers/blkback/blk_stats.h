// blkback: per-device counters, shared by the device's queue threads
// (relaxed atomics) and published by BlkBackend under its back-end
// directory as statistics/<name> (see docs/disks.md).
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "blkback/request_check.h"

namespace pv::blkback {

struct BlkStats {
  std::atomic<uint64_t> requests{0};  // ring requests taken
  std::atomic<uint64_t> reads{0}, writes{0}, flushes{0}, discards{0}, indirect{0};
  std::atomic<uint64_t> sectors_read{0}, sectors_written{0}, sectors_discarded{0};
  std::atomic<uint64_t> direct_io{0}, buffered_io{0};  // data requests by path
  std::atomic<uint64_t> errors{0};                      // responses other than OKAY
  std::atomic<uint64_t> faults[size_t(Fault::kCount)] = {};
  std::atomic<uint64_t> notifies{0}, kicks{0};          // sent to / received from the guest
  std::atomic<uint64_t> persistent_grants{0};           // mapped now, all queues
  std::atomic<uint64_t> ring_broken{0};
  std::atomic<uint64_t> throttled{0};  // requests the I/O limits delayed
  // Sum over answered requests of the time from taking the request off the
  // ring to queueing its response (the back-end's share of the latency).
  std::atomic<uint64_t> service_ns{0};  // published as service_us

  void add(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
  void fault(Fault f) {
    add(errors);
    add(faults[size_t(f)]);
  }
  uint64_t fault_count(Fault f) const { return faults[size_t(f)].load(std::memory_order_relaxed); }

  // name -> value, in a fixed order (the statistics/ keys).
  std::vector<std::pair<std::string, uint64_t>> snapshot() const {
    auto v = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
    std::vector<std::pair<std::string, uint64_t>> out = {
        {"requests", v(requests)},
        {"reads", v(reads)},
        {"writes", v(writes)},
        {"flushes", v(flushes)},
        {"discards", v(discards)},
        {"indirect", v(indirect)},
        {"sectors_read", v(sectors_read)},
        {"sectors_written", v(sectors_written)},
        {"sectors_discarded", v(sectors_discarded)},
        {"direct_io", v(direct_io)},
        {"buffered_io", v(buffered_io)},
        {"errors", v(errors)},
        {"notifies", v(notifies)},
        {"kicks", v(kicks)},
        {"persistent_grants", v(persistent_grants)},
        {"ring_broken", v(ring_broken)},
        {"throttled", v(throttled)},
        {"service_us", v(service_ns) / 1000},
    };
    for (size_t f = 1; f < size_t(Fault::kCount); f++)
      out.emplace_back(std::string("err_") + fault_name(Fault(f)), v(faults[f]));
    return out;
  }
};

}  // namespace pv::blkback
