// Runstate accounting (hv/cpu/runstate.h) with times given by the test:
// each state's time, the entry time, the copy in guest memory (also across
// a page boundary), and no copy into a ballooned-out frame. No thread is
// attached, so nothing is runnable (schedstat's share is the e2e test's).
#include <gtest/gtest.h>

#include <cstring>

#include "cpu/runstate.h"
#include "gnttab/grant_table.h"
#include "memory/guest_memory.h"
#include "memory/reservation.h"

namespace pv {
namespace {

constexpr uint64_t kPages = 1024;

class RunstateTest : public ::testing::Test {
 protected:
  xen::vcpu_runstate_info at(uint64_t gpa) {
    xen::vcpu_runstate_info r;
    std::memcpy(&r, mem_.host(gpa, sizeof r), sizeof r);
    return r;
  }
  GuestMemory mem_{kPages * 4096};
  GrantTable gt_{mem_, 1};
  Reservation res_{mem_, gt_.absent_bitmap(), 512, 768, nullptr};
};

TEST_F(RunstateTest, EachStateGetsTheTimeSpentInIt) {
  Runstate rs(mem_, res_, xen::RUNSTATE_offline);
  rs.change(xen::RUNSTATE_running, 1000);  // offline 0..1000
  rs.change(xen::RUNSTATE_blocked, 5000);  // running 1000..5000
  rs.change(xen::RUNSTATE_running, 5000 + Runstate::kRefreshNs);
  const auto r = rs.snapshot(5000 + Runstate::kRefreshNs + 300);
  EXPECT_EQ(r.state, xen::RUNSTATE_running);
  EXPECT_EQ(r.state_entry_time, 5000 + Runstate::kRefreshNs);
  EXPECT_EQ(r.time[xen::RUNSTATE_offline], 1000u);
  EXPECT_EQ(r.time[xen::RUNSTATE_running], 4000u + 300u);
  EXPECT_EQ(r.time[xen::RUNSTATE_blocked], Runstate::kRefreshNs);
  EXPECT_EQ(r.time[xen::RUNSTATE_runnable], 0u);
  // Time that goes back (another vCPU's clock read) adds nothing.
  EXPECT_EQ(rs.snapshot(10).time[xen::RUNSTATE_running], 4300u);
}

TEST_F(RunstateTest, TheAreaIsWrittenWholeAndAcrossAPage) {
  Runstate rs(mem_, res_, xen::RUNSTATE_running);
  rs.set_area(0x10000, sizeof(xen::vcpu_runstate_info), 0, 0, 2000);
  auto a = at(0x10000);
  EXPECT_EQ(a.state, xen::RUNSTATE_running);
  EXPECT_EQ(a.time[xen::RUNSTATE_running], 2000u);
  EXPECT_EQ(a.state_entry_time & xen::XEN_RUNSTATE_UPDATE, 0u);
  rs.change(xen::RUNSTATE_blocked, 7000);
  EXPECT_EQ(at(0x10000).state, xen::RUNSTATE_blocked);
  EXPECT_EQ(at(0x10000).state_entry_time, 7000u);

  // 20 bytes at the end of frame 0x20, the rest at the start of frame 0x40.
  rs.set_area(0x21000 - 20, 20, 0x40000, sizeof(xen::vcpu_runstate_info) - 20, 9000);
  xen::vcpu_runstate_info split;
  std::memcpy(&split, mem_.host(0x21000 - 20, 20), 20);
  std::memcpy(reinterpret_cast<uint8_t*>(&split) + 20, mem_.host(0x40000, sizeof split - 20), sizeof split - 20);
  EXPECT_EQ(split.state, xen::RUNSTATE_blocked);
  EXPECT_EQ(split.time[xen::RUNSTATE_running], 7000u);
  EXPECT_EQ(split.time[xen::RUNSTATE_blocked], 2000u);
}

TEST_F(RunstateTest, ABalloonedOutFrameIsNotWritten) {
  const uint64_t gpa = 600ull << 12;  // frames from 512 start ballooned out
  ASSERT_FALSE(res_.populated(600));
  Runstate rs(mem_, res_, xen::RUNSTATE_running);
  rs.set_area(gpa, sizeof(xen::vcpu_runstate_info), 0, 0, 5000);
  EXPECT_EQ(at(gpa).time[xen::RUNSTATE_running], 0u);
  rs.set_area(0, 0, 0, 0, 6000);  // unregistered: nothing written either
  rs.change(xen::RUNSTATE_blocked, 8000);
  EXPECT_EQ(at(gpa).state, 0);
}

}  // namespace
}  // namespace pv
