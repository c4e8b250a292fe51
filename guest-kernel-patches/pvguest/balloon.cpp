// pvguest: the balloon driver (balloon.h).
#include "balloon.h"

#include <xen/memory.h>
#include <xen/sched.h>

#include "console.h"
#include "grant.h"
#include "hypercall.h"
#include "kernel.h"
#include "lib.h"
#include "mm.h"
#include "xenbus.h"

namespace balloon {
namespace {
constexpr uint64_t kIdleWaitNs = 60000000000ull;
constexpr uint64_t kPagesPerKib = 4;

Hooks hooks;
bool started = false;
uint64_t span_base = 0, span_pages = 0;
uint64_t* out = nullptr;  // bit per span page: given back to the host
uint64_t scan_hint = 0;   // no set bit below this word
xen::xen_pfn_t frames[kBatch];
Stats st;
bool have_target = false;
bool settled = true;        // reached, or stuck until the target changes
uint64_t target_gen = 0;    // bumped by each new target
bool stuck_reported = false;

inline bool is_out(uint64_t i) { return (out[i / 64] >> (i % 64)) & 1; }
inline void set_out(uint64_t i) {
  out[i / 64] |= 1ull << (i % 64);
  if (i / 64 < scan_hint) scan_hint = i / 64;
}
inline void clear_out(uint64_t i) { out[i / 64] &= ~(1ull << (i % 64)); }
inline uint64_t index_of(uint64_t gfn) { return gfn - (span_base >> mm::kPageShift); }
inline void* page_of(uint64_t i) { return reinterpret_cast<void*>(span_base + (i << mm::kPageShift)); }

long reservation_op(uint32_t op, unsigned n) {
  xen::mem::memory_reservation r{uint64_t(frames), n, 0, 0, xen::DOMID_SELF};
  return hv::memory_op(op, &r);
}

uint64_t current_reservation() {
  xen::domid_t self = xen::DOMID_SELF;
  long rc = hv::memory_op(xen::mem::op::current_reservation, &self);
  return rc < 0 ? 0 : uint64_t(rc);
}

// What the domain holds, as the target counts it: the host's count, plus
// the RAM frames the Xen pages (shared_info, grant frames) replaced, which
// the guest gave to Xen rather than back (a domain that never ballooned
// holds exactly its memory), plus the free pages reported to the host, which
// are still the guest's.
uint64_t held() { return current_reservation() + 1 + grant::state.nr_frames + mm::unbacked_page_count(); }

// The frames that start ballooned out: everything of RAM the host counts
// as neither populated nor a Xen page. They are the top of RAM, just below
// the two special pages, which is where the span ends.
void take_boot_ballooned() {
  xen::domid_t self = xen::DOMID_SELF;
  long max_gpfn = hv::memory_op(xen::mem::op::maximum_gpfn, &self);
  const uint64_t cur = current_reservation();
  const uint64_t xen_pages = 1 + grant::state.nr_frames;  // shared_info, grant frames (on kernel pages)
  if (max_gpfn <= 0 || uint64_t(max_gpfn) + 1 < cur + xen_pages) return;
  const uint64_t absent = uint64_t(max_gpfn) + 1 - cur - xen_pages;
  if (!absent) return;
  const uint64_t span_end = span_pages;  // index just past the span (the special pages follow)
  if (absent > span_end) {
    con::printf("balloon: %lu frames start ballooned out, more than the %lu the allocator has\n", absent, span_end);
    return;
  }
  const uint64_t first = span_end - absent;
  if (!mm::claim_pages(page_of(first), absent)) {
    con::printf("balloon: the %lu frames that start ballooned out are in use (from 0x%lx)\n", absent,
                uint64_t(page_of(first)));
    return;
  }
  // Give them back once (Xen's populate-on-demand entries: nothing is freed).
  for (uint64_t i = first; i < span_end;) {
    unsigned n = 0;
    for (; n < kBatch && i + n < span_end; n++) frames[n] = mm::gfn(page_of(i + n));
    long rc = reservation_op(xen::mem::op::decrease_reservation, n);
    st.decrease_calls++;
    uint64_t done = rc < 0 ? 0 : uint64_t(rc);
    for (uint64_t k = 0; k < done; k++) set_out(i + k);
    st.ballooned_pages += done, st.boot_ballooned += done;
    if (done < n) {
      con::printf("balloon: the host refused frame 0x%lx of those that start ballooned out (rc=%ld)\n",
                  uint64_t(frames[done]), rc);
      mm::free_pages(page_of(i + done), span_end - i - done, mm::kNoReport);
      return;
    }
    i += n;
  }
}

// Up to `want` pages from the allocator into `frames`, in runs (halving
// the run length on failure), asking the reclaim hook when mm has none.
unsigned gather(unsigned want) {
  unsigned n = 0;
  uint64_t run = want;
  bool reclaimed = false;
  while (n < want) {
    if (run > want - n) run = want - n;
    void* p = mm::alloc_pages(run, mm::kNoZero);
    if (!p) {
      if (run > 1) {
        run /= 2;
        continue;
      }
      if (!reclaimed && hooks.reclaim && hooks.reclaim(want - n)) {
        reclaimed = true;
        run = want - n;
        continue;
      }
      break;
    }
    if (hooks.going) hooks.going(p, run);
    for (uint64_t k = 0; k < run; k++) frames[n++] = mm::gfn(p) + k;
  }
  return n;
}

// Gives back up to `want` pages; false when none could be.
bool inflate(uint64_t want) {
  unsigned n = gather(want < kBatch ? unsigned(want) : kBatch);
  if (!n) {
    if (!stuck_reported) con::printf("balloon: no free page to give back (target not reached)\n");
    stuck_reported = true;
    return false;
  }
  long rc = reservation_op(xen::mem::op::decrease_reservation, n);
  st.decrease_calls++;
  const unsigned done = rc < 0 ? 0 : rc > long(n) ? n : unsigned(rc);
  for (unsigned k = 0; k < done; k++) set_out(index_of(frames[k]));
  st.ballooned_pages += done;
  if (done < n) {
    st.refused += n - done;
    if (!stuck_reported)
      con::printf("balloon: decrease_reservation did %u of %u frames (first refused 0x%lx)\n", done, n,
                  uint64_t(frames[done]));
    stuck_reported = true;
    for (unsigned k = done; k < n; k++) mm::free_pages(page_of(index_of(frames[k])), 1, mm::kNoReport);
  }
  return done > 0;
}

// Takes back up to `want` ballooned pages; false when none could be.
bool deflate(uint64_t want) {
  const unsigned limit = want < kBatch ? unsigned(want) : kBatch;
  unsigned n = 0;
  const uint64_t words = (span_pages + 63) / 64;
  for (uint64_t w = scan_hint; w < words && n < limit; w++) {
    uint64_t bits = out[w];
    if (!bits) {
      if (w == scan_hint) scan_hint = w + 1;
      continue;
    }
    while (bits && n < limit) {
      unsigned b = unsigned(__builtin_ctzll(bits));
      bits &= bits - 1;
      frames[n++] = mm::gfn(page_of(w * 64 + b));
    }
  }
  if (!n) {
    if (!stuck_reported) con::printf("balloon: nothing left to take back (target not reached)\n");
    stuck_reported = true;
    return false;
  }
  long rc = reservation_op(xen::mem::op::populate_physmap, n);
  st.populate_calls++;
  const unsigned done = rc < 0 ? 0 : rc > long(n) ? n : unsigned(rc);
  // Runs of contiguous frames go to the hook and back to mm together.
  for (unsigned k = 0; k < done;) {
    unsigned e = k + 1;
    while (e < done && frames[e] == frames[e - 1] + 1) e++;
    const uint64_t first = index_of(frames[k]);
    for (uint64_t i = first; i < first + (e - k); i++) clear_out(i);
    if (hooks.back) hooks.back(page_of(first), e - k);
    mm::free_pages(page_of(first), e - k, mm::kNoReport);
    k = e;
  }
  st.ballooned_pages -= done;
  if (st.boot_ballooned > st.ballooned_pages) st.boot_ballooned = st.ballooned_pages;
  if (done < n) {
    st.refused += n - done;
    if (!stuck_reported)
      con::printf("balloon: populate_physmap did %u of %u frames (the host's ceiling: maximum_reservation)\n", done,
                  n);
    stuck_reported = true;
  }
  return done > 0;
}

void report() {
  char v[32];
  lib::snprintf(v, sizeof v, "%lu", st.current_pages * kPagesPerKib);
  int rc = xenbus::write("data/meminfo_total", v);
  lib::snprintf(v, sizeof v, "%lu", mm::free_page_count() * kPagesPerKib);
  if (!rc) rc = xenbus::write("data/meminfo_free", v);
  if (rc) con::printf("balloon: writing data/meminfo_*: %s\n", xenbus::error_name(rc));
}

// One batch toward the target; true while there is more to do.
bool step() {
  st.current_pages = held();
  if (st.current_pages == st.target_pages) return false;
  if (st.current_pages > st.target_pages) return inflate(st.current_pages - st.target_pages);
  return deflate(st.target_pages - st.current_pages);
}

void on_target(const char*, const char*, void*) {
  char v[32];
  uint64_t kib = 0;
  size_t len = 0;
  if (xenbus::read("memory/target", v, sizeof v, &len) != 0 || !lib::parse_u64(v, len, kib)) return;
  const uint64_t pages = kib / kPagesPerKib;
  if (have_target && pages == st.target_pages) return;
  have_target = true;
  st.target_pages = pages;
  settled = false;
  target_gen++;
  stuck_reported = false;
  con::printf("BALLOON target %lu KiB\n", kib);
}
}  // namespace

bool start(const Hooks& h) {
  if (started) return true;
  hooks = h;
  if (!xenbus::connected()) {
    con::printf("balloon: no xenstore connection\n");
    return false;
  }
  if (!mm::init()) {
    con::printf("balloon: no page allocator\n");
    return false;
  }
  mm::span(span_base, span_pages);
  const uint64_t words = (span_pages + 63) / 64;
  out = static_cast<uint64_t*>(mm::alloc_pages((words * 8 + mm::kPageSize - 1) >> mm::kPageShift));
  if (!out) {
    con::printf("balloon: no memory for the bitmap\n");
    return false;
  }
  scan_hint = words;
  take_boot_ballooned();
  st.current_pages = st.target_pages = held();
  started = true;
  int rc = xenbus::watch("memory/target", "balloon", on_target);
  if (rc) con::printf("balloon: watch memory/target: %s\n", xenbus::error_name(rc));
  rc = xenbus::write("control/feature-balloon", "1");
  if (rc) con::printf("balloon: write control/feature-balloon: %s\n", xenbus::error_name(rc));
  con::printf("BALLOON started current_kib=%lu ballooned_kib=%lu (of them %lu KiB from boot)\n",
              st.current_pages * kPagesPerKib, st.ballooned_pages * kPagesPerKib, st.boot_ballooned * kPagesPerKib);
  on_target(nullptr, nullptr, nullptr);  // the target now, whether or not the watch's first event is in yet
  xenbus::wait_events(0);
  return true;
}

void settle() {
  if (!started) return;
  while (!settled) {
    const uint64_t gen = target_gen;
    while (step()) xenbus::wait_events(0);  // a new target or a shutdown request between batches
    xenbus::wait_events(0);
    if (gen != target_gen) continue;  // a newer target came meanwhile: go on toward it
    // Nothing more to do: reached, or stuck until the target changes.
    settled = true;
    st.current_pages = held();
    report();
    con::printf("BALLOON %s target_kib=%lu current_kib=%lu ballooned_kib=%lu\n",
                st.current_pages == st.target_pages ? "reached" : "stuck", st.target_pages * kPagesPerKib,
                st.current_pages * kPagesPerKib, st.ballooned_pages * kPagesPerKib);
    if (hooks.reached) hooks.reached();
    xenbus::wait_events(0);
  }
}

[[noreturn]] void run() {
  for (;;) {
    settle();
    int rc = xenbus::wait_events(kIdleWaitNs);
    if (rc < 0) {
      con::printf("balloon: xenbus: %s; idling without xenstore\n", xenbus::error_name(rc));
      for (;;) hv::sched_op(xen::sched::op::block, nullptr);
    }
  }
}

Stats stats() { return st; }

namespace {
xen::xen_pfn_t report_frames[kBatch];  // its own list: populate runs inside alloc_pages, also the balloon's
ReportStats rst;

// `pages` frames from `gfn` through `op`, a frame list at a time; how many
// of the first were done.
uint64_t run_op(uint32_t op, uint64_t gfn, uint64_t pages) {
  uint64_t done = 0;
  while (done < pages) {
    const unsigned n = pages - done < kBatch ? unsigned(pages - done) : kBatch;
    for (unsigned k = 0; k < n; k++) report_frames[k] = gfn + done + k;
    xen::mem::memory_reservation r{uint64_t(report_frames), n, 0, 0, xen::DOMID_SELF};
    const long rc = hv::memory_op(op, &r);
    const unsigned got = rc < 0 ? 0 : rc > long(n) ? n : unsigned(rc);
    done += got;
    if (got < n) {
      rst.refused += n - got;
      break;
    }
  }
  return done;
}
uint64_t report_run(uint64_t gfn, uint64_t pages) {
  const uint64_t done = run_op(xen::mem::op::decrease_reservation, gfn, pages);
  rst.reported += done;
  return done;
}
uint64_t populate_run(uint64_t gfn, uint64_t pages) {
  const uint64_t done = run_op(xen::mem::op::populate_physmap, gfn, pages);
  rst.repopulated += done;
  return done;
}
}  // namespace

void enable_free_page_reporting(uint64_t min_pages) {
  mm::set_report_hooks(mm::ReportHooks{report_run, populate_run, min_pages ? min_pages : 1});
}

ReportStats report_stats() { return rst; }

}  // namespace balloon
