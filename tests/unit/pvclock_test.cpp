// pvclock scale computation and the version protocol of published records.
#include <gtest/gtest.h>
#include <time.h>

#include <cmath>
#include <cstdlib>

#include <xen/xen.h>

#include "time/pvclock.h"

namespace pv {
namespace {

class TscScaleTest : public ::testing::TestWithParam<uint64_t> {};

TEST_P(TscScaleTest, MostPreciseMultiplierAndOneSecondPerSecond) {
  const uint64_t hz = GetParam();
  const TscScale s = tsc_scale_for(hz);
  EXPECT_GE(s.mul, uint64_t{1} << 31) << "mul " << s.mul << " shift " << int(s.shift);
  EXPECT_LE(uint64_t{s.mul}, (uint64_t{1} << 32) - 1);
  EXPECT_GE(s.shift, -31);
  EXPECT_LE(s.shift, 31);
  const uint64_t ns = scale_delta(hz, s);
  EXPECT_NEAR(static_cast<double>(ns), 1e9, 1e3) << "one second of ticks gave " << ns << " ns";  // 1 ppm
  EXPECT_LE(ns, 1'000'000'000u);  // truncating: never runs ahead
  EXPECT_EQ(scale_delta(0, s), 0u);
}

TEST_P(TscScaleTest, OneDayDoesNotOverflow) {
  const uint64_t hz = GetParam();
  const TscScale s = tsc_scale_for(hz);
  const uint64_t day_ns = 86'400ull * 1'000'000'000ull;
  const uint64_t ns = scale_delta(hz * 86'400, s);
  EXPECT_NEAR(static_cast<double>(ns), static_cast<double>(day_ns), day_ns * 1e-6);
  // A year, too.
  const uint64_t year = scale_delta(hz * 86'400 * 365, s);
  EXPECT_NEAR(static_cast<double>(year), static_cast<double>(day_ns) * 365, day_ns * 365 * 1e-6);
}

TEST_P(TscScaleTest, MonotonicInDelta) {
  const TscScale s = tsc_scale_for(GetParam());
  uint64_t prev = 0;
  for (uint64_t d = 0; d < 100000; d += 7) {
    const uint64_t ns = scale_delta(d, s);
    ASSERT_GE(ns, prev) << d;
    prev = ns;
  }
}

INSTANTIATE_TEST_SUITE_P(Frequencies, TscScaleTest,
                         ::testing::Values(1'000'000'000ull, 2'596'128'000ull, 100'000'000ull, 4'000'000'000ull,
                                           1'000'000ull, 5'000'000'000ull),
                         [](const auto& p) { return std::to_string(p.param) + "Hz"; });

TEST(TscScale, KnownValues) {
  // 1 GHz: 1 ns per tick = 2^31 / 2^32 after doubling.
  TscScale s = tsc_scale_for(1'000'000'000);
  EXPECT_EQ(s.mul, 1u << 31);
  EXPECT_EQ(s.shift, 1);
  // 4 GHz: 0.25 ns per tick = 2^31 / 2^32 after halving.
  s = tsc_scale_for(4'000'000'000ull);
  EXPECT_EQ(s.mul, 1u << 31);
  EXPECT_EQ(s.shift, -1);
  EXPECT_EQ(scale_delta(4'000'000'000ull, s), 1'000'000'000u);
}

TEST(TscScale, ScaleDeltaAppliesShiftThenMul) {
  EXPECT_EQ(scale_delta(1000, {1u << 31, 0}), 500u);
  EXPECT_EQ(scale_delta(1000, {1u << 31, 1}), 1000u);
  EXPECT_EQ(scale_delta(1000, {1u << 31, -1}), 250u);
  // (2^64 - 1) * (2^32 - 1) >> 32 needs a 128-bit product.
  EXPECT_EQ(scale_delta(~uint64_t{0}, {0xffffffffu, 0}), 0xfffffffeffffffffull);
}

uint64_t tsc_khz_estimate() {
  // The clock only needs a plausible frequency for these tests; this one
  // needs a non-zero shift (-1), so a dropped shift would show.
  return 2'596'128;
}

TEST(PvClock, PublishBumpsVersionByTwoAndFillsRecord) {
  PvClock clock(tsc_khz_estimate());
  xen::vcpu_time_info t{};
  t.version = 40;
  clock.publish(&t);
  EXPECT_EQ(t.version, 42u);
  const TscScale s = tsc_scale_for(tsc_khz_estimate() * 1000);
  EXPECT_EQ(t.tsc_to_system_mul, s.mul);
  EXPECT_EQ(t.tsc_shift, s.shift);
  EXPECT_EQ(t.tsc_shift, -1);
  EXPECT_EQ(t.flags, xen::XEN_PVCLOCK_TSC_STABLE_BIT);
  EXPECT_LE(t.tsc_timestamp, PvClock::rdtsc());
  EXPECT_LT(t.system_time, 5'000'000'000u);  // the clock started just now

  // A guest reading the record gets the clock's own time.
  const uint64_t before = clock.now_ns();
  const uint64_t guest = t.system_time + scale_delta(PvClock::rdtsc() - t.tsc_timestamp, {t.tsc_to_system_mul, t.tsc_shift});
  const uint64_t after = clock.now_ns();
  EXPECT_GE(guest + 1, before);
  EXPECT_LE(guest, after + 1);

  const auto first = t;
  clock.publish(&t);
  EXPECT_EQ(t.version, 44u);
  EXPECT_GE(t.tsc_timestamp, first.tsc_timestamp);
  EXPECT_GE(t.system_time, first.system_time);
}

TEST(PvClock, ARestoredClockGoesOnFromItsStartAndKeepsTheWallClock) {
  constexpr uint64_t kSaved = 3'600'000'000'000ull;  // an hour of guest time
  PvClock fresh(tsc_khz_estimate());
  PvClock clock(tsc_khz_estimate(), kSaved);
  xen::vcpu_time_info t{};
  clock.publish(&t);
  EXPECT_GE(t.system_time, kSaved);
  EXPECT_LT(t.system_time, kSaved + 5'000'000'000u);
  const uint64_t now = clock.now_ns();
  EXPECT_GE(now, t.system_time);
  EXPECT_LT(now, kSaved + 5'000'000'000u);
  // Wall clock = base + system time, for a restored clock as for a fresh one.
  const uint64_t fresh_wall = fresh.wallclock_at_boot_ns() + fresh.now_ns();
  const uint64_t wall = clock.wallclock_at_boot_ns() + clock.now_ns();
  EXPECT_LT(wall > fresh_wall ? wall - fresh_wall : fresh_wall - wall, 1'000'000'000u);
  // Deadlines in guest time map to host time from the restored start.
  const int64_t at = clock.host_monotonic_at(kSaved + 1'000'000'000u);
  EXPECT_LT(std::abs(at - fresh.host_monotonic_at(1'000'000'000u)), 1'000'000'000);
}

TEST(PvClock, PublishRepairsAnOddVersion) {
  PvClock clock(tsc_khz_estimate());
  xen::vcpu_time_info t{};
  t.version = 7;  // left odd by someone
  clock.publish(&t);
  EXPECT_EQ(t.version % 2, 0u);
  EXPECT_GT(t.version, 7u);
}

TEST(PvClock, PublishWallclock) {
  PvClock clock(tsc_khz_estimate());
  xen::shared_info si{};
  si.wc_version = 2;
  clock.publish_wallclock(&si);
  EXPECT_EQ(si.wc_version, 4u);
  EXPECT_LT(si.wc_nsec, 1'000'000'000u);
  const uint64_t sec = (uint64_t{si.wc_sec_hi} << 32) | si.wc_sec;
  const uint64_t now = static_cast<uint64_t>(::time(nullptr));
  EXPECT_LE(sec, now);
  EXPECT_GE(sec + 5, now);
  EXPECT_EQ(sec * 1'000'000'000 + si.wc_nsec, clock.wallclock_at_boot_ns());
}

TEST(PvClock, HostMonotonicAt) {
  PvClock clock(tsc_khz_estimate());
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  const int64_t mono_now = int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
  const int64_t origin = clock.host_monotonic_at(0);
  EXPECT_LE(origin, mono_now);
  EXPECT_GT(origin, mono_now - 5'000'000'000);
  EXPECT_EQ(clock.host_monotonic_at(1'000'000), origin + 1'000'000);
}

}  // namespace
}  // namespace pv
