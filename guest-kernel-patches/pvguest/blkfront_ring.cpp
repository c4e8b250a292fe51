// pvguest: blkfront's rings: shadow slots, the pending list, building ring
// requests (direct, indirect, flush, discard), pushing them, and consuming
// and checking responses. See blkfront_internal.h.
#include "arch.h"
#include "blkfront_internal.h"
#include "console.h"
#include "events.h"
#include "mm.h"

namespace blkfront {
namespace {

Request* pend_pop(Device& d) {
  Request* r = d.pend_head;
  d.pend_head = r->next;
  if (!d.pend_head) d.pend_tail = nullptr;
  d.npending--;
  return r;
}

// A free shadow entry of `q` (room was checked) for a ring request of `r`.
Shadow& claim_slot(Queue& q, Request* r, uint32_t& id) {
  id = get_slot(q);
  Shadow& s = q.shadow[id];
  s.kind = kNormal;
  s.req = r;
  s.nsegs = 0;
  s.temp_any = false;
  return s;
}

// A flush or discard: one ring request without segments.
void build_control(Device& d, Queue& q, Request* r) {
  uint32_t id;
  Shadow& s = claim_slot(q, r, id);
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
}

// The header of a read/write ring request, direct or indirect (the
// segments are in place).
void fill_rw_header(Device& d, Queue& q, const Shadow& s, uint32_t id, bool indirect, uint8_t rw, unsigned nsegs,
                    uint64_t frag_sector) {
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
}

// A read or write, split into `nfrags` ring requests.
bool build_rw(Device& d, Queue& q, Request* r, unsigned nfrags) {
  const RING_IDX start = q.ring.req_prod_pvt;
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
    uint32_t id;
    Shadow& s = claim_slot(q, r, id);
    s.op = indirect ? BLKIF_OP_INDIRECT : rw;
    s.inner_op = rw;
    if (nbuilt < 64) built[nbuilt] = id;
    nbuilt++;
    blkif_request_segment* segs;
    grant_ref_t* refs;
    if (indirect) {
      if (!indirect_pages(d, s)) goto fail;
      segs = s.ind;
      refs = s.priv;
    } else {
      segs = q.ring.next_request().seg;
      refs = s.dref;
    }
    uint64_t frag_sector = sector;
    if (!grant_segments(d, s, segs, refs, nsegs, ro, addr, left, sector)) goto fail;
    fill_rw_header(d, q, s, id, indirect, rw, nsegs, frag_sector);
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

// Takes the response `v` off ring `q`: checks it against its shadow entry,
// revokes the temporary grants and frees the slot. Returns 1 when it
// completed a Request (appended to the done list) or a raw request.
unsigned take_response(Device& d, Queue& q, const volatile blkif_response& v, Request**& done_tail) {
  const uint64_t id = v.id;
  const uint8_t op = v.operation;
  int16_t status = v.status;
  if (id >= q.nshadow || q.shadow[id].kind == kFree) {
    if (d.st.bad_responses++ < 8)
      con::printf("BLKFRONT vbd %u: response for unknown id %lu dropped\n", d.info.handle, id);
    return 0;
  }
  Shadow& s = q.shadow[id];
  if (s.kind == kRaw) {
    s.raw_status = status;
    s.raw_op = op;
    s.raw_done = true;
    put_slot(q, uint32_t(id));
    return 1;
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
    return 1;
  }
  return 0;
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
    for (RING_IDX i = q.ring.rsp_cons; i != rp; i++) n += take_response(d, q, q.ring.slot(i).rsp, done_tail);
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

}  // namespace

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

void pend_push_back(Device& d, Request* r) {
  r->next = nullptr;
  if (d.pend_tail) d.pend_tail->next = r;
  else d.pend_head = r;
  d.pend_tail = r;
  d.npending++;
}

bool build(Device& d, Queue& q, Request* r, unsigned nfrags) {
  r->frags_left = uint16_t(nfrags);
  r->issues++;
  if (r->op == kFlush || r->op == kDiscard) {
    build_control(d, q, r);
    return true;
  }
  return build_rw(d, q, r, nfrags);
}

Queue* pick_queue(Device& d, unsigned need) {
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

}  // namespace blkfront
