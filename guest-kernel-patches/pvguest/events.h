// pvguest: 2-level event channels (shared_info pending/mask bitmaps, per
// vCPU selector) and thin EVTCHNOP wrappers.
#pragma once
#include <stdint.h>
#include <xen/event_channel.h>
#include <xen/xen.h>

namespace evt {
inline constexpr unsigned kNrPorts = xen::EVTCHN_2L_NR_CHANNELS;

struct PortStat {
  volatile uint64_t hits;
  volatile uint32_t last_cpu;
  volatile uint8_t bound_cpu;
};
extern PortStat ports[kNrPorts];

void init();  // mask every port (ports are unmasked as they are bound)
void set_binding(xen::evtchn_port_t port, unsigned cpu);
void upcall(unsigned cpu, unsigned vector_index);  // from the IDT stub

long send(xen::evtchn_port_t port);
long close(xen::evtchn_port_t port);
long unmask(xen::evtchn_port_t port);                 // EVTCHNOP_unmask
void mask(xen::evtchn_port_t port);                   // local bit
bool is_pending(xen::evtchn_port_t port);
bool is_masked(xen::evtchn_port_t port);
long alloc_unbound(xen::evtchn_port_t& port);        // remote DOMID_SELF
long bind_interdomain(xen::evtchn_port_t remote, xen::evtchn_port_t& local);
// A loopback pair: a = alloc_unbound, b = bind_interdomain(a); both bound to
// vCPU0 and unmasked unless `masked`.
long loopback_pair(xen::evtchn_port_t& a, xen::evtchn_port_t& b, bool masked = false);
long bind_ipi(unsigned vcpu, xen::evtchn_port_t& port);
long bind_vcpu(xen::evtchn_port_t port, unsigned vcpu);
long status(xen::evtchn_port_t port, xen::evtchn::status& st);
// Spins (interrupts on) until ports[port].hits > old or timeout; true if hit.
bool wait_hit(xen::evtchn_port_t port, uint64_t old, uint64_t timeout_ns);
}  // namespace evt
