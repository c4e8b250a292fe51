// pvguest: blkfront's handshake: probing device/vbd/<n>, the xenbus state
// machine (Linux's blkback_changed), setting up rings and event channels
// and writing their keys (talk_to_blkback), reading the back-end's details
// (blkfront_connect), and the reconnection after a back-end restart with
// the re-queue of unfinished requests (blkif_recover). See
// blkfront_internal.h.
#include "arch.h"
#include "blkfront_internal.h"
#include "console.h"
#include "events.h"
#include "grant.h"
#include "kernel.h"
#include "lib.h"
#include "mm.h"
#include "pvtime.h"
#include "xenbus.h"

namespace blkfront {
namespace {

void free_queue(Device& d, Queue& q) {
  if (q.shadow) {
    for (unsigned i = 0; i < q.nshadow; i++) release_shadow(d, q.shadow[i]);
    mm::free_pages(q.shadow, (q.nshadow * sizeof(Shadow) + mm::kPageSize - 1) >> mm::kPageShift);
  }
  if (q.ring_mem) d.st.leaked_grants += xbf::teardown_ring(q.ring_mem, q.ring_pages, q.ring_refs);
  if (q.port) xbf::free_evtchn(q.port);
  q = Queue{};
}

// Gathers the requests still on the rings (in submission order) in front
// of the pending list and frees every queue: Linux's blkif_recover.
unsigned recover(Device& d) {
  Request* head = nullptr;
  Request* tail = nullptr;
  unsigned n = 0;
  for (unsigned qi = 0; qi < d.nq; qi++) {
    Queue& q = d.q[qi];
    for (unsigned i = 0; q.shadow && i < q.nshadow; i++) {
      Shadow& s = q.shadow[i];
      if (s.kind == kRaw) {
        s.raw_status = kStatusLost;
        s.raw_done = true;
      }
      if (s.kind != kNormal || s.req->frags_left == 0xffff) continue;
      Request* r = s.req;
      r->frags_left = 0xffff;  // collected
      n++;
      // Insert by seq (usually appends: slots follow submission order).
      if (!head || tail->seq < r->seq) {
        r->next = nullptr;
        if (tail) tail->next = r;
        else head = r;
        tail = r;
      } else {
        Request** p = &head;
        while ((*p)->seq < r->seq) p = &(*p)->next;
        r->next = *p;
        *p = r;
      }
    }
    free_queue(d, q);
  }
  d.nq = 0;
  for (Request* r = head; r; r = r->next) {
    r->frags_left = 0;
    r->status = BLKIF_RSP_OKAY;
  }
  if (head) {
    tail->next = d.pend_head;
    if (!d.pend_head) d.pend_tail = tail;
    d.pend_head = head;
    d.npending += n;
  }
  d.st.requeued += n;
  cache_clear(d);
  return n;
}

int setup_queue(Device& d, Queue& q, unsigned pages) {
  int rc = xbf::setup_ring(d.xb, pages, &q.ring_mem, q.ring_refs);
  if (rc) return rc;
  q.ring_pages = pages;
  q.ring = FrontRing(q.ring_mem, uint64_t(pages) * mm::kPageSize);
  q.ring.init_shared();
  if ((rc = xbf::alloc_evtchn(d.xb, q.port)) != 0) return rc;
  q.nshadow = q.ring.size();
  unsigned spages = unsigned((q.nshadow * sizeof(Shadow) + mm::kPageSize - 1) >> mm::kPageShift);
  q.shadow = static_cast<Shadow*>(mm::alloc_pages(spages));  // zeroed: kFree, no pages
  if (!q.shadow) return -int(xen::XEN_ENOMEM);
  for (unsigned i = 0; i < q.nshadow; i++) {
    Shadow& s = q.shadow[i];
    s.next_free = i + 1 < q.nshadow ? i + 1 : kNoSlot;
    s.ind_ref = grant::kInvalidRef;
  }
  q.free_head = 0;
  q.nfree = q.nshadow;
  return 0;
}

int write_ring_nodes(uint32_t tx, const char* dir, const Queue& q) {
  int rc;
  if (q.ring_pages == 1) {
    if ((rc = xbf::printf(tx, dir, "ring-ref", "%u", q.ring_refs[0])) != 0) return rc;
  } else {
    for (unsigned i = 0; i < q.ring_pages; i++) {
      char node[16];
      lib::snprintf(node, sizeof node, "ring-ref%u", i);
      if ((rc = xbf::printf(tx, dir, node, "%u", q.ring_refs[i])) != 0) return rc;
    }
  }
  return xbf::printf(tx, dir, "event-channel", "%u", q.port);
}

int rm_quiet(uint32_t tx, const char* dir, const char* node) {
  int rc = xbf::rm(tx, dir, node);
  return rc == -int(xen::XEN_ENOENT) ? 0 : rc;
}

// Removes the ring keys of the previous handshake (its layout may differ).
int remove_old_nodes(uint32_t tx, Device& d) {
  int rc = 0;
  const char* dir = d.xb.nodename;
  if (d.written_nq > 1) {
    if ((rc = rm_quiet(tx, dir, "multi-queue-num-queues")) != 0) return rc;
    for (unsigned i = 0; i < d.written_nq; i++) {
      char node[16];
      lib::snprintf(node, sizeof node, "queue-%u", i);
      if ((rc = rm_quiet(tx, dir, node)) != 0) return rc;
    }
  } else if (d.written_nq == 1) {
    if (d.written_pages > 1) {
      for (unsigned i = 0; i < d.written_pages; i++) {
        char node[16];
        lib::snprintf(node, sizeof node, "ring-ref%u", i);
        if ((rc = rm_quiet(tx, dir, node)) != 0) return rc;
      }
    } else if ((rc = rm_quiet(tx, dir, "ring-ref")) != 0) {
      return rc;
    }
    if ((rc = rm_quiet(tx, dir, "event-channel")) != 0) return rc;
  }
  if (d.written_pages > 1) rc = rm_quiet(tx, dir, "ring-page-order");
  return rc;
}

// talk_to_blkback: rings, event channels, keys, Initialised.
bool setup(Device& d) {
  const bool again = d.nq != 0 || d.ever_connected;
  const bool was_up = d.link_up;
  d.link_up = false;  // nothing more goes onto the old rings
  if (was_up) poll_queues(d);  // take what the old back-end finished
  unsigned requeued = d.nq ? recover(d) : 0;
  d.rings_fresh = false;
  d.broken_reported = false;
  const char* be = d.xb.otherend;
  unsigned be_order = unsigned(xbf::read_unsigned(be, "max-ring-page-order", 0));
  unsigned be_queues = unsigned(xbf::read_unsigned(be, "multi-queue-max-queues", 1));
  unsigned order = be_order < cfg.max_ring_order ? be_order : cfg.max_ring_order;
  if (order > xen::blkif::kMaxRingPageOrder) order = xen::blkif::kMaxRingPageOrder;
  unsigned want_q = cfg.max_queues ? cfg.max_queues : (k::nr_cpus < 4 ? k::nr_cpus : 4);
  unsigned nq = be_queues < want_q ? be_queues : want_q;
  if (nq < 1) nq = 1;
  if (nq > kMaxQueues) nq = kMaxQueues;
  const unsigned pages = 1u << order;

  int rc = 0;
  for (unsigned i = 0; i < nq && rc == 0; i++) {
    rc = setup_queue(d, d.q[i], pages);
    d.nq = i + 1;
  }
  if (rc) {
    con::printf("BLKFRONT vbd %u: setting up %u rings of %u pages failed: %s\n", d.info.handle, nq, pages,
                xenbus::error_name(rc));
    for (unsigned i = 0; i < d.nq; i++) free_queue(d, d.q[i]);
    d.nq = 0;
    return false;
  }
  rc = xbf::transact([&](uint32_t tx) {
    int r = remove_old_nodes(tx, d);
    if (r) return r;
    const char* dir = d.xb.nodename;
    if (pages > 1 && (r = xbf::printf(tx, dir, "ring-page-order", "%u", order)) != 0) return r;
    if (nq == 1) {
      if ((r = write_ring_nodes(tx, dir, d.q[0])) != 0) return r;
    } else {
      if ((r = xbf::printf(tx, dir, "multi-queue-num-queues", "%u", nq)) != 0) return r;
      for (unsigned i = 0; i < nq; i++) {
        char qdir[80];
        lib::snprintf(qdir, sizeof qdir, "%s/queue-%u", dir, i);
        if ((r = write_ring_nodes(tx, qdir, d.q[i])) != 0) return r;
      }
    }
    if ((r = xbf::write_str(tx, dir, "protocol", "x86_64-abi")) != 0) return r;
    return xbf::printf(tx, dir, "feature-persistent", "%u", cfg.persistent ? 1u : 0u);
  });
  d.written_nq = nq;
  d.written_pages = pages;
  if (rc) {
    con::printf("BLKFRONT vbd %u: writing ring details failed: %s\n", d.info.handle, xenbus::error_name(rc));
    return false;
  }
  d.info.nr_queues = nq;
  d.info.ring_pages = pages;
  d.info.ring_size = d.q[0].ring.size();
  if (xbf::switch_state(d.xb, XB::Initialised) != 0) return false;
  d.rings_fresh = true;
  if (again)
    con::printf("BLKFRONT vbd %u: back-end %s: new rings (%u x %u pages), %u requests to re-queue\n",
                d.info.handle, XB::state_name(d.xb.otherend_state), nq, pages, requeued);
  return true;
}

// blkfront_connect: the back-end's details, then Connected.
bool connect(Device& d) {
  const char* be = d.xb.otherend;
  uint64_t sectors, binfo, ssize;
  if (xbf::read_u64(be, "sectors", sectors) || xbf::read_u64(be, "info", binfo) ||
      xbf::read_u64(be, "sector-size", ssize)) {
    con::printf("BLKFRONT vbd %u: reading back-end details at %s failed\n", d.info.handle, be);
    return false;
  }
  Info& in = d.info;
  in.sectors = sectors;
  in.vdisk_info = uint32_t(binfo);
  in.sector_size = uint32_t(ssize);
  in.physical_sector_size = uint32_t(xbf::read_unsigned(be, "physical-sector-size", ssize));
  in.readonly = (binfo & VDISK_READONLY) != 0;
  in.flush = xbf::read_unsigned(be, "feature-flush-cache", 0) != 0;
  in.discard = xbf::read_unsigned(be, "feature-discard", 0) != 0;
  in.discard_granularity = in.discard ? uint32_t(xbf::read_unsigned(be, "discard-granularity", 0)) : 0;
  in.discard_alignment = in.discard ? uint32_t(xbf::read_unsigned(be, "discard-alignment", 0)) : 0;
  in.discard_secure = in.discard && xbf::read_unsigned(be, "discard-secure", 0) != 0;
  in.persistent = cfg.persistent && xbf::read_unsigned(be, "feature-persistent", 0) != 0;
  uint64_t ind = xbf::read_unsigned(be, "feature-max-indirect-segments", 0);
  if (ind > cfg.max_indirect) ind = cfg.max_indirect;
  if (ind > kMaxIndirectSegs) ind = kMaxIndirectSegs;
  if (ind <= BLKIF_MAX_SEGMENTS_PER_REQUEST) ind = 0;
  in.max_indirect = uint32_t(ind);
  in.max_segs = in.max_indirect ? in.max_indirect : BLKIF_MAX_SEGMENTS_PER_REQUEST;
  if (in.sector_size < 512 || (in.sector_size & (in.sector_size - 1))) {
    con::printf("BLKFRONT vbd %u: bad sector-size %u\n", in.handle, in.sector_size);
    return false;
  }
  d.persistent_on = in.persistent;
  if (d.persistent_on && !cache_alloc(d)) d.persistent_on = in.persistent = false;
  if (xbf::switch_state(d.xb, XB::Connected) != 0) return false;
  d.rings_fresh = false;
  d.link_up = true;
  if (d.ever_connected) {
    d.st.reconnects++;
    con::printf("BLKFRONT vbd %u: reconnected (%u queued requests)\n", in.handle, d.npending);
  }
  d.ever_connected = true;
  for (unsigned i = 0; i < d.nq; i++) {  // the queues start with an empty ring
    arch::test_and_clear_bit(d.q[i].port, k::shinfo->evtchn_pending);
  }
  for (Request* r = d.pend_head; r; r = r->next) r->nfrags = uint16_t(frags_of(d, r));  // limits may differ now
  issue(d);
  push_all(d);
  return true;
}

void go_down(Device& d, const char* why) {
  if (d.link_up || d.rings_fresh)
    con::printf("BLKFRONT vbd %u: back-end %s (%s): %u requests wait\n", d.info.handle,
                XB::state_name(d.xb.otherend_state), why, d.ninflight);
  d.link_up = false;
  d.rings_fresh = false;
}

}  // namespace

// Follows the back-end's state (Linux's blkback_changed), plus: InitWait
// while we are past Initialising means its daemon restarted: reconnect.
void backend_changed(Device& d) {
  const uint32_t be = xbf::refresh_otherend(d.xb);
  if (cfg.verbose)
    con::printf("BLKFRONT vbd %u: back-end %s, front-end %s\n", d.info.handle, XB::state_name(be),
                XB::state_name(d.xb.state));
  switch (be) {
    case XB::InitWait:
      if (d.xb.state == XB::Initialised && d.rings_fresh) break;  // already offered, not used yet
      setup(d);
      break;
    case XB::Connected:
      if (d.xb.state == XB::Connected && d.link_up) {  // poked again: a resize, as Linux reads it
        uint64_t sectors;
        if (xbf::read_u64(d.xb.otherend, "sectors", sectors) == 0 && sectors != d.info.sectors) {
          con::printf("BLKFRONT vbd %u: capacity %lu -> %lu sectors\n", d.info.handle, d.info.sectors, sectors);
          d.info.sectors = sectors;
        }
        break;
      }
      if (!(d.xb.state == XB::Initialised && d.rings_fresh) && !setup(d)) break;
      connect(d);
      break;
    case XB::Closing:
    case XB::Closed:
      go_down(d, "closed");
      if (d.xb.state != XB::Closed) xbf::switch_state(d.xb, XB::Closed);
      break;
    default:  // Unknown, Initialising, Initialised, Reconfiguring: as Linux, nothing to do
      break;
  }
}

// Delivers xenstore events if the store port fired (or now and then), and
// handles back-end state changes of every device.
void service_xs(bool force) {
  xen::evtchn_port_t sp = xbf::store_port();
  if (force || (sp && evt::is_pending(sp))) xenbus::wait_events(0);
  for (unsigned i = 0; i < ndevs; i++)
    if (devs[i].xb.watching && devs[i].xb.otherend_changed) backend_changed(devs[i]);
}

bool probe_device(Device& d, uint16_t handle, const char* name) {
  d = Device{};
  d.info.handle = uint16_t(handle);
  lib::snprintf(d.info.nodename, sizeof d.info.nodename, "device/vbd/%s", name);
  // Back-end changes are handled as their watch events are delivered,
  // also while the kernel idles (a restarted back-end gets its front-end
  // back at once); wait() and friends deliver them during I/O.
  d.xb.changed_fn = [](xbf::Device&, void* arg) {
    Device& dev = *static_cast<Device*>(arg);
    if (dev.probed_ok) backend_changed(dev);
  };
  d.xb.changed_arg = &d;
  int rc = xbf::probe(d.xb, d.info.nodename);
  if (rc) {
    con::printf("BLKFRONT vbd %u: probe failed: %s\n", d.info.handle, xenbus::error_name(rc));
    xbf::remove(d.xb);
    return false;
  }
  lib::snprintf(d.info.backend, sizeof d.info.backend, "%s", d.xb.otherend);
  d.info.backend_id = d.xb.otherend_id;
  d.next_seq = 1;
  if (d.xb.state != XB::Initialising) xbf::switch_state(d.xb, XB::Initialising);
  d.probed_ok = true;
  return true;
}

unsigned connected_count() {
  unsigned up = 0;
  for (unsigned i = 0; i < ndevs; i++) up += devs[i].link_up;
  return up;
}

void free_device(Device& d) {
  d.probed_ok = false;  // no more watch callbacks act on it
  d.link_up = false;
  d.rings_fresh = false;
  xbf::remove(d.xb);
  // Requests that never completed fail now, in order.
  recover(d);
  while (Request* r = d.pend_head) {
    d.pend_head = r->next;
    r->front_error = -int(xen::XEN_ENODEV);
    r->status = BLKIF_RSP_ERROR;
    r->done = true;
    if (r->done_fn) r->done_fn(r);
  }
  d.pend_tail = nullptr;
  d.npending = d.ninflight = 0;
  if (d.cache) mm::free_pages(d.cache, kCacheSlots * sizeof(CacheEntry) / mm::kPageSize);
  d.cache = nullptr;
  d.gone = true;
}

void connect_all() {
  // Handshake all of them together, driven by the back-ends' state watches.
  uint64_t deadline = pvclock::now() + 2 * cfg.timeout_ns;
  for (;;) {
    service_xs(false);
    uint64_t now = pvclock::now();
    if (connected_count() == ndevs || now >= deadline) break;
    uint64_t step = deadline - now < kXsPeriodNs ? deadline - now : kXsPeriodNs;
    int rc = xenbus::wait_events(step);
    if (rc == -int(xen::XEN_EIO)) break;
    for (unsigned i = 0; i < ndevs; i++) devs[i].xb.otherend_changed = true;  // re-read on every pass
  }
}

}  // namespace blkfront
