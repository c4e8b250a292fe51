// hv/save/suspend_gate.h: a guest's SHUTDOWN_suspend is held only while a
// save waits for it, and always comes back with the result it is given.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <optional>

#include "save/suspend_gate.h"

namespace pv {
namespace {
using namespace std::chrono_literals;

TEST(SuspendGate, WithNoSaveASuspendIsNotHeld) {
  SuspendGate g;
  EXPECT_EQ(g.hold(0), std::nullopt);  // the domain suspends (ends) as before
}

TEST(SuspendGate, AHeldSuspendReturnsTheReleasedResult) {
  SuspendGate g;
  ASSERT_TRUE(g.arm());
  EXPECT_FALSE(g.arm());  // one save at a time
  auto vcpu = std::async(std::launch::async, [&] { return g.hold(0); });
  ASSERT_TRUE(g.await_suspend(60s));  // the bound, not a timing: hold() arrives at once
  g.release(1);
  EXPECT_EQ(vcpu.get(), std::optional<int64_t>(1));
  // The gate is free again, and an unarmed suspend is not held.
  EXPECT_EQ(g.hold(0), std::nullopt);
  EXPECT_TRUE(g.arm());
}

TEST(SuspendGate, ASuspendAfterATimeoutIsCancelledNotLost) {
  SuspendGate g;
  ASSERT_TRUE(g.arm());
  EXPECT_FALSE(g.await_suspend(0ms));  // the guest did not suspend in time
  EXPECT_EQ(g.hold(0), std::optional<int64_t>(1));  // when it does, it carries on
  EXPECT_EQ(g.hold(0), std::nullopt);                // once
}

TEST(SuspendGate, AbortFreesAHeldVcpuAndRefusesNewSaves) {
  SuspendGate g;
  ASSERT_TRUE(g.arm());
  auto vcpu = std::async(std::launch::async, [&] { return g.hold(0); });
  ASSERT_TRUE(g.await_suspend(60s));
  g.abort();
  EXPECT_EQ(vcpu.get(), std::optional<int64_t>(1));
  EXPECT_FALSE(g.arm());
  EXPECT_EQ(g.hold(0), std::nullopt);
}

}  // namespace
}  // namespace pv
