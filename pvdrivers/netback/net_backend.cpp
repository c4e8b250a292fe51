#include "netback/net_backend.h"

#include <linux/if_tun.h>

#include "netback/vif_config.h"
#include "pv/error.h"

namespace pv::netback {

NetBackend::NetBackend(backd::BackendContext& ctx, backd::DeviceId id) : XenbusDevice(ctx, std::move(id)) {}

NetBackend::~NetBackend() { disconnect(); }

void NetBackend::publish_features() {
  // mac and handle are already there (pvd wrote them with the device).
  write_backend("feature-sg", "1");
  write_backend("feature-gso-tcpv4", "1");
  write_backend("feature-gso-tcpv6", "1");
  write_backend("feature-ipv6-csum-offload", "1");
  write_backend("feature-rx-copy", "1");
  write_backend("feature-rx-flip", "0");
  write_backend("feature-rx-notify", "1");
  write_backend("feature-split-event-channels", "1");
  write_backend("multi-queue-max-queues", std::to_string(kMaxQueues));
}

void NetBackend::connect() {
  const BackendConfig be = read_backend_config([this](const std::string& k) { return read_backend(k); });
  const FrontendConfig fe = read_frontend_config([this](const std::string& k) { return read_frontend(k); }, kMaxQueues);
  link_ = domain_link();  // LinkUnavailable: retried later

  const unsigned n = unsigned(fe.queues.size());
  queues_.resize(n);
  for (unsigned q = 0; q < n; q++) {
    const QueueKeys& k = fe.queues[q];
    Queue& Q = queues_[q];
    Q.tx_ring = link_->map_ring({k.tx_ring_ref});
    Q.rx_ring = link_->map_ring({k.rx_ring_ref});
    Q.tx_evtchn = link_->bind(k.tx_port);
    if (k.split) Q.rx_evtchn = link_->bind(k.rx_port);
  }

  const std::string name = "vif" + std::to_string(id().domid) + "." + std::to_string(id().devid);
  tap_ = std::make_unique<TapDevice>(name, n);
  // Offloads the front-end can take on its receive side.
  unsigned offload = 0;
  if (fe.rx.csum_v4 || fe.rx.csum_v6) offload |= TUN_F_CSUM;
  if (fe.rx.csum_v4 && fe.rx.sg && fe.rx.gso_tcpv4) offload |= TUN_F_TSO4;
  if (fe.rx.csum_v6 && fe.rx.sg && fe.rx.gso_tcpv6) offload |= TUN_F_TSO6;
  tap_->set_offload(offload);
  if (be.mtu) tap_->set_mtu(be.mtu);

  for (unsigned q = 0; q < n; q++) {
    Queue& Q = queues_[q];
    QueueParams p;
    p.name = name + (n > 1 ? " queue " + std::to_string(q) : "");
    p.tx = xen::netif::TxBackRing(Q.tx_ring.data(), Q.tx_ring.bytes());
    p.rx = xen::netif::RxBackRing(Q.rx_ring.data(), Q.rx_ring.bytes());
    p.tx.attach_existing();
    p.rx.attach_existing();
    p.grants = &link_->grants();
    p.packet_fd = tap_->fd(q);
    const BoundEvtchn* txe = Q.tx_evtchn.get();
    const BoundEvtchn* rxe = Q.rx_evtchn ? Q.rx_evtchn.get() : txe;
    p.tx_kick_fd = txe->kick_fd();
    p.rx_kick_fd = rxe->kick_fd();
    p.notify_tx = [txe] { txe->notify(); };
    p.notify_rx = [rxe] { rxe->notify(); };
    p.rx_features = fe.rx;
    p.rx_notify = fe.rx_notify;
    p.policy = be.policy;
    p.stats = &stats_;
    std::weak_ptr<XenbusDevice> self = weak_from_this();
    p.fatal = [self](const std::string& why) {
      if (auto d = self.lock()) d->fatal(why);
    };
    Q.worker = std::make_unique<NetQueue>(std::move(p));
  }
  // Frames flow once the link is up on its bridge.
  tap_->up(be.bridge);
  // Counters only while the device's directory still has its state key.
  stats_writer_ = std::make_unique<backd::StatsWriter>(ctx().xs, id().backend_path, "state",
                                                       [this] { return stats_.snapshot(); });
  log("tap " + name + (be.bridge.empty() ? "" : " on bridge " + be.bridge) + ", " + std::to_string(n) +
      (n == 1 ? " queue" : " queues") + (fe.queues[0].split ? ", split event channels" : ""));
}

void NetBackend::disconnect() {
  // Workers first (they use the rings, channels and tap), then what they used.
  for (auto& q : queues_) q.worker.reset();
  stats_writer_.reset();
  queues_.clear();
  tap_.reset();
  link_.reset();
}

std::shared_ptr<backd::XenbusDevice> make_net_backend(backd::BackendContext& ctx, backd::DeviceId id) {
  return std::make_shared<NetBackend>(ctx, std::move(id));
}

}  // namespace pv::netback
