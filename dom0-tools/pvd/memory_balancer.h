// The automatic memory balancer's policy (pvd --balancer on), after xapi's
// squeezed and xenballoond: a pure function from what the host has free and
// what each domain holds and reports to the balloon targets pvd writes in
// memory/target. The driver that feeds it on pvd's loop is
// domain_balancer.cpp; docs/toolstack.md, "The memory balancer".
//
// All figures in KiB. A domain's own target (memory, or what mem-set last
// asked) is the ceiling the balancer returns it to; it never asks more.
//
// When the host's free memory (plus what domains already asked are still
// giving back, less what domains already asked are still taking) is below
// the low-water mark, it reclaims up to the high-water mark:
//   1. from the idle surplus of each domain that reports a working set
//      (data/meminfo_total - data/meminfo_free), largest surplus first, down
//      to that working set plus a margin;
//   2. if that is not enough (domains claim their memory is in use), from the
//      largest balloon targets first, evening them down toward a common
//      level (water-filling), so no one domain keeps more than the others
//      by claiming a huge working set.
// Never below the floor (or the domain's own target when that is smaller).
// When it is above the high-water mark, the excess is given back to the
// domains below their own targets, the furthest below (in proportion)
// first. Between the marks it holds. Domains without a balloon driver
// (control/feature-balloon), or marked uncooperative (they did not follow),
// are not managed: a target the balancer had lowered goes back to their own.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pv::pvd {

struct BalancerConfig {
  uint64_t low_water_kib = 1024 * 1024;   // reclaim below this much free host memory
  uint64_t high_water_kib = 1536 * 1024;  // ... up to this; give back above it
  uint64_t margin_kib = 32 * 1024;        // left to a domain above its working set
  uint64_t floor_kib = 64 * 1024;         // no domain is asked below this
};

struct BalancerDomain {
  uint32_t domid = 0;
  uint64_t target_kib = 0;    // its own target (mem-set / memory): the ceiling
  uint64_t maximum_kib = 0;   // pv-hv's ceiling (mem-max)
  uint64_t current_kib = 0;   // populated frames now (pv-hv's count)
  uint64_t balanced_kib = 0;  // memory/target now: what the balancer last asked, or target_kib
  // What the guest wrote (data/meminfo_total, data/meminfo_free): its word only.
  std::optional<uint64_t> reported_total_kib, reported_free_kib;
  bool balloon = false;      // control/feature-balloon
  bool cooperative = true;   // followed what it was asked (the driver's judgement)
};

struct BalancerDecision {
  uint32_t domid = 0;
  uint64_t from_kib = 0, to_kib = 0;  // memory/target before and after
  std::string why;                    // for pvd's log
};

// The working set a domain's report claims (total - free),
// or nullopt when the report is missing or cannot be true (free > total, a
// total beyond its maximum, zero).
std::optional<uint64_t> reported_working_set_kib(const BalancerDomain& d);

// The targets to change (only those that change), given the host's free
// memory. Deterministic: ties go to the lower domid.
std::vector<BalancerDecision> balance(const BalancerConfig& c, uint64_t host_free_kib,
                                      const std::vector<BalancerDomain>& domains);

}  // namespace pv::pvd
