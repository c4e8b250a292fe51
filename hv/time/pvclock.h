// Guest system time and the pvclock records that publish it.
//
// The guest TSC is the host TSC here (KVM applies no offset, and the TSC is
// constant and non-stop), so guest system time is defined directly from it:
//   system_time(tsc) = start + scale(tsc - tsc_at_clock_start)
// where `start` is 0 for a domain that boots and the saved guest system
// time for a restored one (docs/save-format.md, TimeState): guest time goes
// on from where it stopped and never goes back. Every vcpu_time_info holds the same scale and origin, so readings agree
// across vCPUs and a record never needs refreshing.
#pragma once
#include <cstdint>

#include <xen/xen.h>

namespace pv {

struct TscScale {
  uint32_t mul;  // ns = ((delta << shift) or (delta >> -shift)) * mul >> 32
  int8_t shift;
};

// Computes the pvclock scale for a TSC running at `tsc_hz`.
TscScale tsc_scale_for(uint64_t tsc_hz);
// Applies a scale exactly as a guest does.
uint64_t scale_delta(uint64_t delta, TscScale s);

class PvClock {
 public:
  // Guest system time starts at `start_ns` now; the wallclock base is
  // chosen so that base + system time is the host's wall clock.
  explicit PvClock(uint64_t tsc_khz, uint64_t start_ns = 0);

  static uint64_t rdtsc();
  uint64_t now_ns() const { return start_ns_ + scale_delta(rdtsc() - tsc0_, scale_); }
  // CLOCK_MONOTONIC (ns) at which guest system time reaches `ns`.
  int64_t host_monotonic_at(uint64_t ns) const {
    return mono0_ + (static_cast<int64_t>(ns) - static_cast<int64_t>(start_ns_));
  }
  // Wall-clock time (ns since the epoch) at guest system time 0.
  uint64_t wallclock_at_boot_ns() const { return wall0_; }

  // Writes `t` with the version protocol (odd while updating).
  void publish(volatile xen::vcpu_time_info* t) const;
  // Writes shared_info's wc_* fields with the wc_version protocol.
  void publish_wallclock(volatile xen::shared_info* s) const;

 private:
  TscScale scale_;
  uint64_t start_ns_;
  uint64_t tsc0_;
  int64_t mono0_;
  uint64_t wall0_;
};

}  // namespace pv
