// pvguest: `selftest` mode. One PASS/FAIL/SKIP line per check, then a summary.
#include <xen/cpuid.h>
#include <xen/console.h>
#include <xen/event_channel.h>
#include <xen/grant_table.h>
#include <xen/hvm.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/vcpu.h>
#include <xen/version.h>

#include "arch.h"
#include "console.h"
#include "events.h"
#include "grant.h"
#include "hypercall.h"
#include "kernel.h"
#include "modes.h"
#include "pvtime.h"
#include "report.h"
#include "smp.h"

namespace {
using xen::evtchn_port_t;
namespace eo = xen::evtchn;

constexpr uint64_t kMs = 1000000ull;
Report R{""};

char name_buf[64];
const char* cpu_name(const char* base, unsigned cpu) {
  lib::snprintf(name_buf, sizeof name_buf, "%s_cpu%u", base, cpu);
  return name_buf;
}

// ---- version / cpuid / hypercall page ----
void check_version() {
  uint32_t a, b, c, d;
  arch::cpuid(k::xen_cpuid_base + 1, 0, a, b, c, d);
  long v = hv::xen_version(xen::version::op::version, nullptr);
  uint32_t want = (xen::kXenVersionMajor << 16) | xen::kXenVersionMinor;
  R.check(v == long(want) && a == want, "xen_version", "XENVER_version=0x%lx cpuid=0x%x want 0x%x", v, a, want);

  char extra[xen::version::kExtraversionLen + 1] = {};
  long rc = hv::xen_version(xen::version::op::extraversion, extra);
  R.check(rc == 0 && lib::strnlen(extra, xen::version::kExtraversionLen) < xen::version::kExtraversionLen,
          "xen_version_extraversion", "rc=%ld", rc);
  static char caps[xen::version::kCapabilitiesLen + 1];
  rc = hv::xen_version(xen::version::op::capabilities, caps);
  R.check(rc == 0 && caps[0] != 0, "xen_version_capabilities", "rc=%ld caps='%s'", rc, caps);
  xen::version::feature_info fi{0, 0};
  rc = hv::xen_version(xen::version::op::get_features, &fi);
  R.check(rc == 0, "xen_version_get_features", "rc=%ld", rc);
  R.check(rc == 0 && (fi.submap >> xen::version::feat::hvm_callback_vector) & 1, "xen_feature_hvm_callback_vector",
          "submap0=0x%x", fi.submap);
  rc = hv::xen_version(xen::version::op::pagesize, nullptr);
  R.check(rc == 4096, "xen_version_pagesize", "rc=%ld", rc);
}

void check_hypercall_page() {
  unsigned nonzero = 0;
  for (unsigned i = 0; i < 4096; i++) nonzero += hypercall_page[i] != 0;
  long v = hv::xen_version(xen::version::op::version, nullptr);
  R.check(nonzero > 0 && v > 0, "hypercall_page", "nonzero_bytes=%u version_rc=%ld", nonzero, v);
  uint32_t a, b, c, d;
  arch::cpuid(k::xen_cpuid_base + 2, 0, a, b, c, d);
  R.check(a == 1 && b == xen::cpuid::kHypercallMsr, "cpuid_hypercall_leaf", "pages=%u msr=0x%x", a, b);
}

void cpuid_vcpu_job(void* out) {
  uint32_t a, b, c, d;
  arch::cpuid(k::xen_cpuid_base + 4, 0, a, b, c, d);
  static_cast<uint32_t*>(out)[0] = a;
  static_cast<uint32_t*>(out)[1] = b;
}
void check_cpuid_vcpu_ids() {
  for (unsigned cpu = 0; cpu < k::nr_cpus; cpu++) {
    uint32_t r[2] = {0, ~0u};
    bool ran = k::run_on(cpu, cpuid_vcpu_job, r);
    R.check(ran && (r[0] & xen::cpuid::XEN_HVM_CPUID_VCPU_ID_PRESENT) && r[1] == cpu, cpu_name("cpuid_vcpu_id", cpu),
            "ran=%d flags=0x%x vcpu_id=%u", ran, r[0], r[1]);
  }
}

// ---- shared_info / event channels ----
void check_shared_info_and_masking() {
  evtchn_port_t a, b;
  long rc = evt::loopback_pair(a, b, /*masked=*/true);
  if (rc) {
    R.fail("shared_info_pending", "loopback pair rc=%ld", rc);
    R.fail("evtchn_mask", "loopback pair rc=%ld", rc);
    return;
  }
  uint64_t hits = evt::ports[b].hits;
  rc = evt::send(a);
  pvclock::spin_ns(5 * kMs);
  bool pending = evt::is_pending(b);
  R.check(rc == 0 && pending, "shared_info_pending", "send rc=%ld pending=%d masked=%d", rc, pending, evt::is_masked(b));
  bool no_upcall = evt::ports[b].hits == hits;
  rc = evt::unmask(b);
  bool delivered = evt::wait_hit(b, hits, 500 * kMs);
  R.check(no_upcall && rc == 0 && delivered && !evt::is_masked(b) && !evt::is_pending(b), "evtchn_mask",
          "no_upcall_while_masked=%d unmask rc=%ld delivered=%d mask=%d pending=%d", no_upcall, rc, delivered,
          evt::is_masked(b), evt::is_pending(b));
  evt::close(a);
  evt::close(b);
}

void check_loopback() {
  evtchn_port_t a, b;
  long rc = evt::loopback_pair(a, b);
  if (rc) return R.fail("evtchn_loopback", "loopback pair rc=%ld", rc);
  uint64_t hb = evt::ports[b].hits, ha = evt::ports[a].hits;
  long rc1 = evt::send(a);
  bool got_b = evt::wait_hit(b, hb, 500 * kMs);
  long rc2 = evt::send(b);
  bool got_a = evt::wait_hit(a, ha, 500 * kMs);
  R.check(rc1 == 0 && rc2 == 0 && got_b && got_a && evt::ports[b].last_cpu == 0 && evt::ports[a].last_cpu == 0,
          "evtchn_loopback", "ports %u<->%u send rc=%ld/%ld delivered=%d/%d cpu=%u/%u", a, b, rc1, rc2, got_b, got_a,
          evt::ports[b].last_cpu, evt::ports[a].last_cpu);

  // status of each kind of port
  eo::status st;
  rc = evt::status(a, st);
  bool ok = rc == 0 && st.status == eo::stat::interdomain && st.u.interdomain.port == b && st.vcpu == 0;
  evtchn_port_t u = 0;
  long rcu = evt::alloc_unbound(u);
  eo::status su;
  long rcs = rcu == 0 ? evt::status(u, su) : rcu;
  ok = ok && rcs == 0 && su.status == eo::stat::unbound;
  eo::status sv;
  long rcv = evt::status(k::cpus[0].timer_port, sv);
  ok = ok && rcv == 0 && sv.status == eo::stat::virq && sv.u.virq == xen::virq::TIMER && sv.vcpu == 0;
  long rcc = evt::close(u);
  eo::status sc;
  long rcs2 = evt::status(u, sc);
  ok = ok && rcc == 0 && rcs2 == 0 && sc.status == eo::stat::closed;
  R.check(ok, "evtchn_status",
          "interdomain rc=%ld st=%u port=%u vcpu=%u; unbound rc=%ld st=%u; virq rc=%ld st=%u virq=%u; closed rc=%ld/%ld "
          "st=%u",
          rc, st.status, st.u.interdomain.port, st.vcpu, rcs, su.status, rcv, sv.status, sv.u.virq, rcc, rcs2,
          sc.status);

  // close then send fails
  rc = evt::close(a);
  long rs = evt::send(a);
  R.check(rc == 0 && rs < 0, "evtchn_close", "close rc=%ld send-after-close rc=%ld", rc, rs);
  evt::close(b);
}

void check_ipi() {
  if (k::nr_cpus < 2) return R.skip("evtchn_ipi", "only 1 vCPU");
  for (unsigned cpu = 1; cpu < k::nr_cpus; cpu++) {
    evtchn_port_t p = k::cpus[cpu].ipi_port;
    uint64_t h = evt::ports[p].hits;
    long rc = evt::send(p);
    bool got = evt::wait_hit(p, h, 500 * kMs);
    eo::status st;
    long rs = evt::status(p, st);
    R.check(rc == 0 && got && evt::ports[p].last_cpu == cpu && rs == 0 && st.status == eo::stat::ipi && st.vcpu == cpu,
            cpu_name("evtchn_ipi", cpu), "port %u send rc=%ld delivered=%d on cpu%u; status rc=%ld st=%u vcpu=%u", p,
            rc, got, evt::ports[p].last_cpu, rs, st.status, st.vcpu);
  }
}

void check_bind_vcpu() {
  if (k::nr_cpus < 2) return R.skip("evtchn_bind_vcpu", "only 1 vCPU");
  unsigned target = k::nr_cpus - 1;
  evtchn_port_t a, b;
  long rc = evt::loopback_pair(a, b);
  if (rc) return R.fail("evtchn_bind_vcpu", "loopback pair rc=%ld", rc);
  long rb = evt::bind_vcpu(b, target);
  uint64_t h = evt::ports[b].hits;
  long rs = evt::send(a);
  bool got = evt::wait_hit(b, h, 500 * kMs);
  eo::status st;
  long rst = evt::status(b, st);
  R.check(rb == 0 && rs == 0 && got && evt::ports[b].last_cpu == target && rst == 0 && st.vcpu == target,
          "evtchn_bind_vcpu", "bind_vcpu rc=%ld send rc=%ld delivered=%d on cpu%u (want %u) status.vcpu=%u", rb, rs,
          got, evt::ports[b].last_cpu, target, st.vcpu);
  evt::close(a);
  evt::close(b);
}

void check_upcall_vectors() {
  bool ok = k::cpus[0].upcalls_by_vector[0] > 0;
  for (unsigned cpu = 1; cpu < k::nr_cpus; cpu++) ok = ok && k::cpus[cpu].upcalls_by_vector[1] > 0;
  R.check(ok, "upcall_vectors", "cpu0 callback-vector upcalls=%lu, cpu%u per-vcpu-vector upcalls=%lu",
          k::cpus[0].upcalls_by_vector[0], k::nr_cpus - 1, k::cpus[k::nr_cpus - 1].upcalls_by_vector[1]);
}

// ---- time ----
void check_wallclock() {
  uint64_t sec = 0;
  uint32_t nsec = 0;
  pvclock::wallclock(sec, nsec);
  R.check(sec > 1577836800ull && nsec < 1000000000u, "wallclock", "wc_sec=%lu wc_nsec=%u", sec, nsec);
}

void check_pvclock_advancing() {
  const volatile xen::vcpu_time_info& t = k::cpus[0].vi->time;
  uint64_t t0 = pvclock::now();
  uint64_t tsc0 = arch::rdtsc_ordered();
  while (arch::rdtsc_ordered() - tsc0 < 10000000ull) arch::pause();  // ~several ms at GHz rates
  uint64_t t1 = pvclock::now();
  R.check(t.tsc_to_system_mul != 0 && t1 > t0 && t1 - t0 < 10000 * kMs, "pvclock_advancing",
          "t0=%lu t1=%lu mul=%u shift=%d", t0, t1, t.tsc_to_system_mul, int(t.tsc_shift));
}

void now_job(void* out) { *static_cast<uint64_t*>(out) = pvclock::now(); }
void check_pvclock_cross_vcpu() {
  if (k::nr_cpus < 2) return R.skip("pvclock_cross_vcpu", "only 1 vCPU");
  bool ok = true;
  uint64_t t0 = 0, t1 = 0, t2 = 0;
  unsigned bad = 0;
  for (int round = 0; round < 20 && ok; round++)
    for (unsigned cpu = 1; cpu < k::nr_cpus && ok; cpu++) {
      t0 = pvclock::now();
      bool ran = k::run_on(cpu, now_job, &t1);
      t2 = pvclock::now();
      ok = ran && t0 <= t1 && t1 <= t2;
      if (!ok) bad = cpu;
    }
  R.check(ok, "pvclock_cross_vcpu", "cpu0 %lu -> cpu%u %lu -> cpu0 %lu", t0, bad, t1, t2);
}

struct TimerResult {
  long rc;
  bool fired;
  uint64_t deadline, fired_at;
};
void singleshot_job(void* p) {
  auto* r = static_cast<TimerResult*>(p);
  unsigned cpu = k::this_cpu();
  uint64_t before = k::cpus[cpu].timer_fires;
  r->deadline = pvclock::now() + 10 * kMs;
  r->rc = timer::set_singleshot(r->deadline, 0);
  uint64_t end = r->deadline + 1000 * kMs;
  while (k::cpus[cpu].timer_fires == before && pvclock::now() < end) arch::pause();
  r->fired = k::cpus[cpu].timer_fires != before;
  r->fired_at = k::cpus[cpu].timer_last_ns;
}
void check_singleshot() {
  for (unsigned cpu = 0; cpu < k::nr_cpus; cpu++) {
    TimerResult r{};
    bool ran = k::run_on(cpu, singleshot_job, &r, 3000 * kMs);
    int64_t late = int64_t(r.fired_at - r.deadline);
    R.check(ran && r.rc == 0 && r.fired && late >= 0 && late <= int64_t(100 * kMs), cpu_name("timer_singleshot", cpu),
            "ran=%d rc=%ld fired=%d late_ns=%ld", ran, r.rc, r.fired, late);
  }
}

void check_singleshot_past() {
  uint64_t now = pvclock::now();
  long rc = timer::set_singleshot(now > kMs ? now - kMs : 1, xen::vcpu::VCPU_SSHOTTMR_future);
  R.check(rc == -xen::XEN_ETIME, "timer_singleshot_future_past", "rc=%ld want %ld", rc, -xen::XEN_ETIME);
  timer::stop_singleshot();
}

void check_periodic() {
  uint64_t before = k::cpus[0].timer_fires;
  long rc = timer::set_periodic(10 * kMs);
  uint64_t end = pvclock::now() + 1000 * kMs;
  while (k::cpus[0].timer_fires - before < 4 && pvclock::now() < end) arch::pause();
  uint64_t fired = k::cpus[0].timer_fires - before;
  long rs = timer::stop_periodic();
  pvclock::spin_ns(15 * kMs);  // let one in flight land
  uint64_t after_stop = k::cpus[0].timer_fires;
  pvclock::spin_ns(50 * kMs);
  uint64_t extra = k::cpus[0].timer_fires - after_stop;
  R.check(rc == 0 && rs == 0 && fired >= 4 && extra == 0, "timer_periodic",
          "set rc=%ld fired=%lu stop rc=%ld fires_after_stop=%lu", rc, fired, rs, extra);
}

// ---- sched_op ----
void check_block() {
  uint64_t before = k::cpus[0].timer_fires;
  uint64_t deadline = pvclock::now() + 20 * kMs;
  long rc = timer::set_singleshot(deadline, 0);
  uint64_t give_up = deadline + 2000 * kMs;
  unsigned blocks = 0;
  long brc = 0;
  while (k::cpus[0].timer_fires == before && pvclock::now() < give_up) {
    arch::cli();
    if (k::cpus[0].timer_fires != before) {
      arch::sti();
      break;
    }
    brc = hv::sched_op(xen::sched::op::block, nullptr);
    blocks++;
    asm volatile("sti; nop; nop; nop" ::: "memory");
  }
  uint64_t woke = pvclock::now();
  bool fired = k::cpus[0].timer_fires != before;
  R.check(rc == 0 && brc == 0 && fired && woke >= deadline && blocks >= 1, "sched_block",
          "timer rc=%ld block rc=%ld blocks=%u fired=%d woke-deadline=%ld ns", rc, brc, blocks, fired,
          int64_t(woke - deadline));
}

void check_poll() {
  evtchn_port_t u = 0;
  long rc = evt::alloc_unbound(u);
  if (rc) return R.fail("sched_poll_timeout", "alloc_unbound rc=%ld", rc);
  uint64_t t0 = pvclock::now();
  xen::sched::poll p{uint64_t(&u), 1, 0, t0 + 20 * kMs};
  rc = hv::sched_op(xen::sched::op::poll, &p);
  uint64_t el = pvclock::now() - t0;
  R.check(rc == 0 && el >= 19 * kMs && el < 2000 * kMs, "sched_poll_timeout", "rc=%ld elapsed_ns=%lu", rc, el);
  evt::close(u);

  evtchn_port_t a, b;
  rc = evt::loopback_pair(a, b, /*masked=*/true);
  if (rc) return R.fail("sched_poll_pending", "loopback pair rc=%ld", rc);
  evt::send(a);
  t0 = pvclock::now();
  xen::sched::poll p2{uint64_t(&b), 1, 0, t0 + 1000 * kMs};
  rc = hv::sched_op(xen::sched::op::poll, &p2);
  el = pvclock::now() - t0;
  R.check(rc == 0 && el < 500 * kMs, "sched_poll_pending", "rc=%ld elapsed_ns=%lu", rc, el);
  evt::close(a);
  evt::close(b);
}

// ---- grant table ----
void check_grant() {
  using namespace xen::gnttab;
  const grant::State& s = grant::state;
  R.check(s.query_rc == 0 && s.query.status == st::okay && s.query.max_nr_frames >= 1, "grant_query_size",
          "rc=%ld status=%d nr_frames=%u max_nr_frames=%u", s.query_rc, s.query.status, s.query.nr_frames,
          s.query.max_nr_frames);
  get_version gv{xen::DOMID_SELF, 0, 0};
  long rc = hv::gnttab_op(op::get_version, &gv, 1);
  R.check(s.set_version_rc == 0 && rc == 0 && gv.version == 1, "grant_version", "set_version(1) rc=%ld get rc=%ld v=%u",
          s.set_version_rc, rc, gv.version);
  set_version sv{2};
  long rc2 = hv::gnttab_op(op::set_version, &sv, 1);
  gv.version = 0;
  rc = hv::gnttab_op(op::get_version, &gv, 1);
  R.check(rc2 < 0 && rc == 0 && gv.version == 1, "grant_version2_rejected", "set_version(2) rc=%ld, then v=%u", rc2,
          gv.version);
  R.check(s.setup_rc == 0 && s.setup_status == st::okay, "grant_setup_table", "rc=%ld status=%d", s.setup_rc,
          s.setup_status);
  if (s.nr_frames == 0) return R.fail("grant_frames", "no frame mapped (add_to_physmap rc=%ld)", s.map_rc);
  // Frames are ours and writable: write an entry in each, read it back.
  grant_entry_v1* t = grant::table();
  bool ok = true;
  for (unsigned f = 0; f < s.nr_frames; f++) {
    grant_entry_v1& e = t[f * kEntriesPerFrameV1 + kEntriesPerFrameV1 - 1];
    e.frame = 0x1234 + f;
    e.domid = 0;
    arch::wmb();
    e.flags = GTF_invalid;
    ok = ok && e.frame == 0x1234 + f;
    e.frame = 0;
  }
  // A real grant: let domain 0 read our first grant frame (ref 8).
  t[8].frame = uint32_t(grant::frame_gpfn(0));
  t[8].domid = 0;
  arch::wmb();
  t[8].flags = GTF_permit_access | GTF_readonly;
  ok = ok && t[8].flags == (GTF_permit_access | GTF_readonly);
  R.check(ok && s.map_rc == 0, "grant_frames", "frames=%u map rc=%ld", s.nr_frames, s.map_rc);
  t[8].flags = GTF_invalid;
}

// ---- memory ----
xen::mem::e820_entry xmap[k::kMaxMemmap];
unsigned xmap_n = 0;
bool in_reserved(uint64_t pfn) {
  uint64_t a = pfn << xen::kPageShift;
  for (unsigned i = 0; i < xmap_n; i++)
    if (xmap[i].type != xen::mem::E820_RAM && a >= xmap[i].addr && a < xmap[i].addr + xmap[i].size) return true;
  for (unsigned i = 0; i < k::memmap_entries; i++)
    if (k::memmap[i].type != xen::mem::E820_RAM && a >= k::memmap[i].addr && a < k::memmap[i].addr + k::memmap[i].size)
      return true;
  return false;
}

void check_memory() {
  xen::mem::memory_map mm{k::kMaxMemmap, 0, uint64_t(xmap)};
  long rc = hv::memory_op(xen::mem::op::memory_map, &mm);
  xmap_n = rc == 0 ? mm.nr_entries : 0;
  uint64_t ram = 0, ram_end = 0;
  bool covers_kernel = false;
  for (unsigned i = 0; i < xmap_n; i++) {
    if (xmap[i].type != xen::mem::E820_RAM) continue;
    ram += xmap[i].size;
    if (xmap[i].addr + xmap[i].size > ram_end) ram_end = xmap[i].addr + xmap[i].size;
    if (xmap[i].addr <= 0x100000 && xmap[i].addr + xmap[i].size > 0x100000) covers_kernel = true;
  }
  R.check(rc == 0 && xmap_n > 0 && ram > 0 && covers_kernel, "memory_map",
          "rc=%ld entries=%u ram_bytes=%lu covers_1MiB=%d", rc, xmap_n, ram, covers_kernel);
  bool same = xmap_n == k::memmap_entries;
  for (unsigned i = 0; same && i < xmap_n; i++)
    same = xmap[i].addr == k::memmap[i].addr && xmap[i].size == k::memmap[i].size && xmap[i].type == k::memmap[i].type;
  R.check(same, "memory_map_matches_start_info", "XENMEM entries=%u start_info entries=%u", xmap_n, k::memmap_entries);

  // The initrd (module 0): page aligned, inside RAM; its size and FNV-1a
  // hash are printed so the host can compare them with the file it passed.
  if (!k::module_size) {
    R.skip("start_info_module", "no module given");
  } else {
    bool in_ram = false;
    for (unsigned i = 0; i < k::memmap_entries; i++)
      if (k::memmap[i].type == xen::mem::E820_RAM && k::module_paddr >= k::memmap[i].addr &&
          k::module_paddr + k::module_size <= k::memmap[i].addr + k::memmap[i].size)
        in_ram = true;
    uint32_t h = 2166136261u;
    const auto* p = reinterpret_cast<const uint8_t*>(k::module_paddr);
    for (uint64_t i = 0; in_ram && i < k::module_size; i++) h = (h ^ p[i]) * 16777619u;
    con::printf("pvguest: module 0 at 0x%lx, %lu bytes, fnv1a %08x\n", k::module_paddr, k::module_size, h);
    R.check(in_ram && (k::module_paddr & 0xfff) == 0, "start_info_module", "paddr=0x%lx size=%lu in_ram=%d",
            k::module_paddr, k::module_size, in_ram);
  }

  xen::domid_t self = xen::DOMID_SELF;
  long cur = hv::memory_op(xen::mem::op::current_reservation, &self);
  long max = hv::memory_op(xen::mem::op::maximum_reservation, &self);
  uint64_t ram_pages = ram >> xen::kPageShift;
  R.check(cur > 0 && max >= cur && uint64_t(cur) <= ram_pages + 256 && uint64_t(cur) * 2 >= ram_pages,
          "memory_reservation", "current=%ld maximum=%ld memmap_ram_pages=%lu", cur, max, ram_pages);
  long mrp = hv::memory_op(xen::mem::op::maximum_ram_page, nullptr);
  R.check(mrp > 0 && uint64_t(mrp) + 1 >= (ram_end >> xen::kPageShift) - 1, "memory_maximum_ram_page",
          "rc=%ld ram_end_pfn=%lu", mrp, ram_end >> xen::kPageShift);
}

void check_params() {
  uint64_t v[4] = {};
  long rc[4];
  const uint32_t idx[4] = {xen::hvm::param::STORE_PFN, xen::hvm::param::STORE_EVTCHN, xen::hvm::param::CONSOLE_PFN,
                           xen::hvm::param::CONSOLE_EVTCHN};
  for (int i = 0; i < 4; i++) {
    xen::hvm::param_arg p{xen::DOMID_SELF, 0, idx[i], 0};
    rc[i] = hv::hvm_op(xen::hvm::op::get_param, &p);
    v[i] = p.value;
  }
  R.check(rc[0] == 0 && rc[1] == 0 && v[0] && v[1] && in_reserved(v[0]), "xenstore_advertised",
          "STORE_PFN rc=%ld 0x%lx (in reserved range: %d) STORE_EVTCHN rc=%ld %lu", rc[0], v[0], in_reserved(v[0]),
          rc[1], v[1]);
  R.check(rc[2] == 0 && rc[3] == 0 && v[2] && v[3] && in_reserved(v[2]) && con::ring_active(), "console_ring",
          "CONSOLE_PFN rc=%ld 0x%lx (in reserved range: %d) CONSOLE_EVTCHN rc=%ld %lu", rc[2], v[2], in_reserved(v[2]),
          rc[3], v[3]);
}

// ---- vCPUs ----
void noop_job(void* p) { *static_cast<int*>(p) = 1; }
void check_vcpus() {
  bool ok = true;
  unsigned bad = 0;
  long brc = 0;
  for (unsigned cpu = 0; cpu < k::nr_cpus; cpu++) {
    long rc = smp::vcpu_is_up(cpu);
    if (rc != 1 || (cpu && !k::cpus[cpu].online)) ok = false, bad = cpu, brc = rc;
  }
  long past = smp::vcpu_is_up(k::nr_cpus);
  R.check(ok && past == -xen::XEN_ENOENT, "vcpu_is_up", "%u vCPUs; is_up(cpu%u)=%ld online=%u; is_up(%u)=%ld", k::nr_cpus,
          bad, brc, k::cpus[bad].online, k::nr_cpus, past);

  if (k::nr_cpus < 2) return R.skip("vcpu_down_up", "only 1 vCPU");
  unsigned v = k::nr_cpus - 1;
  long rd = hv::vcpu_op(xen::vcpu::op::down, v, nullptr);
  long up0 = smp::vcpu_is_up(v);
  long ru = hv::vcpu_op(xen::vcpu::op::up, v, nullptr);
  long up1 = smp::vcpu_is_up(v);
  int ran = 0;
  bool job = k::run_on(v, noop_job, &ran);
  R.check(rd == 0 && up0 == 0 && ru == 0 && up1 == 1 && job && ran, "vcpu_down_up",
          "down rc=%ld is_up=%ld up rc=%ld is_up=%ld job_ran=%d", rd, up0, ru, up1, ran);
}

// By now vCPU 0 has run and blocked (check_block, check_poll): its
// runstate says so, the times add up to no more than the time since boot,
// and VCPUOP_get_runstate_info is -ENOENT past the last vCPU.
void check_runstate() {
  xen::vcpu_runstate_info r{};
  long rc = hv::vcpu_op(xen::vcpu::op::get_runstate_info, 0, &r);
  const uint64_t now = pvclock::now();
  const uint64_t sum = r.time[0] + r.time[1] + r.time[2] + r.time[3];
  xen::vcpu_runstate_info past{};
  long prc = hv::vcpu_op(xen::vcpu::op::get_runstate_info, k::nr_cpus, &past);
  R.check(rc == 0 && r.state == xen::RUNSTATE_running && r.time[xen::RUNSTATE_running] > 0 &&
              r.time[xen::RUNSTATE_blocked] > 0 && sum <= now + 1000000 && prc == -xen::XEN_ENOENT,
          "runstate_info", "rc=%ld state=%d running=%lu blocked=%lu sum=%lu now=%lu; vcpu%u rc=%ld", rc, r.state,
          static_cast<unsigned long>(r.time[0]), static_cast<unsigned long>(r.time[2]), static_cast<unsigned long>(sum),
          static_cast<unsigned long>(now), k::nr_cpus, prc);
}

}  // namespace

void run_selftest() {
  check_version();
  check_hypercall_page();
  check_cpuid_vcpu_ids();
  check_shared_info_and_masking();
  check_wallclock();
  check_pvclock_advancing();
  check_pvclock_cross_vcpu();
  check_loopback();
  check_ipi();
  check_bind_vcpu();
  check_upcall_vectors();
  check_singleshot();
  check_singleshot_past();
  check_periodic();
  check_block();
  check_poll();
  check_grant();
  check_memory();
  check_params();
  check_vcpus();
  check_runstate();
  con::printf("selftest: %u passed, %u failed\n", R.passed, R.failed);
}
