// The memory balancer's policy, case by case: figures in MiB for reading,
// the policy's KiB underneath.
#include "memory_balancer.h"

#include <gtest/gtest.h>

#include <map>

namespace {

using pv::pvd::BalancerConfig;
using pv::pvd::BalancerDomain;
using pv::pvd::balance;
constexpr uint64_t M = 1024;  // KiB per MiB

BalancerConfig config() {
  BalancerConfig c;
  c.low_water_kib = 1000 * M;
  c.high_water_kib = 1500 * M;
  c.margin_kib = 32 * M;
  c.floor_kib = 64 * M;
  return c;
}

// A domain at its own target, with a balloon driver, reporting `used` MiB in use.
BalancerDomain dom(uint32_t id, uint64_t target_mib, uint64_t used_mib) {
  BalancerDomain d;
  d.domid = id;
  d.target_kib = d.maximum_kib = d.current_kib = d.balanced_kib = target_mib * M;
  d.reported_total_kib = target_mib * M;
  d.reported_free_kib = (target_mib - used_mib) * M;
  d.balloon = true;
  return d;
}

// The new targets in MiB by domid.
std::map<uint32_t, uint64_t> run(uint64_t host_free_mib, const std::vector<BalancerDomain>& ds,
                                 const BalancerConfig& c = config()) {
  std::map<uint32_t, uint64_t> out;
  for (const auto& d : balance(c, host_free_mib * M, ds)) {
    EXPECT_FALSE(d.why.empty());
    EXPECT_EQ(d.to_kib % M, 0u) << "targets are whole MiB";
    out[d.domid] = d.to_kib / M;
  }
  return out;
}

uint64_t total_given_back(const std::map<uint32_t, uint64_t>& got, const std::vector<BalancerDomain>& ds) {
  uint64_t n = 0;
  for (const auto& d : ds)
    if (got.count(d.domid)) n += d.balanced_kib / M - got.at(d.domid);
  return n;
}

TEST(MemoryBalancer, PlentyOfMemoryAndEveryoneAtTheirTargetChangesNothing) {
  EXPECT_TRUE(run(4000, {dom(1, 512, 50), dom(2, 1024, 1000)}).empty());
  EXPECT_TRUE(run(1200, {dom(1, 512, 50)}).empty()) << "between the marks it holds";
}

TEST(MemoryBalancer, UnderPressureAnIdleDomainShrinksToItsWorkingSetPlusTheMarginAndABusyOneIsLeft) {
  // 700 MiB free: 800 MiB wanted to reach the high mark; 1024 - (100 + 32) = 892 idle.
  const auto got = run(700, {dom(1, 1024, 100), dom(2, 1024, 1000)});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.at(1), 1024u - 800u);
  // More need (1400) than idle surplus (892): the rest is evened down from
  // the largest target, both to a level of 112 MiB (600 - 112 + 132 - 112 = 508).
  const auto deep = run(100, {dom(1, 1024, 100), dom(2, 600, 599)});
  EXPECT_EQ(deep.at(1), 112u);
  EXPECT_EQ(deep.at(2), 112u);
}

TEST(MemoryBalancer, TheLargestIdleSurplusGoesFirst) {
  // Need 1500 - 900 = 600 MiB: domain 2 (surplus 2048 - 232) gives it all.
  const auto got = run(900, {dom(1, 1024, 200), dom(2, 2048, 200), dom(3, 512, 20)});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got.at(2), 2048u - 600u);
  // Need 1400: domain 2's surplus of 1816 covers it.
  const auto more = run(100, {dom(1, 1024, 200), dom(2, 2048, 200), dom(3, 512, 20)});
  EXPECT_EQ(more.at(2), 2048u - 1400u);
  EXPECT_EQ(more.count(1), 0u);
  // Equal surpluses: the first given goes first.
  const std::vector<BalancerDomain> tie = {dom(4, 1024, 100), dom(3, 1024, 100)};
  const auto t = run(900, tie);  // need 600
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t.at(4), 424u) << "ties go by input order (pvd passes domains by domid)";
}

TEST(MemoryBalancer, NoDomainIsAskedBelowTheFloor) {
  const auto got = run(0, {dom(1, 1024, 1), dom(2, 256, 0)});
  EXPECT_EQ(got.at(1), 64u);
  EXPECT_EQ(got.at(2), 64u);
  // A domain whose own target is below the floor is never shrunk.
  EXPECT_TRUE(run(0, {dom(3, 48, 0)}).empty());
  // The floor holds in the second stage too.
  const auto deep = run(0, {dom(1, 1024, 1024), dom(2, 512, 512)});
  EXPECT_EQ(deep.at(1), 64u);
  EXPECT_EQ(deep.at(2), 64u);
}

TEST(MemoryBalancer, WhenMemoryIsPlentifulAgainDomainsGrowBackToTheirOwnTargetAndNoFurther) {
  auto a = dom(1, 1024, 100), b = dom(2, 512, 100);
  a.balanced_kib = a.current_kib = 200 * M;
  b.balanced_kib = b.current_kib = 256 * M;
  const auto got = run(10000, {a, b});
  EXPECT_EQ(got.at(1), 1024u);
  EXPECT_EQ(got.at(2), 512u);
  // A budget of 100 MiB above the high mark: the furthest below its target
  // in proportion (a: 200/1024) gets it.
  const auto some = run(1500 + 100, {a, b});
  ASSERT_EQ(some.size(), 1u);
  EXPECT_EQ(some.at(1), 300u);
  // The ceiling is pv-hv's maximum when mem-max put it below the target.
  a.maximum_kib = 600 * M;
  EXPECT_EQ(run(10000, {a}).at(1), 600u);
}

TEST(MemoryBalancer, ATargetAboveTheDomainsOwnIsBroughtDown) {
  auto a = dom(1, 512, 100);
  a.balanced_kib = 700 * M;  // the user lowered the target since
  const auto got = run(1200, {a});
  EXPECT_EQ(got.at(1), 512u);
}

TEST(MemoryBalancer, DomainsWithoutABalloonDriverAreLeftAlone) {
  auto a = dom(1, 1024, 10);
  a.balloon = false;
  EXPECT_TRUE(run(0, {a}).empty());
  // One the balancer had lowered before it lost the flag gets its own target back.
  a.balanced_kib = 300 * M;
  const auto got = run(0, {a});
  EXPECT_EQ(got.at(1), 1024u);
}

TEST(MemoryBalancer, AnUncooperativeDomainIsNotAskedAndGetsItsOwnTargetBack) {
  auto liar = dom(1, 1024, 10), honest = dom(2, 1024, 10);
  liar.cooperative = false;
  liar.balanced_kib = 200 * M;  // asked before, never followed
  const auto got = run(900, {liar, honest});
  EXPECT_EQ(got.at(1), 1024u);
  EXPECT_EQ(got.at(2), 1024u - 600u) << "the need is met by the domain that follows";
  // Its memory is not counted as on its way back.
  liar.balanced_kib = 1024 * M;
  EXPECT_EQ(run(900, {liar, honest}).count(1), 0u);
}

TEST(MemoryBalancer, AGuestClaimingAHugeWorkingSetIsEvenedDownWhenIdleMemoryIsNotEnough) {
  // The liar says all of its 2 GiB are in use; the honest ones have little idle.
  auto liar = dom(1, 2048, 2048), a = dom(2, 512, 400), b = dom(3, 512, 400);
  const std::vector<BalancerDomain> ds = {liar, a, b};
  const auto got = run(500, ds);  // need 1000
  // The idle part of a and b (512 - 432 each) first, then the largest target down.
  EXPECT_EQ(got.at(2), 432u);
  EXPECT_EQ(got.at(3), 432u);
  EXPECT_EQ(got.at(1), 2048u - (1000u - 160u));
  EXPECT_GE(total_given_back(got, ds), 1000u);
  // Deeper need (1500): the liar alone goes down while it is above the others.
  const auto deep = run(0, ds);
  EXPECT_EQ(deep.at(1), 2048u - 1340u);
  EXPECT_EQ(deep.at(2), 432u);
  EXPECT_EQ(total_given_back(deep, ds), 1500u);
  // Deeper still (the high mark at 2500): all three even down to one level.
  auto c = config();
  c.high_water_kib = 2500 * M;
  const auto deeper = run(0, ds, c);
  EXPECT_EQ(deeper.at(1), deeper.at(2));
  EXPECT_EQ(deeper.at(2), deeper.at(3));
  EXPECT_GE(total_given_back(deeper, ds), 2499u);
  EXPECT_LE(deeper.at(1), 2048u + 1024u - 2500u);
}

TEST(MemoryBalancer, ImpossibleReportsAreNotAWorkingSet) {
  auto over = dom(1, 1024, 0), upside = dom(2, 1024, 0), zero = dom(3, 1024, 0), missing = dom(4, 1024, 0);
  over.reported_total_kib = 1ull << 60;  // more than it can hold
  upside.reported_free_kib = 4096 * M;   // more free than total
  zero.reported_total_kib = 0;
  missing.reported_free_kib.reset();
  for (const auto& d : {over, upside, zero, missing}) {
    EXPECT_FALSE(pv::pvd::reported_working_set_kib(d)) << d.domid;
    // Not taken as idle: only stage 2 (evening down) can shrink it.
    const auto got = run(900, {d, dom(9, 1024, 0)});
    EXPECT_EQ(got.count(d.domid), 0u) << d.domid;
    EXPECT_EQ(got.at(9), 1024u - 600u);
  }
  EXPECT_EQ(*pv::pvd::reported_working_set_kib(dom(5, 1024, 100)), 100u * M);
}

TEST(MemoryBalancer, MemoryStillBeingGivenBackCountsAsFree) {
  // Asked down to 400 and still at 1024: 624 MiB are on their way back.
  auto slow = dom(1, 1024, 100);
  slow.balanced_kib = 400 * M;
  EXPECT_TRUE(run(900, {slow, dom(2, 1024, 100)}).empty())
      << "900 + 624 is above the low mark, and 900 (what is back) below the high one";
  EXPECT_EQ(run(300, {slow, dom(2, 1024, 100)}).at(2), 1024u - 576u) << "need 1500 - (300 + 624)";
  // And memory still being taken counts as used: no growth while 1000 MiB are on their way in.
  auto growing = dom(3, 2048, 100);
  growing.current_kib = 1024 * M;
  growing.balanced_kib = 2024 * M;
  growing.reported_total_kib = 1024 * M;  // a guest reports when it reaches a target
  growing.reported_free_kib = 924 * M;
  EXPECT_TRUE(run(2000, {growing}).empty()) << "2000 - 1000 is below the high mark";
}

TEST(MemoryBalancer, PagesAGuestReportedFreeAreNotMemoryOnItsWay) {
  // Free-page reporting: the guest holds 128 MiB, 96 of them reported (not
  // populated); it is at its target, not growing into it.
  auto fpr = dom(1, 128, 10);
  fpr.current_kib = 32 * M;
  EXPECT_TRUE(run(1050, {fpr}).empty()) << "1050 MiB free is above the low mark";
  // Without that report the 96 MiB count as on their way in: the host is
  // short (1050 - 96), and with no working set known it is evened down.
  fpr.reported_total_kib.reset();
  EXPECT_EQ(run(1050, {fpr}).at(1), 64u);
}

TEST(MemoryBalancer, ReclaimStopsAtTheHighMark) {
  const std::vector<BalancerDomain> ds = {dom(1, 4096, 10), dom(2, 4096, 10)};
  const auto got = run(999, ds);
  EXPECT_EQ(total_given_back(got, ds), 501u);
  EXPECT_TRUE(run(1000, ds).empty()) << "at the low mark itself nothing is reclaimed";
}

TEST(MemoryBalancer, AFractionOfAMiBShortIsTakenFromIdleMemoryNotByEveningEveryoneDown) {
  // Seen in bench_density: 96.5 MiB short, one domain with 96 MiB idle: the
  // half MiB left must not send every domain through the second stage.
  auto c = config();
  c.margin_kib = 16 * M;
  c.floor_kib = 32 * M;
  c.high_water_kib = c.low_water_kib + 96 * M;
  auto a = dom(1, 128, 2), b = dom(2, 128, 2), d = dom(3, 128, 2);
  b.balanced_kib = b.current_kib = 120 * M;
  d.balanced_kib = d.current_kib = 120 * M;
  const auto got = balance(c, c.low_water_kib - M / 2, {a, b, d});
  uint64_t given = 0;
  for (const auto& x : got) {
    EXPECT_EQ(x.why.find("evened"), std::string::npos) << x.why;
    given += x.from_kib - x.to_kib;
  }
  EXPECT_EQ(given, 97 * M);
  EXPECT_LE(got.size(), 2u);
}

TEST(MemoryBalancer, OneRoundsDecisionsAreTheFixedPointOfTheNext) {
  // Apply the decisions, pretend the guests followed and the host got the
  // memory back: the next round (now between the marks) holds.
  std::vector<BalancerDomain> ds = {dom(1, 1024, 100), dom(2, 2048, 300), dom(3, 512, 500)};
  uint64_t free_mib = 600;
  const auto got = run(free_mib, ds);
  for (auto& d : ds)
    if (got.count(d.domid)) {
      free_mib += d.balanced_kib / M - got.at(d.domid);
      d.balanced_kib = d.current_kib = got.at(d.domid) * M;
    }
  EXPECT_GE(free_mib, 1500u);
  EXPECT_TRUE(run(free_mib, ds).empty());
}

}  // namespace
