// pvd and its back-end daemon: pv-backd is started and restarted by pvd
// (and outlives it), and a domain's disks and vifs appear in xenstore as
// Xen's toolstack lays them out (the devices themselves are tested in blk_test / net_test).
#include <sys/stat.h>
#include <unistd.h>

#include "pvd_fixture.h"

namespace pvtest {
namespace {

// pvd's side of pv-backd and of the devices' nodes: pvd logic, run on
// pv-hv-double (no /dev/kvm needed; the guest's side is blk_test.cpp).
class PvdBackd : public PvdFixture {
 protected:
  bool with_pv_hv_double() const override { return true; }
  pid_t backd_pid() {
    std::ifstream f(state_ + "/pv-backd.pid");
    pid_t pid = 0;
    f >> pid;
    return pid > 0 && alive(pid) && slurp("/proc/" + std::to_string(pid) + "/cmdline").find("pv-backd") !=
                                        std::string::npos
               ? pid
               : 0;
  }
  // pvd writes a domain's nodes once its pv-hv is up, just after create.
  std::string read_when_there(const std::string& path) {
    std::string v;
    eventually([&] { return !(v = xs("read", {path}).out).empty(); }, 10s);
    return v;
  }
  std::string image(const std::string& name, off_t bytes = 4 << 20) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path).close();
    EXPECT_EQ(::truncate(path.c_str(), bytes), 0);
    return path;
  }
};

TEST_F(PvdBackd, PvdRunsAndRestartsPvBackd) {
  pid_t first = 0;
  ASSERT_TRUE(eventually([&] { return (first = backd_pid()) > 0; }, 10s)) << "no pv-backd";
  ::kill(first, SIGKILL);
  pid_t second = 0;
  ASSERT_TRUE(eventually([&] { return (second = backd_pid()) > 0 && second != first; }, 10s)) << "not restarted";
  // Serving, that is connected to xenstored: one that has not yet reached
  // it when pvd dies gives up (it cannot tell a pvd that is gone from one
  // that never came), and that is not what this tests.
  EXPECT_TRUE(eventually([&] {
    return slurp(state_ + "/pv-backd.log").find("serving (pid " + std::to_string(second) + ")") != std::string::npos;
  }, 10s));
  // pv-backd outlives pvd (it keeps serving; a new pvd adopts it:
  // backd_survive_test.cpp).
  pvd_.reset();
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(alive(second));
}

TEST_F(PvdBackd, DiskNodesAreWrittenAndRemoved) {
  // Two images: one may not be attached read-write and read-only at once.
  const std::string img = image("d.img"), ro = image("e.img");
  const auto cfg = config("withdisk", "idle", "disk = ['format=raw, vdev=xvda, access=rw, target=" + img +
                                                  "', 'vdev=xvdb, access=ro, target=" + ro + "']\n");
  ASSERT_EQ(pvctl({"create", cfg}).exit_code, 0);
  const std::string be = "/local/domain/0/backend/vbd/1/51712";
  EXPECT_EQ(read_when_there(be + "/params"), img + "\n");
  EXPECT_EQ(xs("read", {be + "/mode"}).out, "w\n");
  EXPECT_EQ(xs("read", {be + "/frontend"}).out, "/local/domain/1/device/vbd/51712\n");
  EXPECT_EQ(xs("read", {"/local/domain/0/backend/vbd/1/51728/mode"}).out, "r\n");
  EXPECT_EQ(xs("read", {"/local/domain/1/device/vbd/51712/backend"}).out, be + "\n");
  EXPECT_EQ(xs("read", {"/local/domain/1/device/vbd/51712/backend-id"}).out, "0\n");
  // The back-end's directory is dom0's, readable by the guest; the
  // front-end's is the guest's, readable by dom0.
  const auto be_perms = xs("ls", {"-p", "/local/domain/0/backend/vbd/1"}).out;
  EXPECT_NE(be_perms.find("n0,r1"), std::string::npos) << be_perms;
  const auto fe_perms = xs("ls", {"-p", "/local/domain/1/device/vbd"}).out;
  EXPECT_NE(fe_perms.find("n1,r0"), std::string::npos) << fe_perms;
  ASSERT_EQ(pvctl({"destroy", "withdisk"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return xs("read", {be + "/params"}).exit_code != 0; }, 10s));
}

TEST_F(PvdBackd, BadDisksCreateNothing) {
  struct Case {
    std::string disk, message;
  } cases[] = {
      {"format=raw, vdev=xvda, target=" + dir_ + "/missing.img", "does not exist"},
      {"format=vhd, vdev=xvda, target=" + image("v.img"), "format 'vhd' is not supported"},
      {"format=qcow2, vdev=xvda, target=" + image("q.img"), "is not a qcow2 image"},
      {"format=raw, vdev=xvda, target=" + dir_, "neither a file nor a block device"},
      {"format=raw, vdev=xvda, backend=driverdom, target=" + image("b.img"), "back-end domain"},
  };
  for (const auto& c : cases) {
    const auto cfg = config("bad", "idle", "disk = ['" + c.disk + "']\n");
    const auto r = pvctl({"create", cfg});
    EXPECT_NE(r.exit_code, 0) << c.disk;
    EXPECT_NE((r.out + r.err).find(c.message), std::string::npos) << c.disk << ": " << r.out << r.err;
    EXPECT_TRUE(row("bad").empty()) << c.disk;
  }
  EXPECT_TRUE(pv_hv_processes(state_ + "/").empty());
}

// A vif's bridge= names a pvd network or an existing bridge; anything else
// is refused before the domain exists. (Vifs that do join a network are
// tested in network namespaces: net_test.cpp.)
TEST_F(PvdBackd, VifOnUnknownBridgeCreatesNothing) {
  const auto cfg = config("vifbad", "idle", "vif = ['bridge=pvtest-nobr0']\n");
  const auto r = pvctl({"create", cfg});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE((r.out + r.err).find("pvtest-nobr0"), std::string::npos) << r.out << r.err;
  EXPECT_TRUE(row("vifbad").empty());
  EXPECT_TRUE(pv_hv_processes(state_ + "/").empty());
}

}  // namespace
}  // namespace pvtest
