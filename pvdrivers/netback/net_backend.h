// netback: the back-end of one vif (Xen's netif), a xenbus device of
// pv-backd. Offers what Linux's netback offers (feature-sg, GSO TCPv4/v6,
// rx-copy only, rx-notify, split event channels, up to kMaxQueues queues),
// connects when the front-end has published its rings, and then serves
// each queue on its own thread (net_queue.h) between the rings and the
// vif's tap device (tap_device.h), attached to the bridge named by the
// back-end's "bridge" key. Counters go to <backend>/statistics/.
#pragma once
#include <memory>
#include <vector>

#include "common/xenbus_device.h"
#include "common/domain_link.h"
#include "common/stats_writer.h"
#include "netback/net_queue.h"
#include "netback/tap_device.h"
#include "netback/vif_stats.h"

namespace pv::netback {

inline constexpr unsigned kMaxQueues = 2;

class NetBackend : public backd::XenbusDevice {
 public:
  NetBackend(backd::BackendContext& ctx, backd::DeviceId id);
  ~NetBackend() override;

 protected:
  void publish_features() override;
  void connect() override;
  void disconnect() override;

 private:
  struct Queue {
    RingMapping tx_ring, rx_ring;
    std::unique_ptr<BoundEvtchn> tx_evtchn, rx_evtchn;  // rx_evtchn only when split
    std::unique_ptr<NetQueue> worker;
  };

  std::shared_ptr<DomainLink> link_;
  std::unique_ptr<TapDevice> tap_;
  std::vector<Queue> queues_;
  VifStats stats_;
  std::unique_ptr<backd::StatsWriter> stats_writer_;
};

std::shared_ptr<backd::XenbusDevice> make_net_backend(backd::BackendContext& ctx, backd::DeviceId id);

}  // namespace pv::netback
