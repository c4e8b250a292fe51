// pvguest: netfront's rings: the owned grant references of the buffers,
// posting rx buffers, consuming received packets (multi-slot, extra-info
// slots), and reaping tx responses. See netfront_internal.h.
#include "console.h"
#include "events.h"
#include "mm.h"
#include "net_util.h"
#include "netfront_internal.h"

namespace netfront {
namespace {

alignas(8) uint8_t bounce[nif::XEN_NETIF_MAX_TX_SIZE + 8];

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

// The end of the packet at rx.rsp_cons (data slots chained with
// NETRXF_more_data, extra-info slots after a slot flagged
// NETRXF_extra_info): false while its last slot is not produced yet.
bool packet_end(xen::ring::RING_IDX prod, xen::ring::RING_IDX& end) {
  end = rx.rsp_cons;
  while (end != prod) {
    const uint16_t fl = rx.response(end).flags;
    end++;
    if (fl & nif::NETRXF_extra_info) {
      bool more = true;
      while (more && end != prod) {
        more = reinterpret_cast<const nif::netif_extra_info*>(&rx.slot(end))->flags & nif::XEN_NETIF_EXTRA_FLAG_MORE;
        end++;
      }
      if (more) return false;
    }
    if (!(fl & nif::NETRXF_more_data)) return true;
  }
  return false;
}

// One received packet being gathered.
struct RxPacket {
  uint8_t* first;  // its first page (nullptr: none usable)
  uint8_t* frame;  // its data, in `first` (or in `bounce` when bounced)
  uint32_t total;
  uint16_t flags0;  // the first slot's flags
  unsigned data_slots;
  bool bad, bounced;
};

// Takes the slots rx.rsp_cons..end back: slots after the first are appended
// in the first page when they fit, else the packet is gathered in the
// bounce buffer.
void gather(xen::ring::RING_IDX end, RxPacket& pk) {
  using xen::ring::RING_IDX;
  auto& [first, frame, total, flags0, data_slots, bad, bounced] = pk;
  bool in_extra = false;
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
}

}  // namespace

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

// Consumes complete packets and hands each to the handler. A packet whose
// last slot is not produced yet waits, as in Linux.
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
    RING_IDX end;
    if (!packet_end(prod, end)) break;
    RxPacket pk{};
    gather(end, pk);
    const auto& [first, frame, total, flags0, data_slots, bad, bounced] = pk;
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

}  // namespace netfront
