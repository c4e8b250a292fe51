// pvguest: netfront's handshake: reading the back-end's features, rings,
// event channels and rx buffers, the keys (talk_to_netback), following the
// back-end's state (netback_changed), and tearing down for a reconnection.
// See netfront_internal.h.
#include "console.h"
#include "mm.h"
#include "net_util.h"
#include "netfront_internal.h"
#include "pvtime.h"
#include "xenbus.h"

namespace netfront {
namespace {

int keys_split = -1;  // which event-channel keys we wrote last (-1: none)

void read_features() {
  const char* be = dev.otherend;
  feat.rx_copy = xbf::read_unsigned(be, "feature-rx-copy", 0) == 1;
  feat.rx_flip = xbf::read_unsigned(be, "feature-rx-flip", 0) == 1;
  feat.sg = xbf::read_unsigned(be, "feature-sg", 0) == 1;
  feat.gso_tcpv4 = xbf::read_unsigned(be, "feature-gso-tcpv4", 0) == 1;
  feat.gso_tcpv6 = xbf::read_unsigned(be, "feature-gso-tcpv6", 0) == 1;
  feat.rx_notify = xbf::read_unsigned(be, "feature-rx-notify", 0) == 1;
  feat.split_evtchn = xbf::read_unsigned(be, "feature-split-event-channels", 0) == 1;
  feat.ipv6_csum = xbf::read_unsigned(be, "feature-ipv6-csum-offload", 0) == 1;
  feat.no_csum_offload = xbf::read_unsigned(be, "feature-no-csum-offload", 0) == 1;
  feat.max_queues = unsigned(xbf::read_unsigned(be, "multi-queue-max-queues", 0));
  xs_dirty = true;
}

void on_link_up() {
  link_up = true;
  generation++;
  // Kick both directions once, as xennet_connect does: the back-end may
  // have bound the ports after our requests were pushed.
  notify(port_tx, stats.notifies_tx);
  if (port_rx != port_tx) notify(port_rx, stats.notifies_rx);
  char m[18];
  con::printf("netfront: vif/%u connected: mac=%s tx-ring-ref=%u rx-ring-ref=%u evtchn tx=%u rx=%u "
              "(back-end: sg=%d gso-tcpv4=%d gso-tcpv6=%d rx-notify=%d split=%d max-queues=%u)\n",
              dev_number, net::mac_str(mac_addr, m), tx_ring_ref, rx_ring_ref, port_tx, port_rx, feat.sg,
              feat.gso_tcpv4, feat.gso_tcpv6, feat.rx_notify, feat.split_evtchn, feat.max_queues);
}

}  // namespace

void teardown() {
  link_up = false;
  rings_up = false;
  tx_unpushed = false;
  for (unsigned id = 0; id < kRingSize; id++) {
    TxSlot& s = txs[id];
    if (s.used && !s.raw && revoke(tx_refs[id])) {
      if (s.done) s.done(s.page);
      else page_free(s.page);
    }
    s = TxSlot{};
  }
  tx_nfree = tx_used = 0;
  free_refs(tx_refs, kRingSize);
  for (auto& r : rxs) {
    if (r.page && revoke(r.gref)) page_free(r.page);
    r.page = nullptr;
    if (r.gref != grant::kInvalidRef) grant::gnttab_free_ref(r.gref);
    r.gref = grant::kInvalidRef;
  }
  if (tx_ring_page) stats.leaked_grants += xbf::teardown_ring(tx_ring_page, 1, &tx_ring_ref);
  if (rx_ring_page) stats.leaked_grants += xbf::teardown_ring(rx_ring_page, 1, &rx_ring_ref);
  tx_ring_page = rx_ring_page = nullptr;
  if (port_rx && port_rx != port_tx) xbf::free_evtchn(port_rx);
  if (port_tx) xbf::free_evtchn(port_tx);
  port_tx = port_rx = 0;
  tx = nif::TxFrontRing();
  rx = nif::RxFrontRing();
}

bool connect() {
  xs_dirty = true;
  read_features();
  if (!feat.rx_copy) {
    con::printf("netfront: vif/%u: back-end does not offer feature-rx-copy\n", dev_number);
    return false;
  }
  // A back-end that restarted must see us come back, not a state it
  // already knows: Initialising now, Initialised once the keys are written,
  // and Connected only after the back-end is (see on_backend_state).
  const bool reconnecting = dev.state == XS::Connected;
  if (reconnecting) xbf::switch_state(dev, XS::Initialising);
  int rc = xbf::setup_ring(dev, 1, &tx_ring_page, &tx_ring_ref);
  if (rc == 0) rc = xbf::setup_ring(dev, 1, &rx_ring_page, &rx_ring_ref);
  if (rc) {
    con::printf("netfront: vif/%u: ring setup failed: %s\n", dev_number, xenbus::error_name(rc));
    teardown();
    return false;
  }
  tx = nif::TxFrontRing(tx_ring_page, mm::kPageSize);
  rx = nif::RxFrontRing(rx_ring_page, mm::kPageSize);
  tx.init_shared();
  rx.init_shared();
  rc = xbf::alloc_evtchn(dev, port_tx);
  if (rc == 0) {
    port_rx = port_tx;
    if (feat.split_evtchn) rc = xbf::alloc_evtchn(dev, port_rx);
  }
  if (rc) {
    con::printf("netfront: vif/%u: alloc_unbound failed: rc=%d\n", dev_number, rc);
    teardown();
    return false;
  }
  for (unsigned i = 0; i < kRingSize; i++) tx_ids[i] = uint16_t(kRingSize - 1 - i);
  tx_nfree = kRingSize;
  tx_used = 0;
  refill_rx();  // all 256 before the back-end looks (no kick: it is not bound yet)

  const bool split = port_rx != port_tx;
  const char* node = dev.nodename;
  if (keys_split >= 0 && keys_split != int(split)) {  // the other kind from last time
    if (split) xbf::rm(xenbus::XBT_NIL, node, "event-channel");
    else xbf::rm(xenbus::XBT_NIL, node, "event-channel-tx"), xbf::rm(xenbus::XBT_NIL, node, "event-channel-rx");
  }
  rc = xbf::transact([&](uint32_t t) {
    int r = xbf::printf(t, node, "tx-ring-ref", "%u", tx_ring_ref);
    if (!r) r = xbf::printf(t, node, "rx-ring-ref", "%u", rx_ring_ref);
    if (!r && split) r = xbf::printf(t, node, "event-channel-tx", "%u", port_tx);
    if (!r && split) r = xbf::printf(t, node, "event-channel-rx", "%u", port_rx);
    if (!r && !split) r = xbf::printf(t, node, "event-channel", "%u", port_tx);
    if (!r && feat.max_queues) r = xbf::write_str(t, node, "multi-queue-num-queues", "1");
    if (!r) r = xbf::write_str(t, node, "request-rx-copy", "1");
    if (!r) r = xbf::write_str(t, node, "feature-rx-notify", "1");
    if (!r) r = xbf::write_str(t, node, "feature-sg", "1");
    if (!r) r = xbf::write_str(t, node, "feature-gso-tcpv4", "0");
    if (!r) r = xbf::write_str(t, node, "feature-gso-tcpv6", "0");
    if (!r) r = xbf::write_str(t, node, "feature-ipv6-csum-offload", "0");
    return r;
  });
  if (rc) {
    con::printf("netfront: vif/%u: writing ring details failed: %s\n", dev_number, xenbus::error_name(rc));
    teardown();
    return false;
  }
  keys_split = split;
  rings_up = true;
  // First connection: straight to Connected, as Linux's netfront.
  if (xbf::switch_state(dev, reconnecting ? XS::Initialised : XS::Connected) != 0) {
    teardown();
    return false;
  }
  if (reconnecting) initialised_at = pvclock::now();
  return true;
}

void finish_initialised(bool backend_connected) {
  if (!rings_up || dev.state != XS::Initialised) return;
  if (!backend_connected && pvclock::now() - initialised_at < kInitialisedWaitNs) return;
  xs_dirty = true;
  if (xbf::switch_state(dev, XS::Connected) != 0) teardown();
}

void on_backend_state() {
  xs_dirty = true;
  const uint32_t s = xbf::refresh_otherend(dev);
  switch (s) {
    case XS::InitWait:
      if (rings_up && !link_up) break;  // our rings are published: it will connect
      if (rings_up) {
        con::printf("netfront: vif/%u: back-end back in InitWait: reconnecting\n", dev_number);
        teardown();
        stats.reconnects++;
      }
      connect();
      break;
    case XS::Connected:
      finish_initialised(true);
      if (rings_up && !link_up && dev.state == XS::Connected) on_link_up();
      break;
    case XS::Closing:
    case XS::Closed:
      if (rings_up) {
        con::printf("netfront: vif/%u: back-end %s: tearing down\n", dev_number, st_name(s));
        teardown();
        stats.reconnects++;
      }
      if (dev.state != XS::Closed) xbf::switch_state(dev, XS::Closed);
      // Ask for a new connection (a Closed back-end whose front-end goes
      // to Initialising prepares to reconnect: InitWait), unless the
      // toolstack is taking the vif away (online = 0, a detach): then we
      // stay Closed, as Linux's netfront does, until it is removed.
      if (s == XS::Closed && xbf::read_unsigned(dev.otherend, "online", 1) != 0)
        xbf::switch_state(dev, XS::Initialising);
      break;
    case XS::Unknown:
      if (rings_up) {
        con::printf("netfront: vif/%u: back-end state node gone: tearing down\n", dev_number);
        teardown();
        stats.reconnects++;
      }
      break;
    default:
      break;
  }
}

}  // namespace netfront
