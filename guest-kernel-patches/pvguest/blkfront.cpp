// pvguest: block front-end (Linux xen-blkfront's protocol, freestanding).
//
// Per device: 1..kMaxQueues rings (Linux's blkfront_ring_info), each with
// its event channel and shadow[] (one entry per ring slot, free list
// through next_free). Per ring request the shadow keeps what completion and
// recovery need: the owning Request, the operation, and the grant refs
// that must be revoked (temporary grants) - never read back from memory
// the back-end can write.
//
// Grants for data pages: with persistent grants negotiated, a page is
// granted read-write once and the reference is kept in a per-device cache
// keyed by frame (zero copy: callers reuse their buffers, so the back-end
// keeps the same few grants mapped). Otherwise (or when the cache is full)
// each segment gets a temporary grant - read-only for writes - revoked at
// completion; one still held by the back-end is kept in the cache (it chose
// to make it persistent) or leaked, never reused.
#include "blkfront.h"

#include <xen/io/xenbus.h>
#include <xen/sched.h>

#include "arch.h"
#include "console.h"
#include "events.h"
#include "grant.h"
#include "hypercall.h"
#include "kernel.h"
#include "lib.h"
#include "mm.h"
#include "pvtime.h"
#include "xenbus.h"
#include "xenbus_front.h"

namespace blkfront {
namespace {
using namespace xen::blkif;
using xen::grant_ref_t;
using xen::ring::RING_IDX;
namespace XB = xen::xenbus;

constexpr uint32_t kNoSlot = 0xffffffffu;
constexpr uint32_t kTempBit = 0x80000000u;  // in Shadow refs: a temporary grant
constexpr int16_t kStatusLost = -100;       // raw request dropped by a reconnection
constexpr uint64_t kXsPeriodNs = 500000000ull;
constexpr unsigned kCacheSlots = 4096;      // grant cache: open addressing
constexpr unsigned kCacheMax = 2048;        // entries (load <= 1/2)

enum Kind : uint8_t { kFree, kNormal, kRaw };

struct Shadow {
  Request* req;
  uint32_t next_free;
  uint8_t kind;
  uint8_t op;        // ring operation
  uint8_t inner_op;  // indirect: READ / WRITE
  bool temp_any;     // some ref in refs() is temporary
  uint16_t nsegs;
  volatile bool raw_done;
  int16_t raw_status;
  uint8_t raw_op;
  blkif_request_segment* ind;  // indirect page, granted to the back-end
  grant_ref_t ind_ref;
  grant_ref_t* priv;           // private page: refs of an indirect request
  grant_ref_t dref[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

struct Queue {
  FrontRing ring;
  void* ring_mem;
  unsigned ring_pages;
  grant_ref_t ring_refs[kMaxRingPages];
  xen::evtchn_port_t port;
  Shadow* shadow;
  unsigned nshadow;
  uint32_t free_head;
  unsigned nfree;
  bool dirty;   // requests produced, not pushed
  bool broken;  // break_ring() used it
};

struct CacheEntry {
  uint32_t key;  // gfn + 1; 0 = empty
  grant_ref_t ref;
};

}  // namespace

struct Device {
  xbf::Device xb;
  Info info;
  Stats st;
  Queue q[kMaxQueues];
  unsigned nq;              // queues set up (0: none)
  bool rings_fresh;         // set up, not yet connected
  bool link_up;             // Connected both ways: requests may go out
  bool ever_connected;
  bool persistent_on;
  bool broken_reported;
  bool probed_ok;           // listed in devs[]: watch events may act on it
  bool warned_indirect_op;
  unsigned written_nq, written_pages;  // keys of the last handshake
  unsigned rr;
  Request* pend_head;
  Request* pend_tail;
  unsigned npending, ninflight;
  uint64_t next_seq;
  CacheEntry* cache;
  unsigned cache_used;
  uint64_t last_xs_ns;
};

namespace {
Config cfg;
Device devs[kMaxDevices];
unsigned ndevs = 0;
bool probed = false;

// ---------------------------------------------------------------- grants

inline unsigned cache_hash(uint32_t key) { return uint32_t(key * 0x9E3779B1u) >> (32 - 12); }
static_assert(kCacheSlots == 1u << 12);

// The cached read-write grant of `gfn`, made on a miss; kInvalidRef when
// the cache (or the grant table) is full.
grant_ref_t cache_get(Device& d, uint64_t gfn) {
  uint32_t key = uint32_t(gfn) + 1;
  for (unsigned h = cache_hash(key);; h = (h + 1) & (kCacheSlots - 1)) {
    CacheEntry& e = d.cache[h];
    if (e.key == key) return e.ref;
    if (e.key == 0) {
      if (d.cache_used >= kCacheMax) return grant::kInvalidRef;
      grant_ref_t ref = grant::gnttab_grant_access(d.info.backend_id, gfn, false);
      if (ref == grant::kInvalidRef) return ref;
      e.ref = ref;
      e.key = key;
      d.cache_used++;
      d.st.cache_grants++;
      return ref;
    }
  }
}

// Adopts a grant the back-end kept mapped (it made it persistent).
bool cache_adopt(Device& d, grant_ref_t ref) {
  if (!d.cache || d.cache_used >= kCacheMax) return false;
  uint32_t key = grant::table()[ref].frame + 1;
  for (unsigned h = cache_hash(key);; h = (h + 1) & (kCacheSlots - 1)) {
    CacheEntry& e = d.cache[h];
    if (e.key == key) return false;  // that frame already has a cached grant
    if (e.key == 0) {
      e.ref = ref;
      e.key = key;
      d.cache_used++;
      return true;
    }
  }
}

void cache_clear(Device& d) {
  if (!d.cache) return;
  for (unsigned i = 0; i < kCacheSlots; i++) {
    CacheEntry& e = d.cache[i];
    if (!e.key) continue;
    if (!grant::gnttab_end_access(e.ref)) d.st.leaked_grants++;
    e.key = 0;
  }
  d.cache_used = 0;
}

// Revokes a temporary grant at completion.
void end_temp(Device& d, grant_ref_t ref) {
  if (grant::gnttab_end_access(ref)) return;
  if (d.persistent_on && cache_adopt(d, ref)) return;
  d.st.leaked_grants++;
}

// ---------------------------------------------------------------- shadows

uint32_t get_slot(Queue& q) {
  uint32_t id = q.free_head;
  q.free_head = q.shadow[id].next_free;
  q.nfree--;
  return id;
}

void put_slot(Queue& q, uint32_t id) {
  Shadow& s = q.shadow[id];
  s.kind = kFree;
  s.req = nullptr;
  s.next_free = q.free_head;
  q.free_head = id;
  q.nfree++;
}

// Revokes the temporary grants of a ring request.
void release_grants(Device& d, Shadow& s) {
  if (!s.temp_any) return;
  const grant_ref_t* refs = s.op == BLKIF_OP_INDIRECT ? s.priv : s.dref;
  for (unsigned i = 0; i < s.nsegs; i++)
    if (refs[i] & kTempBit) end_temp(d, refs[i] & ~kTempBit);
  s.temp_any = false;
}

// ---------------------------------------------------------------- pending list

void pend_push_back(Device& d, Request* r) {
  r->next = nullptr;
  if (d.pend_tail) d.pend_tail->next = r;
  else d.pend_head = r;
  d.pend_tail = r;
  d.npending++;
}

Request* pend_pop(Device& d) {
  Request* r = d.pend_head;
  d.pend_head = r->next;
  if (!d.pend_head) d.pend_tail = nullptr;
  d.npending--;
  return r;
}

// Pages a read/write touches (segments before splitting).
inline unsigned pages_of(const Request* r) {
  uint64_t off = uint64_t(r->buf) & (mm::kPageSize - 1);
  return unsigned((off + r->bytes + mm::kPageSize - 1) >> mm::kPageShift);
}

inline unsigned frags_of(const Device& d, const Request* r) {
  if (r->op == kFlush || r->op == kDiscard) return 1;
  unsigned p = pages_of(r);
  return (p + d.info.max_segs - 1) / d.info.max_segs;
}

// ---------------------------------------------------------------- issuing

// Builds the ring requests of `r` on `q` (room was checked). False when a
// grant could not be had: everything built for `r` is undone (nothing was
// published) and it stays at the head of the pending list.
bool build(Device& d, Queue& q, Request* r, unsigned nfrags) {
  const RING_IDX start = q.ring.req_prod_pvt;
  r->frags_left = uint16_t(nfrags);
  r->issues++;
  if (r->op == kFlush || r->op == kDiscard) {
    uint32_t id = get_slot(q);
    Shadow& s = q.shadow[id];
    s.kind = kNormal;
    s.req = r;
    s.nsegs = 0;
    s.temp_any = false;
    blkif_request& rq = q.ring.next_request();
    if (r->op == kFlush) {
      s.op = BLKIF_OP_FLUSH_DISKCACHE;
      rq.operation = BLKIF_OP_FLUSH_DISKCACHE;
      rq.nr_segments = 0;
      rq.handle = d.info.handle;
      rq.id = id;
      rq.sector_number = 0;
    } else {
      s.op = BLKIF_OP_DISCARD;
      auto& dq = reinterpret_cast<blkif_request_discard&>(rq);
      dq.operation = BLKIF_OP_DISCARD;
      dq.flag = r->secure ? BLKIF_DISCARD_SECURE : 0;
      dq.handle = d.info.handle;
      dq.id = id;
      dq.sector_number = r->sector;
      dq.nr_sectors = r->nr_sectors;
    }
    q.ring.req_prod_pvt++;
    d.st.ring_requests++;
    return true;
  }

  const uint8_t rw = r->op == kWrite ? BLKIF_OP_WRITE : BLKIF_OP_READ;
  const bool ro = r->op == kWrite && !d.persistent_on;  // back-end only reads the page
  uint64_t addr = uint64_t(r->buf);
  uint64_t left = r->bytes;
  uint64_t sector = r->sector;
  uint32_t built[64];  // shadow ids of this request (nfrags <= ring size; rollback only)
  unsigned nbuilt = 0;
  for (unsigned f = 0; f < nfrags; f++) {
    uint64_t off = addr & (mm::kPageSize - 1);
    unsigned npages = unsigned((off + left + mm::kPageSize - 1) >> mm::kPageShift);
    unsigned nsegs = npages < d.info.max_segs ? npages : d.info.max_segs;
    const bool indirect = nsegs > BLKIF_MAX_SEGMENTS_PER_REQUEST;
    uint32_t id = get_slot(q);
    Shadow& s = q.shadow[id];
    s.kind = kNormal;
    s.req = r;
    s.nsegs = 0;
    s.temp_any = false;
    s.op = indirect ? BLKIF_OP_INDIRECT : rw;
    s.inner_op = rw;
    if (nbuilt < 64) built[nbuilt] = id;
    nbuilt++;
    blkif_request_segment* segs;
    grant_ref_t* refs;
    if (indirect) {
      if (!s.ind) {
        s.ind = static_cast<blkif_request_segment*>(mm::alloc_page());
        s.priv = static_cast<grant_ref_t*>(mm::alloc_pages(1, mm::kNoZero));
        s.ind_ref = s.ind ? grant::gnttab_grant_access(d.info.backend_id, mm::gfn(s.ind), !d.persistent_on)
                          : grant::kInvalidRef;
      }
      if (!s.ind || !s.priv || s.ind_ref == grant::kInvalidRef) goto fail;
      segs = s.ind;
      refs = s.priv;
    } else {
      segs = q.ring.next_request().seg;
      refs = s.dref;
    }
    uint64_t frag_sector = sector;
    for (unsigned i = 0; i < nsegs; i++) {
      uint64_t off2 = addr & (mm::kPageSize - 1);
      uint64_t len = mm::kPageSize - off2;
      if (len > left) len = left;
      uint64_t gfn = addr >> mm::kPageShift;
      grant_ref_t ref = d.persistent_on ? cache_get(d, gfn) : grant::kInvalidRef;
      if (ref == grant::kInvalidRef) {
        ref = grant::gnttab_grant_access(d.info.backend_id, gfn, ro);
        if (ref == grant::kInvalidRef) {
          s.nsegs = uint16_t(i);
          goto fail;
        }
        refs[i] = ref | kTempBit;
        s.temp_any = true;
        d.st.temp_grants++;
      } else {
        refs[i] = ref;
      }
      uint8_t first = uint8_t(off2 >> kSectorShift);
      segs[i] = blkif_request_segment{ref, first, uint8_t(first + (len >> kSectorShift) - 1), 0};
      addr += len;
      left -= len;
      sector += len >> kSectorShift;
    }
    s.nsegs = uint16_t(nsegs);
    blkif_request& rq = q.ring.next_request();
    if (indirect) {
      auto& iq = reinterpret_cast<blkif_request_indirect&>(rq);
      iq.operation = BLKIF_OP_INDIRECT;
      iq.indirect_op = rw;
      iq.nr_segments = uint16_t(nsegs);
      iq.id = id;
      iq.sector_number = frag_sector;
      iq.handle = d.info.handle;
      iq.indirect_grefs[0] = s.ind_ref;
    } else {
      rq.operation = rw;
      rq.nr_segments = uint8_t(nsegs);
      rq.handle = d.info.handle;
      rq.id = id;
      rq.sector_number = frag_sector;
    }
    q.ring.req_prod_pvt++;
  }
  d.st.ring_requests += nfrags;
  return true;

fail:
  // Nothing of `r` was published: revoke its temporary grants (the back-end
  // never saw them) and give the slots back.
  for (unsigned i = 0; i < nbuilt && i < 64; i++) {
    release_grants(d, q.shadow[built[i]]);
    put_slot(q, built[i]);
  }
  q.ring.req_prod_pvt = start;
  r->issues--;
  return false;
}

void complete(Device& d, Request* r, Request**& done_tail) {
  r->done = true;
  d.ninflight--;
  d.st.completed++;
  r->next = nullptr;
  *done_tail = r;
  done_tail = &r->next;
}

// Completes the head of the pending list with a front-end error.
void fail_head(Device& d, int err) {
  Request* r = pend_pop(d);
  r->front_error = err;
  r->status = BLKIF_RSP_ERROR;
  r->done = true;
  d.ninflight--;
  d.st.completed++;
  if (r->done_fn) r->done_fn(r);
}

// The next queue (round-robin) with room for `need` ring requests.
inline Queue* pick_queue(Device& d, unsigned need) {
  unsigned qi = d.rr;
  for (unsigned k = 0; k < d.nq; k++) {
    Queue& q = d.q[qi];
    if (++qi == d.nq) qi = 0;
    if (!q.broken && q.nfree >= need) {
      d.rr = qi;
      return &q;
    }
  }
  return nullptr;
}

// Moves pending requests onto the rings while they have room.
void issue(Device& d) {
  if (!d.link_up) return;
  while (d.pend_head) {
    Request* r = d.pend_head;
    const unsigned need = r->nfrags;
    if (need > 64 || need > d.info.ring_size) {  // limits shrank on a reconnection
      fail_head(d, -int(xen::XEN_E2BIG));
      continue;
    }
    Queue* target = pick_queue(d, need);
    if (!target) return;  // wait for completions
    if (!build(d, *target, r, need)) {
      if (d.ninflight - d.npending > 0) return;  // grants come back with completions
      fail_head(d, -int(xen::XEN_ENOSPC));
      continue;
    }
    target->dirty = true;
    pend_pop(d);
  }
}

void push_all(Device& d) {
  for (unsigned i = 0; i < d.nq; i++) {
    Queue& q = d.q[i];
    if (!q.dirty) continue;
    q.dirty = false;
    if (q.ring.push_requests()) {
      evt::send(q.port);
      d.st.notifies++;
    }
  }
}

// Consumes the responses of one queue; completed Requests are appended to
// the done list. Returns completions (Requests and raw requests).
unsigned consume(Device& d, Queue& q, Request**& done_tail) {
  if (!q.ring.valid() || q.broken) return 0;
  unsigned n = 0;
  for (;;) {
    const RING_IDX rp = xen::ring::load_idx(&q.ring.header()->rsp_prod);
    if (rp - q.ring.rsp_cons > q.ring.size() || rp - q.ring.rsp_cons > q.ring.req_prod_pvt - q.ring.rsp_cons) {
      if (!d.broken_reported)
        con::printf("BLKFRONT vbd %u: illegal number of responses (rsp_prod %u, rsp_cons %u, req_prod %u)\n",
                    d.info.handle, rp, q.ring.rsp_cons, q.ring.req_prod_pvt);
      d.broken_reported = true;
      d.st.bad_responses++;
      return n;
    }
    if (rp == q.ring.rsp_cons) return n;
    for (RING_IDX i = q.ring.rsp_cons; i != rp; i++) {
      const volatile blkif_response& v = q.ring.slot(i).rsp;
      const uint64_t id = v.id;
      const uint8_t op = v.operation;
      int16_t status = v.status;
      if (id >= q.nshadow || q.shadow[id].kind == kFree) {
        if (d.st.bad_responses++ < 8)
          con::printf("BLKFRONT vbd %u: response for unknown id %lu dropped\n", d.info.handle, id);
        continue;
      }
      Shadow& s = q.shadow[id];
      if (s.kind == kRaw) {
        s.raw_status = status;
        s.raw_op = op;
        s.raw_done = true;
        put_slot(q, uint32_t(id));
        n++;
        continue;
      }
      if (s.op == BLKIF_OP_INDIRECT && op == BLKIF_OP_INDIRECT && !d.warned_indirect_op) {
        // Accepted, but Linux's blkfront (since 2021) insists on the inner
        // operation, as Linux's blkback sends it.
        d.warned_indirect_op = true;
        con::printf("BLKFRONT vbd %u: back-end answers indirect requests with operation %u, not the inner "
                    "operation %u (Linux's xen-blkfront would reject that)\n",
                    d.info.handle, op, s.inner_op);
      }
      if (op != s.op && !(s.op == BLKIF_OP_INDIRECT && op == s.inner_op)) {
        if (d.st.bad_responses++ < 8)
          con::printf("BLKFRONT vbd %u: response id %lu has operation %u, request had %u\n", d.info.handle, id,
                      op, s.op);
        status = BLKIF_RSP_ERROR;
      }
      if (status != BLKIF_RSP_OKAY && status != BLKIF_RSP_ERROR && status != BLKIF_RSP_EOPNOTSUPP)
        status = BLKIF_RSP_ERROR;
      Request* r = s.req;
      release_grants(d, s);
      put_slot(q, uint32_t(id));
      if (status != BLKIF_RSP_OKAY && r->status == BLKIF_RSP_OKAY) r->status = status;
      if (--r->frags_left == 0) {
        complete(d, r, done_tail);
        n++;
      }
    }
    arch::mb();  // done with the slots before the back-end may reuse them
    q.ring.rsp_cons = rp;
  }
}

void run_callbacks(Request* head) {
  while (head) {
    Request* next = head->next;
    if (head->done_fn) head->done_fn(head);
    head = next;
  }
}

unsigned poll_queues(Device& d) {
  Request* done = nullptr;
  Request** tail = &done;
  unsigned n = 0;
  for (unsigned i = 0; i < d.nq; i++) n += consume(d, d.q[i], tail);
  if (d.pend_head) issue(d);
  push_all(d);
  run_callbacks(done);
  return n;
}

// ---------------------------------------------------------------- handshake

void free_queue(Device& d, Queue& q) {
  if (q.shadow) {
    for (unsigned i = 0; i < q.nshadow; i++) {
      Shadow& s = q.shadow[i];
      release_grants(d, s);
      if (s.ind) {
        if (s.ind_ref == grant::kInvalidRef || grant::gnttab_end_access(s.ind_ref)) mm::free_page(s.ind);
        else d.st.leaked_grants++;  // still mapped: leak the page with its grant
      }
      if (s.priv) mm::free_page(s.priv);
    }
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
  if (d.persistent_on && !d.cache) {
    d.cache = static_cast<CacheEntry*>(mm::alloc_pages(kCacheSlots * sizeof(CacheEntry) / mm::kPageSize));
    if (!d.cache) d.persistent_on = in.persistent = false;
  }
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

bool parse_num(const char*& p, const char* end, uint64_t& v) {
  const char* s = p;
  while (p < end && *p >= '0' && *p <= '9') p++;
  return lib::parse_u64(s, size_t(p - s), v);
}
}  // namespace

// ---------------------------------------------------------------- public

Config& config() { return cfg; }

bool parse_config(const char* s, size_t len) {
  const char* end = s + len;
  const char* p = s;
  while (p < end) {
    const char* key = p;
    while (p < end && *p != ':' && *p != ',') p++;
    size_t klen = size_t(p - key);
    uint64_t v = 0;
    bool has_v = p < end && *p == ':';
    if (has_v) {
      p++;
      if (!parse_num(p, end, v)) goto bad;
    }
    auto is = [&](const char* k) { return strlen(k) == klen && memcmp(key, k, klen) == 0; };
    if (is("queues") && has_v && v >= 1 && v <= kMaxQueues) cfg.max_queues = unsigned(v);
    else if (is("order") && has_v && v <= xen::blkif::kMaxRingPageOrder) cfg.max_ring_order = unsigned(v);
    else if (is("indirect") && has_v && v <= kMaxIndirectSegs) cfg.max_indirect = unsigned(v);
    else if (is("persistent") && has_v && v <= 1) cfg.persistent = v == 1;
    else if (is("timeout") && has_v && v >= 1) cfg.timeout_ns = v * 1000000000ull;
    else if (is("verbose") && !has_v) cfg.verbose = true;
    else goto bad;
    if (p < end && *p != ',') goto bad;
    if (p < end) p++;
  }
  return true;
bad:
  con::printf("BLKFRONT bad blkfront= option at '%s'\n", p < end ? p : "end");
  return false;
}

unsigned probe_all() {
  if (probed) {
    unsigned up = 0;
    for (unsigned i = 0; i < ndevs; i++) up += devs[i].link_up;
    return up;
  }
  probed = true;
  if (!xenbus::init()) {
    con::printf("BLKFRONT no xenstore: no block devices\n");
    return 0;
  }
  static char names[1024];
  unsigned n = 0;
  int rc = xenbus::directory("device/vbd", names, sizeof names, &n);
  if (rc == -int(xen::XEN_ENOENT) || (rc == 0 && n == 0)) {
    con::printf("BLKFRONT no block devices\n");
    return 0;
  }
  if (rc) {
    con::printf("BLKFRONT listing device/vbd failed: %s\n", xenbus::error_name(rc));
    return 0;
  }
  const char* name = names;
  for (unsigned i = 0; i < n; i++, name += strlen(name) + 1) {
    uint64_t handle;
    if (!lib::parse_u64(name, strlen(name), handle) || handle > 0xffff) {
      con::printf("BLKFRONT ignoring device/vbd/%s\n", name);
      continue;
    }
    if (ndevs == kMaxDevices) {
      con::printf("BLKFRONT more than %u devices: ignoring device/vbd/%s\n", kMaxDevices, name);
      break;
    }
    Device& d = devs[ndevs];
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
    rc = xbf::probe(d.xb, d.info.nodename);
    if (rc) {
      con::printf("BLKFRONT vbd %u: probe failed: %s\n", d.info.handle, xenbus::error_name(rc));
      xbf::remove(d.xb);
      continue;
    }
    lib::snprintf(d.info.backend, sizeof d.info.backend, "%s", d.xb.otherend);
    d.info.backend_id = d.xb.otherend_id;
    d.next_seq = 1;
    if (d.xb.state != XB::Initialising) xbf::switch_state(d.xb, XB::Initialising);
    d.probed_ok = true;
    ndevs++;
  }
  // Handshake all of them together, driven by the back-ends' state watches.
  uint64_t deadline = pvclock::now() + 2 * cfg.timeout_ns;
  for (;;) {
    service_xs(false);
    unsigned up = 0;
    for (unsigned i = 0; i < ndevs; i++) up += devs[i].link_up;
    uint64_t now = pvclock::now();
    if (up == ndevs || now >= deadline) break;
    uint64_t step = deadline - now < kXsPeriodNs ? deadline - now : kXsPeriodNs;
    rc = xenbus::wait_events(step);
    if (rc == -int(xen::XEN_EIO)) break;
    for (unsigned i = 0; i < ndevs; i++) devs[i].xb.otherend_changed = true;  // re-read on every pass
  }
  unsigned up = 0;
  for (unsigned i = 0; i < ndevs; i++) {
    Device& d = devs[i];
    const Info& in = d.info;
    if (!d.link_up) {
      con::printf("BLKFRONT vbd %u: not connected (back-end %s at %s, front-end %s)\n", in.handle,
                  XB::state_name(d.xb.otherend_state), in.backend, XB::state_name(d.xb.state));
      continue;
    }
    up++;
    con::printf(
        "BLKFRONT vbd %u: connected backend=%s sectors=%lu sector-size=%u physical-sector-size=%u ro=%u "
        "queues=%u ring-pages=%u ring-size=%u indirect=%u persistent=%u flush=%u discard=%u\n",
        in.handle, in.backend, in.sectors, in.sector_size, in.physical_sector_size, in.readonly ? 1u : 0u,
        in.nr_queues, in.ring_pages, in.ring_size, in.max_indirect, in.persistent ? 1u : 0u, in.flush ? 1u : 0u,
        in.discard ? 1u : 0u);
  }
  return up;
}

unsigned count() { return ndevs; }
Device* device(unsigned i) { return i < ndevs ? &devs[i] : nullptr; }
Device* find(uint32_t handle) {
  for (unsigned i = 0; i < ndevs; i++)
    if (devs[i].info.handle == handle) return &devs[i];
  return nullptr;
}
const Info& info(const Device* d) { return d->info; }
const Stats& stats(const Device* d) { return d->st; }
bool connected(const Device* d) { return d->link_up; }
unsigned in_flight(const Device* d) { return d->ninflight; }

int submit(Device* dp, Request* r, bool push_now) {
  Device& d = *dp;
  r->done = false;
  r->status = BLKIF_RSP_OKAY;
  r->front_error = 0;
  r->issues = 0;
  r->frags_left = 0;
  const Info& in = d.info;
  int err = 0;
  if (!d.ever_connected) {
    err = -int(xen::XEN_ENODEV);
  } else if (r->op == kRead || r->op == kWrite) {
    const uint64_t nsec = r->bytes >> kSectorShift;
    if (!r->bytes || (r->bytes & (in.sector_size - 1)) || (uint64_t(r->buf) & ((1u << kSectorShift) - 1)) ||
        (in.sector_size > 512 && r->sector % (in.sector_size >> kSectorShift)))
      err = -int(xen::XEN_EINVAL);
    else if (r->sector > in.sectors || nsec > in.sectors - r->sector)
      err = -int(xen::XEN_EINVAL);  // beyond the end (Linux: bio_check_eod)
    else if (r->op == kWrite && in.readonly)
      err = -int(xen::XEN_EACCES);
    else if ((r->nfrags = uint16_t(frags_of(d, r))) > in.ring_size || r->nfrags > 64)
      err = -int(xen::XEN_E2BIG);
  } else if (r->op == kFlush) {
    r->nfrags = 1;
    if (!in.flush) err = -int(xen::XEN_EOPNOTSUPP);
  } else if (r->op == kDiscard) {
    r->nfrags = 1;
    if (!in.discard || (r->secure && !in.discard_secure)) err = -int(xen::XEN_EOPNOTSUPP);
    else if (in.readonly) err = -int(xen::XEN_EACCES);
    else if (!r->nr_sectors || r->sector > in.sectors || r->nr_sectors > in.sectors - r->sector)
      err = -int(xen::XEN_EINVAL);
  } else {
    err = -int(xen::XEN_EINVAL);
  }
  if (err) {
    r->front_error = err;
    r->status = err == -int(xen::XEN_EOPNOTSUPP) ? BLKIF_RSP_EOPNOTSUPP : BLKIF_RSP_ERROR;
    r->done = true;
    if (r->done_fn) r->done_fn(r);
    return err;
  }
  r->seq = d.next_seq++;
  d.st.submitted++;
  d.ninflight++;
  // Nothing queued ahead of it: straight onto a ring if one has room.
  Queue* q;
  if (!d.pend_head && d.link_up && r->nfrags <= 64 && (q = pick_queue(d, r->nfrags)) && build(d, *q, r, r->nfrags)) {
    q->dirty = true;
  } else {
    pend_push_back(d, r);
    issue(d);
  }
  if (push_now) push_all(d);
  return 0;
}

void push(Device* d) { push_all(*d); }

unsigned poll(Device* d) { return poll_queues(*d); }

// The clock is read only when there is nothing to consume (one pvclock read
// is ~50 emulated instructions, tens of microseconds here).
unsigned wait(Device* dp, uint64_t timeout_ns) {
  Device& d = *dp;
  unsigned n = poll_queues(d);
  if (n) return n;
  uint64_t now = pvclock::now();
  const uint64_t deadline = now + timeout_ns;
  xen::evtchn_port_t ports[kMaxQueues + 1];
  for (;;) {
    bool periodic = now - d.last_xs_ns >= kXsPeriodNs;
    if (periodic) d.last_xs_ns = now;
    service_xs(periodic);
    if ((n = poll_queues(d)) != 0) return n;
    if (now >= deadline) return 0;
    // Arm: clear the ports, then make the back-end notify us for the next
    // response (RING_FINAL_CHECK_FOR_RESPONSES), then sleep.
    unsigned np = 0;
    bool ready = false;
    if (d.link_up) {
      for (unsigned i = 0; i < d.nq; i++) {
        Queue& q = d.q[i];
        if (q.broken) continue;
        arch::test_and_clear_bit(q.port, k::shinfo->evtchn_pending);
        ports[np++] = q.port;
      }
      arch::mb();
      for (unsigned i = 0; i < d.nq; i++)
        if (!d.q[i].broken && d.q[i].ring.final_check_for_responses()) ready = true;
    }
    xen::evtchn_port_t sp = xbf::store_port();
    if (sp && evt::is_pending(sp)) ready = true;  // served at the top
    if (!ready) {
      if (sp) ports[np++] = sp;
      uint64_t until = d.last_xs_ns + kXsPeriodNs;
      if (until > deadline) until = deadline;
      xen::sched::poll p{uint64_t(ports), np, 0, until};
      d.st.sleeps++;
      hv::sched_op(xen::sched::op::poll, &p);
    }
    if ((n = poll_queues(d)) != 0) return n;
    now = pvclock::now();
  }
}

int16_t sync(Device* d, Request* r, uint64_t timeout_ns) {
  if (submit(d, r) != 0) return r->status;
  uint64_t deadline = pvclock::now() + timeout_ns;
  while (!r->done) {
    uint64_t now = pvclock::now();
    if (now >= deadline) return kStatusLost;
    wait(d, deadline - now);
  }
  return r->front_error ? (r->status ? r->status : BLKIF_RSP_ERROR) : r->status;
}

int raw_request(Device* dp, unsigned qi, const blkif_request& req, int16_t& status, uint8_t& rsp_op,
                uint64_t timeout_ns) {
  Device& d = *dp;
  if (!d.link_up || qi >= d.nq || d.q[qi].broken) return -int(xen::XEN_ENODEV);
  Queue& q = d.q[qi];
  const uint64_t deadline = pvclock::now() + timeout_ns;
  while (q.nfree == 0) {
    uint64_t now = pvclock::now();
    if (now >= deadline || !d.link_up) return -int(xen::XEN_ETIMEDOUT);
    wait(dp, deadline - now);
  }
  uint32_t id = get_slot(q);
  Shadow& s = q.shadow[id];
  s.kind = kRaw;
  s.req = nullptr;
  s.raw_done = false;
  s.temp_any = false;
  s.nsegs = 0;
  blkif_request& rq = q.ring.next_request();
  mm::copy_words(&rq, &req, sizeof rq);
  rq.id = id;
  q.ring.req_prod_pvt++;
  q.dirty = true;
  d.st.ring_requests++;
  push_all(d);
  while (!s.raw_done) {
    uint64_t now = pvclock::now();
    if (now >= deadline) return -int(xen::XEN_ETIMEDOUT);
    wait(dp, deadline - now);
  }
  status = s.raw_status;
  rsp_op = s.raw_op;
  return status == kStatusLost ? -int(xen::XEN_ENODEV) : 0;
}

int break_ring(Device* dp, unsigned qi) {
  Device& d = *dp;
  if (qi >= d.nq || !d.q[qi].ring.valid()) return -int(xen::XEN_ENODEV);
  Queue& q = d.q[qi];
  q.broken = true;
  xen::ring::store_idx(&q.ring.header()->req_prod, q.ring.rsp_cons + 16 * q.ring.size());
  xen::ring::full_barrier();
  evt::send(q.port);
  return 0;
}

uint32_t backend_state(Device* d) {
  d->xb.otherend_changed = true;
  backend_changed(*d);
  return d->xb.otherend_state;
}

bool wait_backend(Device* dp, uint32_t mask, uint64_t timeout_ns) {
  Device& d = *dp;
  const uint64_t deadline = pvclock::now() + timeout_ns;
  for (;;) {
    service_xs(false);
    if (mask & xbf::state_bit(d.xb.otherend_state)) return true;
    uint64_t now = pvclock::now();
    if (now >= deadline) return false;
    uint64_t step = deadline - now < kXsPeriodNs ? deadline - now : kXsPeriodNs;
    int rc = xenbus::wait_events(step);
    if (rc == -int(xen::XEN_EIO)) return false;
    if (rc == 0 || rc == -int(xen::XEN_ETIMEDOUT)) d.xb.otherend_changed = true;  // re-read now and then
  }
}

}  // namespace blkfront
