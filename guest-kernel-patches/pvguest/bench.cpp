// pvguest: micro-benchmarks (null hypercall, bare port-I/O exit, event-channel
// round trip) and the guest-side references that explain them.
//
// On a PVM-backed KVM every guest supervisor instruction is emulated (~1 us
// each), so a figure here is only meaningful next to a reference measured in
// the same guest run: tests/bench reports ratios, not absolute times.
#include <xen/version.h>

#include "arch.h"
#include "console.h"
#include "events.h"
#include "hypercall.h"
#include "kernel.h"
#include "modes.h"
#include "pvtime.h"

namespace {
// Prints ns with one decimal: total_ns / n.
void print_rate(const char* what, const char* unit, uint64_t total_ns, uint64_t n) {
  uint64_t tenths = total_ns * 10 / n;
  con::printf("bench %s %s=%lu.%lu\n", what, unit, tenths / 10, tenths % 10);
}
// Port 0x80 (the POST-code port) is claimed by nothing in pv-hv: a write is a
// plain port-I/O exit to user space and straight back.
constexpr uint16_t kUnclaimedPort = 0x80;
}  // namespace

void bench_hypercall(uint64_t n) {
  hv::xen_version(xen::version::op::version, nullptr);  // warm up
  uint64_t t0 = pvclock::now();
  for (uint64_t i = 0; i < n; i++) hv::xen_version(xen::version::op::version, nullptr);
  uint64_t t1 = pvclock::now();
  print_rate("hypercall", "ns_per_call", t1 - t0, n);
}

// The same loop shape as bench_hypercall, with the hypercall replaced by one
// `out %al, $0x80`: the cost of the exit itself, without the hypercall page
// stub (call, mov, out, ret) and pv-hv's dispatch.
void bench_portio(uint64_t n) {
  arch::outb(kUnclaimedPort, 0);  // warm up
  uint64_t t0 = pvclock::now();
  for (uint64_t i = 0; i < n; i++) arch::outb(kUnclaimedPort, 0);
  uint64_t t1 = pvclock::now();
  print_rate("portio", "ns_per_exit", t1 - t0, n);
}

// Guest-side reference: n iterations of `dec; jnz` (2 instructions, no exit).
// Gives the cost of one emulated guest instruction in this run.
void bench_insn(uint64_t n) {
  uint64_t t0 = pvclock::now();
  uint64_t c = n;
  asm volatile("1: dec %0; jnz 1b" : "+r"(c)::"cc");
  uint64_t t1 = pvclock::now();
  print_rate("insn", "ns_per_insn", t1 - t0, 2 * n);
  // One pvclock read (what wait_hit used to do per spin iteration).
  t0 = pvclock::now();
  for (uint64_t i = 0; i < n / 16 + 1; i++) (void)pvclock::now();
  t1 = pvclock::now();
  print_rate("pvclock", "ns_per_read", t1 - t0, n / 16 + 1);
}

void bench_evtchn(uint64_t n) {
  xen::evtchn_port_t a = 0, b = 0;
  long rc = evt::loopback_pair(a, b);
  if (rc) {
    con::printf("bench evtchn failed: loopback pair rc=%ld\n", rc);
    return;
  }
  // Round trip: EVTCHNOP_send on one end, pv-hv marks the other end pending
  // and injects the callback vector, the guest's upcall handler counts it.
  uint64_t misses = 0, early = 0;
  uint64_t t0 = pvclock::now();
  for (uint64_t i = 0; i < n; i++) {
    uint64_t old = evt::ports[b].hits;
    evt::send(a);
    if (evt::ports[b].hits > old) early++;  // upcall already ran before send returned
    if (!evt::wait_hit(b, old, 1000000000ull)) misses++;
  }
  uint64_t t1 = pvclock::now();
  if (misses) con::printf("bench evtchn: %lu of %lu upcalls never arrived\n", misses, n);
  print_rate("evtchn", "ns_per_roundtrip", t1 - t0, n);
  con::printf("bench evtchn upcall_before_send_returned=%lu/%lu\n", early, n);

  // Breakdown reference: the same EVTCHNOP_send with the target end masked
  // (pv-hv marks it pending but raises no upcall); the guest clears the
  // pending bit itself. Round trip minus this = the upcall delivery + handler.
  evt::mask(b);
  arch::test_and_clear_bit(b, k::shinfo->evtchn_pending);
  t0 = pvclock::now();
  for (uint64_t i = 0; i < n; i++) {
    evt::send(a);
    arch::test_and_clear_bit(b, k::shinfo->evtchn_pending);
  }
  t1 = pvclock::now();
  print_rate("evtchn-send-masked", "ns_per_call", t1 - t0, n);
  evt::close(a);
  evt::close(b);
}
