#include "time/pvclock.h"

#include <time.h>
#include <x86intrin.h>

namespace pv {
namespace {
int64_t clock_ns(clockid_t id) {
  timespec ts{};
  clock_gettime(id, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}
}  // namespace

TscScale tsc_scale_for(uint64_t tsc_hz) {
  // mul = 1e9 * 2^32 / (tsc_hz * 2^shift), with the smallest shift that
  // keeps mul below 2^32 and the largest that keeps it at or above 2^31
  // (the most precise 32-bit multiplier).
  const unsigned __int128 num = static_cast<unsigned __int128>(1'000'000'000) << 32;
  int shift = 0;
  auto mul_for = [&](int sh) {
    unsigned __int128 den = tsc_hz;
    return sh >= 0 ? num / (den << sh) : (num << -sh) / den;
  };
  while (mul_for(shift) >= (unsigned __int128)1 << 32) shift++;
  while (shift > -31 && mul_for(shift - 1) < (unsigned __int128)1 << 32) shift--;
  return {static_cast<uint32_t>(mul_for(shift)), static_cast<int8_t>(shift)};
}

uint64_t scale_delta(uint64_t delta, TscScale s) {
  if (s.shift >= 0) delta <<= s.shift;
  else delta >>= -s.shift;
  return static_cast<uint64_t>((static_cast<unsigned __int128>(delta) * s.mul) >> 32);
}

uint64_t PvClock::rdtsc() {
  _mm_lfence();
  return __rdtsc();
}

PvClock::PvClock(uint64_t tsc_khz, uint64_t start_ns) : scale_(tsc_scale_for(tsc_khz * 1000)), start_ns_(start_ns) {
  mono0_ = clock_ns(CLOCK_MONOTONIC);
  tsc0_ = rdtsc();
  const uint64_t wall = static_cast<uint64_t>(clock_ns(CLOCK_REALTIME));
  wall0_ = wall > start_ns ? wall - start_ns : 0;
}

void PvClock::publish(volatile xen::vcpu_time_info* t) const {
  const uint64_t tsc = rdtsc();
  t->version = t->version | 1;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  t->tsc_timestamp = tsc;
  t->system_time = start_ns_ + scale_delta(tsc - tsc0_, scale_);
  t->tsc_to_system_mul = scale_.mul;
  t->tsc_shift = scale_.shift;
  t->flags = xen::XEN_PVCLOCK_TSC_STABLE_BIT;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  t->version = t->version + 1;
}

void PvClock::publish_wallclock(volatile xen::shared_info* s) const {
  s->wc_version = s->wc_version | 1;
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  s->wc_sec = static_cast<uint32_t>(wall0_ / 1'000'000'000);
  s->wc_sec_hi = static_cast<uint32_t>((wall0_ / 1'000'000'000) >> 32);
  s->wc_nsec = static_cast<uint32_t>(wall0_ % 1'000'000'000);
  __atomic_thread_fence(__ATOMIC_SEQ_CST);
  s->wc_version = s->wc_version + 1;
}

}  // namespace pv
