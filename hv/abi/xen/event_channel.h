// Event channels (public/event_channel.h): EVTCHNOP_* commands and argument
// structures for HYPERVISOR_event_channel_op(cmd, arg).
#pragma once
#include "xen.h"

namespace xen::evtchn {

namespace op {
inline constexpr uint32_t bind_interdomain = 0;
inline constexpr uint32_t bind_virq = 1;
inline constexpr uint32_t bind_pirq = 2;
inline constexpr uint32_t close = 3;
inline constexpr uint32_t send = 4;
inline constexpr uint32_t status = 5;
inline constexpr uint32_t alloc_unbound = 6;
inline constexpr uint32_t bind_ipi = 7;
inline constexpr uint32_t bind_vcpu = 8;
inline constexpr uint32_t unmask = 9;
inline constexpr uint32_t reset = 10;
inline constexpr uint32_t init_control = 11;
inline constexpr uint32_t expand_array = 12;
inline constexpr uint32_t set_priority = 13;
}  // namespace op

// EVTCHNOP_alloc_unbound: allocate a port in <dom> that <remote_dom> may bind to.
struct alloc_unbound {
  domid_t dom, remote_dom;  // IN
  evtchn_port_t port;       // OUT
};
static_assert(sizeof(alloc_unbound) == 8);

// EVTCHNOP_bind_interdomain: connect a new local port to an unbound port of <remote_dom>.
struct bind_interdomain {
  domid_t remote_dom;         // IN
  evtchn_port_t remote_port;  // IN
  evtchn_port_t local_port;   // OUT
};
static_assert(sizeof(bind_interdomain) == 12);

// EVTCHNOP_bind_virq: bind a new local port to VIRQ <virq> on <vcpu>.
struct bind_virq {
  uint32_t virq;       // IN
  uint32_t vcpu;       // IN
  evtchn_port_t port;  // OUT
};
static_assert(sizeof(bind_virq) == 12);

// EVTCHNOP_bind_ipi: bind a new local port for inter-vCPU notifications to <vcpu>.
struct bind_ipi {
  uint32_t vcpu;       // IN
  evtchn_port_t port;  // OUT
};
static_assert(sizeof(bind_ipi) == 8);

// EVTCHNOP_close: close local <port>; an interdomain peer goes back to unbound.
struct close {
  evtchn_port_t port;
};
// EVTCHNOP_send: notify the remote end of the channel whose local end is <port>.
struct send {
  evtchn_port_t port;
};
// EVTCHNOP_unmask: unmask local <port>, delivering an upcall if it is pending.
struct unmask {
  evtchn_port_t port;
};
// EVTCHNOP_bind_vcpu: deliver <port>'s notifications to <vcpu> from now on.
struct bind_vcpu {
  evtchn_port_t port;
  uint32_t vcpu;
};
// EVTCHNOP_reset: close every event channel of domain <dom>.
struct reset {
  domid_t dom;
};

// EVTCHNSTAT_*
namespace stat {
inline constexpr uint32_t closed = 0;
inline constexpr uint32_t unbound = 1;
inline constexpr uint32_t interdomain = 2;
inline constexpr uint32_t pirq = 3;
inline constexpr uint32_t virq = 4;
inline constexpr uint32_t ipi = 5;
}  // namespace stat

// EVTCHNOP_status: report the state and binding of <dom, port>.
struct status {
  domid_t dom;         // IN
  evtchn_port_t port;  // IN
  uint32_t status;     // OUT: stat::*
  uint32_t vcpu;       // OUT: vCPU the port is bound to
  union {
    struct {
      domid_t dom;
    } unbound;
    struct {
      domid_t dom;
      evtchn_port_t port;
    } interdomain;
    uint32_t pirq;
    uint32_t virq;
  } u;
};
static_assert(sizeof(status) == 24);
static_assert(offsetof(status, u) == 16);

}  // namespace xen::evtchn

// ---- Xen's spellings (public/event_channel.h); see xen.h ----
namespace xen {
inline constexpr uint32_t EVTCHNOP_bind_interdomain = evtchn::op::bind_interdomain;
inline constexpr uint32_t EVTCHNOP_bind_virq = evtchn::op::bind_virq;
inline constexpr uint32_t EVTCHNOP_bind_pirq = evtchn::op::bind_pirq;
inline constexpr uint32_t EVTCHNOP_close = evtchn::op::close;
inline constexpr uint32_t EVTCHNOP_send = evtchn::op::send;
inline constexpr uint32_t EVTCHNOP_status = evtchn::op::status;
inline constexpr uint32_t EVTCHNOP_alloc_unbound = evtchn::op::alloc_unbound;
inline constexpr uint32_t EVTCHNOP_bind_ipi = evtchn::op::bind_ipi;
inline constexpr uint32_t EVTCHNOP_bind_vcpu = evtchn::op::bind_vcpu;
inline constexpr uint32_t EVTCHNOP_unmask = evtchn::op::unmask;
inline constexpr uint32_t EVTCHNOP_reset = evtchn::op::reset;
inline constexpr uint32_t EVTCHNOP_init_control = evtchn::op::init_control;
inline constexpr uint32_t EVTCHNOP_expand_array = evtchn::op::expand_array;
inline constexpr uint32_t EVTCHNOP_set_priority = evtchn::op::set_priority;

inline constexpr uint32_t EVTCHNSTAT_closed = evtchn::stat::closed;
inline constexpr uint32_t EVTCHNSTAT_unbound = evtchn::stat::unbound;
inline constexpr uint32_t EVTCHNSTAT_interdomain = evtchn::stat::interdomain;
inline constexpr uint32_t EVTCHNSTAT_pirq = evtchn::stat::pirq;
inline constexpr uint32_t EVTCHNSTAT_virq = evtchn::stat::virq;
inline constexpr uint32_t EVTCHNSTAT_ipi = evtchn::stat::ipi;

// The FIFO ABI (EVTCHNOP_init_control; pv-hv answers -ENOSYS).
inline constexpr uint32_t EVTCHN_FIFO_PRIORITY_MAX = 0;
inline constexpr uint32_t EVTCHN_FIFO_PRIORITY_DEFAULT = 7;
inline constexpr uint32_t EVTCHN_FIFO_PRIORITY_MIN = 15;
inline constexpr uint32_t EVTCHN_FIFO_MAX_QUEUES = EVTCHN_FIFO_PRIORITY_MIN + 1;
inline constexpr uint32_t EVTCHN_FIFO_PENDING = 31;
inline constexpr uint32_t EVTCHN_FIFO_MASKED = 30;
inline constexpr uint32_t EVTCHN_FIFO_LINKED = 29;
inline constexpr uint32_t EVTCHN_FIFO_BUSY = 28;
inline constexpr uint32_t EVTCHN_FIFO_LINK_BITS = 17;
inline constexpr uint32_t EVTCHN_FIFO_LINK_MASK = (1u << EVTCHN_FIFO_LINK_BITS) - 1;
inline constexpr uint32_t EVTCHN_FIFO_NR_CHANNELS = 1u << EVTCHN_FIFO_LINK_BITS;

// The argument structures under Xen's struct names.
using evtchn_alloc_unbound = evtchn::alloc_unbound;
using evtchn_bind_interdomain = evtchn::bind_interdomain;
using evtchn_bind_virq = evtchn::bind_virq;
using evtchn_bind_ipi = evtchn::bind_ipi;
using evtchn_close = evtchn::close;
using evtchn_send = evtchn::send;
using evtchn_status = evtchn::status;
using evtchn_bind_vcpu = evtchn::bind_vcpu;
using evtchn_unmask = evtchn::unmask;
using evtchn_reset = evtchn::reset;
}  // namespace xen
