// pvguest: boot sequence and command-line modes.
#include <xen/cpuid.h>
#include <xen/event_channel.h>
#include <xen/hvm.h>
#include <xen/memory.h>
#include <xen/sched.h>
#include <xen/start_info.h>
#include <xen/version.h>

#include "arch.h"
#include "balloon.h"
#include "console.h"
#include "events.h"
#include "grant.h"
#include "hypercall.h"
#include "kernel.h"
#include "lib.h"
#include "modes.h"
#include "pvtime.h"
#include "smp.h"
#include "vcpu_hotplug.h"
#include "suspend.h"

alignas(4096) uint8_t hypercall_page[4096];

namespace k {
PerCpu cpus[kMaxCpus];
unsigned nr_cpus = 1;
xen::shared_info* shinfo = nullptr;
uint32_t xen_cpuid_base = 0;
uint16_t domid = 0;
xen::mem::e820_entry memmap[kMaxMemmap];
unsigned memmap_entries = 0;
uint64_t module_paddr = 0, module_size = 0;

namespace {
alignas(4096) uint8_t shared_info_page[4096];
bool have_hypercalls = false;
char cmdline[1024];

uint32_t find_xen_cpuid_base() {
  for (uint32_t base = xen::cpuid::kFirstLeaf; base < xen::cpuid::kLastBase; base += 0x100) {
    uint32_t a, b, c, d;
    arch::cpuid(base, 0, a, b, c, d);
    if (b == xen::cpuid::SIGNATURE_EBX && c == xen::cpuid::SIGNATURE_ECX && d == xen::cpuid::SIGNATURE_EDX &&
        a >= base + 2)
      return base;
  }
  return 0;
}

[[noreturn]] void no_xen() {
  con::serial_write("pvguest: no Xen signature found; this is not a Xen-compatible host\n");
  arch::outb(0xf4, 0x31);  // isa-debug-exit, when present
  arch::halt_forever();
}

const char* reason_name(uint32_t r) {
  static const char* const names[] = {"poweroff", "reboot", "suspend", "crash", "watchdog", "soft_reset"};
  return r <= xen::shutdown::max ? names[r] : "?";
}

void parse_cmdline(Options& o) {
  const char* s = cmdline;
  while (*s) {
    while (*s == ' ') s++;
    const char* tok = s;
    while (*s && *s != ' ') s++;
    size_t len = size_t(s - tok);
    if (!len) break;
    const char* eq = tok;
    while (eq < s && *eq != '=') eq++;
    size_t klen = size_t(eq - tok);
    const char* val = eq < s ? eq + 1 : s;
    size_t vlen = size_t(s - val);
    auto key_is = [&](const char* k) { return strlen(k) == klen && memcmp(tok, k, klen) == 0; };
    auto val_is = [&](const char* v) { return strlen(v) == vlen && memcmp(val, v, vlen) == 0; };
    uint64_t n = 0;
    if (key_is("selftest")) o.selftest = true;
    else if (key_is("hostile")) o.hostile = true;
    else if (key_is("xenstore")) o.xenstore = true;
    else if (key_is("idle")) o.idle = true;
    else if (key_is("xenstore-flood")) o.xenstore_flood = true;
    else if (key_is("balloon")) o.balloon = true;
    else if (key_is("memtouch")) o.memtouch = true;
    else if (key_is("vcpuwork")) o.vcpuwork = true;
    else if (key_is("tick") && !vlen) o.tick_ms = 100;
    else if (key_is("tick") && lib::parse_u64(val, vlen, n) && n > 0) o.tick_ms = n;
    else if (parse_blk_option(tok, klen, val, vlen)) continue;
    else if (parse_hotplug_option(tok, klen, val, vlen, o.hotplug)) continue;
    else if (key_is("shutdown")) {
      bool found = false;
      for (uint32_t r = 0; r <= xen::shutdown::max; r++)
        if (val_is(reason_name(r))) o.shutdown_reason = r, found = true;
      if (!found) con::printf("pvguest: unknown shutdown reason ignored\n");
    } else if (key_is("watchdog") && lib::parse_u64(val, vlen, n)) o.watchdog_s = n;
    else if (key_is("freereport") && lib::parse_u64(val, vlen, n) && n > 0) o.freereport_mib = n;
    else if (key_is("touchfree") && lib::parse_u64(val, vlen, n) && n > 0) o.touchfree_mib = n;
    else if (key_is("pagereport")) o.pagereport = true;
    else if (key_is("runstate") && lib::parse_u64(val, vlen, n) && n > 0) o.runstate_s = n;
    else if (key_is("bench-hypercall") && lib::parse_u64(val, vlen, n)) o.bench_hypercall = n;
    else if (key_is("bench-evtchn") && lib::parse_u64(val, vlen, n)) o.bench_evtchn = n;
    else if (key_is("bench-portio") && lib::parse_u64(val, vlen, n)) o.bench_portio = n;
    else if (key_is("bench-insn") && lib::parse_u64(val, vlen, n)) o.bench_insn = n;
    else if (key_is("bench-rounds") && lib::parse_u64(val, vlen, n) && n > 0) o.bench_rounds = n;
    else if (key_is("fault") && (val_is("ud") || val_is("pf"))) o.fault = val[0];
    else if (parse_net_option(tok, klen, val, vlen)) {
    } else {
      char t[64];
      size_t m = len < sizeof t - 1 ? len : sizeof t - 1;
      memcpy(t, tok, m);
      t[m] = 0;
      con::printf("pvguest: ignoring cmdline token '%s'\n", t);
    }
  }
}

void copy_start_info(uint32_t si_paddr) {
  auto* si = reinterpret_cast<const xen::pvh::hvm_start_info*>(uint64_t(si_paddr));
  if (!si_paddr || si->magic != xen::pvh::XEN_HVM_START_MAGIC_VALUE) {
    con::emergency("pvguest: bad PVH start info at 0x%x\n", si_paddr);
    return;
  }
  if (si->cmdline_paddr) {
    const char* c = reinterpret_cast<const char*>(si->cmdline_paddr);
    size_t n = lib::strnlen(c, sizeof cmdline - 1);
    memcpy(cmdline, c, n);
    cmdline[n] = 0;
  }
  if (si->version >= 1 && si->memmap_paddr) {
    auto* mm = reinterpret_cast<const xen::pvh::hvm_memmap_table_entry*>(si->memmap_paddr);
    for (uint32_t i = 0; i < si->memmap_entries && memmap_entries < kMaxMemmap; i++)
      memmap[memmap_entries++] = xen::mem::e820_entry{mm[i].addr, mm[i].size, mm[i].type};
  }
  if (si->nr_modules && si->modlist_paddr) {
    auto* mod = reinterpret_cast<const xen::pvh::hvm_modlist_entry*>(si->modlist_paddr);
    module_paddr = mod[0].paddr;
    module_size = mod[0].size;
  }
}

void fatal_boot(const char* what, long rc) {
  con::emergency("pvguest: boot failed: %s (rc=%ld)\n", what, rc);
  shutdown(xen::shutdown::crash);
}
}  // namespace

[[noreturn]] void shutdown(uint32_t reason) {
  if (have_hypercalls) {
    con::flush(1000000000ull);
    xen::sched::shutdown s{reason};
    hv::sched_op(xen::sched::op::shutdown, &s);
    con::emergency("pvguest: SCHEDOP_shutdown returned\n");
  } else {
    arch::outb(0xf4, 0x31);
  }
  arch::halt_forever();
}

}  // namespace k

using namespace k;

namespace {
// The hypercall page (MSR from Xen's CPUID leaf 2), the hypercall console,
// and our domid when Xen's CPUID leaf 4 has it.
void setup_hypercalls() {
  uint32_t a, b, c, d;
  arch::cpuid(xen_cpuid_base + 2, 0, a, b, c, d);
  uint32_t msr = b ? b : xen::cpuid::kHypercallMsr;
  arch::wrmsr(msr, uint64_t(hypercall_page));
  have_hypercalls = true;
  con::enable_hypercall_console();
  arch::cpuid(xen_cpuid_base, 0, a, b, c, d);
  if (a >= xen_cpuid_base + 4) {
    arch::cpuid(xen_cpuid_base + 4, 0, a, b, c, d);
    if (a & xen::cpuid::XEN_HVM_CPUID_DOMID_PRESENT) domid = uint16_t(c);
  }
}

// The modes the command line asked for, in their fixed order; then the
// fault and watchdog tests.
void run_modes(const Options& opt) {
  if (opt.selftest) run_selftest();
  if (opt.hostile) run_hostile();
  if (opt.xenstore) run_xenstore_checks();
  run_blk_modes();  // blkio=... / blkhostile, if asked for
  if (opt.freereport_mib) run_freereport(opt.freereport_mib);
  if (opt.pagereport) balloon::enable_free_page_reporting();
  if (opt.touchfree_mib) run_touchfree(opt.touchfree_mib);
  if (opt.xenstore_flood) run_xenstore_flood();  // never returns: idles as `idle`
  run_net_modes();  // net=... modes, if any were asked for
  if (opt.runstate_s) run_runstate(opt.runstate_s);
  for (uint64_t r = 0; r < opt.bench_rounds; r++) {
    if (opt.bench_insn) bench_insn(opt.bench_insn);
    if (opt.bench_portio) bench_portio(opt.bench_portio);
    if (opt.bench_hypercall) bench_hypercall(opt.bench_hypercall);
    if (opt.bench_evtchn) bench_evtchn(opt.bench_evtchn);
  }
  if (opt.fault == 'u') asm volatile("ud2");
  if (opt.fault == 'p') *reinterpret_cast<volatile uint64_t*>(0x7f0000000000ull) = 1;  // unmapped
  if (opt.watchdog_s) {
    xen::sched::watchdog w{0, uint32_t(opt.watchdog_s)};
    long rc = hv::sched_op(xen::sched::op::watchdog, &w);
    if (rc <= 0) {
      con::printf("WATCHDOG failed rc=%ld\n", rc);
    } else {
      con::printf("WATCHDOG armed\n");
      con::flush(1000000000ull);
      if (opt.idle) run_idle();
      for (;;) hv::sched_op(xen::sched::op::block, nullptr);
    }
  }
}
}  // namespace

extern "C" [[noreturn]] void kmain(uint32_t start_info_paddr) {
  traps_init();
  xen_cpuid_base = find_xen_cpuid_base();
  if (!xen_cpuid_base) no_xen();

  setup_hypercalls();
  copy_start_info(start_info_paddr);
  Options opt;
  parse_cmdline(opt);

  // shared_info at a page of our own.
  xen::mem::add_to_physmap ap{xen::DOMID_SELF, 0, xen::mem::space::shared_info, 0,
                              uint64_t(shared_info_page) >> xen::kPageShift};
  long rc = hv::memory_op(xen::mem::op::add_to_physmap, &ap);
  if (rc) fatal_boot("add_to_physmap(shared_info)", rc);
  shinfo = reinterpret_cast<xen::shared_info*>(shared_info_page);
  evt::init();

  if (opt.hostile) hostile_early();  // page-crossing register_vcpu_info
  rc = smp::register_vcpu_info(0);
  if (rc) fatal_boot("register_vcpu_info(0)", rc);

  xen::hvm::param_arg p{xen::DOMID_SELF, 0, xen::hvm::param::CALLBACK_IRQ,
                        (xen::hvm::CALLBACK_TYPE_VECTOR << xen::hvm::kCallbackTypeShift) | kCallbackVector};
  rc = hv::hvm_op(xen::hvm::op::set_param, &p);
  if (rc) fatal_boot("set_param(CALLBACK_IRQ)", rc);

  if (!con::ring_init()) con::emergency("pvguest: no console ring; using console_io\n");
  if (!timer::bind_timer_virq(0)) fatal_boot("bind_virq(TIMER, 0)", -1);
  if (!grant::init())
    con::printf("pvguest: grant table setup incomplete (set_version=%ld query=%ld map=%ld setup=%ld/%d)\n",
                grant::state.set_version_rc, grant::state.query_rc, grant::state.map_rc, grant::state.setup_rc,
                grant::state.setup_status);
  arch::sti();
  smp_init();

  unsigned online = 1;
  for (unsigned i = 1; i < nr_cpus; i++) online += cpus[i].online;
  con::printf("pvguest: Xen %ld.%ld (cpuid base 0x%x), domid %u, %u/%u vCPUs online, cmdline '%s'\n",
              hv::xen_version(xen::version::op::version, nullptr) >> 16,
              hv::xen_version(xen::version::op::version, nullptr) & 0xffff, xen_cpuid_base, domid, online, nr_cpus,
              cmdline);
  con::printf("READY\n");

  run_modes(opt);
  if (opt.balloon || opt.memtouch) run_balloon(opt.memtouch);
  if (opt.hotplug) run_hotplug();
  if (opt.vcpuwork) run_vcpuwork();
  if (opt.tick_ms) run_tick(opt.tick_ms);
  if (opt.idle) run_idle();
  shutdown(opt.shutdown_reason);
}

// What a new pv-hv does not carry over a suspend that returned 0 (as
// Linux's xen_hvm_post_suspend + xen_vcpu_restore + xen_setup_callback_vector
// + gnttab_resume): the guest places its Xen pages and binds again.
void k::resume_platform() {
  xen::mem::add_to_physmap ap{xen::DOMID_SELF, 0, xen::mem::space::shared_info, 0,
                              uint64_t(shared_info_page) >> xen::kPageShift};
  long rc = hv::memory_op(xen::mem::op::add_to_physmap, &ap);
  if (rc) fatal_boot("resume: add_to_physmap(shared_info)", rc);
  evt::init();
  for (unsigned cpu = 0; cpu < nr_cpus; cpu++) {
    // Every secondary vCPU's IPI, as smp_init bound them (Linux: xen_setup_cpu_ipi_irqs on resume).
    if (cpu && ((rc = evt::bind_ipi(cpu, cpus[cpu].ipi_port)) != 0 || (rc = evt::unmask(cpus[cpu].ipi_port)) != 0))
      fatal_boot("resume: bind_ipi", rc);
    if (cpu && !cpus[cpu].online) continue;
    if ((rc = smp::register_vcpu_info(cpu)) != 0) fatal_boot("resume: register_vcpu_info", rc);
    if (cpu && (rc = smp::setup_upcall_vector(cpu)) != 0) fatal_boot("resume: set_evtchn_upcall_vector", rc);
    if (!timer::bind_timer_virq(cpu)) fatal_boot("resume: bind_virq(TIMER)", cpu);
  }
  xen::hvm::param_arg p{xen::DOMID_SELF, 0, xen::hvm::param::CALLBACK_IRQ,
                        (xen::hvm::CALLBACK_TYPE_VECTOR << xen::hvm::kCallbackTypeShift) | kCallbackVector};
  if ((rc = hv::hvm_op(xen::hvm::op::set_param, &p)) != 0) fatal_boot("resume: set_param(CALLBACK_IRQ)", rc);
  if (!con::ring_init()) con::emergency("pvguest: resume: no console ring; using console_io\n");
  if (!grant::init()) con::printf("pvguest: resume: grant table setup incomplete\n");
}
