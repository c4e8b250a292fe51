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

struct alloc_unbound {
  domid_t dom, remote_dom;  // IN
  evtchn_port_t port;       // OUT
};
static_assert(sizeof(alloc_unbound) == 8);

struct bind_interdomain {
  domid_t remote_dom;         // IN
  evtchn_port_t remote_port;  // IN
  evtchn_port_t local_port;   // OUT
};
static_assert(sizeof(bind_interdomain) == 12);

struct bind_virq {
  uint32_t virq;       // IN
  uint32_t vcpu;       // IN
  evtchn_port_t port;  // OUT
};
static_assert(sizeof(bind_virq) == 12);

struct bind_ipi {
  uint32_t vcpu;       // IN
  evtchn_port_t port;  // OUT
};
static_assert(sizeof(bind_ipi) == 8);

struct close {
  evtchn_port_t port;
};
struct send {
  evtchn_port_t port;
};
struct unmask {
  evtchn_port_t port;
};
struct bind_vcpu {
  evtchn_port_t port;
  uint32_t vcpu;
};
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
