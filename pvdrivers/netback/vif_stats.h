// Counters of one vif, shared by its queues (relaxed atomics: each is
// written by the queue threads and read by the statistics writer).
// "tx" and "rx" are the guest's view, as the rings are named: tx = frames
// the guest sent (tx ring -> tap), rx = frames delivered to it.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace pv::netback {

struct VifStats {
  std::atomic<uint64_t> tx_packets{0}, tx_bytes{0};
  std::atomic<uint64_t> tx_malformed{0};   // answered XEN_NETIF_RSP_ERROR
  std::atomic<uint64_t> tx_spoofed{0};     // dropped by the anti-spoofing filter
  std::atomic<uint64_t> tx_tap_errors{0};  // the tap refused a frame (down, too big)
  std::atomic<uint64_t> rx_packets{0}, rx_bytes{0};
  std::atomic<uint64_t> rx_dropped_no_buffer{0};  // the guest posted no rx buffers in time
  std::atomic<uint64_t> rx_dropped_too_big{0};    // does not fit what the front-end accepts
  std::atomic<uint64_t> rx_bad_requests{0};       // rx slots with an unusable grant
  std::atomic<uint64_t> notify_tx{0}, notify_rx{0};  // event-channel notifications sent
  std::atomic<uint64_t> kicks{0};                    // notifications received

  static void add(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }

  // (xenstore key, value) pairs, as written under <backend>/statistics/.
  std::vector<std::pair<std::string, uint64_t>> snapshot() const {
    auto v = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
    return {{"tx-packets", v(tx_packets)},
            {"tx-bytes", v(tx_bytes)},
            {"tx-malformed", v(tx_malformed)},
            {"tx-spoofed", v(tx_spoofed)},
            {"tx-tap-errors", v(tx_tap_errors)},
            {"rx-packets", v(rx_packets)},
            {"rx-bytes", v(rx_bytes)},
            {"rx-dropped-no-buffer", v(rx_dropped_no_buffer)},
            {"rx-dropped-too-big", v(rx_dropped_too_big)},
            {"rx-bad-requests", v(rx_bad_requests)},
            {"notify-tx", v(notify_tx)},
            {"notify-rx", v(notify_rx)},
            {"kicks", v(kicks)}};
  }
};

}  // namespace pv::netback
