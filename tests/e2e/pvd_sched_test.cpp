// `pvctl sched-credit` end to end: the verb's refusals (no guest needed),
// and with a guest the domain's cgroup (the cpu controller's files, its
// pv-hv in cgroup.procs) following the configuration's cpu_weight/cap and
// the changes made on the running domain, which outlive a pvd restart.
// How the kernel shares a CPU by those files is tests/sched's.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>

#include "pvd_fixture.h"

namespace {

using namespace pvtest;

// The domain's group directory in the cpu controller's hierarchy, or "".
std::string cpu_group(const std::string& slice, uint32_t domid) {
  for (const std::string& mountpoint : cgroup_mounts()) {
    const std::string dir = mountpoint + "/" + slice + "/dom" + std::to_string(domid);
    if (fs::exists(dir + "/cgroup.procs") && (fs::exists(dir + "/cpu.shares") || fs::exists(dir + "/cpu.weight")))
      return dir;
  }
  return "";
}

std::string trimmed(const std::string& path) {
  std::string s = slurp(path);
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// The weight and cap the kernel was given, as "shares/quota" (v1) or
// "weight/max" (v2).
std::string kernel_share(const std::string& dir) {
  if (fs::exists(dir + "/cpu.shares")) return trimmed(dir + "/cpu.shares") + "/" + trimmed(dir + "/cpu.cfs_quota_us");
  return trimmed(dir + "/cpu.weight") + "/" + trimmed(dir + "/cpu.max");
}

class PvdSchedVerb : public PvdFixture {
 protected:
  bool needs_kvm() const override { return false; }
};

TEST_F(PvdSchedVerb, ListsDomain0AndRefusesWhatXlRefuses) {
  Result all = pvctl({"sched-credit"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_TRUE(std::regex_search(all.out, std::regex("Name +ID +Weight +Cap\nDomain-0 +0 +256 +0\n"))) << all.out;
  Result nodomain = pvctl({"sched-credit", "-w", "512"});
  EXPECT_EQ(nodomain.exit_code, 2);
  EXPECT_NE(nodomain.err.find("need the domain (-d DOMAIN)"), std::string::npos) << nodomain.err;
  for (const char* bad : {"0", "65536", "x", "-3"}) {
    Result r = pvctl({"sched-credit", "-d", "g", "-w", bad});
    EXPECT_EQ(r.exit_code, 2) << bad;
    EXPECT_NE(r.err.find("1 to 65535"), std::string::npos) << r.err;
  }
  EXPECT_EQ(pvctl({"sched-credit", "-d", "g", "--cap=-1"}).exit_code, 2);
  Result nosuch = pvctl({"sched-credit", "-d", "nosuch", "-w", "512"});
  EXPECT_EQ(nosuch.exit_code, 1);
  EXPECT_NE(nosuch.err.find("no domain named 'nosuch'"), std::string::npos) << nosuch.err;
  Result dom0 = pvctl({"sched-credit", "--domain=Domain-0", "--weight=512"});
  EXPECT_EQ(dom0.exit_code, 1);
  EXPECT_NE(dom0.err.find("Domain-0 is the host itself"), std::string::npos) << dom0.err;
  EXPECT_EQ(pvctl({"help", "sched-credit"}).exit_code, 0);

  Result vl = pvctl({"vcpu-list"});
  ASSERT_EQ(vl.exit_code, 0) << vl.err;
  EXPECT_EQ(vl.out.find("Name"), 0u) << vl.out;
  EXPECT_EQ(pvctl({"vcpu-list", "nosuch"}).exit_code, 1);
  EXPECT_EQ(pvctl({"vcpu-list", "a", "b"}).exit_code, 2);
  EXPECT_EQ(pvctl({"vcpu-pin", "g", "0"}).exit_code, 2);
  Result pin0 = pvctl({"vcpu-pin", "Domain-0", "all", "0"});
  EXPECT_EQ(pin0.exit_code, 1);
  EXPECT_NE(pin0.err.find("Domain-0 is the host itself"), std::string::npos) << pin0.err;
}

TEST_F(PvdSchedVerb, TopInBatchModePrintsAnIntervalAndStops) {
  Result t = pvctl({"top", "--batch", "--delay=0.2", "-i", "2"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  // Two intervals: a header each (no domain runs here).
  size_t headers = 0;
  for (size_t at = 0; (at = t.out.find("NAME  STATE", at)) != std::string::npos; at++) headers++;
  EXPECT_EQ(headers, 2u) << t.out;
  EXPECT_NE(t.out.find("CPU(%)"), std::string::npos);
  EXPECT_NE(t.out.find("VBD_WSECT"), std::string::npos);
  for (std::vector<std::string> bad : {std::vector<std::string>{"top", "-d", "0"}, {"top", "-i", "0"}, {"top", "x"}})
    EXPECT_EQ(pvctl(bad).exit_code, 2) << bad.back();
}

TEST_F(PvdSchedVerb, OutOfRangeSharesInAConfigAreRefusedByLine) {
  const std::string cfg = dir_ + "/bad.cfg";
  std::ofstream(cfg) << "name = \"bad\"\nmemory = 64\nkernel = \"" << kGuest << "\"\ncpu_weight = 70000\ncap = 150\n";
  Result r = pvctl({"create", cfg});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cpu_weight: must be between 1 and 65535, got 70000"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("cap: must be at most 100 (100 per vCPU, 0 for none), got 150"), std::string::npos) << r.err;
}

// The cgroup and top need a running pv-hv process, not a VM: pvd's own
// logic, on the pv-hv double (vCPU threads need the real one).
class PvdSchedDouble : public PvdFixture {
 protected:
  bool with_pv_hv_double() const override { return true; }
};

TEST_F(PvdSchedDouble, TheDomainsGroupFollowsItsShareAcrossARestart) {
  ASSERT_EQ(pvctl({"create", config("g", "", "cpu_weight = 512\ncap = 50\n")}).exit_code, 0);
  const std::string dir = cpu_group(cgroup_slice(), 1);
  if (dir.empty()) GTEST_SKIP() << "no cpu controller here";
  EXPECT_NE(slurp(dir + "/cgroup.procs").find(std::to_string(pid_of("g"))), std::string::npos);
  const bool v1 = fs::exists(dir + "/cpu.shares");
  EXPECT_EQ(kernel_share(dir), v1 ? "2048/50000" : "200/50000 100000");
  EXPECT_TRUE(std::regex_search(pvctl({"sched-credit", "-d", "g"}).out, std::regex("\ng +1 +512 +50\n")));

  Result set = pvctl({"sched-credit", "-d", "g", "-w", "768", "-c", "0"});
  ASSERT_EQ(set.exit_code, 0) << set.err;
  EXPECT_EQ(kernel_share(dir), v1 ? "3072/-1" : "300/max 100000");
  EXPECT_EQ(pvctl({"sched-credit", "-d", "g", "-c", "250"}).exit_code, 1);  // 2 vCPUs: at most 200

  pvd_.reset();  // kill -9; the domain runs on
  start_pvd();
  EXPECT_TRUE(std::regex_search(pvctl({"sched-credit"}).out, std::regex("\ng +1 +768 +0\n")));
  EXPECT_EQ(kernel_share(dir), v1 ? "3072/-1" : "300/max 100000");
  ASSERT_EQ(pvctl({"destroy", "g"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return cpu_group(cgroup_slice(), 1).empty(); }, 5s)) << "the group outlived the domain";
}

using PvdSched = PvdFixture;

TEST_F(PvdSched, VcpusAreListedAndPinned) {
  ASSERT_EQ(pvctl({"create", config("g", "idle")}).exit_code, 0);  // 2 vCPUs
  // Until the guest has brought vCPU 1 up it is listed offline ("-  --p").
  ASSERT_TRUE(eventually([&] {
    const std::string out = pvctl({"vcpu-list", "g"}).out;
    return std::regex_search(out, std::regex("\ng +1 +1 ")) && out.find("--p") == std::string::npos;
  }, 10s)) << pvctl({"vcpu-list", "g"}).out;
  Result l = pvctl({"vcpu-list", "g"});
  EXPECT_TRUE(std::regex_search(l.out, std::regex("\ng +1 +0 +[0-9]+ +(r--|-b-) +[0-9.]+ all / all\n"))) << l.out;
  EXPECT_TRUE(std::regex_search(l.out, std::regex("\ng +1 +1 +[0-9]+ +(r--|-b-) +[0-9.]+ all / all\n"))) << l.out;
  Result pin = pvctl({"vcpu-pin", "g", "1", "0"});
  ASSERT_EQ(pin.exit_code, 0) << pin.err;
  EXPECT_TRUE(std::regex_search(pin.out, std::regex("\ng +1 +1 +[0-9]+ +\\S+ +[0-9.]+ 0 / all\n"))) << pin.out;
  Result none = pvctl({"vcpu-pin", "g", "5", "0"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("has no vCPU '5'"), std::string::npos) << none.err;
  Result bad = pvctl({"vcpu-pin", "g", "all", "999"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.err.find("CPU 999 does not exist"), std::string::npos) << bad.err;
  ASSERT_EQ(pvctl({"pause", "g"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return pvctl({"vcpu-list", "g"}).out.find("--p") != std::string::npos; }, 5s));
}

TEST_F(PvdSchedDouble, TopShowsARunningDomainsCpuAndDevices) {
  const std::string img = dir_ + "/d.img";
  std::ofstream(img).close();
  fs::resize_file(img, 8 << 20);
  ASSERT_EQ(pvctl({"create", config("busy", "", "disk = ['" + img + ",raw,xvda,rw']\n")}).exit_code, 0);
  Result t = pvctl({"top", "-b", "-d", "0.5", "-i", "1"});
  ASSERT_EQ(t.exit_code, 0) << t.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(t.out, m, std::regex("\n +busy -----r +[0-9]+ +([0-9.]+) +65536 +[0-9.]+ +65536 +2 +0 +0 +0 +1 ")))
      << t.out;
  EXPECT_LE(std::stod(m[1]), 200.0 + 1);  // two vCPUs at most
}

}  // namespace
