// The token buckets of blkback's I/O limits (io_throttle.h), on a clock the
// test moves by hand.
#include <gtest/gtest.h>

#include "blkback/io_throttle.h"

namespace {

using pv::blkback::IoLimits;
using pv::blkback::IoThrottle;
using pv::blkback::TokenBucket;

constexpr uint64_t kSec = 1000000000ull;

// How many requests of `bytes` pass in `seconds` when the caller retries
// exactly when told to (time starts at `t0`).
uint64_t admitted_in(IoThrottle& t, bool write, uint64_t bytes, uint64_t t0, double seconds) {
  uint64_t now = t0, n = 0;
  const uint64_t end = t0 + uint64_t(seconds * kSec);
  while (now < end) {
    const uint64_t wait = t.admit(write, bytes, now);
    if (wait == 0) n++;
    else now += wait;
  }
  return n;
}

TEST(TokenBucket, UnlimitedNeverWaits) {
  TokenBucket b;
  b.configure(0, 100, 0);
  b.take(1000000);
  EXPECT_EQ(b.wait_ns(0), 0u);
}

TEST(TokenBucket, StartsFullAndDebtIsPaidAtTheRate) {
  TokenBucket b;
  b.configure(1000, 100, 0);  // 1000/s, 100 of burst
  EXPECT_DOUBLE_EQ(b.level(), 100.0);
  b.take(150);  // into debt by 50
  EXPECT_EQ(b.wait_ns(0), 50 * kSec / 1000);
  EXPECT_EQ(b.wait_ns(50 * kSec / 1000), 0u);
  // Refill stops at the capacity.
  EXPECT_EQ(b.wait_ns(100 * kSec), 0u);
  EXPECT_DOUBLE_EQ(b.level(), 100.0);
}

TEST(IoThrottle, NoLimitsAdmitsEverything) {
  IoThrottle t;
  EXPECT_FALSE(t.limited());
  for (int i = 0; i < 1000; i++) ASSERT_EQ(t.admit(i % 2, 1 << 20, 0), 0u);
}

TEST(IoThrottle, IopsHoldsOverTime) {
  IoThrottle t;
  IoLimits l;
  l.iops[IoLimits::kRead] = 200;
  t.set(l, 0);
  EXPECT_TRUE(t.limited());
  // 10 s at 200/s plus the burst (100 ms worth) and the one taken at zero.
  const uint64_t n = admitted_in(t, false, 4096, 0, 10.0);
  EXPECT_GE(n, 2000u);
  EXPECT_LE(n, 2000u + 20u + 1u);
  // Writes are not limited by the read bucket.
  EXPECT_EQ(t.admit(true, 4096, 10 * kSec), 0u);
}

TEST(IoThrottle, BpsLetsALargeRequestThroughThenMakesTheNextWait) {
  IoThrottle t;
  IoLimits l;
  l.bps[IoLimits::kWrite] = 512 * 1024;
  t.set(l, 0);
  EXPECT_EQ(t.admit(true, 1 << 20, 0), 0u);  // the bucket (51 KiB) goes 973 KiB into debt
  const uint64_t wait = t.admit(true, 1 << 20, 0);
  EXPECT_GT(wait, 18 * kSec / 10);
  EXPECT_LT(wait, 2 * kSec);
  EXPECT_EQ(t.admit(true, 1 << 20, wait), 0u);
  // Over 20 s, 1 MiB writes get 512 KiB/s.
  IoThrottle u;
  u.set(l, 0);
  const uint64_t n = admitted_in(u, true, 1 << 20, 0, 20.0);
  EXPECT_GE(n, 10u);
  EXPECT_LE(n, 11u);
}

TEST(IoThrottle, TotalLimitCoversBothDirections) {
  IoThrottle t;
  IoLimits l;
  l.iops[IoLimits::kTotal] = 100;
  l.burst_ms = 0;
  t.set(l, 0);
  uint64_t now = 0, reads = 0, writes = 0;
  while (now < 10 * kSec) {
    const bool w = (reads + writes) % 2;
    const uint64_t wait = t.admit(w, 512, now);
    if (!wait) (w ? writes : reads)++;
    else now += wait;
  }
  EXPECT_NEAR(double(reads + writes), 1000.0, 2.0);
  EXPECT_NEAR(double(reads), double(writes), 1.0);
}

TEST(IoThrottle, ChangingTheLimitTakesEffectAtOnce) {
  IoThrottle t;
  IoLimits l;
  l.iops[IoLimits::kRead] = 100;
  t.set(l, 0);
  const uint64_t slow = admitted_in(t, false, 4096, 0, 5.0);
  l.iops[IoLimits::kRead] = 400;
  t.set(l, 5 * kSec);
  const uint64_t fast = admitted_in(t, false, 4096, 5 * kSec, 5.0);
  EXPECT_NEAR(double(slow), 500.0, 12.0);
  EXPECT_NEAR(double(fast), 2000.0, 45.0);
  // Lifted: no waiting at all.
  t.set(IoLimits{}, 10 * kSec);
  EXPECT_FALSE(t.limited());
  for (int i = 0; i < 100; i++) ASSERT_EQ(t.admit(false, 4096, 10 * kSec), 0u);
}

TEST(IoLimits, Describe) {
  IoLimits l;
  EXPECT_EQ(l.describe(), "none");
  l.iops[IoLimits::kRead] = 100;
  l.bps[IoLimits::kWrite] = 1048576;
  EXPECT_EQ(l.describe(), "iops_rd=100 bps_wr=1048576 burst_ms=100");
}

}  // namespace
