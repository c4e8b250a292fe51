// pvguest: micro-benchmarks (null hypercall, event-channel round trip).
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
}  // namespace

void bench_hypercall(uint64_t n) {
  hv::xen_version(xen::version::op::version, nullptr);  // warm up
  uint64_t t0 = pvclock::now();
  for (uint64_t i = 0; i < n; i++) hv::xen_version(xen::version::op::version, nullptr);
  uint64_t t1 = pvclock::now();
  print_rate("hypercall", "ns_per_call", t1 - t0, n);
}

void bench_evtchn(uint64_t n) {
  xen::evtchn_port_t a = 0, b = 0;
  long rc = evt::loopback_pair(a, b);
  if (rc) {
    con::printf("bench evtchn failed: loopback pair rc=%ld\n", rc);
    return;
  }
  uint64_t t0 = pvclock::now();
  uint64_t misses = 0;
  for (uint64_t i = 0; i < n; i++) {
    uint64_t old = evt::ports[b].hits;
    evt::send(a);
    if (!evt::wait_hit(b, old, 1000000000ull)) misses++;
  }
  uint64_t t1 = pvclock::now();
  if (misses) con::printf("bench evtchn: %lu of %lu upcalls never arrived\n", misses, n);
  print_rate("evtchn", "ns_per_roundtrip", t1 - t0, n);
  evt::close(a);
  evt::close(b);
}
