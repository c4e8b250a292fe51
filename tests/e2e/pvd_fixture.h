// The toolstack under test: a real pvd on a temporary state directory and
// socket, driven through the real pvctl, running real domains (the
// reference guest on pv-hv). Teardown kills pvd and every pv-hv and
// pv-backd that names the test's state directory (pv-backd outlives pvd),
// whatever the test left behind.
//
// A fixture whose with_pv_hv_double() is true runs pvd with pv-hv-double
// as its pv-hv (pvd --pv-hv, pv_hv_double.cpp): its domains "run" without
// a VM, so tests of pvd's and pvctl's own logic need no /dev/kvm.
#pragma once
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "process.h"
#include "test_util.h"

namespace pvtest {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

inline const std::string kPvd = PVD_PATH;
inline const std::string kPvctl = PVCTL_PATH;
inline const std::string kPvHv = PV_HV_PATH;
inline const std::string kPvHvDouble = PV_HV_DOUBLE_PATH;
inline const std::string kGuest = PV_GUEST_PATH;

// Every live process of `binary` (argv[0]'s file name) whose command line
// mentions `needle` (a state dir).
inline std::vector<pid_t> processes_of(const std::string& binary, const std::string& needle) {
  std::vector<pid_t> out;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string cmd = slurp(e.path() / "cmdline");
    if (cmd.empty()) continue;
    const std::string argv0 = cmd.substr(0, cmd.find('\0'));
    if (fs::path(argv0).filename() != binary || cmd.find(needle) == std::string::npos) continue;
    const pid_t pid = std::stoi(name);
    if (alive(pid)) out.push_back(pid);
  }
  return out;
}
// pv-hv processes, and the double standing in for it.
inline std::vector<pid_t> pv_hv_processes(const std::string& needle) {
  auto out = processes_of("pv-hv", needle);
  for (pid_t pid : processes_of("pv-hv-double", needle)) out.push_back(pid);
  return out;
}
inline std::vector<pid_t> backd_processes(const std::string& needle) { return processes_of("pv-backd", needle); }

class PvdFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    if (with_pv_hv_double()) pv_hv_ = kPvHvDouble;
    else if (needs_kvm() && access("/dev/kvm", R_OK | W_OK) != 0) GTEST_SKIP() << "/dev/kvm is not usable here";
    char tmpl[] = "/tmp/pvd-test.XXXXXX";
    dir_ = mkdtemp(tmpl);
    state_ = dir_ + "/state";
    socket_ = dir_ + "/pvd.sock";
    start_pvd();
  }

  void TearDown() override {
    if (dir_.empty()) return;
    pvd_.reset();  // SIGKILL, so it restarts nothing
    for (pid_t pid : pv_hv_processes(state_ + "/")) ::kill(pid, SIGKILL);
    for (pid_t pid : backd_processes(state_)) ::kill(pid, SIGKILL);
    eventually([&] { return pv_hv_processes(state_ + "/").empty() && backd_processes(state_).empty(); }, 5s);
    remove_cgroup_slice(cgroup_slice());
    fs::remove_all(dir_);
  }

  // False for a fixture whose tests run no guest (pvd alone needs no KVM).
  virtual bool needs_kvm() const { return true; }
  // True: pvd runs pv-hv-double instead of pv-hv (no KVM needed either).
  virtual bool with_pv_hv_double() const { return false; }

  // Words before pvd's own command line (e.g. ip netns exec NS).
  virtual std::vector<std::string> pvd_prefix() const { return {}; }

  // More pvd options, for a fixture that needs them.
  virtual std::vector<std::string> pvd_options() const { return {}; }

  void start_pvd() {
    std::vector<std::string> argv = pvd_prefix();
    for (const auto& a : {kPvd, std::string("--state-dir"), state_, std::string("--socket"), socket_,
                          std::string("--pv-hv"), pv_hv_, std::string("--cgroup-slice"), cgroup_slice()})
      argv.push_back(a);
    for (const auto& o : pvd_options()) argv.push_back(o);
    pvd_ = std::make_unique<Process>(argv);
    // Ready when it answers (a killed pvd's stale socket file may still be there).
    ASSERT_TRUE(eventually([&] { return pvctl({"list"}).exit_code == 0; }, 10s)) << "pvd does not answer";
  }

  // The test's own cgroup slice for its domains' CPU shares.
  std::string cgroup_slice() const { return "pvd-test-" + fs::path(dir_).filename().string() + ".slice"; }

  Result pvctl(std::vector<std::string> args) {
    args.insert(args.begin(), {kPvctl, "--socket", socket_});
    return run(args, 30s);
  }

  // Debian's xenstore clients, talking to pvd's xenstored as dom0.
  Result xs(const std::string& tool, std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/env", "XENSTORED_RUNDIR=/nonexistent",
                               "XENSTORED_PATH=" + state_ + "/xenstored.sock", "/usr/bin/xenstore-" + tool});
    return run(args, 10s);
  }

  std::string config(const std::string& name, const std::string& extra, const std::string& more = "") {
    const std::string path = dir_ + "/" + name + ".cfg";
    std::ofstream(path) << "# test domain\nname = \"" << name << "\"\nmemory = 64\nvcpus = " << vcpus_
                        << "\ntype = \"pvh\"\nkernel = \"" << kGuest << "\"\nextra = \"" << extra << "\"\n"
                        << more;
    return path;
  }

  // The `pvctl list` row of a domain, or "".
  std::string row(const std::string& name) {
    std::istringstream in(pvctl({"list"}).out);
    for (std::string line; std::getline(in, line);)
      if (line.rfind(name + " ", 0) == 0) return line;
    return "";
  }

  pid_t pid_of(const std::string& name) {
    std::smatch m;
    const std::string out = pvctl({"info", name}).out;
    if (!std::regex_search(out, m, std::regex("pid: ([0-9]+)"))) return -1;
    return std::stoi(m[1]);
  }

  // The domain's console log, as pvd keeps it.
  // Creates a domain from config(name, extra, more); its id (0, with a
  // test failure, when create failed).
  uint32_t create(const std::string& name, const std::string& extra, const std::string& more = "") {
    Result c = pvctl({"create", config(name, extra, more)});
    EXPECT_EQ(c.exit_code, 0) << c.out << c.err;
    std::smatch m;
    if (!std::regex_search(c.out, m, std::regex("\\(id ([0-9]+)\\)"))) {
      ADD_FAILURE() << "no id in: " << c.out << c.err;
      return 0;
    }
    return static_cast<uint32_t>(std::stoul(m[1]));
  }
  // A node's value without the line end; "" when it cannot be read.
  std::string xs_read(const std::string& path) {
    Result r = xs("read", {path});
    std::string v = r.out;
    while (!v.empty() && (v.back() == '\n' || v.back() == '\r')) v.pop_back();
    return r.exit_code == 0 ? v : "";
  }

  // Nothing of domain `name` (refused or gone) is left: no list row, no
  // info, no pv-hv beyond the `others` domains that run on, no files in
  // domains/ (when none runs) and no node of it under /local/domain.
  void expect_nothing_left_of(const std::string& name, size_t others = 0) {
    EXPECT_EQ(row(name), "");
    EXPECT_NE(pvctl({"info", name}).exit_code, 0);
    EXPECT_TRUE(eventually([&] { return pv_hv_processes(state_ + "/").size() == others; }, 5s));
    if (others == 0) {
      EXPECT_TRUE(eventually([&] { return std::filesystem::is_empty(state_ + "/domains"); }, 5s))
          << "files left in domains/";
    }
    Result ls = xs("list", {"/local/domain"});
    EXPECT_EQ(static_cast<size_t>(std::count(ls.out.begin(), ls.out.end(), '\n')), 1 + others)
        << ls.out;  // dom0's node and the others'
  }

  // The domain's console log: live, or kept by pvd once the domain is gone
  // (console-logs/<name>.<domid>.log).
  std::string console(uint32_t domid) {
    const std::string live = slurp(state_ + "/domains/" + std::to_string(domid) + ".console.log");
    if (!live.empty()) return live;
    std::error_code ec;
    const std::string suffix = "." + std::to_string(domid) + ".log";
    for (const auto& e : std::filesystem::directory_iterator(state_ + "/console-logs", ec))
      if (e.path().filename().string().ends_with(suffix)) return slurp(e.path().string());
    return "";
  }
  bool console_has(uint32_t domid, const std::string& text, std::chrono::milliseconds timeout = 20s) {
    return eventually([&] { return console(domid).find(text) != std::string::npos; }, timeout);
  }

  unsigned vcpus_ = 2;     // of the domains config() describes
  std::string pv_hv_ = kPvHv;  // what pvd runs for a domain
  std::string dir_, state_, socket_;
  std::unique_ptr<Process> pvd_;
};

}  // namespace pvtest
