// End-to-end tests: the reference guest kernel booted by the real pv-hv on
// real KVM. Each test starts pv-hv as a child process and checks what the
// guest printed on its console and how pv-hv exited.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "process.h"
#include "test_util.h"

namespace {

using namespace std::chrono_literals;
using pvtest::Process;
using pvtest::Result;

const std::string kPvHv = PV_HV_PATH;
const std::string kGuest = PV_GUEST_PATH;

// Exit statuses documented in docs/running-a-domain.md.
enum Exit { kPoweroff = 0, kError = 1, kReboot = 2, kSuspend = 3, kCrash = 4, kWatchdog = 5, kSoftReset = 6, kDestroyed = 7 };

class PvHv : public ::testing::Test {
 protected:
  void SetUp() override {
    if (access("/dev/kvm", R_OK | W_OK) != 0) GTEST_SKIP() << "/dev/kvm is not usable here";
  }

  static Result boot(const std::string& cmdline, unsigned vcpus = 2, std::vector<std::string> extra = {},
                     std::chrono::milliseconds timeout = 60s) {
    std::vector<std::string> argv = {kPvHv, "--kernel", kGuest, "--memory", "64M", "--vcpus", std::to_string(vcpus),
                                     "--cmdline", cmdline};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return pvtest::run(argv, timeout);
  }

  // "<word>: N passed, M failed" from the guest console.
  static std::pair<int, int> summary(const std::string& out, const std::string& word) {
    std::smatch m;
    std::regex re(word + ": ([0-9]+) passed, ([0-9]+) failed");
    if (!std::regex_search(out, m, re)) return {-1, -1};
    return {std::stoi(m[1]), std::stoi(m[2])};
  }

  static std::vector<std::string> lines_starting(const std::string& out, const std::string& prefix) {
    std::vector<std::string> v;
    size_t pos = 0;
    while (pos < out.size()) {
      size_t end = out.find('\n', pos);
      if (end == std::string::npos) end = out.size();
      if (out.compare(pos, prefix.size(), prefix) == 0) v.push_back(out.substr(pos, end - pos));
      pos = end + 1;
    }
    return v;
  }
};

TEST_F(PvHv, BootsToReadyAndPowersOff) {
  Result r = boot("");
  ASSERT_FALSE(r.timed_out) << r.out << r.err;
  EXPECT_EQ(r.exit_code, kPoweroff) << r.err;
  EXPECT_NE(r.out.find("\nREADY\n"), std::string::npos) << r.out;
  EXPECT_NE(r.err.find("shut down (poweroff)"), std::string::npos) << r.err;
}

class Selftest : public PvHv, public ::testing::WithParamInterface<unsigned> {};

TEST_P(Selftest, AllChecksPass) {
  const unsigned vcpus = GetParam();
  Result r = boot("selftest", vcpus);
  ASSERT_FALSE(r.timed_out) << r.out << r.err;
  EXPECT_EQ(r.exit_code, kPoweroff) << r.err;
  auto [passed, failed] = summary(r.out, "selftest");
  EXPECT_EQ(failed, 0) << r.out;
  EXPECT_GE(passed, 30) << r.out;
  EXPECT_TRUE(lines_starting(r.out, "FAIL").empty()) << r.out;
  EXPECT_NE(r.out.find(std::to_string(vcpus) + "/" + std::to_string(vcpus) + " vCPUs online"), std::string::npos) << r.out;
  // Cross-vCPU checks run only with more than one vCPU.
  const auto skips = lines_starting(r.out, "SKIP");
  if (vcpus > 1) {
    for (const auto& s : skips) EXPECT_EQ(s.find("only 1 vCPU"), std::string::npos) << s;
    EXPECT_NE(r.out.find("PASS evtchn_ipi"), std::string::npos) << r.out;
  }
}

INSTANTIATE_TEST_SUITE_P(Vcpus, Selftest, ::testing::Values(1u, 2u, 4u));

// The hostile balloon cases (hostile_balloon.cpp): each refused reservation
// op gets Xen's answer and changes nothing; with maxmem above memory too,
// where the top of RAM starts ballooned out.
TEST_F(PvHv, HostileBalloonOpsAreRefusedAsXenDoes) {
  for (const std::vector<std::string>& extra : {std::vector<std::string>{}, {"--maxmem", "128M"}}) {
    Result r = boot("hostile", 1, extra);
    ASSERT_FALSE(r.timed_out) << r.out << r.err;
    EXPECT_EQ(r.exit_code, kPoweroff) << r.out << r.err;
    const auto passed = lines_starting(r.out, "PASS hostile balloon_");
    EXPECT_GE(passed.size(), 27u) << r.out;
    EXPECT_TRUE(lines_starting(r.out, "FAIL hostile balloon_").empty()) << r.out;
    for (const char* name : {"balloon_decrease_same_frame_twice", "balloon_populate_back", "balloon_decrease_grant_frame",
                             "balloon_decrease_xenstore_ring", "balloon_decrease_order_10", "balloon_decrease_count_max"})
      EXPECT_NE(r.out.find(std::string("PASS hostile ") + name + " "), std::string::npos) << name << "\n" << r.out;
    EXPECT_NE(r.out.find("PASS hostile domain_still_running"), std::string::npos) << r.out;
  }
}

// Free-page reporting (freereport.cpp): 128 MiB the guest wrote and then
// freed goes back to the host, and comes back when the guest allocates it
// again, measured from /proc (pv-hv's RSS and its guest-RAM memfd).
TEST_F(PvHv, FreedGuestMemoryIsReportedAndTheHostRssDrops) {
  constexpr int64_t kMiB = 1024 * 1024;
  Process p({kPvHv, "--kernel", kGuest, "--memory", "256M", "--vcpus", "1", "--cmdline", "freereport=128"});
  ASSERT_TRUE(p.wait_for_output("FREEREPORT touched", 60s));
  const pvtest::HostMemory touched = pvtest::host_memory(p.pid());
  ASSERT_TRUE(p.wait_for_output("FREEREPORT freed", 30s));
  const pvtest::HostMemory freed = pvtest::host_memory(p.pid());
  ASSERT_TRUE(p.wait_for_output("FREEREPORT reused", 30s));
  const pvtest::HostMemory reused = pvtest::host_memory(p.pid());
  Result r = p.wait(60s);
  ASSERT_FALSE(r.timed_out) << r.out << r.err;
  EXPECT_EQ(r.exit_code, kPoweroff) << r.out << r.err;
  ASSERT_GT(touched.memfd_bytes, 0) << "no guest-RAM memfd in /proc/" << p.pid() << "/fd";
  EXPECT_GE(touched.memfd_bytes - freed.memfd_bytes, 125 * kMiB) << touched.memfd_bytes << " -> " << freed.memfd_bytes;
  EXPECT_GE(touched.rss - freed.rss, 125 * kMiB) << touched.rss << " -> " << freed.rss;
  EXPECT_GE(reused.memfd_bytes - freed.memfd_bytes, 125 * kMiB) << freed.memfd_bytes << " -> " << reused.memfd_bytes;
  EXPECT_GE(reused.rss - freed.rss, 125 * kMiB) << freed.rss << " -> " << reused.rss;
  EXPECT_NE(r.out.find("zeroed=ok"), std::string::npos) << r.out;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex("FREEREPORT freed reported_kib=([0-9]+)"))) << r.out;
  EXPECT_EQ(std::stoull(m[1]), 131072u);
  EXPECT_NE(r.out.find("refused=0"), std::string::npos) << r.out;
}

TEST_F(PvHv, HostileHypercallsAllFailAndTheDomainSurvives) {
  Result r = boot("hostile");
  ASSERT_FALSE(r.timed_out) << r.out << r.err;
  EXPECT_EQ(r.exit_code, kPoweroff) << r.out << r.err;
  auto [passed, failed] = summary(r.out, "hostile");
  EXPECT_EQ(failed, 0) << r.out;
  EXPECT_GE(passed, 50) << r.out;
  // pv-hv counted the errors it returned and the unimplemented calls.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.err, m, std::regex("hypercalls: ([0-9]+) calls, ([0-9]+) failed, ([0-9]+) not implemented")))
      << r.err;
  // Most hostile cases are hypercalls that must fail (a few report errors
  // through a status field instead).
  EXPECT_GE(std::stoi(m[2]), passed / 2);
  EXPECT_GE(std::stoi(m[3]), 5);
}

struct ShutdownCase {
  const char* reason;
  int exit_code;
};

class ShutdownReason : public PvHv, public ::testing::WithParamInterface<ShutdownCase> {};

TEST_P(ShutdownReason, ExitStatusTellsHowTheGuestShutDown) {
  const auto& c = GetParam();
  Result r = boot(std::string("shutdown=") + c.reason, 1);
  ASSERT_FALSE(r.timed_out) << r.out << r.err;
  EXPECT_EQ(r.exit_code, c.exit_code) << r.err;
  EXPECT_NE(r.err.find(std::string("shut down (") + c.reason + ")"), std::string::npos) << r.err;
}

INSTANTIATE_TEST_SUITE_P(Reasons, ShutdownReason,
                         ::testing::Values(ShutdownCase{"poweroff", kPoweroff}, ShutdownCase{"reboot", kReboot},
                                           ShutdownCase{"suspend", kSuspend}, ShutdownCase{"crash", kCrash},
                                           ShutdownCase{"watchdog", kWatchdog}, ShutdownCase{"soft_reset", kSoftReset}),
                         [](const auto& param_info) { return std::string(param_info.param.reason); });

TEST_F(PvHv, GuestExceptionIsReportedAsACrash) {
  for (const char* fault : {"pf", "ud"}) {
    Result r = boot(std::string("fault=") + fault, 1);
    ASSERT_FALSE(r.timed_out) << r.out << r.err;
    EXPECT_EQ(r.exit_code, kCrash) << fault << ": " << r.err;
    EXPECT_NE(r.out.find("EXCEPTION"), std::string::npos) << r.out;
    EXPECT_NE(r.err.find("shut down (crash)"), std::string::npos) << r.err;
  }
}

TEST_F(PvHv, WatchdogThatIsNotPettedKillsTheDomain) {
  Result r = boot("watchdog=1", 1, {}, 30s);
  ASSERT_FALSE(r.timed_out) << r.out << r.err;
  EXPECT_NE(r.out.find("WATCHDOG armed"), std::string::npos) << r.out;
  EXPECT_EQ(r.exit_code, kWatchdog) << r.err;
  EXPECT_NE(r.err.find("watchdog 1 expired"), std::string::npos) << r.err;
}

TEST_F(PvHv, SigtermDestroysARunningDomain) {
  Process p({kPvHv, "--kernel", kGuest, "--vcpus", "2", "--cmdline", "watchdog=3600"});
  ASSERT_TRUE(p.wait_for_output("WATCHDOG armed", 30s));
  p.signal(SIGTERM);
  Result r = p.wait(10s);
  ASSERT_FALSE(r.timed_out);
  EXPECT_EQ(r.exit_code, kDestroyed) << r.err;
  EXPECT_NE(r.err.find("destroyed: received SIGTERM"), std::string::npos) << r.err;
}

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/pvtest.XXXXXX";
    path_ = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name, const std::string& content) const {
    std::string p = path_ + "/" + name;
    std::ofstream(p, std::ios::binary) << content;
    return p;
  }

 private:
  std::string path_;
};

TEST_F(PvHv, RefusesKernelsItCannotBoot) {
  TempDir dir;
  struct Case {
    std::string path, message;
  };
  std::string elf_without_note;
  {
    // The guest kernel with its PHYS32_ENTRY note renumbered (type 18 -> 17).
    std::ifstream in(kGuest, std::ios::binary);
    elf_without_note.assign(std::istreambuf_iterator<char>(in), {});
    const std::string note_tail("\x12\0\0\0Xen\0", 8);
    size_t at = elf_without_note.find(note_tail);
    ASSERT_NE(at, std::string::npos);
    elf_without_note[at] = '\x11';
  }
  const std::vector<Case> cases = {
      {dir.file("empty", ""), "not an ELF file"},
      {dir.file("text", "hello, this is not a kernel\n"), "not an ELF file"},
      {dir.file("truncated", std::string("\x7f" "ELF\x02\x01\x01", 7) + std::string(9, '\0')), "not a bootable PVH kernel"},
      {dir.file("nonote", elf_without_note), "no Xen PHYS32_ENTRY ELF note"},
      {"/bin/true", "not an executable"},  // a PIE (ET_DYN)
      {"/nonexistent/kernel", "cannot open"},
  };
  for (const auto& c : cases) {
    Result r = pvtest::run({kPvHv, "--kernel", c.path}, 20s);
    EXPECT_EQ(r.exit_code, kError) << c.path << ": " << r.err;
    EXPECT_TRUE(std::regex_search(r.err, std::regex(c.message))) << c.path << ": " << r.err;
  }
}

TEST_F(PvHv, InitrdReachesTheGuestIntact) {
  TempDir dir;
  std::string content;
  for (int i = 0; i < 5000; i++) content.push_back(static_cast<char>((i * 7919) >> 3));
  uint32_t h = 2166136261u;
  for (unsigned char c : content) h = (h ^ c) * 16777619u;
  char want[64];
  std::snprintf(want, sizeof want, ", %zu bytes, fnv1a %08x", content.size(), h);
  Result r = boot("selftest", 1, {"--initrd", dir.file("initrd.img", content)});
  ASSERT_FALSE(r.timed_out) << r.out << r.err;
  EXPECT_EQ(r.exit_code, kPoweroff) << r.err;
  EXPECT_NE(r.out.find(want), std::string::npos) << "want '" << want << "' in:\n" << r.out;
  EXPECT_NE(r.out.find("PASS start_info_module"), std::string::npos) << r.out;
  // Too big for guest RAM: refused before boot.
  std::string huge_path = dir.file("huge.img", "");
  ASSERT_EQ(truncate(huge_path.c_str(), 80 << 20), 0);
  Result big = boot("", 1, {"--initrd", huge_path});
  EXPECT_EQ(big.exit_code, kError);
  EXPECT_NE(big.err.find("does not fit in guest memory"), std::string::npos) << big.err;
}

TEST_F(PvHv, RefusesBadOptionsWithAClearMessage) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--memory", "3M"}, "at least 4 MiB"},
      {{"--memory", "12Q"}, "unknown suffix"},
      {{"--vcpus", "0"}, "--vcpus"},
      {{"--vcpus", "many"}, "not a number"},
      {{"--domid", "0"}, "dom0"},
      {{"--hypercall-transport", "carrier-pigeon"}, "unknown hypercall transport"},
      {{"--bogus", "1"}, "unknown option"},
      {{"--cmdline", std::string(5000, 'x')}, "command line is 5000 bytes"},
  };
  for (const auto& [opts, message] : cases) {
    std::vector<std::string> argv = {kPvHv, "--kernel", kGuest};
    argv.insert(argv.end(), opts.begin(), opts.end());
    Result r = pvtest::run(argv, 20s);
    EXPECT_EQ(r.exit_code, kError) << opts[0] << ": " << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << opts[0] << ": " << r.err;
  }
  Result r = pvtest::run({kPvHv}, 20s);
  EXPECT_EQ(r.exit_code, kError);
  EXPECT_NE(r.err.find("--kernel is required"), std::string::npos) << r.err;
}

TEST_F(PvHv, KvmXenTransportIsChosenOnlyWhereKvmOffersIt) {
  // On hosts without KVM_CAP_XEN_HVM (these PVM machines), asking for it
  // is an error and auto picks port I/O; elsewhere both boot.
  Result r = boot("", 1, {"--hypercall-transport", "kvm-xen"});
  if (r.exit_code == kError) {
    EXPECT_NE(r.err.find("lacks KVM_CAP_XEN_HVM"), std::string::npos) << r.err;
  } else {
    EXPECT_EQ(r.exit_code, kPoweroff) << r.err;
    EXPECT_NE(r.out.find("READY"), std::string::npos);
  }
  Result p = boot("", 1, {"--hypercall-transport", "port-io"});
  EXPECT_EQ(p.exit_code, kPoweroff) << p.err;
  EXPECT_NE(p.out.find("READY"), std::string::npos);
}

// Option parsing happens before KVM is opened: these run without /dev/kvm.
TEST(PvHvOptions, ValuesAfterAnEqualsSignOrAsTheNextWord) {
  // --memory=64M parses (the missing --kernel is what is refused).
  Result eq = pvtest::run({kPvHv, "--memory=64M"}, 20s);
  EXPECT_EQ(eq.exit_code, kError) << eq.err;
  EXPECT_NE(eq.err.find("--kernel is required"), std::string::npos) << eq.err;
  EXPECT_EQ(eq.err.find("--memory"), std::string::npos) << eq.err;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--memory=12Q"}, "unknown suffix"},
      {{"--memory", "12Q"}, "unknown suffix"},
      {{"--vcpus=many"}, "not a number"},
      {{"--bogus=1"}, "unknown option --bogus"},
      {{"--bogus"}, "unknown option --bogus"},
      {{"--cmdline"}, "--cmdline needs a value"},
      {{"stray"}, "unexpected argument 'stray'"},
  };
  for (const auto& [opts, message] : cases) {
    std::vector<std::string> argv = {kPvHv, "--kernel=" + kGuest};
    argv.insert(argv.end(), opts.begin(), opts.end());
    Result r = pvtest::run(argv, 20s);
    EXPECT_EQ(r.exit_code, kError) << opts[0] << ": " << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << opts[0] << ": " << r.err;
  }
  Result help = pvtest::run({kPvHv, "--help"}, 20s);
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.out.find("--memory SIZE"), std::string::npos) << help.out;
}

// Runstate accounting (VCPUOP_register_runstate_memory_area and
// get_runstate_info): the guest's `runstate=3` mode keeps vCPU 0 busy for
// 3 s and prints what it was told. Two such guests pinned on one host CPU
// each spend about half of it runnable (steal); a lone, unpinned one much
// less (what other work on this machine takes from it).
struct Steal {
  long running_ms = -1, runnable_ms = -1, percent = -1;
};
Steal steal_of(const std::string& out) {
  std::smatch m;
  Steal s;
  if (std::regex_search(out, m, std::regex("RUNSTATE done state=0 running=([0-9]+)ms runnable=([0-9]+)ms .* steal=([0-9]+)%")))
    s = {std::stol(m[1]), std::stol(m[2]), std::stol(m[3])};
  return s;
}

TEST_F(PvHv, RunstateShowsStealWhenTwoGuestsShareOneCpu) {
  auto argv = [](std::vector<std::string> prefix) {
    for (const std::string& a : {kPvHv, std::string("--kernel"), kGuest, std::string("--vcpus"), std::string("1"),
                                 std::string("--cmdline"), std::string("runstate=3")})
      prefix.push_back(a);
    return prefix;
  };
  Process a(argv({"/usr/bin/taskset", "-c", "0"})), b(argv({"/usr/bin/taskset", "-c", "0"}));
  const Result ra = a.wait(60s), rb = b.wait(60s);
  ASSERT_EQ(ra.exit_code, kPoweroff) << ra.out << ra.err;
  ASSERT_EQ(rb.exit_code, kPoweroff) << rb.out << rb.err;
  for (const Result* r : {&ra, &rb}) {
    EXPECT_NE(r->out.find("RUNSTATE registered rc=0\n"), std::string::npos) << r->out;
    EXPECT_NE(r->out.find("RUNSTATE area ok"), std::string::npos) << r->out;
  }
  const Steal sa = steal_of(ra.out), sb = steal_of(rb.out);
  EXPECT_GE(sa.percent, 25) << ra.out;  // about 50 on an idle machine
  EXPECT_GE(sb.percent, 25) << rb.out;
  EXPECT_GT(sa.runnable_ms, 500) << ra.out;
  EXPECT_GT(sb.runnable_ms, 500) << rb.out;

  const Result lone = pvtest::run(argv({}), 60s);
  ASSERT_EQ(lone.exit_code, kPoweroff) << lone.out << lone.err;
  const Steal sl = steal_of(lone.out);
  ASSERT_GE(sl.percent, 0) << lone.out;
  EXPECT_LT(sl.percent, std::min(sa.percent, sb.percent)) << lone.out;
  EXPECT_GT(sl.running_ms, 0) << lone.out;
  std::printf("steal: pinned pair %ld%% (%ld ms) and %ld%% (%ld ms); lone %ld%% (%ld ms)\n", sa.percent, sa.runnable_ms,
              sb.percent, sb.runnable_ms, sl.percent, sl.runnable_ms);
}

}  // namespace
