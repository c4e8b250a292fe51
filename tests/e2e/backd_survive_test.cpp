// pv-backd survives pvd: kill -9 (or a stop for an upgrade) of pvd leaves
// pv-backd serving; a new pvd adopts that same pv-backd (pid file +
// /proc/PID/cmdline), and pv-backd, reconnected to the new xenstored,
// picks up devices written after the restart. Without guests (runs
// anywhere), plus one with a guest under disk I/O (needs /dev/kvm).
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <regex>

#include "pvd_fixture.h"

namespace pvtest {
namespace {

constexpr uint32_t kXvda = 51712;

class BackdSurvive : public PvdFixture {
 protected:
  bool needs_kvm() const override { return false; }  // no guest

  void TearDown() override {
    if (HasFailure() && !state_.empty()) std::cerr << "--- pv-backd.log\n" << slurp(state_ + "/pv-backd.log");
    PvdFixture::TearDown();
  }

  // The one pv-backd of this state directory (0: none, or several).
  pid_t the_backd() {
    const auto all = backd_processes(state_);
    return all.size() == 1 ? all[0] : 0;
  }
  pid_t pid_file() {
    std::ifstream f(state_ + "/pv-backd.pid");
    pid_t pid = 0;
    f >> pid;
    return pid;
  }
  static std::string backend(uint32_t domid) {
    return "/local/domain/0/backend/vbd/" + std::to_string(domid) + "/" + std::to_string(kXvda);
  }
  // A vbd back-end directory as pvd writes one (a domain without pv-hv:
  // pv-backd opens the image, publishes its features and waits in
  // InitWait for a front-end that never comes).
  void add_vbd(uint32_t domid) {
    const std::string img = dir_ + "/d" + std::to_string(domid) + ".img";
    std::ofstream(img).close();
    fs::resize_file(img, 4 << 20);
    const std::string be = backend(domid);
    Result r = xs("write", {be + "/frontend", "/local/domain/" + std::to_string(domid) + "/device/vbd/51712",
                            be + "/frontend-id", std::to_string(domid), be + "/params", img, be + "/mode", "w",
                            be + "/device-type", "disk", be + "/state", "1"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  bool in_init_wait(uint32_t domid, std::chrono::milliseconds t = 10s) {
    return eventually([&] { return xs_read(backend(domid) + "/state") == "2"; }, t);
  }
  bool log_has(const std::string& text, std::chrono::milliseconds t = 10s) {
    return eventually([&] { return slurp(state_ + "/pv-backd.log").find(text) != std::string::npos; }, t);
  }
  // No second pv-backd appears for a while, and the one there is `pid`.
  bool stays_the_only_one(pid_t pid) {
    for (int i = 0; i < 10; i++) {
      if (the_backd() != pid || pid_file() != pid) return false;
      std::this_thread::sleep_for(100ms);
    }
    return true;
  }
};

TEST_F(BackdSurvive, KillNinePvdAndTheRestartedPvdAdoptsTheSamePvBackd) {
  pid_t backd = 0;
  ASSERT_TRUE(eventually([&] { return (backd = the_backd()) > 0 && pid_file() == backd; }, 10s)) << "no pv-backd";
  add_vbd(7);
  ASSERT_TRUE(in_init_wait(7)) << "pv-backd did not pick up vbd 7/51712";
  EXPECT_EQ(xs_read(backend(7) + "/feature-flush-cache"), "1");

  pvd_.reset();  // SIGKILL
  ASSERT_TRUE(log_has("xenstored went away; 1 device(s) keep serving")) << "pv-backd did not notice";
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(alive(backd)) << "pv-backd died with pvd";

  start_pvd();
  ASSERT_TRUE(log_has("reconnected to xenstored")) << "pv-backd did not reconnect";
  EXPECT_TRUE(stays_the_only_one(backd)) << "pvd did not adopt pv-backd " << backd;

  // Reconciled: vbd 7 is untouched if the store kept it (still InitWait,
  // no second "new device"), or torn down if its directory is gone.
  const std::string log = slurp(state_ + "/pv-backd.log");
  if (xs_read(backend(7) + "/params").empty())
    EXPECT_TRUE(log_has("vbd 7/51712: removed")) << log;
  else
    EXPECT_EQ(xs_read(backend(7) + "/state"), "2");
  // And it still serves: a device written after the restart is picked up.
  add_vbd(8);
  EXPECT_TRUE(in_init_wait(8)) << "vbd 8/51712 was not picked up after the restart";
  EXPECT_EQ(xs_read(backend(8) + "/sectors"), "8192");
  EXPECT_EQ(the_backd(), backd);
}

// pvd stopped for an upgrade (SIGTERM) leaves pv-backd running; the next
// pvd adopts it and still restarts it when it crashes.
TEST_F(BackdSurvive, PvdStopLeavesPvBackdAndAnAdoptedOneIsStillRestarted) {
  pid_t backd = 0;
  ASSERT_TRUE(eventually([&] { return (backd = the_backd()) > 0 && pid_file() == backd; }, 10s));
  pvd_->signal(SIGTERM);
  EXPECT_EQ(pvd_->wait(10s).exit_code, 0);
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(alive(backd)) << "pvd's exit stopped pv-backd";
  start_pvd();
  EXPECT_TRUE(stays_the_only_one(backd));
  ::kill(backd, SIGKILL);
  pid_t next = 0;
  EXPECT_TRUE(eventually([&] { return (next = the_backd()) > 0 && next != backd && pid_file() == next; }, 10s))
      << "the adopted pv-backd was not restarted";
  add_vbd(9);
  EXPECT_TRUE(in_init_wait(9));
}

// A pid file naming another process (a reused pid) adopts nothing.
TEST_F(BackdSurvive, PidFileOfAnotherProcessIsNotAdopted) {
  pid_t backd = 0;
  ASSERT_TRUE(eventually([&] { return (backd = the_backd()) > 0; }, 10s));
  pvd_.reset();
  ::kill(backd, SIGKILL);
  ASSERT_TRUE(eventually([&] { return !alive(backd); }, 5s));
  std::ofstream(state_ + "/pv-backd.pid") << ::getpid() << "\n";  // this test: alive, not a pv-backd
  start_pvd();
  pid_t fresh = 0;
  EXPECT_TRUE(eventually([&] { return (fresh = the_backd()) > 0 && pid_file() == fresh; }, 10s));
  EXPECT_NE(fresh, ::getpid());
  EXPECT_TRUE(alive(::getpid()));
}

// pvd gone and its state directory removed: nothing will come back, and
// pv-backd ends instead of retrying forever.
TEST_F(BackdSurvive, PvBackdEndsWhenPvdAndItsStateDirAreGone) {
  pid_t backd = 0;
  ASSERT_TRUE(eventually([&] { return (backd = the_backd()) > 0; }, 10s));
  pvd_.reset();
  fs::remove_all(state_);
  EXPECT_TRUE(eventually([&] { return !alive(backd); }, 10s)) << "pv-backd outlived its state directory";
}

// With a guest (needs /dev/kvm): disk I/O carries on while pvd is killed
// and restarted, and the device never goes through a new handshake.
class BackdSurviveGuest : public BackdSurvive {
 protected:
  bool needs_kvm() const override { return true; }
  static uint64_t allocated(const std::string& path) {
    struct stat st{};
    return ::stat(path.c_str(), &st) == 0 ? uint64_t(st.st_blocks) * 512 : 0;
  }
  uint64_t stat(uint32_t domid, const std::string& key) {
    const std::string v = xs_read(backend(domid) + "/statistics/" + key);
    return v.empty() ? 0 : std::stoull(v);
  }
};

TEST_F(BackdSurviveGuest, DiskIoCarriesOnThroughAPvdKill) {
  const std::string img = dir_ + "/io.img";
  std::ofstream(img).close();
  fs::resize_file(img, 16 << 20);
  const Result c = pvctl({"create", config("io", "blkio=write,seq,bs=64k,bytes=12m,qd=4,pattern,seed=41,verify idle",
                                           "disk = ['format=raw, vdev=xvda, access=rw, target=" + img + "']\n")});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(c.out, m, std::regex("\\(id ([0-9]+)\\)"))) << c.out;
  const uint32_t id = uint32_t(std::stoul(m[1]));
  const pid_t backd = the_backd();
  ASSERT_GT(backd, 0);
  ASSERT_TRUE(eventually([&] { return stat(id, "writes") >= 8; }, 60s)) << console(id);
  ASSERT_LT(stat(id, "writes"), 150u) << "the write phase ended before the kill";

  pvd_.reset();  // SIGKILL, mid-write
  // pvd stays down a while; the guest's writes go on meanwhile (the
  // sparse image gets more blocks).
  const uint64_t at_kill = allocated(img);
  std::this_thread::sleep_for(2s);
  EXPECT_GT(allocated(img), at_kill) << "no write reached the image while pvd was down";
  start_pvd();
  EXPECT_TRUE(console_has(id, "BLKIO DONE cmds=1 failed=0", 90s)) << console(id);
  EXPECT_NE(console(id).find("BLKIO verify ok"), std::string::npos) << console(id);
  EXPECT_EQ(console(id).find(": reconnected ("), std::string::npos)
      << "the front-end had to reconnect:\n" << console(id);
  EXPECT_EQ(the_backd(), backd);
  // Reconnected and reconciled: Connected in the new pvd's store too
  // (kept, or written again over the nodes pvd recreated).
  ASSERT_TRUE(log_has("reconnected to xenstored"));
  EXPECT_TRUE(eventually([&] { return xs_read(backend(id) + "/state") == "4"; }, 10s));
  const std::string log = slurp(state_ + "/pv-backd.log");
  EXPECT_EQ(log.find("vbd " + std::to_string(id) + "/51712: disconnected"), std::string::npos) << log;
  EXPECT_EQ(log.find("vbd " + std::to_string(id) + "/51712: new device", log.find("reconnected to xenstored")),
            std::string::npos)
      << log;
}

}  // namespace
}  // namespace pvtest
