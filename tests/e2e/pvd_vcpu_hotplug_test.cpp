// vCPU hot-plug end to end (xl vcpu-set): pvd writes cpu/N/availability,
// the reference guest (`vcpuwork`: every online vCPU counts and prints its
// count once a second) brings its vCPUs up and takes them down to match,
// and vcpu-list shows an offline vCPU as xl does ("-" for the CPU, "--p").
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include "pvd_fixture.h"

namespace {

using namespace pvtest;

// The counts "VCPUWORK cpu<cpu> count=N" printed in `text`, in order.
std::vector<uint64_t> counts(const std::string& text, unsigned cpu) {
  std::vector<uint64_t> out;
  const std::regex line("VCPUWORK cpu" + std::to_string(cpu) + " count=([0-9]+)\n");
  for (std::sregex_iterator it(text.begin(), text.end(), line), end; it != end; ++it) out.push_back(std::stoull((*it)[1]));
  return out;
}

// vcpu-list's row of vCPU `v` of domain g (domid 1), or "".
std::string vcpu_row(const std::string& list, unsigned v) {
  std::smatch m;
  if (!std::regex_search(list, m, std::regex("\ng +1 +" + std::to_string(v) + " +([^\n]*)\n"))) return "";
  return m[1];
}

class PvdVcpuHotplug : public PvdFixture {};

TEST_F(PvdVcpuHotplug, VcpuSetTakesAVcpuDownAndBringsItBack) {
  // vcpus = 2 of maxvcpus = 3: vCPU 2 exists but stays offline.
  ASSERT_EQ(pvctl({"create", config("g", "vcpuwork", "maxvcpus = 3\n")}).exit_code, 0);
  ASSERT_TRUE(console_has(1, "VCPU cpu2 offline rc=0 is_up=0\n")) << console(1);
  ASSERT_TRUE(eventually([&] { return counts(console(1), 1).size() >= 2; }, 20s)) << console(1);
  EXPECT_EQ(xs("read", {"/local/domain/1/cpu/2/availability"}).out, "offline\n");
  Result l = pvctl({"vcpu-list", "g"});
  ASSERT_EQ(l.exit_code, 0) << l.err;
  EXPECT_TRUE(std::regex_match(vcpu_row(l.out, 0), std::regex("[0-9]+ +(r--|-b-) .*"))) << l.out;
  EXPECT_TRUE(std::regex_match(vcpu_row(l.out, 1), std::regex("[0-9]+ +(r--|-b-) .*"))) << l.out;
  EXPECT_TRUE(std::regex_match(vcpu_row(l.out, 2), std::regex("- +--p .*"))) << l.out;

  // 2 -> 1: vCPU 1 goes, its counter stops while vCPU 0's goes on.
  Result down = pvctl({"vcpu-set", "g", "1"});
  ASSERT_EQ(down.exit_code, 0) << down.err;
  ASSERT_TRUE(console_has(1, "VCPU cpu1 offline rc=0 is_up=0\n")) << console(1);
  const std::string at_down = console(1);
  const uint64_t last = counts(at_down, 1).back();
  const size_t cpu0_at_down = counts(at_down, 0).size();
  EXPECT_TRUE(eventually([&] { return counts(console(1), 0).size() >= cpu0_at_down + 3; }, 20s)) << console(1);
  const std::string while_down = console(1);
  EXPECT_EQ(counts(while_down, 1).back(), last) << "vCPU 1 counted while offline:\n" << while_down;
  EXPECT_TRUE(std::regex_match(vcpu_row(pvctl({"vcpu-list", "g"}).out, 1), std::regex("- +--p .*")));
  EXPECT_TRUE(std::regex_search(row("g"), std::regex("^g +1 +64 +1 "))) << row("g");  // list: 1 vCPU online

  // 1 -> 2: back, and counting on from where it stopped.
  Result up = pvctl({"vcpu-set", "g", "2"});
  ASSERT_EQ(up.exit_code, 0) << up.err;
  ASSERT_TRUE(console_has(1, "VCPU cpu1 online rc=0 is_up=1\n")) << console(1);
  ASSERT_TRUE(eventually([&] { return counts(console(1), 1).back() > last; }, 20s)) << console(1);
  EXPECT_TRUE(std::regex_match(vcpu_row(pvctl({"vcpu-list", "g"}).out, 1), std::regex("[0-9]+ +(r--|-b-) .*")));
  EXPECT_EQ(xs("read", {"/local/domain/1/cpu/1/availability"}).out, "online\n");

  // Past maxvcpus, or none at all: refused, and nothing changes.
  Result many = pvctl({"vcpu-set", "g", "4"});
  EXPECT_EQ(many.exit_code, 1);
  EXPECT_NE(many.err.find("has maxvcpus = 3, so 1 to 3 vCPUs can be online"), std::string::npos) << many.err;
  Result none = pvctl({"vcpu-set", "g", "0"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("at least one vCPU"), std::string::npos) << none.err;
  EXPECT_EQ(pvctl({"vcpu-set", "g"}).exit_code, 2);
  EXPECT_EQ(pvctl({"vcpu-set", "nosuch", "1"}).exit_code, 1);
  EXPECT_EQ(xs("read", {"/local/domain/1/cpu/2/availability"}).out, "offline\n");

  // The count is the domain's: a pvd restart keeps it.
  ASSERT_EQ(pvctl({"vcpu-set", "g", "1"}).exit_code, 0);
  pvd_.reset();  // kill -9; the domain runs on
  start_pvd();
  EXPECT_TRUE(std::regex_search(row("g"), std::regex("^g +1 +64 +1 "))) << row("g");
}

}  // namespace
