// pvguest: `hostile` mode. Bad hypercalls must fail (negative rc) and the
// domain must keep running. One `PASS hostile <name> (rc=<n>)` line per case.
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
#include "lib.h"
#include "modes.h"
#include "pvtime.h"

extern "C" uint8_t __kernel_end[];

namespace {
namespace eo = xen::evtchn;
using hv::hypercall2;
using hv::hypercall3;

unsigned passed = 0, failed = 0;
long early_cross_page_rc = 1;  // 1 = not run
alignas(4096) uint8_t scratch[2][4096];

// PASS if rc < 0 (or `ok_zero` and rc == 0).
void expect_err(const char* name, long rc, bool ok_zero = false) {
  if (rc < 0 || (ok_zero && rc == 0)) {
    passed++;
    con::printf("PASS hostile %s (rc=%ld)\n", name, rc);
  } else {
    failed++;
    con::printf("FAIL hostile %s: expected an error, got rc=%ld\n", name, rc);
  }
}
void expect(const char* name, bool ok, long rc, const char* what) {
  if (ok) {
    passed++;
    con::printf("PASS hostile %s (rc=%ld)\n", name, rc);
  } else {
    failed++;
    con::printf("FAIL hostile %s: %s (rc=%ld)\n", name, what, rc);
  }
}

char nb[96];
const char* nm(const char* a, const char* b) {
  lib::snprintf(nb, sizeof nb, "%s_%s", a, b);
  return nb;
}

uint64_t memmap_top(bool ram_only) {
  uint64_t top = 0;
  for (unsigned i = 0; i < k::memmap_entries; i++) {
    if (ram_only && k::memmap[i].type != xen::mem::E820_RAM) continue;
    uint64_t e = k::memmap[i].addr + k::memmap[i].size;
    if (e > top) top = e;
  }
  return top;
}
bool in_memmap(uint64_t a) {
  for (unsigned i = 0; i < k::memmap_entries; i++)
    if (a >= k::memmap[i].addr && a < k::memmap[i].addr + k::memmap[i].size) return true;
  return false;
}

void wild_pointer_cases(const char* an, uint64_t addr) {
  expect_err(nm("wildptr_console_write", an), hv::console_io(xen::console::op::write, 16, reinterpret_cast<void*>(addr)));
  expect_err(nm("wildptr_xen_version_extraversion", an),
             hypercall2(xen::hc::xen_version, xen::version::op::extraversion, addr));
  expect_err(nm("wildptr_xen_version_get_features", an),
             hypercall2(xen::hc::xen_version, xen::version::op::get_features, addr));
  expect_err(nm("wildptr_memory_op_current_reservation", an),
             hypercall2(xen::hc::memory_op, xen::mem::op::current_reservation, addr));
  expect_err(nm("wildptr_memory_op_add_to_physmap", an), hypercall2(xen::hc::memory_op, xen::mem::op::add_to_physmap, addr));
  expect_err(nm("wildptr_evtchn_send", an), hypercall2(xen::hc::event_channel_op, eo::op::send, addr));
  expect_err(nm("wildptr_evtchn_alloc_unbound", an), hypercall2(xen::hc::event_channel_op, eo::op::alloc_unbound, addr));
  expect_err(nm("wildptr_hvm_get_param", an), hypercall2(xen::hc::hvm_op, xen::hvm::op::get_param, addr));
  expect_err(nm("wildptr_gnttab_query_size", an), hypercall3(xen::hc::grant_table_op, xen::gnttab::op::query_size, addr, 1));
  expect_err(nm("wildptr_vcpu_set_singleshot_timer", an),
             hypercall3(xen::hc::vcpu_op, xen::vcpu::op::set_singleshot_timer, k::this_cpu(), addr));
  expect_err(nm("wildptr_sched_shutdown", an), hypercall2(xen::hc::sched_op, xen::sched::op::shutdown, addr));
  xen::sched::poll p{addr, 1, 0, pvclock::now() + 1000000};
  expect_err(nm("wildptr_sched_poll_ports", an), hv::sched_op(xen::sched::op::poll, &p));
  xen::mem::memory_map mm{4, 0, addr};
  expect_err(nm("wildptr_memory_map_buffer", an), hv::memory_op(xen::mem::op::memory_map, &mm));
  xen::gnttab::setup_table st{xen::DOMID_SELF, 1, 0, addr};
  long rc = hv::gnttab_op(xen::gnttab::op::setup_table, &st, 1);
  expect(nm("wildptr_gnttab_setup_table_frame_list", an), rc < 0 || st.status < 0, rc < 0 ? rc : st.status,
         "setup_table accepted a wild frame_list");
}

void port_cases(const char* pn, xen::evtchn_port_t port, bool closed_port) {
  expect_err(nm("evtchn_send", pn), evt::send(port));
  expect_err(nm("evtchn_close", pn), evt::close(port));
  // Xen itself returns 0 for EVTCHNOP_unmask on a closed (free) port.
  expect_err(nm("evtchn_unmask", pn), evt::unmask(port), closed_port);
  eo::bind_vcpu bv{port, 0};
  expect_err(nm("evtchn_bind_vcpu", pn), hv::evtchn_op(eo::op::bind_vcpu, &bv));
  if (!closed_port) {
    eo::status st{};
    st.dom = xen::DOMID_SELF;
    st.port = port;
    expect_err(nm("evtchn_status", pn), hv::evtchn_op(eo::op::status, &st));
  }
}

bool still_alive() {
  xen::evtchn_port_t a, b;
  if (evt::loopback_pair(a, b)) return false;
  uint64_t h = evt::ports[b].hits;
  evt::send(a);
  bool ok = evt::wait_hit(b, h, 1000000000ull);
  evt::close(a);
  evt::close(b);
  return ok && hv::xen_version(xen::version::op::version, nullptr) > 0;
}

// --- wild pointers ---
void wild_pointer_checks() {
  wild_pointer_cases("noncanonical", 0xdead000000000000ull);
  wild_pointer_cases("unmapped_va", 0x7f0000000000ull);
  wild_pointer_cases("past_identity_map", k::kIdentityMapEnd);
  uint64_t top = memmap_top(false);
  uint64_t hole = ((top + 0x3fffff) & ~0x1fffffull);
  if (hole + 0x200000 < k::kIdentityMapEnd && !in_memmap(hole)) wild_pointer_cases("gpa_outside_ram", hole);
  else con::printf("SKIP hostile gpa_outside_ram: no unbacked gpa below 4 GiB\n");
  // A buffer that starts in the last guest page and runs past the end of
  // guest memory.
  if (top && top + 64 < k::kIdentityMapEnd && !in_memmap(top) && !in_memmap(top + 63))
    expect_err("console_write_straddles_memory_end",
               hv::console_io(xen::console::op::write, 64, reinterpret_cast<void*>(top - 8)));
  else con::printf("SKIP hostile console_write_straddles_memory_end: memory map has no end below 4 GiB\n");
}

// --- huge lengths ---
void length_checks() {
  static const char msg[] = "x";
  expect_err("console_write_count_1e40", hv::console_io(xen::console::op::write, 1ull << 40, msg));
  expect_err("console_write_count_minus1", hv::console_io(xen::console::op::write, ~0ull, msg));
  xen::evtchn_port_t pp = 0;
  xen::sched::poll p{uint64_t(&pp), 1u << 30, 0, pvclock::now() + 1000000};
  expect_err("sched_poll_nr_ports_huge", hv::sched_op(xen::sched::op::poll, &p));
  xen::gnttab::query_size qs{xen::DOMID_SELF, 0, 0, 0};
  expect_err("gnttab_query_size_count_huge", hv::gnttab_op(xen::gnttab::op::query_size, &qs, 1u << 20));
}

// --- invalid ports ---
void port_checks() {
  port_cases("port4096", 4096, false);
  port_cases("port99999", 99999, false);
  xen::evtchn_port_t closed = 0;
  long rc = evt::alloc_unbound(closed);
  if (rc == 0 && evt::close(closed) == 0) port_cases("closed_port", closed, true);
  else con::printf("FAIL hostile closed_port: could not allocate/close a port (rc=%ld)\n", rc), failed++;
  eo::bind_virq bv{99, 0, 0};
  expect_err("bind_virq_bad_virq", hv::evtchn_op(eo::op::bind_virq, &bv));
  bv = eo::bind_virq{xen::virq::TIMER, 1000, 0};
  expect_err("bind_virq_bad_vcpu", hv::evtchn_op(eo::op::bind_virq, &bv));
  eo::bind_ipi bi{1000, 0};
  expect_err("bind_ipi_bad_vcpu", hv::evtchn_op(eo::op::bind_ipi, &bi));
  eo::bind_interdomain bd{xen::DOMID_SELF, 4095, 0};
  expect_err("bind_interdomain_not_unbound", hv::evtchn_op(eo::op::bind_interdomain, &bd));
  eo::alloc_unbound au{5, xen::DOMID_SELF, 0};
  expect_err("alloc_unbound_foreign_dom", hv::evtchn_op(eo::op::alloc_unbound, &au));
}

// --- unknown hypercalls and sub-ops ---
void unknown_op_checks() {
  expect_err("hypercall_60", hv::hypercall0(60));
  expect_err("hypercall_127", hv::hypercall0(127));
  expect_err("memory_op_63", hv::memory_op(63, nullptr));
  expect_err("event_channel_op_99", hv::evtchn_op(99, scratch[1]));
  expect_err("vcpu_op_99", hv::vcpu_op(99, 0, scratch[1]));
  expect_err("sched_op_99", hv::sched_op(99, scratch[1]));
  expect_err("hvm_op_99", hv::hvm_op(99, scratch[1]));
  expect_err("grant_table_op_99", hv::gnttab_op(99, scratch[1], 1));
  expect_err("xen_version_99", hv::xen_version(99, scratch[1]));
  expect_err("console_io_99", hv::console_io(99, 1, scratch[1]));
}

// --- frames out of range ---
void frame_checks(uint64_t past_ram_pfn) {
  xen::mem::add_to_physmap ap{xen::DOMID_SELF, 0, xen::mem::space::grant_table, grant::state.query.max_nr_frames,
                              uint64_t(scratch[1]) >> xen::kPageShift};
  expect_err("add_to_physmap_grant_idx_max", hv::memory_op(xen::mem::op::add_to_physmap, &ap));
  ap = {xen::DOMID_SELF, 0, xen::mem::space::grant_table, 0, past_ram_pfn};
  long rc = hv::memory_op(xen::mem::op::add_to_physmap, &ap);
  expect_err("add_to_physmap_grant_past_ram", rc);
  if (rc == 0) {  // put frame 0 back where we use it
    ap.gpfn = grant::frame_gpfn(0);
    hv::memory_op(xen::mem::op::add_to_physmap, &ap);
  }
  ap = {xen::DOMID_SELF, 0, 99, 0, uint64_t(scratch[1]) >> xen::kPageShift};
  expect_err("add_to_physmap_bad_space", hv::memory_op(xen::mem::op::add_to_physmap, &ap));
  // 100000 frames: point frame_list at free RAM past the kernel so a host
  // that wrongly accepts it does not scribble over our own data.
  uint64_t spare = (uint64_t(__kernel_end) + 0x1fffff) & ~0xfffffull;
  xen::gnttab::setup_table st{xen::DOMID_SELF, 100000, 0, spare};
  rc = hv::gnttab_op(xen::gnttab::op::setup_table, &st, 1);
  expect("gnttab_setup_table_100000_frames", rc < 0 || st.status < 0, rc < 0 ? rc : st.status,
         "setup_table accepted 100000 frames");
}

// --- vCPU ops ---
void vcpu_checks() {
  if (early_cross_page_rc == 1) con::printf("SKIP hostile register_vcpu_info_cross_page: not run\n");
  else expect_err("register_vcpu_info_cross_page", early_cross_page_rc);
  uint64_t a = uint64_t(&scratch[1][64]);
  xen::vcpu::register_vcpu_info rv{a >> xen::kPageShift, uint32_t(a & 0xfff), 0};
  expect_err("register_vcpu_info_twice", hv::vcpu_op(xen::vcpu::op::register_vcpu_info, 0, &rv));
  rv = {a >> xen::kPageShift, 4090, 0};
  expect_err("register_vcpu_info_cross_page_vcpu1000", hv::vcpu_op(xen::vcpu::op::register_vcpu_info, 1000, &rv));
  expect_err("vcpu_op_is_up_vcpu1000", hv::vcpu_op(xen::vcpu::op::is_up, 1000, nullptr));
  expect_err("vcpu_op_up_vcpu1000", hv::vcpu_op(xen::vcpu::op::up, 1000, nullptr));
  expect_err("vcpu_op_down_vcpu1000", hv::vcpu_op(xen::vcpu::op::down, 1000, nullptr));
  expect_err("vcpu_op_initialise_vcpu1000", hv::vcpu_op(xen::vcpu::op::initialise, 1000, scratch[1]));
  expect_err("vcpu_op_initialise_running_vcpu0", hv::vcpu_op(xen::vcpu::op::initialise, 0, scratch[1]));
  expect_err("get_runstate_info_vcpu1000", hv::vcpu_op(xen::vcpu::op::get_runstate_info, 1000, scratch[1]));
  expect_err("get_runstate_info_wild_pointer",
             hv::vcpu_op(xen::vcpu::op::get_runstate_info, 0, reinterpret_cast<void*>(0x7f0000000000ull)));
  xen::vcpu::register_runstate_memory_area ra{0x7f0000000000ull};  // unmapped
  expect_err("register_runstate_unmapped", hv::vcpu_op(xen::vcpu::op::register_runstate_memory_area, 0, &ra));
  ra.addr = ~0ull - 8;  // wraps
  expect_err("register_runstate_wrapping", hv::vcpu_op(xen::vcpu::op::register_runstate_memory_area, 0, &ra));
  xen::hvm::evtchn_upcall_vector uv{};
  uv.vcpu = 1000;
  uv.vector = k::kUpcallVector;
  expect_err("set_evtchn_upcall_vector_vcpu1000", hv::hvm_op(xen::hvm::op::set_evtchn_upcall_vector, &uv));
}

// --- HVM params ---
void param_checks() {
  xen::hvm::param_arg pa{xen::DOMID_SELF, 0, 1000, 1};
  expect_err("hvm_set_param_1000", hv::hvm_op(xen::hvm::op::set_param, &pa));
  pa = {xen::DOMID_SELF, 0, 1000, 0};
  expect_err("hvm_get_param_1000", hv::hvm_op(xen::hvm::op::get_param, &pa));
  pa = {5, 0, xen::hvm::param::STORE_PFN, 0};
  expect_err("hvm_get_param_foreign_dom", hv::hvm_op(xen::hvm::op::get_param, &pa));
}

// --- sched_op ---
void sched_checks() {
  xen::sched::watchdog wd{99, 5};
  expect_err("sched_watchdog_bad_id", hv::sched_op(xen::sched::op::watchdog, &wd));
  xen::sched::shutdown sd{99};
  expect_err("sched_shutdown_reason_99", hv::sched_op(xen::sched::op::shutdown, &sd));
}

// --- shared_info moved outside RAM (last: a host that accepts it moves the page) ---
void shared_info_check(uint64_t past_ram_pfn) {
  xen::mem::add_to_physmap si{xen::DOMID_SELF, 0, xen::mem::space::shared_info, 0, past_ram_pfn};
  long rc = hv::memory_op(xen::mem::op::add_to_physmap, &si);
  expect_err("add_to_physmap_shared_info_past_ram", rc);
  if (rc == 0) {
    si.gpfn = uint64_t(k::shinfo) >> xen::kPageShift;
    hv::memory_op(xen::mem::op::add_to_physmap, &si);
  }
}
}  // namespace

void hostile_early() {
  // vcpu_info straddling a page boundary (before vCPU0 registers for real).
  uint64_t a = uint64_t(&scratch[0][4096 - 16]);
  xen::vcpu::register_vcpu_info r{a >> xen::kPageShift, uint32_t(a & 0xfff), 0};
  early_cross_page_rc = hv::vcpu_op(xen::vcpu::op::register_vcpu_info, 0, &r);
}

void run_hostile() {
  wild_pointer_checks();
  length_checks();
  port_checks();
  unknown_op_checks();
  const uint64_t past_ram_pfn = (memmap_top(true) >> xen::kPageShift) + 16;
  frame_checks(past_ram_pfn);
  vcpu_checks();
  param_checks();
  sched_checks();
  hostile_balloon_checks(expect, past_ram_pfn);
  shared_info_check(past_ram_pfn);

  bool alive = still_alive();
  expect("domain_still_running", alive, alive ? 0 : -1, "events or hypercalls stopped working");
  con::printf("hostile: %u passed, %u failed\n", passed, failed);
}
