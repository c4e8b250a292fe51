// pvguest: block front-end (Linux xen-blkfront's protocol, freestanding):
// the public entry points (blkfront.h). The rings are in blkfront_ring.cpp,
// the grants in blkfront_grants.cpp, the xenbus handshake and reconnection
// in blkfront_handshake.cpp; what they share is in blkfront_internal.h.
#include <xen/sched.h>

#include "arch.h"
#include "blkfront_internal.h"
#include "console.h"
#include "events.h"
#include "hypercall.h"
#include "kernel.h"
#include "lib.h"
#include "mm.h"
#include "pvtime.h"
#include "suspend.h"
#include "xenbus.h"

namespace blkfront {

Config cfg;
Device devs[kMaxDevices];
unsigned ndevs = 0;

namespace {
bool probed = false;

bool parse_num(const char*& p, const char* end, uint64_t& v) {
  const char* s = p;
  while (p < end && *p >= '0' && *p <= '9') p++;
  return lib::parse_u64(s, size_t(p - s), v);
}

// Prints the device's line after probe_all()'s handshake; true if connected.
bool report(const Device& d) {
  const Info& in = d.info;
  if (!d.link_up) {
    con::printf("BLKFRONT vbd %u: not connected (back-end %s at %s, front-end %s)\n", in.handle,
                XB::state_name(d.xb.otherend_state), in.backend, XB::state_name(d.xb.state));
    return false;
  }
  con::printf(
      "BLKFRONT vbd %u: connected backend=%s sectors=%lu sector-size=%u physical-sector-size=%u ro=%u "
      "queues=%u ring-pages=%u ring-size=%u indirect=%u persistent=%u flush=%u discard=%u\n",
      in.handle, in.backend, in.sectors, in.sector_size, in.physical_sector_size, in.readonly ? 1u : 0u,
      in.nr_queues, in.ring_pages, in.ring_size, in.max_indirect, in.persistent ? 1u : 0u, in.flush ? 1u : 0u,
      in.discard ? 1u : 0u);
  return true;
}
}  // namespace

// ---------------------------------------------------------------- public

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
  if (probed) return connected_count();
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
    if (probe_device(devs[ndevs], uint16_t(handle), name)) ndevs++;
  }
  connect_all();
  unsigned up = 0;
  for (unsigned i = 0; i < ndevs; i++) up += report(devs[i]);
  if (ndevs) suspend::register_device({"blkfront", quiesce_for_suspend, resume_after_suspend, nullptr});
  return up;
}

// Before a suspend: every request in flight completes, so nothing is on a
// ring the host may not carry over (Linux freezes the block queues). After
// a cancelled one the same rings go on; after a resume the back-end is new
// and reaches InitWait again, which reconnects us as after a back-end
// restart (requests are resubmitted).
void quiesce_for_suspend(void*) {
  const uint64_t deadline = pvclock::now() + 10000000000ull;
  for (unsigned i = 0; i < ndevs; i++) {
    while (in_flight(&devs[i]) && pvclock::now() < deadline) wait(&devs[i], 100000000ull);
    con::printf("BLKFRONT %u quiesced for suspend: %u in flight\n", devs[i].info.handle, in_flight(&devs[i]));
  }
}

void resume_after_suspend(void*, bool cancelled) {
  for (unsigned i = 0; i < ndevs; i++)
    con::printf("BLKFRONT %u %s\n", devs[i].info.handle,
                cancelled ? "goes on after a cancelled suspend" : "resumed: reconnects to its new back-end");
}

unsigned count() { return ndevs; }
Device* device(unsigned i) { return i < ndevs ? &devs[i] : nullptr; }
Device* find(uint32_t handle) {
  for (unsigned i = 0; i < ndevs; i++)
    if (!devs[i].gone && devs[i].info.handle == handle) return &devs[i];
  return nullptr;
}

Device* attach(uint32_t handle) {
  if (Device* d = find(handle)) return d;
  if (!xenbus::init() || handle > 0xffff) return nullptr;
  unsigned slot = 0;
  while (slot < ndevs && !devs[slot].gone) slot++;
  if (slot == kMaxDevices) {
    con::printf("BLKFRONT more than %u devices: ignoring device/vbd/%u\n", kMaxDevices, handle);
    return nullptr;
  }
  char name[8];
  lib::snprintf(name, sizeof name, "%u", handle);
  Device& d = devs[slot];
  if (!probe_device(d, uint16_t(handle), name)) {
    d.gone = true;  // probe_device left the slot cleared
    if (slot == ndevs) ndevs++;
    return nullptr;
  }
  if (slot == ndevs) ndevs++;
  probed = true;  // probe_all() does not list device/vbd again
  const uint64_t deadline = pvclock::now() + cfg.timeout_ns;
  d.xb.otherend_changed = true;
  for (;;) {
    service_xs(false);
    const uint64_t now = pvclock::now();
    if (d.link_up || now >= deadline) break;
    const uint64_t step = deadline - now < kXsPeriodNs ? deadline - now : kXsPeriodNs;
    if (xenbus::wait_events(step) == -int(xen::XEN_EIO)) break;
    d.xb.otherend_changed = true;  // re-read on every pass
  }
  report(d);
  return &d;
}

bool closed(const Device* d) { return d->xb.state == XB::Closed && !d->link_up; }

void release(Device* d) {
  if (!d->gone) free_device(*d);
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
