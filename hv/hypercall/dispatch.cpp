#include <sstream>

#include "hypercall/hypercall.h"

namespace pv {

int64_t dispatch_hypercall(Hypercall& hc, HypercallStats& stats) {
  namespace H = xen::hc;
  int64_t rc;
  switch (hc.nr) {
    case H::xen_version: rc = do_xen_version(hc); break;
    case H::memory_op: rc = do_memory_op(hc); break;
    case H::hvm_op: rc = do_hvm_op(hc); break;
    case H::vcpu_op: rc = do_vcpu_op(hc); break;
    case H::event_channel_op: rc = do_event_channel_op(hc); break;
    case H::grant_table_op: rc = do_grant_table_op(hc); break;
    case H::sched_op: rc = do_sched_op(hc); break;
    case H::console_io: rc = do_console_io(hc); break;
    default: rc = hc.unimplemented(); break;
  }
  stats.calls++;
  if (hc.nr < HypercallStats::kTracked) stats.by_number[hc.nr]++;
  if (rc < 0) stats.failed++;
  if (hc.not_implemented) stats.unimplemented++;
  return rc;
}

std::string HypercallStats::summary() const {
  std::ostringstream os;
  os << "hypercalls: " << calls.load() << " calls, " << failed.load() << " failed, " << unimplemented.load()
     << " not implemented";
  return os.str();
}

}  // namespace pv
