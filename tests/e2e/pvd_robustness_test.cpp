// Robustness of the toolstack, end to end (issue 4, "Reliability"): a real
// pvd on a temporary state directory, driven through the real pvctl and
// Debian's xenstore clients, running real domains (the reference guest on
// pv-hv).
// - a guest flooding xenstore hits its quotas and keeps them, while another
//   domain and dom0 clients carry on as before;
// - a domain whose pv-hv is killed, or whose guest crashes, is reported
//   with the right state and its pv-hv, xenstore nodes and files are gone.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <thread>

#include "pvd_fixture.h"

namespace {

using namespace pvtest;

class PvdRobustness : public PvdFixture {
 protected:
  PvdRobustness() { vcpus_ = 1; }

  bool xs_exists(const std::string& path) { return xs("exists", {path}).exit_code == 0; }


  // Waits until domain `id` ("victim") is up with its xenstore watch set,
  // checks it has exactly one pv-hv, and SIGKILLs that. Returns its pid, or
  // -1 (after reporting the failure).
  pid_t kill_running_victim(uint32_t id) {
    const std::string home = "/local/domain/" + std::to_string(id);
    EXPECT_TRUE(console_has(id, "xenbus: watching control/shutdown")) << console(id);
    EXPECT_TRUE(xs_exists(home + "/control/feature-poweroff"));
    const pid_t pid = pid_of("victim");
    EXPECT_TRUE(alive(pid));
    EXPECT_EQ(pv_hv_processes(state_ + "/domains/" + std::to_string(id) + "."), std::vector<pid_t>{pid});
    if (::testing::Test::HasFailure() || ::kill(pid, SIGKILL) != 0) return -1;
    return pid;
  }

  // Names of the files in <state>/domains/ that belong to domain `domid`.
  std::vector<std::string> files_of(uint32_t domid) {
    std::vector<std::string> out;
    const std::string prefix = std::to_string(domid) + ".";
    for (const auto& e : fs::directory_iterator(state_ + "/domains"))
      if (e.path().filename().string().rfind(prefix, 0) == 0) out.push_back(e.path().filename());
    std::sort(out.begin(), out.end());
    return out;
  }

  // Checks the domain's resources are released: no pv-hv for it, its
  // xenstore home gone; `preserved` leaves its record and console log.
  void expect_cleaned_up(uint32_t domid, pid_t pid, bool preserved) {
    const std::string id = std::to_string(domid);
    EXPECT_TRUE(eventually([&] { return !alive(pid); }, 5s)) << "pv-hv " << pid << " still runs";
    EXPECT_TRUE(pv_hv_processes(state_ + "/domains/" + id + ".").empty()) << "a pv-hv of domain " << id << " runs";
    EXPECT_FALSE(xs_exists("/local/domain/" + id)) << "its xenstore nodes are still there";
    EXPECT_EQ(("\n" + xs("list", {"/local/domain"}).out).find("\n" + id + "\n"), std::string::npos);
    const auto files = files_of(domid);
    if (preserved) {
      EXPECT_TRUE(std::count(files.begin(), files.end(), id + ".rec")) << "the preserved domain's record is gone";
    } else {
      EXPECT_TRUE(files.empty()) << "left in domains/: " << ::testing::PrintToString(files);
    }
  }

};

// "FLOOD <what>: refused after N (<error>)" lines of a console log.
std::map<std::string, std::pair<unsigned, std::string>> flood_lines(const std::string& log) {
  std::map<std::string, std::pair<unsigned, std::string>> out;
  static const std::regex re("FLOOD ([a-z-]+): refused after ([0-9]+) \\(([A-Z0-9?]+)\\)");
  for (std::sregex_iterator it(log.begin(), log.end(), re), end; it != end; ++it)
    out[(*it)[1]] = {static_cast<unsigned>(std::stoul((*it)[2])), (*it)[3]};
  return out;
}

TEST_F(PvdRobustness, XenstoreFloodHitsQuotasWhileOthersCarryOn) {
  const uint32_t flood = create("flood", "xenstore-flood");
  ASSERT_TRUE(console_has(flood, "xenstore-flood: holding")) << console(flood);
  const std::string log = console(flood);
  EXPECT_NE(log.find("xenstore-flood: 4 passed, 0 failed"), std::string::npos) << log;
  const auto hits = flood_lines(log);
  // Xen's defaults (quotas.h) and the C xenstored's errors.
  ASSERT_EQ(hits.size(), 4u) << log;
  EXPECT_EQ(hits.at("entry-size"), std::make_pair(2048u, std::string("ENOSPC"))) << log;
  EXPECT_EQ(hits.at("nodes").second, "ENOSPC");
  EXPECT_GT(hits.at("nodes").first, 900u);  // its home, control/ and data/flood own the rest of 1000
  EXPECT_LT(hits.at("nodes").first, 1000u);
  EXPECT_EQ(hits.at("watches"), std::make_pair(127u, std::string("E2BIG"))) << "128 with control/shutdown's";
  EXPECT_EQ(hits.at("transactions"), std::make_pair(10u, std::string("ENOSPC")));
  const unsigned flood_nodes = hits.at("nodes").first;

  // The flooder keeps all of it while another domain uses xenstore ...
  const uint32_t calm = create("calm", "xenstore idle");
  ASSERT_TRUE(console_has(calm, "xenbus: watching control/shutdown")) << console(calm);
  EXPECT_NE(console(calm).find("xenstore: 10 passed, 0 failed"), std::string::npos) << console(calm);

  // ... and dom0 clients do: read, write (dom0 is exempt from the quotas,
  // also under the flooder's home), list.
  const std::string calm_home = "/local/domain/" + std::to_string(calm);
  const std::string flood_home = "/local/domain/" + std::to_string(flood);
  EXPECT_EQ(xs("read", {calm_home + "/name"}).out, "calm\n");
  EXPECT_EQ(xs("write", {calm_home + "/data/from-dom0", "hello"}).exit_code, 0);
  EXPECT_EQ(xs("read", {calm_home + "/data/from-dom0"}).out, "hello\n");
  Result w = xs("write", {flood_home + "/data/from-dom0", std::string(3000, 'd')});
  EXPECT_EQ(w.exit_code, 0) << w.err;
  Result l = xs("list", {flood_home + "/data/flood"});
  EXPECT_EQ(l.exit_code, 0) << l.err;
  EXPECT_GE(static_cast<unsigned>(std::count(l.out.begin(), l.out.end(), '\n')), flood_nodes) << "the flood is held";

  // Both obey control/shutdown: the flooder kept a transaction for it.
  Result s = pvctl({"shutdown", "--wait", "calm"});
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(row("calm"), "");
  s = pvctl({"shutdown", "--wait", "flood"});
  EXPECT_EQ(s.exit_code, 0) << s.err << console(flood);
  EXPECT_EQ(row("flood"), "");
  EXPECT_FALSE(xs_exists(flood_home));

  // Its quota was given back with its nodes: a new domain gets as far as
  // the first (with the next ID: IDs are not reused until they wrap).
  const uint32_t again = create("flood2", "xenstore-flood");
  EXPECT_GT(again, calm);
  ASSERT_TRUE(console_has(again, "xenstore-flood: holding")) << console(again);
  EXPECT_NE(console(again).find("xenstore-flood: 4 passed, 0 failed"), std::string::npos) << console(again);
  EXPECT_EQ(flood_lines(console(again))["nodes"].first, flood_nodes) << console(again);
  EXPECT_EQ(pvctl({"destroy", "flood2"}).exit_code, 0);
}

// A domain whose pv-hv dies of SIGKILL writes no status: pvd treats it as
// a crash (on_crash).
TEST_F(PvdRobustness, KilledPvHvWithOnCrashPreserveIsCrashedAndReleased) {
  const uint32_t id = create("victim", "xenstore idle", "on_crash = \"preserve\"\n");
  const pid_t pid = kill_running_victim(id);
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(eventually([&] { return row("victim").find("----c-") != std::string::npos; })) << row("victim");
  Result i = pvctl({"info", "victim"});
  EXPECT_TRUE(std::regex_search(i.out, std::regex("shutdown reason: .*killed"))) << i.out;
  expect_cleaned_up(id, pid, true);
  EXPECT_EQ(pvctl({"shutdown", "victim"}).exit_code, 1);  // not running
  Result d = pvctl({"destroy", "victim"});
  EXPECT_EQ(d.exit_code, 0) << d.err;
  EXPECT_EQ(row("victim"), "");
  EXPECT_TRUE(files_of(id).empty()) << ::testing::PrintToString(files_of(id));
}

TEST_F(PvdRobustness, KilledPvHvWithDefaultOnCrashIsGone) {
  const uint32_t id = create("victim", "xenstore idle");
  const pid_t pid = kill_running_victim(id);
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(eventually([&] { return row("victim").empty(); })) << row("victim");
  EXPECT_EQ(pvctl({"info", "victim"}).exit_code, 1);
  expect_cleaned_up(id, pid, false);
  // A new domain gets the next id (ids are not reused until they wrap) and a clean home.
  const uint32_t next = create("next", "xenstore idle");
  EXPECT_EQ(next, id + 1);
  ASSERT_TRUE(console_has(next, "xenbus: watching control/shutdown")) << console(next);
  EXPECT_NE(console(next).find("xenstore: 10 passed, 0 failed"), std::string::npos) << console(next);
  EXPECT_EQ(xs("read", {"/local/domain/" + std::to_string(next) + "/name"}).out, "next\n");
  EXPECT_EQ(pvctl({"destroy", "next"}).exit_code, 0);
}

// The guest asks to crash (SCHEDOP_shutdown crash) after using xenstore.
TEST_F(PvdRobustness, CrashedGuestWithOnCrashPreserveIsCrashedAndReleased) {
  const uint32_t id = create("crashy", "xenstore shutdown=crash", "on_crash = \"preserve\"\n");
  const pid_t pid = pid_of("crashy");
  EXPECT_TRUE(eventually([&] { return row("crashy").find("----c-") != std::string::npos; })) << row("crashy");
  EXPECT_NE(console(id).find("xenstore: 10 passed, 0 failed"), std::string::npos) << console(id);
  Result i = pvctl({"info", "crashy"});
  EXPECT_NE(i.out.find("shutdown reason: crash"), std::string::npos) << i.out;
  expect_cleaned_up(id, pid, true);
  EXPECT_EQ(pvctl({"destroy", "crashy"}).exit_code, 0);
  EXPECT_TRUE(files_of(id).empty()) << ::testing::PrintToString(files_of(id));
}

TEST_F(PvdRobustness, CrashedGuestWithDefaultOnCrashIsGone) {
  const uint32_t id = create("crashy", "xenstore shutdown=crash");
  const pid_t pid = pid_of("crashy");
  EXPECT_TRUE(eventually([&] { return row("crashy").empty(); })) << row("crashy");
  expect_cleaned_up(id, pid, false);
}

}  // namespace
