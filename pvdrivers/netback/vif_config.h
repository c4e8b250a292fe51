// What a vif's xenstore keys say, parsed and checked (pure: the keys come
// through a reader function, so tests feed them from a map).
//
// Back-end directory (written by pvd): mac, bridge (already a host bridge
// name; may be empty), ip (space-separated addresses or prefixes,
// optional), mtu (optional).
// Front-end directory (written by netfront, as Linux's xen-netfront does):
// request-rx-copy (must be 1: page flipping is not supported), the
// feature-* keys of its receive side, multi-queue-num-queues (absent: one
// queue), and per queue (the front-end directory itself for one queue,
// queue-<n>/ for several) tx-ring-ref, rx-ring-ref and event-channel, or
// event-channel-tx + event-channel-rx (split event channels).
// Anything malformed is a UserError naming the key.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "netback/rx_path.h"
#include "netback/spoof_filter.h"

namespace pv::netback {

using KeyReader = std::function<std::optional<std::string>(const std::string& key)>;

struct BackendConfig {
  SpoofPolicy policy;  // mac + ip
  std::string bridge;
  unsigned mtu = 0;    // 0: leave the tap's default (1500)
};

struct QueueKeys {
  uint32_t tx_ring_ref = 0, rx_ring_ref = 0;
  uint32_t tx_port = 0, rx_port = 0;  // equal unless split
  bool split = false;
};

struct FrontendConfig {
  RxFeatures rx;
  bool rx_notify = false;
  std::vector<QueueKeys> queues;
};

BackendConfig read_backend_config(const KeyReader& backend);
FrontendConfig read_frontend_config(const KeyReader& frontend, unsigned max_queues);

}  // namespace pv::netback
