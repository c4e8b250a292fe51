// pvd and pvctl with running domains, without /dev/kvm: pvd runs
// pv-hv-double (pv_hv_double.cpp) as its pv-hv. These test the toolstack's
// logic (create, list, info, console relay, shutdown acknowledgement and
// on_* actions, reboot restarts, adoption after kill -9 of pvd); what the
// guest does is tested with the reference guest where there is KVM.
#include <gtest/gtest.h>
#include <signal.h>

#include <unistd.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <string>

#include "pvd_fixture.h"

namespace {

using namespace pvtest;

class PvdDouble : public PvdFixture {
 protected:
  bool with_pv_hv_double() const override { return true; }

  // A domain's configuration, written to dir_/NAME.cfg.
  std::string cfg(const std::string& name, const std::string& more = "") {
    const std::string path = dir_ + "/" + name + ".cfg";
    std::ofstream(path) << "name = \"" << name << "\"\nmemory = 64\nvcpus = 2\nkernel = \"" << kGuest << "\"\n" << more;
    return path;
  }
};

TEST_F(PvdDouble, ADomainRunsListsAndIsDestroyed) {
  Result c = pvctl({"create", cfg("d1")});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_EQ(c.out, "created domain d1 (id 1)\n");
  EXPECT_TRUE(std::regex_search(row("d1"), std::regex("^d1 +1 +64 +2 +r----- ")) ) << row("d1");
  const pid_t pid = pid_of("d1");
  ASSERT_GT(pid, 0);
  EXPECT_TRUE(alive(pid));
  EXPECT_TRUE(console_has(1, "pv-hv double: domain d1 (id 1) is up", 5s)) << console(1);
  // Its xenstore was made over the ring the double serves.
  EXPECT_TRUE(eventually([&] { return xs("read", {"/local/domain/1/name"}).out == "d1\n"; }, 5s));
  ASSERT_EQ(pvctl({"destroy", "d1"}).exit_code, 0);
  EXPECT_EQ(row("d1"), "");
  EXPECT_FALSE(alive(pid));
  EXPECT_NE(xs("read", {"/local/domain/1/name"}).exit_code, 0);
}

TEST_F(PvdDouble, TheConsoleIsRelayedBothWays) {
  ASSERT_EQ(pvctl({"create", cfg("talk")}).exit_code, 0);
  // Typed text goes to the domain, which echoes it; Ctrl-] detaches.
  Result r = run({"/bin/sh", "-c", "(printf 'hello-double'; sleep 1; printf '\\035') | \"$0\" --socket \"$1\" console talk",
                  kPvctl, socket_},
                 15s);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("hello-double"), std::string::npos) << r.out;
  EXPECT_TRUE(console_has(1, "hello-double", 5s)) << console(1);
  EXPECT_NE(row("talk"), "");  // detaching leaves it running
}

TEST_F(PvdDouble, ShutdownIsAcknowledgedAndOnPoweroffApplies) {
  ASSERT_EQ(pvctl({"create", cfg("gone")}).exit_code, 0);
  ASSERT_EQ(pvctl({"create", cfg("kept", "on_poweroff = \"preserve\"\n")}).exit_code, 0);
  Result g = pvctl({"shutdown", "-w", "--timeout", "10", "gone"});
  EXPECT_EQ(g.exit_code, 0) << g.err;
  EXPECT_TRUE(eventually([&] { return row("gone").empty(); }, 5s)) << row("gone");  // on_poweroff destroy
  Result k = pvctl({"shutdown", "-w", "--timeout", "10", "kept"});
  EXPECT_EQ(k.exit_code, 0) << k.err;
  EXPECT_TRUE(eventually([&] { return row("kept").find("---s--") != std::string::npos; }, 5s)) << row("kept");
  EXPECT_NE(pvctl({"info", "kept"}).out.find("shutdown reason: poweroff\n"), std::string::npos);
  EXPECT_EQ(pvctl({"destroy", "kept"}).exit_code, 0);
}

TEST_F(PvdDouble, RebootRestartsTheDomainWithItsId) {
  ASSERT_EQ(pvctl({"create", cfg("again")}).exit_code, 0);
  const pid_t first = pid_of("again");
  Result r = pvctl({"reboot", "again"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(eventually([&] { const pid_t p = pid_of("again"); return p > 0 && p != first; }, 10s));
  EXPECT_NE(row("again").find("r-----"), std::string::npos) << row("again");
  EXPECT_NE(pvctl({"domid", "again"}).out, "");
  EXPECT_EQ(pvctl({"domid", "again"}).out, "1\n");
}

TEST_F(PvdDouble, PauseStopsTheProcessAndUnpauseContinuesIt) {
  ASSERT_EQ(pvctl({"create", cfg("nap")}).exit_code, 0);
  const pid_t pid = pid_of("nap");
  auto state = [&] {
    const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
    const size_t paren = stat.rfind(')');
    return paren == std::string::npos ? '?' : stat[paren + 2];
  };
  ASSERT_EQ(pvctl({"pause", "nap"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return state() == 'T'; }, 5s));
  EXPECT_NE(row("nap").find("--p---"), std::string::npos);
  ASSERT_EQ(pvctl({"unpause", "nap"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return state() == 'S' || state() == 'R'; }, 5s));
  EXPECT_EQ(pvctl({"unpause", "nap"}).exit_code, 1);  // not paused
}

// kill -9 of pvd leaves the domain running; the new pvd adopts it, serves
// its ring again from the restored store, and a shutdown still reaches it.
TEST_F(PvdDouble, AKilledPvdsDomainIsAdoptedAndStillShutsDown) {
  ASSERT_EQ(pvctl({"create", cfg("stay", "on_poweroff = \"preserve\"\n")}).exit_code, 0);
  const pid_t pid = pid_of("stay");
  pvd_->signal(SIGKILL);
  pvd_.reset();
  EXPECT_TRUE(alive(pid));
  start_pvd();
  EXPECT_EQ(pid_of("stay"), pid);
  EXPECT_NE(row("stay").find("r-----"), std::string::npos);
  Result s = pvctl({"shutdown", "-w", "--timeout", "10", "stay"});
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_TRUE(eventually([&] { return row("stay").find("---s--") != std::string::npos; }, 5s)) << row("stay");
  EXPECT_FALSE(alive(pid));
}

TEST_F(PvdDouble, DestroyIsSigtermAndWritesDestroyed) {
  ASSERT_EQ(pvctl({"create", cfg("term", "on_crash = \"preserve\"\n")}).exit_code, 0);
  const pid_t pid = pid_of("term");
  // SIGTERM from outside pvd: the double ends as "destroyed" (status 7),
  // which pvd removes whatever on_crash says.
  ASSERT_EQ(::kill(pid, SIGTERM), 0);
  EXPECT_TRUE(eventually([&] { return row("term").empty(); }, 5s)) << row("term");
}

}  // namespace

namespace {

using namespace pvtest;

// `pvctl info` in full: disks, vifs (on a bridge of its own and on a pvd
// host-only network that leases the vif its address) and on_* actions.
// pvd runs in a network namespace of the test's own (ip netns exec), so the
// host's network is not touched; needs root.
class PvdDoubleInfo : public PvdFixture {
 protected:
  bool with_pv_hv_double() const override { return true; }
  std::vector<std::string> pvd_prefix() const override { return {"/usr/sbin/ip", "netns", "exec", ns_}; }

  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root (a network namespace with a bridge)";
    ns_ = "pvdinfo-" + std::to_string(::getpid());
    ASSERT_EQ(run({"/usr/sbin/ip", "netns", "add", ns_}, 10s).exit_code, 0);
    made_ns_ = true;
    ASSERT_EQ(run({"/usr/sbin/ip", "-n", ns_, "link", "add", "brtest", "type", "bridge"}, 10s).exit_code, 0);
    PvdFixture::SetUp();
  }
  void TearDown() override {
    const std::string state = state_;
    PvdFixture::TearDown();
    if (!state.empty())
      for (pid_t pid : processes_of("dnsmasq", state)) ::kill(pid, SIGKILL);
    if (made_ns_) run({"/usr/sbin/ip", "netns", "del", ns_}, 10s);
  }

  std::string ns_;
  bool made_ns_ = false;
};

TEST_F(PvdDoubleInfo, InfoShowsDisksVifsAndActionsAsTextAndJson) {
  Result n = pvctl({"network", "create", "hn", "--mode", "host-only", "--subnet", "10.77.0.0/24"});
  ASSERT_EQ(n.exit_code, 0) << n.err;
  const std::string img = dir_ + "/root.img", ro = dir_ + "/data.img";
  std::ofstream(img) << std::string(1 << 20, '\0');
  std::ofstream(ro) << std::string(1 << 20, '\0');
  const std::string path = dir_ + "/full.cfg";
  std::ofstream(path) << "name = \"full\"\nmemory = 96\nvcpus = 3\nkernel = \"" << kGuest << "\"\n"
                      << "uuid = \"6e8a1a6b-1c5c-4b7d-9d7e-3f0a2b1c4d5e\"\n"
                      << "on_reboot = \"destroy\"\non_crash = \"preserve\"\n"
                      << "disk = [ 'format=raw, vdev=xvda, access=rw, target=" << img << "',\n"
                      << "         'format=raw, vdev=xvdb, access=ro, target=" << ro << "',\n"
                      << "         ',hdc:cdrom,r' ]\n"
                      << "vif = [ 'mac=00:16:3e:12:34:56, bridge=brtest',\n"
                      << "        'bridge=hn, ip=10.77.0.20' ]\n";
  Result c = pvctl({"create", path});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  // pv-backd takes each device to InitWait (the double runs no front-end).
  Result i;
  EXPECT_TRUE(eventually([&] {
    i = pvctl({"info", "full"});
    return i.out.find("backend none") == std::string::npos && i.out.find("Initialising") == std::string::npos;
  }, 10s)) << i.out;
  EXPECT_NE(i.out.find("name: full\nid: 1\nuuid: 6e8a1a6b-1c5c-4b7d-9d7e-3f0a2b1c4d5e\nstate: r-----\nuptime: "),
            std::string::npos) << i.out;
  EXPECT_TRUE(std::regex_search(i.out, std::regex("\nuptime: [0-9]+:[0-9]{2}:[0-9]{2}\nmemory: 96 MiB\nvcpus: 3\n")))
      << i.out;
  EXPECT_NE(i.out.find("on_poweroff: destroy\non_reboot: destroy\non_watchdog: destroy\non_crash: preserve\n"
                       "on_soft_reset: soft-reset\n"),
            std::string::npos) << i.out;
  EXPECT_NE(i.out.find("disk xvda: " + img + ", raw, rw, disk, backend InitWait (2), "), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("disk xvdb: " + ro + ", raw, ro, disk, backend InitWait (2), "), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("disk hdc: (empty drive), empty, ro, cdrom, backend "), std::string::npos) << i.out;
  EXPECT_NE(i.out.find("vif 0: 00:16:3e:12:34:56, bridge brtest, backend InitWait (2)\n"), std::string::npos) << i.out;
  EXPECT_TRUE(std::regex_search(i.out, std::regex("vif 1: 00:16:3e:[0-9a-f:]{8}, bridge pvbr-hn, ip 10.77.0.20 "
                                                  "\\(DHCP lease 10.77.0.20 from pvd's network\\), backend InitWait \\(2\\)\n")))
      << i.out;

  Result j = pvctl({"info", "--json", "full"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const auto v = nlohmann::json::parse(j.out);
  EXPECT_EQ(v["name"], "full");
  EXPECT_EQ(v["id"], 1);
  EXPECT_EQ(v["uuid"], "6e8a1a6b-1c5c-4b7d-9d7e-3f0a2b1c4d5e");
  EXPECT_EQ(v["state"], "r-----");
  EXPECT_EQ(v["mem"], 96);
  EXPECT_EQ(v["vcpus"], 3);
  EXPECT_GE(v["uptime_s"].get<int>(), 0);
  EXPECT_EQ(v["on_reboot"], "destroy");
  EXPECT_EQ(v["on_crash"], "preserve");
  ASSERT_EQ(v["disks"].size(), 3u);
  EXPECT_EQ(v["disks"][0]["vdev"], "xvda");
  EXPECT_EQ(v["disks"][0]["target"], img);
  EXPECT_EQ(v["disks"][0]["access"], "rw");
  EXPECT_EQ(v["disks"][0]["devid"], 51712);
  EXPECT_EQ(v["disks"][0]["backend_state"], 2);
  EXPECT_EQ(v["disks"][1]["access"], "ro");
  EXPECT_EQ(v["disks"][2]["devtype"], "cdrom");
  ASSERT_EQ(v["vifs"].size(), 2u);
  EXPECT_EQ(v["vifs"][0]["mac"], "00:16:3e:12:34:56");
  EXPECT_EQ(v["vifs"][0]["bridge"], "brtest");
  EXPECT_EQ(v["vifs"][0]["leased_ip"], "");
  EXPECT_EQ(v["vifs"][1]["bridge"], "pvbr-hn");
  EXPECT_EQ(v["vifs"][1]["ips"], nlohmann::json::array({"10.77.0.20"}));
  EXPECT_EQ(v["vifs"][1]["leased_ip"], "10.77.0.20");
  EXPECT_EQ(v["vifs"][1]["backend_state"], 2);

  // Once it is preserved after a crash, the back-ends are gone.
  const pid_t pid = pid_of("full");
  ASSERT_EQ(::kill(pid, SIGKILL), 0);  // no status: pvd counts it a crash
  EXPECT_TRUE(eventually([&] { return row("full").find("----c-") != std::string::npos; }, 5s)) << row("full");
  Result after = pvctl({"info", "full"});
  EXPECT_NE(after.out.find("shutdown reason: pv-hv exited without a status (killed?)\n"), std::string::npos) << after.out;
  EXPECT_NE(after.out.find("disk xvda: " + img + ", raw, rw, disk, backend none, 1 MiB virtual, "), std::string::npos) << after.out;
  EXPECT_EQ(after.out.find("uptime:"), std::string::npos) << after.out;
  EXPECT_EQ(pvctl({"destroy", "full"}).exit_code, 0);
}

}  // namespace
