// One hypercall as a vCPU made it, and the handlers, one per hypercall
// number (hypercall/<name>.cpp). Handlers return 0/positive or a negative
// Xen errno; they validate every argument and copy guest memory only
// through `guest`.
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <string>

#include <xen/xen.h>

#include "hypercall/guest_access.h"

namespace pv {

class Domain;
class Vcpu;

struct Hypercall {
  Domain& dom;
  Vcpu& vcpu;
  uint64_t nr;
  std::array<uint64_t, 5> arg;  // rdi, rsi, rdx, r10, r8
  const GuestAccess& guest;
  bool not_implemented = false;

  // For an operation we do not provide: -ENOSYS, counted as such.
  int64_t unimplemented() {
    not_implemented = true;
    return -xen::XEN_ENOSYS;
  }
};

struct HypercallStats {
  static constexpr size_t kTracked = 64;
  std::atomic<uint64_t> calls{0}, failed{0}, unimplemented{0};
  std::array<std::atomic<uint64_t>, kTracked> by_number{};
  std::string summary() const;
};

// Runs the handler for hc.nr and accounts for it in `stats`.
int64_t dispatch_hypercall(Hypercall& hc, HypercallStats& stats);

int64_t do_xen_version(Hypercall& hc);
int64_t do_memory_op(Hypercall& hc);
int64_t do_hvm_op(Hypercall& hc);
int64_t do_vcpu_op(Hypercall& hc);
int64_t do_event_channel_op(Hypercall& hc);
int64_t do_grant_table_op(Hypercall& hc);
int64_t do_sched_op(Hypercall& hc);
int64_t do_console_io(Hypercall& hc);

}  // namespace pv
