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
//
// This file holds the state and the public entry points; the rings are in
// netfront_ring.cpp, the handshake in netfront_handshake.cpp, and what they
// share in netfront_internal.h.
#include <xen/sched.h>

#include "arch.h"
#include "console.h"
#include "events.h"
#include "hypercall.h"
#include "kernel.h"
#include "lib.h"
#include "mm.h"
#include "net_util.h"
#include "netfront_internal.h"
#include "pvtime.h"
#include "suspend.h"
#include "xenbus.h"

namespace netfront {

Stats stats;

xbf::Device dev;
bool have_dev = false;
unsigned dev_number = 0;
uint8_t mac_addr[6];
Features feat;
bool rings_up = false;
bool link_up = false;
bool xs_dirty = true;
uint64_t initialised_at = 0;
uint32_t generation = 0;

nif::TxFrontRing tx;
nif::RxFrontRing rx;
void* tx_ring_page = nullptr;
void* rx_ring_page = nullptr;
grant_ref_t tx_ring_ref = grant::kInvalidRef, rx_ring_ref = grant::kInvalidRef;
evtchn_port_t port_tx = 0, port_rx = 0;

TxSlot txs[kRingSize];
grant_ref_t tx_refs[kRingSize];
uint16_t tx_ids[kRingSize];
unsigned tx_nfree = 0;
unsigned tx_used = 0;
int16_t raw_statuses[kRingSize];
RxSlot rxs[kRingSize];
RxFn rx_handler = nullptr;
bool tx_unpushed = false;

namespace {
uint8_t* pool_head = nullptr;
unsigned pool_count = 0;
bool want_tx_events = false;

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

bool connected() { return link_up; }
bool have_device() { return have_dev; }
unsigned device_number() { return dev_number; }
bool closed() { return have_dev && dev.state == XS::Closed && !rings_up; }

void stop() {
  if (!have_dev) return;
  if (rings_up || tx_ring_page || rx_ring_page) teardown();
  xbf::remove(dev);
  dev = xbf::Device{};
  have_dev = false;
  link_up = rings_up = false;
}

const uint8_t* mac() { return mac_addr; }
uint16_t backend_domid() { return dev.otherend_id; }
uint32_t link_generation() { return generation; }
void set_rx_handler(RxFn fn) { rx_handler = fn; }
unsigned tx_inflight() { return tx_used; }

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
  if (pool_count < kPoolPages) fill_pool(kPoolPages - pool_count);  // a second vif (hot-plug) reuses the pool
  con::printf("netfront: vif/%u back-end %s (domain %u), %u buffer pages\n", dev_number, dev.otherend,
              dev.otherend_id, pool_count);
  const uint64_t deadline = pvclock::now() + kConnectTimeoutNs;
  while (!link_up && pvclock::now() < deadline) wait(deadline);
  if (!link_up) {
    con::printf("netfront: vif/%u: back-end did not connect (back-end %s, ours %s)\n", dev_number,
                st_name(dev.otherend_state), st_name(dev.state));
    return false;
  }
  suspend::register_device({"netfront", quiesce_for_suspend, resume_after_suspend, nullptr});
  return true;
}

// Before a suspend: the transmits in flight are answered (Linux's netfront
// holds its queues the same way); after a resume the new back-end brings
// us through InitWait/Connected again.
void quiesce_for_suspend(void*) {
  const uint64_t deadline = pvclock::now() + 10000000000ull;
  while (tx_inflight() && pvclock::now() < deadline) {
    poll();
    wait(pvclock::now() + 100000000ull);
  }
  con::printf("netfront: vif/%u quiesced for suspend: %u tx in flight\n", dev_number, tx_inflight());
}

void resume_after_suspend(void*, bool cancelled) {
  con::printf("netfront: vif/%u %s\n", dev_number,
              cancelled ? "goes on after a cancelled suspend" : "resumed: reconnects to its new back-end");
}

}  // namespace netfront
