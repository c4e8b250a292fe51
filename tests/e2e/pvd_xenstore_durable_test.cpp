// xenstored's state survives a pvd restart (docs/xenstore.md, "Durability"):
// kill -9 pvd, start a new one on the same state dir, and the store is
// still there, for Debian's xenstore-utils over the dom0 socket and for a
// running guest, whose watches keep working.
#include <signal.h>

#include "pvd_fixture.h"

namespace pvtest {
namespace {

// pvd alone: no guest, so this runs without KVM.
class PvdStore : public PvdFixture {
 protected:
  bool needs_kvm() const override { return false; }
  void TearDown() override {
    // pv-backd outlives a killed pvd; the next pvd would stop it, the last one's is ours to stop.
    std::ifstream f(state_ + "/pv-backd.pid");
    pid_t pid = 0;
    if (f >> pid && pid > 0 && slurp("/proc/" + std::to_string(pid) + "/cmdline").find(state_) != std::string::npos)
      ::kill(pid, SIGKILL);
    PvdFixture::TearDown();
  }
  void kill_and_restart_pvd() {
    ::kill(pvd_->pid(), SIGKILL);
    pvd_->wait(10s);
    start_pvd();
  }
  std::string read(const std::string& path) {
    Result r = xs("read", {path});
    return r.exit_code == 0 ? r.out : "<exit " + std::to_string(r.exit_code) + ": " + r.err + ">";
  }
};

TEST_F(PvdStore, NodesAndPermissionsSurviveKill9) {
  ASSERT_EQ(xs("write", {"/tool/durable/name", "kept", "/tool/durable/other", "value 2"}).exit_code, 0);
  ASSERT_EQ(xs("chmod", {"/tool/durable/name", "n0", "r3", "w4"}).exit_code, 0);
  ASSERT_EQ(xs("write", {"/tool/durable/gone", "x"}).exit_code, 0);
  ASSERT_EQ(xs("rm", {"/tool/durable/gone"}).exit_code, 0);
  // Acknowledged (xenstore-write exited 0) just before the kill.
  ASSERT_EQ(xs("write", {"/tool/durable/last", "acked"}).exit_code, 0);
  kill_and_restart_pvd();

  EXPECT_EQ(read("/tool/durable/name"), "kept\n");
  EXPECT_EQ(read("/tool/durable/other"), "value 2\n");
  EXPECT_EQ(read("/tool/durable/last"), "acked\n");
  EXPECT_NE(xs("exists", {"/tool/durable/gone"}).exit_code, 0);
  Result ls = xs("ls", {"-p", "/tool/durable"});
  ASSERT_EQ(ls.exit_code, 0) << ls.err;
  EXPECT_TRUE(std::regex_search(ls.out, std::regex("(^|\n)name = \"kept\"[ .]*\\(n0,r3,w4\\)\n"))) << ls.out;
  EXPECT_TRUE(std::regex_search(ls.out, std::regex("(^|\n)other = \"value 2\"[ .]*\\(n0\\)\n"))) << ls.out;
  EXPECT_TRUE(fs::exists(state_ + "/xenstore/snapshot"));
  EXPECT_TRUE(fs::exists(state_ + "/xenstore/journal"));

  // And again: what the restarted pvd was told is kept as well.
  ASSERT_EQ(xs("write", {"/tool/durable/second", "2"}).exit_code, 0);
  kill_and_restart_pvd();
  EXPECT_EQ(read("/tool/durable/second"), "2\n");
  EXPECT_EQ(read("/tool/durable/name"), "kept\n");
}

TEST_F(PvdStore, CleanExitKeepsTheStoreToo) {
  ASSERT_EQ(xs("write", {"/tool/clean", "yes"}).exit_code, 0);
  pvd_->signal(SIGTERM);
  EXPECT_FALSE(pvd_->wait(10s).timed_out);
  start_pvd();
  EXPECT_EQ(read("/tool/clean"), "yes\n");
}

TEST_F(PvdStore, DamagedSnapshotStartsAnEmptyStore) {
  ASSERT_EQ(xs("write", {"/tool/lost", "1"}).exit_code, 0);
  pvd_->signal(SIGTERM);  // a clean exit: everything is in the snapshot
  pvd_->wait(10s);
  {
    std::fstream f(state_ + "/xenstore/snapshot", std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(40);
    f.put('\x7f');
  }
  start_pvd();  // starts, and says so in its log
  EXPECT_NE(xs("exists", {"/tool/lost"}).exit_code, 0);
  EXPECT_EQ(xs("exists", {"/local/domain/0"}).exit_code, 0);
  EXPECT_TRUE(fs::exists(state_ + "/xenstore/snapshot.damaged"));
  pvd_->signal(SIGTERM);
  Result log = pvd_->wait(10s);
  EXPECT_NE(log.err.find("STARTING WITH AN EMPTY STORE"), std::string::npos) << log.err;
}

TEST_F(PvdStore, TornJournalTailIsDroppedWithAWarning) {
  ASSERT_EQ(xs("write", {"/tool/whole", "1"}).exit_code, 0);
  ASSERT_EQ(xs("write", {"/tool/torn", "2"}).exit_code, 0);
  ::kill(pvd_->pid(), SIGKILL);
  pvd_->wait(10s);
  const std::string journal = state_ + "/xenstore/journal";
  fs::resize_file(journal, fs::file_size(journal) - 3);  // the last record cut short
  start_pvd();
  EXPECT_EQ(read("/tool/whole"), "1\n");
  EXPECT_NE(xs("exists", {"/tool/torn"}).exit_code, 0);
  pvd_->signal(SIGTERM);
  Result log = pvd_->wait(10s);
  EXPECT_NE(log.err.find("torn last record"), std::string::npos) << log.err;
}

// With a guest (needs KVM): its watch on control/shutdown survives the
// restart, so `pvctl shutdown` still reaches it.
using PvdGuestStore = PvdFixture;

TEST_F(PvdGuestStore, GuestKeepsItsStoreAndWatchesThroughKill9) {
  ASSERT_EQ(pvctl({"create", config("steady", "idle")}).exit_code, 0);
  ASSERT_TRUE(console_has(1, "xenbus: watching control/shutdown")) << console(1);
  ASSERT_TRUE(eventually([&] { return xs("read", {"/local/domain/1/control/feature-poweroff"}).out == "1\n"; }));
  const pid_t pid = pid_of("steady");
  ::kill(pvd_->pid(), SIGKILL);
  pvd_->wait(10s);
  start_pvd();
  EXPECT_EQ(pid_of("steady"), pid) << "the same domain, reattached";
  // What the guest wrote is still there, with its permissions.
  EXPECT_EQ(xs("read", {"/local/domain/1/control/feature-poweroff"}).out, "1\n");
  EXPECT_EQ(xs("read", {"/local/domain/1/name"}).out, "steady\n");
  Result s = pvctl({"shutdown", "--wait", "steady"});
  EXPECT_EQ(s.exit_code, 0) << s.err;
  EXPECT_TRUE(eventually([&] { return !alive(pid); }, 10s)) << console(1);
  EXPECT_NE(console(1).find("xenbus: control/shutdown=poweroff"), std::string::npos) << console(1);
  EXPECT_EQ(row("steady"), "");
}

}  // namespace
}  // namespace pvtest
