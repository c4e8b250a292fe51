// pvguest: `blkhostile` - forged blkif requests against the back-end.
//
// After a normal connection, each check puts one bad request on queue 0 and
// expects a response with BLKIF_RSP_ERROR (or BLKIF_RSP_EOPNOTSUPP); the
// device must keep working (a valid read before and after). Last, queue
// nq-1 gets a req_prod far beyond its ring: the back-end must disconnect
// the device (state Closing or Closed) while this domain keeps running.
#include "blkfront.h"

#include <stdarg.h>
#include <xen/io/xenbus.h>
#include <xen/memory.h>

#include "console.h"
#include "grant.h"
#include "hypercall.h"
#include "lib.h"
#include "mm.h"
#include "modes.h"
#include "pvtime.h"
#include "xenbus_front.h"

namespace {
using namespace xen::blkif;
using blkfront::Device;
using xen::grant_ref_t;

constexpr uint64_t kTimeoutNs = 10000000000ull;

struct Hostile {
  Device* d;
  uint16_t handle;
  unsigned pass = 0, fail = 0;

  // Sends `rq` on queue 0; ok if the response status is an error.
  void expect_error(const char* name, blkif_request& rq) {
    int16_t status = 0;
    uint8_t op = 0;
    int rc = blkfront::raw_request(d, 0, rq, status, op, kTimeoutNs);
    if (rc) {
      fail++;
      con::printf("BLKHOSTILE %s FAIL (status=%s)\n", name, rc == -int(xen::XEN_ETIMEDOUT) ? "timeout" : "lost");
      return;
    }
    bool ok = status == BLKIF_RSP_ERROR || status == BLKIF_RSP_EOPNOTSUPP;
    (ok ? pass : fail)++;
    con::printf("BLKHOSTILE %s %s (status=%d)\n", name, ok ? "ok" : "FAIL", status);
  }

  void result(const char* name, bool ok, const char* fmt, ...) __attribute__((format(printf, 4, 5))) {
    char buf[160];
    va_list ap;
    va_start(ap, fmt);
    lib::vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    (ok ? pass : fail)++;
    con::printf("BLKHOSTILE %s %s (%s)\n", name, ok ? "ok" : "FAIL", buf);
  }

  blkif_request rw(uint8_t op, uint64_t sector, uint8_t nsegs, grant_ref_t ref, uint8_t first = 0,
                   uint8_t last = 7) {
    blkif_request rq{};
    rq.operation = op;
    rq.nr_segments = nsegs;
    rq.handle = handle;
    rq.sector_number = sector;
    for (unsigned i = 0; i < nsegs && i < BLKIF_MAX_SEGMENTS_PER_REQUEST; i++)
      rq.seg[i] = blkif_request_segment{ref, first, last, 0};
    return rq;
  }

  blkif_request indirect(uint8_t op, uint64_t sector, uint16_t nsegs, const grant_ref_t* pages, unsigned npages) {
    blkif_request rq{};
    auto& iq = reinterpret_cast<blkif_request_indirect&>(rq);
    iq.operation = BLKIF_OP_INDIRECT;
    iq.indirect_op = op;
    iq.nr_segments = nsegs;
    iq.sector_number = sector;
    iq.handle = handle;
    for (unsigned i = 0; i < npages && i < BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST; i++) iq.indirect_grefs[i] = pages[i];
    return rq;
  }

  bool valid_read(const char* name) {
    void* buf = mm::alloc_page();
    blkfront::Request r;
    r.op = blkfront::kRead;
    r.sector = 0;
    r.buf = buf;
    r.bytes = 4096;
    int16_t st = blkfront::sync(d, &r, kTimeoutNs);
    mm::free_page(buf);
    result(name, st == BLKIF_RSP_OKAY, "status=%d", st);
    return st == BLKIF_RSP_OKAY;
  }
};

void end_or_report(grant_ref_t ref, const char* what) {
  if (ref != grant::kInvalidRef && !grant::gnttab_end_access(ref))
    con::printf("BLKHOSTILE note: back-end still holds the %s grant %u (leaked)\n", what, ref);
}

// The references run_blkhostile() made for the checks.
struct Grants {
  grant_ref_t rw_ref, ro_ref, foreign_ref, unused_ref;
};

// Direct requests with bad references or segments.
void segment_checks(Hostile& h, const Grants& g) {
  const grant_ref_t rw_ref = g.rw_ref;
  blkif_request rq;
  rq = h.rw(BLKIF_OP_READ, 0, 1, 0x7ffffff0u);
  h.expect_error("bad_gref", rq);
  rq = h.rw(BLKIF_OP_READ, 0, 1, g.unused_ref);
  h.expect_error("ungranted_gref", rq);
  rq = h.rw(BLKIF_OP_READ, 0, 1, g.foreign_ref);
  h.expect_error("gref_for_other_domain", rq);
  rq = h.rw(BLKIF_OP_READ, 0, 1, g.ro_ref);
  h.expect_error("readonly_gref_for_read", rq);
  rq = h.rw(BLKIF_OP_READ, 0, 1, rw_ref, 3, 2);
  h.expect_error("first_sect_gt_last_sect", rq);
  rq = h.rw(BLKIF_OP_READ, 0, 1, rw_ref, 0, 8);
  h.expect_error("last_sect_8", rq);
  rq = h.rw(BLKIF_OP_READ, 0, 0, rw_ref);
  h.expect_error("nr_segments_0", rq);
  rq = h.rw(BLKIF_OP_READ, 0, BLKIF_MAX_SEGMENTS_PER_REQUEST, rw_ref);
  rq.nr_segments = BLKIF_MAX_SEGMENTS_PER_REQUEST + 1;
  h.expect_error("nr_segments_12", rq);
  rq = h.rw(BLKIF_OP_READ, 0, 1, rw_ref);
  rq.nr_segments = 255;
  h.expect_error("nr_segments_255", rq);
}

// A frame given back to the host (ballooned out), then granted: the
// back-end must refuse the grant (pv-backd: GNTST_bad_page) rather than
// write into the hole. The frame is populated again afterwards.
void ballooned_frame_check(Hostile& h, xen::domid_t be) {
  void* page = mm::alloc_page();
  if (!page) return h.result("ballooned_frame_gref", false, "no page");
  xen::xen_pfn_t gfn = mm::gfn(page);
  xen::mem::memory_reservation r{uint64_t(&gfn), 1, 0, 0, xen::DOMID_SELF};
  if (hv::memory_op(xen::mem::op::decrease_reservation, &r) != 1) {
    mm::free_page(page);
    return h.result("ballooned_frame_gref", false, "decrease_reservation refused the page");
  }
  grant_ref_t ref = grant::gnttab_grant_access(be, gfn, false);
  blkif_request rq = h.rw(BLKIF_OP_READ, 0, 1, ref);
  h.expect_error("ballooned_frame_gref", rq);
  end_or_report(ref, "ballooned-out frame");
  if (hv::memory_op(xen::mem::op::populate_physmap, &r) != 1)
    return h.result("ballooned_frame_populated_again", false, "populate_physmap refused it");
  mm::free_page(page);
}

// Indirect: more segments than offered; a bad indirect page reference.
void indirect_checks(Hostile& h, const blkfront::Info& in, void* ind_pages, grant_ref_t rw_ref,
                     grant_ref_t (&ind_refs)[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST]) {
  const xen::domid_t be = in.backend_id;
  blkif_request rq;
  const uint64_t offered = xbf::read_unsigned(in.backend, "feature-max-indirect-segments", 0);
  if (offered) {
    uint64_t n = offered + 1;
    unsigned npages = unsigned((n + kSegsPerIndirectFrame - 1) / kSegsPerIndirectFrame);
    if (npages <= BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST && n <= 0xffff) {
      auto* segs = static_cast<blkif_request_segment*>(ind_pages);
      for (uint64_t i = 0; i < n; i++) segs[i] = blkif_request_segment{rw_ref, 0, 7, 0};
      for (unsigned i = 0; i < npages; i++)
        ind_refs[i] = grant::gnttab_grant_access(be, mm::gfn(ind_pages) + i, true);
      rq = h.indirect(BLKIF_OP_READ, 0, uint16_t(n), ind_refs, npages);
      h.expect_error("indirect_too_many_segments", rq);
    } else {
      con::printf("BLKHOSTILE indirect_too_many_segments skip (offered %lu)\n", offered);
    }
    grant_ref_t bad = 0x7ffffff0u;
    rq = h.indirect(BLKIF_OP_READ, 0, 1, &bad, 1);
    h.expect_error("indirect_bad_page_gref", rq);
    rq = h.indirect(BLKIF_OP_READ, 0, 0, ind_refs, 1);
    if (ind_refs[0] != grant::kInvalidRef) h.expect_error("indirect_nr_segments_0", rq);
  } else {
    grant_ref_t ref = grant::gnttab_grant_access(be, mm::gfn(ind_pages), true);
    static_cast<blkif_request_segment*>(ind_pages)[0] = blkif_request_segment{rw_ref, 0, 7, 0};
    rq = h.indirect(BLKIF_OP_READ, 0, 1, &ref, 1);
    h.expect_error("indirect_not_offered", rq);
    end_or_report(ref, "indirect page");
  }
}

// Beyond the end of the disk, a read-only disk, unknown operations, discards.
void end_checks(Hostile& h, const blkfront::Info& in, grant_ref_t rw_ref) {
  const uint64_t end = in.sectors;
  blkif_request rq;
  // Beyond the end of the disk.
  rq = h.rw(BLKIF_OP_READ, end, 1, rw_ref);
  h.expect_error("read_at_end", rq);
  rq = h.rw(BLKIF_OP_READ, end - 4, 1, rw_ref);
  h.expect_error("read_across_end", rq);
  rq = h.rw(BLKIF_OP_READ, ~0ull - 3, 1, rw_ref);
  h.expect_error("read_sector_wraps", rq);
  if (!in.readonly) {
    rq = h.rw(BLKIF_OP_WRITE, end, 1, rw_ref);
    h.expect_error("write_at_end", rq);
  }

  // A read-only disk refuses writes (and discards).
  if (in.readonly) {
    rq = h.rw(BLKIF_OP_WRITE, 0, 1, rw_ref);
    h.expect_error("write_readonly_disk", rq);
  } else {
    con::printf("BLKHOSTILE write_readonly_disk skip (disk is writable)\n");
  }

  // Unknown operations.
  rq = h.rw(200, 0, 1, rw_ref);
  h.expect_error("unknown_operation_200", rq);
  rq = h.rw(BLKIF_OP_RESERVED_1, 0, 1, rw_ref);
  h.expect_error("reserved_operation_4", rq);

  // Discard beyond the end (or not offered at all).
  {
    blkif_request drq{};
    auto& dq = reinterpret_cast<blkif_request_discard&>(drq);
    dq.operation = BLKIF_OP_DISCARD;
    dq.handle = in.handle;
    dq.sector_number = end;
    dq.nr_sectors = 8;
    h.expect_error(in.discard ? "discard_beyond_end" : "discard_not_offered", drq);
    if (in.discard) {
      dq.sector_number = end - 4;
      h.expect_error("discard_across_end", drq);
      dq.sector_number = 8;
      dq.nr_sectors = ~0ull - 4;
      h.expect_error("discard_length_wraps", drq);
    }
  }
}

// A broken ring: the back-end must give up on this device, and only it.
void broken_ring_check(Hostile& h, Device* d, const blkfront::Info& in) {
  const unsigned bq = in.nr_queues - 1;
  int rc = blkfront::break_ring(d, bq);
  if (rc) {
    h.result("broken_ring_disconnects", false, "break_ring rc=%d", rc);
  } else {
    namespace XB = xen::xenbus;
    bool closed = blkfront::wait_backend(d, xbf::state_bit(XB::Closing) | xbf::state_bit(XB::Closed), kTimeoutNs);
    uint32_t st = blkfront::backend_state(d);
    h.result("broken_ring_disconnects", closed, "queue %u, back-end state %s", bq, XB::state_name(st));
  }
}
}  // namespace

void run_blkhostile() {
  Hostile h;
  if (blkfront::probe_all() == 0) {
    con::printf("BLKHOSTILE no connected block device\n");
    con::printf("BLKHOSTILE done pass=0 fail=1\n");
    return;
  }
  Device* d = nullptr;
  for (unsigned i = 0; i < blkfront::count() && !d; i++)
    if (blkfront::connected(blkfront::device(i))) d = blkfront::device(i);
  const blkfront::Info& in = blkfront::info(d);
  h.d = d;
  h.handle = in.handle;
  const xen::domid_t be = in.backend_id;
  con::printf("BLKHOSTILE vbd %u: sectors=%lu ro=%u queues=%u indirect(offered)=%lu discard=%u\n", in.handle,
              in.sectors, in.readonly ? 1u : 0u, in.nr_queues,
              xbf::read_unsigned(in.backend, "feature-max-indirect-segments", 0), in.discard ? 1u : 0u);

  h.valid_read("valid_read_before");

  // A data page the back-end may use, a read-only one, one for another domain.
  void* page = mm::alloc_page();
  void* ind_pages = mm::alloc_pages(BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST);
  grant_ref_t rw_ref = grant::gnttab_grant_access(be, mm::gfn(page), false);
  grant_ref_t ro_ref = grant::gnttab_grant_access(be, mm::gfn(page), true);
  const xen::domid_t other = be == 0x7fe0 ? 0x7fe1 : 0x7fe0;
  grant_ref_t foreign_ref = grant::gnttab_grant_access(other, mm::gfn(page), false);
  grant_ref_t unused_ref = grant::gnttab_alloc_ref();  // allocated, never granted
  if (!page || !ind_pages || rw_ref == grant::kInvalidRef || ro_ref == grant::kInvalidRef ||
      foreign_ref == grant::kInvalidRef || unused_ref == grant::kInvalidRef) {
    con::printf("BLKHOSTILE setup failed (memory or grants)\n");
    con::printf("BLKHOSTILE done pass=%u fail=%u\n", h.pass, h.fail + 1);
    return;
  }
  const Grants g{rw_ref, ro_ref, foreign_ref, unused_ref};
  segment_checks(h, g);
  grant_ref_t ind_refs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
  for (auto& r : ind_refs) r = grant::kInvalidRef;
  indirect_checks(h, in, ind_pages, g.rw_ref, ind_refs);
  end_checks(h, in, g.rw_ref);
  ballooned_frame_check(h, be);

  end_or_report(rw_ref, "read-write");
  end_or_report(ro_ref, "read-only");
  end_or_report(foreign_ref, "foreign");
  grant::gnttab_free_ref(unused_ref);
  for (grant_ref_t r : ind_refs) end_or_report(r, "indirect page");

  h.valid_read("valid_read_after");

  broken_ring_check(h, d, in);
  h.result("domain_still_running", true, "after %lu ms", pvclock::now() / 1000000);
  // The pages stay allocated: grants the back-end may still hold point at them.
  con::printf("BLKHOSTILE done pass=%u fail=%u\n", h.pass, h.fail);
}
