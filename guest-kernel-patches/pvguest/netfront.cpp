// pvguest: netfront (Xen netif front-end), after Linux's xen-netfront.
//
// Handshake (netback_changed/talk_to_netback): wait for the back-end's
// InitWait, grant one page per ring, allocate the event channel(s), post
// all rx buffers, write the keys in one transaction, switch to Connected and
// wait for the back-end's Connected. A back-end that goes back to InitWait
// (its daemon restarted) or closes while we are connected is followed: old
// grants are revoked (a page the back-end still holds is leaked, never
// reused), rings and channels are made afresh and the handshake runs again.
//
// rx buffers are identified by ring index, as Linux does (id = index & 255;
// responses come back in request order); tx ids come from a free list.
// Every rx slot and every tx id owns one grant reference for the life of a
// connection: a buffer's access is revoked (gnttab_end_access_ref) before
// its page is touched again and granted afresh for the next buffer, which
// costs a fifth of allocating and freeing a reference each time. A
// reference the back-end still holds is abandoned with its page.
#include "netfront.h"

#include <xen/sched.h>

#include "arch.h"
#include "console.h"
#include "events.h"
#include "grant.h"
#include "hypercall.h"
#include "kernel.h"
#include "lib.h"
#include "mm.h"
#include "net_util.h"
#include "pvtime.h"
#include "xenbus.h"
#include "xenbus_front.h"

namespace netfront {

Stats stats;

namespace {
namespace nif = xen::netif;
using xen::grant_ref_t;
using xen::evtchn_port_t;
using XS = xen::xenbus::State;

constexpr unsigned kPoolPages = 768;  // 256 rx + in-flight tx + frames being built
constexpr unsigned kMaxRxSlots = 32;  // slots of one received packet we accept
constexpr uint64_t kConnectTimeoutNs = 20000000000ull;

struct TxSlot {
  uint8_t* page;
  DoneFn done;
  bool used;
  bool raw;
};
struct RxSlot {
  uint8_t* page;     // posted buffer (granted), nullptr if none
  grant_ref_t gref;  // owned reference, kInvalidRef if none yet
};

xbf::Device dev;
bool have_dev = false;
unsigned dev_number = 0;
uint8_t mac_addr[6];
Features feat;
bool rings_up = false;  // rings, channels and keys in place (our side)
bool link_up = false;   // ... and the back-end said Connected
bool xs_dirty = true;   // we talked to xenstore: watch events may be queued
uint64_t initialised_at = 0;  // reconnecting: when we switched to Initialised
constexpr uint64_t kInitialisedWaitNs = 1000000000ull;
uint32_t generation = 0;

nif::TxFrontRing tx;
nif::RxFrontRing rx;
void* tx_ring_page = nullptr;
void* rx_ring_page = nullptr;
grant_ref_t tx_ring_ref = grant::kInvalidRef, rx_ring_ref = grant::kInvalidRef;
evtchn_port_t port_tx = 0, port_rx = 0;  // equal unless split

TxSlot txs[kRingSize];
grant_ref_t tx_refs[kRingSize];  // owned reference per tx id
uint16_t tx_ids[kRingSize];  // free ids (stack)
unsigned tx_nfree = 0;
unsigned tx_used = 0;
int16_t raw_statuses[kRingSize];
RxSlot rxs[kRingSize];

uint8_t* pool_head = nullptr;
unsigned pool_count = 0;
RxFn rx_handler = nullptr;
bool want_tx_events = false;
bool tx_unpushed = false;  // requests written but not pushed (send's `more`)

alignas(8) uint8_t bounce[nif::XEN_NETIF_MAX_TX_SIZE + 8];

const char* st_name(uint32_t s) { return xen::xenbus::state_name(s); }

void pool_put(uint8_t* p) {
  *reinterpret_cast<uint8_t**>(p) = pool_head;
  pool_head = p;
  pool_count++;
}

void fill_pool(unsigned n) {
  while (n) {
    unsigned chunk = n < 64 ? n : 64;
    auto* p = static_cast<uint8_t*>(mm::alloc_pages(chunk));
    if (!p) {
      p = static_cast<uint8_t*>(mm::alloc_page());
      if (!p) return;
      chunk = 1;
    }
    for (unsigned i = 0; i < chunk; i++) pool_put(p + i * mm::kPageSize);
    n -= chunk;
  }
}

// Revokes the grant in an owned reference. If the back-end still has it
// mapped, the reference is abandoned (set to kInvalidRef) and false tells
// the caller to leak the page.
bool revoke(grant_ref_t& ref) {
  if (grant::gnttab_end_access_ref(ref)) return true;
  stats.leaked_grants++;
  ref = grant::kInvalidRef;
  return false;
}
// The owned reference in `ref`, allocated on first use.
grant_ref_t own_ref(grant_ref_t& ref) {
  if (ref == grant::kInvalidRef) ref = grant::gnttab_alloc_ref();
  return ref;
}
// Gives every owned reference back (all revoked by now).
void free_refs(grant_ref_t* refs, unsigned n) {
  for (unsigned i = 0; i < n; i++)
    if (refs[i] != grant::kInvalidRef) grant::gnttab_free_ref(refs[i]), refs[i] = grant::kInvalidRef;
}

void notify(evtchn_port_t p, uint64_t& counter) {
  if (!link_up) return;  // the back-end has not bound the port yet
  evt::send(p);
  counter++;
}

// ---- rx -----------------------------------------------------------------

// Posts buffers until the ring is full; pushes once.
void refill_rx() {
  unsigned posted = 0;
  while (rx.req_prod_pvt - rx.rsp_cons < kRingSize) {
    unsigned idx = rx.req_prod_pvt & (kRingSize - 1);
    RxSlot& s = rxs[idx];
    if (!s.page) {
      uint8_t* page = page_alloc();
      if (!page) break;
      if (own_ref(s.gref) == grant::kInvalidRef) {
        page_free(page);
        break;
      }
      grant::gnttab_grant_access_ref(s.gref, dev.otherend_id, mm::gfn(page), false);
      s.page = page;
    }
    nif::netif_rx_request& r = rx.next_request();
    r.id = uint16_t(idx);
    r.gref = s.gref;
    rx.req_prod_pvt++;
    posted++;
  }
  if (posted && rx.push_requests()) notify(port_rx, stats.notifies_rx);
}


// Takes the buffer at ring index i back from the back-end: nullptr if there
// is none or the back-end still holds its grant (the page is then leaked).
uint8_t* take_rx(uint32_t i) {
  RxSlot& s = rxs[i & (kRingSize - 1)];
  uint8_t* p = s.page;
  s.page = nullptr;
  return p && revoke(s.gref) ? p : nullptr;
}

void deliver(uint8_t* page, uint8_t* frame, uint16_t len, uint16_t flags) {
  stats.rx_packets++;
  stats.rx_bytes += len;
  if (flags & nif::NETRXF_data_validated) stats.rx_data_validated++;
  if (flags & nif::NETRXF_csum_blank) stats.rx_csum_blank++;
  if (!rx_handler || !rx_handler(page, frame, len, flags)) {
    if (page) page_free(page);
  }
}

// Consumes complete packets (data slots chained with NETRXF_more_data,
// extra-info slots after a slot flagged NETRXF_extra_info) and hands each to
// the handler. A packet whose last slot is not produced yet waits, as in
// Linux. Slots after the first are appended in the first page when they fit,
// else the packet is gathered in the bounce buffer.
unsigned process_rx() {
  using xen::ring::RING_IDX;
  unsigned delivered = 0;
  RING_IDX prod = xen::ring::load_idx(&rx.header()->rsp_prod);
  if (RING_IDX(prod - rx.rsp_cons) > RING_IDX(rx.req_prod_pvt - rx.rsp_cons)) {
    if (stats.rx_errors++ == 0)
      con::printf("netfront: vif/%u: back-end claims %u rx responses for %u requests\n", dev_number,
                  prod - rx.rsp_cons, rx.req_prod_pvt - rx.rsp_cons);
    prod = rx.req_prod_pvt;
  }
  while (rx.rsp_cons != prod) {
    RING_IDX end = rx.rsp_cons;
    bool complete = false;
    while (end != prod) {
      const uint16_t fl = rx.response(end).flags;
      end++;
      if (fl & nif::NETRXF_extra_info) {
        bool more = true;
        while (more && end != prod) {
          more = reinterpret_cast<const nif::netif_extra_info*>(&rx.slot(end))->flags & nif::XEN_NETIF_EXTRA_FLAG_MORE;
          end++;
        }
        if (more) break;
      }
      if (!(fl & nif::NETRXF_more_data)) {
        complete = true;
        break;
      }
    }
    if (!complete) break;

    uint8_t* first = nullptr;
    uint8_t* frame = nullptr;
    uint32_t total = 0;
    uint16_t flags0 = 0;
    unsigned data_slots = 0;
    bool bad = false, bounced = false, in_extra = false;
    for (RING_IDX j = rx.rsp_cons; j != end; j++) {
      if (in_extra) {
        in_extra = reinterpret_cast<const nif::netif_extra_info*>(&rx.slot(j))->flags & nif::XEN_NETIF_EXTRA_FLAG_MORE;
        if (uint8_t* p = take_rx(j)) page_free(p);
        continue;
      }
      const nif::netif_rx_response r = rx.response(j);
      uint8_t* page = take_rx(j);
      in_extra = r.flags & nif::NETRXF_extra_info;
      if (!page) {
        bad = true;
        continue;
      }
      const uint32_t len = r.status > 0 ? uint32_t(r.status) : 0;
      if (r.status < 0 || (data_slots == 0 && len == 0) || r.offset + len > mm::kPageSize ||
          ++data_slots > kMaxRxSlots || bad) {
        bad = true;
        page_free(page);
        continue;
      }
      if (data_slots == 1) {
        first = page, frame = page + r.offset, total = len, flags0 = r.flags;
        continue;
      }
      if (!bounced && uint32_t(frame - first) + total + len > mm::kPageSize) {
        if (total + len <= sizeof bounce) net::copy(bounce, frame, total);
        bounced = true;
      }
      if (!bounced) net::copy(frame + total, page + r.offset, len);
      else if (total + len <= sizeof bounce) net::copy(bounce + total, page + r.offset, len);
      total += len;
      page_free(page);
    }
    rx.rsp_cons = end;
    if (data_slots > 1) stats.rx_multislot++;
    if (bad || !first || total > sizeof bounce) {
      stats.rx_errors++;
      if (total > sizeof bounce) stats.rx_oversize++;
      if (first) page_free(first);
      continue;
    }
    delivered++;
    if (bounced) {
      page_free(first);
      deliver(nullptr, bounce, uint16_t(total > 0xffff ? 0xffff : total), flags0);
    } else {
      deliver(first, frame, uint16_t(total), flags0);
    }
    if (!rings_up) return delivered;  // a handler's send() found the link gone
  }
  refill_rx();
  return delivered;
}

// ---- tx -----------------------------------------------------------------

void complete_tx(uint16_t id, int16_t status) {
  TxSlot& s = txs[id];
  if (status == nif::XEN_NETIF_RSP_OKAY) stats.tx_okay++;
  else if (status == nif::XEN_NETIF_RSP_DROPPED) stats.tx_dropped++;
  else stats.tx_error++;
  if (s.raw) {
    raw_statuses[id] = status;
  } else if (revoke(tx_refs[id])) {
    if (s.done) s.done(s.page);
    else page_free(s.page);
  }
  s = TxSlot{};
  tx_ids[tx_nfree++] = id;
  tx_used--;
}

unsigned reap_tx() {
  using xen::ring::RING_IDX;
  unsigned n = 0;
  RING_IDX prod = xen::ring::load_idx(&tx.header()->rsp_prod);
  if (RING_IDX(prod - tx.rsp_cons) > RING_IDX(tx.req_prod_pvt - tx.rsp_cons)) prod = tx.req_prod_pvt;
  while (tx.rsp_cons != prod) {
    const nif::netif_tx_response r = tx.response(tx.rsp_cons);
    tx.rsp_cons++;
    if (r.status == nif::XEN_NETIF_RSP_NULL) continue;  // an extra-info slot (we send none)
    if (r.id >= kRingSize || !txs[r.id].used) {
      stats.tx_error++;
      continue;
    }
    complete_tx(r.id, r.status);
    n++;
  }
  return n;
}

// ---- connection -----------------------------------------------------------

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

int keys_split = -1;  // which event-channel keys we wrote last (-1: none)

// Everything the handshake made, undone. In-flight tx frames are lost;
// grants the back-end still holds are leaked with their pages.
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

// talk_to_netback + xennet_connect: rings, channels, rx buffers, keys,
// then Connected. False (everything undone) on failure.
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

// Reconnecting: a back-end that connects on Initialised (pv-backd) has
// answered, or one that waits for Connected (Linux's netback) gets it after
// kInitialisedWaitNs.
void finish_initialised(bool backend_connected) {
  if (!rings_up || dev.state != XS::Initialised) return;
  if (!backend_connected && pvclock::now() - initialised_at < kInitialisedWaitNs) return;
  xs_dirty = true;
  if (xbf::switch_state(dev, XS::Connected) != 0) teardown();
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

// netback_changed: follow the back-end's state.
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
      // to Initialising prepares to reconnect: InitWait).
      if (s == XS::Closed) xbf::switch_state(dev, XS::Initialising);
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

}  // namespace

// ---- public -----------------------------------------------------------------

uint8_t* page_alloc() {
  if (!pool_head) return static_cast<uint8_t*>(mm::alloc_page());
  uint8_t* p = pool_head;
  pool_head = *reinterpret_cast<uint8_t**>(p);
  pool_count--;
  return p;
}
void page_free(uint8_t* page) {
  if (page) pool_put(page);
}
unsigned pages_free() { return pool_count; }

bool connected() { return link_up; }
bool present() { return have_dev; }
const uint8_t* mac() { return mac_addr; }
const Features& features() { return feat; }
unsigned devid() { return dev_number; }
uint16_t backend_domid() { return dev.otherend_id; }
uint32_t link_generation() { return generation; }
void set_rx_handler(RxFn fn) { rx_handler = fn; }
unsigned tx_inflight() { return tx_used; }
unsigned tx_free() { return rings_up ? (tx.free_requests() < tx_nfree ? tx.free_requests() : tx_nfree) : 0; }

void flush() {
  if (!tx_unpushed) return;
  tx_unpushed = false;
  if (rings_up && tx.push_requests()) notify(port_tx, stats.notifies_tx);
}

bool send(uint8_t* page, uint16_t off, uint16_t len, DoneFn done, bool more) {
  if (!link_up || len == 0 || uint32_t(off) + len > mm::kPageSize) return false;
  if (tx.full() || !tx_nfree) {
    reap_tx();
    if (tx.full() || !tx_nfree) return stats.tx_ring_full++, false;
  }
  const uint16_t id = tx_ids[tx_nfree - 1];
  const grant_ref_t g = own_ref(tx_refs[id]);
  if (g == grant::kInvalidRef) return false;
  tx_nfree--;
  grant::gnttab_grant_access_ref(g, dev.otherend_id, mm::gfn(page), true);
  txs[id] = TxSlot{page, done, true, false};
  tx_used++;
  nif::netif_tx_request& r = tx.next_request();
  r.gref = g;
  r.offset = off;
  r.flags = 0;  // checksums are complete; one slot
  r.id = id;
  r.size = len;
  tx.req_prod_pvt++;
  tx_unpushed = true;
  if (!more) flush();
  stats.tx_packets++;
  stats.tx_bytes += len;
  return true;
}

bool raw_tx(nif::netif_tx_request* reqs, unsigned n) {
  if (!link_up) return false;
  if (tx.free_requests() < n || tx_nfree < n) reap_tx();
  if (tx.free_requests() < n || tx_nfree < n) return false;
  for (unsigned i = 0; i < n; i++) {
    uint16_t id = tx_ids[--tx_nfree];
    txs[id] = TxSlot{nullptr, nullptr, true, true};
    tx_used++;
    raw_statuses[id] = kNoResponse;
    reqs[i].id = id;
    tx.next_request() = reqs[i];
    tx.req_prod_pvt++;
  }
  tx_unpushed = true;
  flush();
  return true;
}

int16_t raw_status(uint16_t id) { return id < kRingSize ? raw_statuses[id] : kNoResponse; }

unsigned poll() {
  if (!have_dev) return 0;
  flush();
  const evtchn_port_t sp = xbf::store_port();
  if (xs_dirty || (sp && evt::is_pending(sp))) {
    xs_dirty = false;
    xenbus::wait_events(0);  // control/shutdown, the back-end's state
  }
  if (dev.otherend_changed) on_backend_state();
  if (!rings_up) return 0;
  if (!link_up && dev.state == XS::Initialised) finish_initialised(false);
  unsigned n = process_rx();
  if (tx_used && rings_up) reap_tx();
  return n;
}

unsigned wait(uint64_t deadline_ns) {
  unsigned n = poll();
  if (n || !have_dev) return n;
  evtchn_port_t ports[3];
  unsigned np = 0;
  if (rings_up) {
    ports[np++] = port_rx;
    if (port_tx != port_rx) ports[np++] = port_tx;
    for (unsigned i = 0; i < np; i++) arch::test_and_clear_bit(ports[i], k::shinfo->evtchn_pending);
    arch::mb();
    const bool arm_tx = tx_used && (want_tx_events || tx_used >= kRingSize / 2);
    bool work = rx.final_check_for_responses();
    if (arm_tx && tx.final_check_for_responses()) work = true;
    if (work) return poll();
  }
  const evtchn_port_t sp = xbf::store_port();
  if (xs_dirty || dev.otherend_changed || (sp && evt::is_pending(sp))) return poll();
  if (sp) ports[np++] = sp;
  if (!np) return 0;
  if (rings_up && !link_up && dev.state == XS::Initialised) {  // wake up for finish_initialised
    const uint64_t t = initialised_at + kInitialisedWaitNs + 1;
    if (deadline_ns == 0 || t < deadline_ns) deadline_ns = t;
  }
  xen::sched::poll p{uint64_t(ports), np, 0, deadline_ns};
  hv::sched_op(xen::sched::op::poll, &p);
  stats.polls++;
  return poll();
}

bool drain_tx(uint64_t deadline_ns) {
  want_tx_events = true;
  while (tx_used && rings_up && pvclock::now() < deadline_ns) wait(deadline_ns);
  want_tx_events = false;
  return tx_used == 0;
}

bool start(int want) {
  if (have_dev) return link_up;
  if (!xenbus::init()) {
    con::printf("netfront: no xenstore ring: no network device\n");
    return false;
  }
  char list[512];
  unsigned count = 0;
  int rc = xenbus::directory("device/vif", list, sizeof list, &count);
  if (rc == -int(xen::XEN_ENOENT) || (rc == 0 && count == 0)) {
    con::printf("netfront: no network device (device/vif is empty)\n");
    return false;
  }
  if (rc) {
    con::printf("netfront: no network device (listing device/vif: %s)\n", xenbus::error_name(rc));
    return false;
  }
  uint64_t chosen = ~0ull;
  const char* name = list;
  for (unsigned i = 0; i < count; i++, name += strlen(name) + 1) {
    uint64_t id;
    if (!lib::parse_u64(name, strlen(name), id)) continue;
    if (want >= 0 ? id == uint64_t(want) : id < chosen) chosen = id;
  }
  if (chosen == ~0ull) {
    con::printf("netfront: no vif/%d among %u device(s)\n", want, count);
    return false;
  }
  dev_number = unsigned(chosen);
  char node[32];
  lib::snprintf(node, sizeof node, "device/vif/%u", dev_number);
  rc = xbf::probe(dev, node);
  if (rc && rc != -int(xen::XEN_ETIMEDOUT)) {
    con::printf("netfront: vif/%u: no back-end details: %s\n", dev_number, xenbus::error_name(rc));
    return false;
  }
  char m[32];
  if (xbf::read_str(node, "mac", m, sizeof m) != 0 || !net::parse_mac(m, mac_addr)) {
    if (xbf::read_str(dev.otherend, "mac", m, sizeof m) != 0 || !net::parse_mac(m, mac_addr)) {
      con::printf("netfront: vif/%u: no usable mac\n", dev_number);
      xbf::remove(dev);
      return false;
    }
  }
  have_dev = true;
  for (unsigned i = 0; i < kRingSize; i++) tx_refs[i] = rxs[i].gref = grant::kInvalidRef;
  fill_pool(kPoolPages);
  con::printf("netfront: vif/%u back-end %s (domain %u), %u buffer pages\n", dev_number, dev.otherend,
              dev.otherend_id, pool_count);
  const uint64_t deadline = pvclock::now() + kConnectTimeoutNs;
  while (!link_up && pvclock::now() < deadline) wait(deadline);
  if (!link_up) {
    con::printf("netfront: vif/%u: back-end did not connect (back-end %s, ours %s)\n", dev_number,
                st_name(dev.otherend_state), st_name(dev.state));
    return false;
  }
  return true;
}

}  // namespace netfront
