// How pvd runs its memory balancer (memory_balancer.h is the policy,
// domain_balancer.cpp the driver): pvd --balancer on and the
// --balancer-* options (docs/toolstack.md, "The memory balancer").
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

#include "memory_balancer.h"

namespace pv::pvd {

struct BalancerSettings {
  bool on = false;
  BalancerConfig policy;
  std::chrono::milliseconds interval{5000};  // between rounds
  // A domain asked to shrink that has not given back 1 MiB in this long,
  // while above what it was asked, is marked uncooperative.
  std::chrono::milliseconds stuck_after{30000};
  // Test aid: the host's free memory is read (MiB, one number) from this
  // file instead of /proc/meminfo's MemAvailable.
  std::string host_free_file;
};

// The host's free memory in KiB: MemAvailable from /proc/meminfo, or the
// MiB in `host_free_file` when it is set. Throws UserError/SystemError with
// what could not be read.
uint64_t host_free_kib(const std::string& host_free_file);

}  // namespace pv::pvd
