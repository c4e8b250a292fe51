// Hot-plug as xl does it (docs/toolstack.md): block-attach / block-detach /
// block-list on a running domain. PvdHotplugLogic runs pvd's and pvctl's
// side on pv-hv-double (no /dev/kvm; its devices stay in InitWait, like a
// guest that never looks at them); PvdHotplug boots the reference guest in
// its `hotplug` mode on pv-hv, which connects, checks and releases them.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <string>

#include "pvd_fixture.h"

namespace {

using namespace pvtest;

class HotplugBase : public PvdFixture {
 protected:
  std::string image(const std::string& name, size_t bytes = 4 << 20, char fill = '\0') {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << std::string(bytes, fill);
    return path;
  }
  uint32_t create(const std::string& name, const std::string& extra, const std::string& more = "") {
    Result r = pvctl({"create", config(name, extra, more)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::smatch m;
    return std::regex_search(r.out, m, std::regex("\\(id ([0-9]+)\\)")) ? uint32_t(std::stoul(m[1])) : 0;
  }
  std::string read(const std::string& path) { return xs("read", {path}).out; }
  bool exists(const std::string& path) { return xs("read", {path}).exit_code == 0 || xs("ls", {path}).exit_code == 0; }
  std::string be(uint32_t domid, uint32_t devid) {
    return "/local/domain/0/backend/vbd/" + std::to_string(domid) + "/" + std::to_string(devid);
  }
  std::string fe(uint32_t domid, uint32_t devid) {
    return "/local/domain/" + std::to_string(domid) + "/device/vbd/" + std::to_string(devid);
  }
  // block-list's row of a device, or "".
  std::string list_row(const std::string& dom, uint32_t devid) {
    std::istringstream in(pvctl({"block-list", dom}).out);
    for (std::string line; std::getline(in, line);)
      if (line.rfind(std::to_string(devid) + " ", 0) == 0) return line;
    return "";
  }
};

class PvdHotplugLogic : public HotplugBase {
 protected:
  bool with_pv_hv_double() const override { return true; }
};

TEST_F(PvdHotplugLogic, AttachListAndADetachTheGuestDoesNotAnswerTimesOutThenForceWorks) {
  const std::string img = image("hot.img");
  const uint32_t id = create("d", "idle");
  ASSERT_NE(id, 0u);
  Result a = pvctl({"block-attach", "d", "format=raw, vdev=xvdb, access=rw, target=" + img});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  // The nodes as create writes them; pv-backd picks the back-end up.
  EXPECT_EQ(read(be(id, 51728) + "/params"), img + "\n");
  EXPECT_EQ(read(be(id, 51728) + "/frontend"), fe(id, 51728) + "\n");
  EXPECT_EQ(read(fe(id, 51728) + "/backend"), be(id, 51728) + "\n");
  EXPECT_TRUE(eventually([&] { return read(be(id, 51728) + "/state") == "2\n"; }, 10s)) << "pv-backd did not see it";
  Result l = pvctl({"block-list", "d"});
  ASSERT_EQ(l.exit_code, 0) << l.err;
  EXPECT_EQ(l.out.substr(0, l.out.find('\n')), "Vdev  BE  handle state evt-ch ring-ref BE-path                       ");
  // xl's columns: the front-end (the double's: Initialising, no rings).
  EXPECT_TRUE(std::regex_search(l.out, std::regex("\n51728 0 +" + std::to_string(id) + " +1 +-1 +-1 +" + be(id, 51728))))
      << l.out;
  EXPECT_NE(pvctl({"info", "d"}).out.find("disk xvdb: " + img + ", raw, rw, disk, backend InitWait (2)"),
            std::string::npos);

  // Nobody closes the front-end: the detach fails and leaves it attached.
  const auto t0 = std::chrono::steady_clock::now();
  Result t = pvctl({"block-detach", "d", "xvdb", "--timeout", "1"});
  EXPECT_EQ(t.exit_code, 5) << t.err;
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 1s);
  EXPECT_NE(t.err.find("the guest did not release disk xvdb of domain 'd' within 1 s (front-end Initialising (1), "
                       "back-end Closing (5)); it stays attached. --force removes it anyway"),
            std::string::npos)
      << t.err;
  EXPECT_EQ(read(be(id, 51728) + "/online"), "1\n");
  EXPECT_EQ(read(be(id, 51728) + "/state"), "2\n");
  EXPECT_NE(list_row("d", 51728), "");
  // --force: removed anyway, after the timeout.
  Result f = pvctl({"block-detach", "--force", "--timeout=1", "d", "51728"});
  EXPECT_EQ(f.exit_code, 0) << f.err;
  EXPECT_NE(f.err.find("forced: disk xvdb of domain 'd' removed although its front-end did not release it"),
            std::string::npos)
      << f.err;
  EXPECT_FALSE(exists(be(id, 51728)));
  EXPECT_FALSE(exists(fe(id, 51728)));
  EXPECT_EQ(list_row("d", 51728), "");
  EXPECT_EQ(pvctl({"info", "d"}).out.find("disk xvdb"), std::string::npos);
}

TEST_F(PvdHotplugLogic, BadInputIsRefusedClearlyAndChangesNothing) {
  const std::string img = image("a.img"), other = image("b.img");
  const uint32_t id = create("d", "idle", "disk = ['vdev=xvda, access=rw, target=" + img + "']\n");
  ASSERT_NE(id, 0u);
  ASSERT_EQ(create("owner", "idle", "disk = ['vdev=xvda, access=rw, target=" + other + "']\n"), id + 1);
  const std::string before = pvctl({"block-list", "d"}).out;
  const std::string record = slurp(state_ + "/domains/" + std::to_string(id) + ".rec");
  auto refused = [&](std::vector<std::string> args, int code, const std::string& message) {
    Result r = pvctl(args);
    EXPECT_EQ(r.exit_code, code) << args[0] << " " << args.back() << ": " << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_EQ(pvctl({"block-list", "d"}).out, before);
    EXPECT_EQ(slurp(state_ + "/domains/" + std::to_string(id) + ".rec"), record);
    EXPECT_FALSE(exists(be(id, 51728)));
  };
  refused({"block-attach", "nosuch", "vdev=xvdb, target=" + img}, 1, "no domain named 'nosuch'");
  refused({"block-attach", "d", "vdev=xvdb, access=sideways, target=" + img}, 1, "bad disk spec");
  refused({"block-attach", "d", "vdev=notadisk, target=" + img}, 1, "");
  refused({"block-attach", "d", "vdev=xvdb, target=" + dir_ + "/missing.img"}, 1,
          "disk xvdb: target " + dir_ + "/missing.img does not exist");
  // The vdev is taken, by another image.
  refused({"block-attach", "d", "vdev=xvda, access=ro, target=" + other}, 1,
          "disk xvda: domain 'd' already has xvda (device 51712, " + img + "); detach it first");
  // The image is another domain's, read-write.
  refused({"block-attach", "d", "vdev=xvdb, access=rw, target=" + other}, 1,
          "disk xvdb: " + other + " is attached to domain 'owner' (id " + std::to_string(id + 1) + ") as xvda, read-write");
  // ... and this domain's own, read-write, under another vdev.
  refused({"block-attach", "d", "vdev=xvdb, access=rw, target=" + img}, 1, "is also disk xvda of this domain");
  refused({"block-detach", "d", "xvdc"}, 1, "domain 'd' has no disk 'xvdc' (it has xvda)");
  refused({"block-detach", "nosuch", "xvda"}, 1, "no domain named 'nosuch'");
  refused({"block-detach", "d", "xvda", "--timeout", "soon"}, 2, "--timeout takes whole seconds");
  refused({"block-detach", "d", "xvda", "--gently"}, 2, "unknown option '--gently'");
  refused({"block-attach", "d"}, 2, "block-attach: expected DOMAIN DISKSPEC");
  refused({"block-list", "Domain-0"}, 1, "Domain-0 is the host itself");
  // A qcow2 image attached as raw is the format probe's refusal, as at create.
  const std::string q = dir_ + "/q.qcow2";
  std::ofstream(q) << std::string("QFI\xfb", 4) << std::string(4096, '\0');
  refused({"block-attach", "d", "vdev=xvdb, target=" + q}, 1, "is a qcow2 image");
}

TEST_F(PvdHotplugLogic, ARelativeTargetIsTakenFromTheWorkingDirectory) {
  fs::create_directories(dir_ + "/sub/imgs");
  image("sub/imgs/rel.img");
  const uint32_t id = create("d", "idle");
  ASSERT_NE(id, 0u);
  Result r = run({"/bin/sh", "-c",
                  "cd '" + dir_ + "/sub' && exec " + kPvctl + " --socket '" + socket_ +
                      "' block-attach d 'vdev=xvdb, target=imgs/../imgs/rel.img'"},
                 30s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(read(be(id, 51728) + "/params"), dir_ + "/sub/imgs/rel.img\n");
}

TEST_F(PvdHotplugLogic, DetachReleasesTheWriteLockAndDevicesOutlivePvdAndReboots) {
  const std::string img = image("shared.img");
  const uint32_t id = create("a", "idle", "on_reboot = \"restart\"\n");
  ASSERT_NE(id, 0u);
  ASSERT_EQ(pvctl({"block-attach", "a", "vdev=xvdc, target=" + img}).exit_code, 0);
  // pvd restarts (kill -9): the hot-plugged disk is still a's, and still
  // holds the image's write lock.
  pvd_.reset();
  start_pvd();
  EXPECT_NE(list_row("a", 51744), "");
  const uint32_t b = create("b", "idle");
  ASSERT_NE(b, 0u);
  Result refused = pvctl({"block-attach", "b", "vdev=xvdb, target=" + img});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find("is attached to domain 'a' (id " + std::to_string(id) + ") as xvdc"), std::string::npos)
      << refused.err;
  // A reboot of the domain keeps it: its nodes are written again.
  const pid_t before = pid_of("a");
  ASSERT_EQ(pvctl({"reboot", "a"}).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return pid_of("a") > 0 && pid_of("a") != before; }, 10s));
  EXPECT_TRUE(eventually([&] { return read(be(id, 51744) + "/params") == img + "\n"; }, 10s));
  // Detached (forced: the double never closes it), the image is free.
  ASSERT_EQ(pvctl({"block-detach", "a", "xvdc", "--force", "--timeout", "1"}).exit_code, 0);
  Result ok = pvctl({"block-attach", "b", "vdev=xvdb, target=" + img});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  // And the detach outlives a pvd restart too.
  pvd_.reset();
  start_pvd();
  EXPECT_EQ(list_row("a", 51744), "");
  EXPECT_NE(list_row("b", 51728), "");
}

// The reference guest on pv-hv: its front-ends follow the devices.
class PvdHotplug : public HotplugBase {
 protected:
  void TearDown() override {
    if (HasFailure() && !dir_.empty()) {
      std::cerr << "--- pv-backd.log\n" << slurp(state_ + "/pv-backd.log");
      for (uint32_t id = 1; id <= 3; id++) std::cerr << "--- console " << id << "\n" << console(id);
    }
    HotplugBase::TearDown();
  }
};

TEST_F(PvdHotplug, AGuestConnectsVerifiesAndReleasesAHotPluggedDisk) {
  const std::string img = image("hot.img", 4 << 20, 'x');
  const uint32_t id = create("hp", "hotplug");
  ASSERT_NE(id, 0u);
  ASSERT_TRUE(console_has(id, "HOTPLUG watching device/vbd and device/vif")) << console(id);
  Result a = pvctl({"block-attach", "hp", "vdev=xvdb, access=rw, target=" + img});
  ASSERT_EQ(a.exit_code, 0) << a.err;
  ASSERT_TRUE(console_has(id, "HOTPLUG vbd 51728 connected")) << console(id);
  ASSERT_TRUE(console_has(id, "HOTPLUG vbd 51728 verify ok (sector 4096: pattern written, read back, restored)"))
      << console(id);
  // block-list: Connected, with the guest's event channel and ring.
  const std::string row = list_row("hp", 51728);
  EXPECT_TRUE(std::regex_search(row, std::regex("^51728 0 +" + std::to_string(id) + " +4 +[0-9]+ +[0-9]+ +" +
                                                    be(id, 51728))))
      << row;
  Result d = pvctl({"block-detach", "hp", "xvdb"});
  EXPECT_EQ(d.exit_code, 0) << d.err;
  EXPECT_EQ(d.err, "");  // released, not forced
  EXPECT_TRUE(console_has(id, "HOTPLUG vbd 51728 released")) << console(id);
  EXPECT_TRUE(console_has(id, "HOTPLUG vbd 51728 removed")) << console(id);
  EXPECT_FALSE(exists(be(id, 51728)));
  EXPECT_EQ(list_row("hp", 51728), "");
  // The guest restored what it overwrote, and pv-backd flushed it.
  EXPECT_EQ(slurp(img), std::string(4 << 20, 'x'));
  // The image is free for another domain, read-write, which uses it.
  const uint32_t other = create("next", "hotplug");
  ASSERT_TRUE(console_has(other, "HOTPLUG watching"));
  Result again = pvctl({"block-attach", "next", "vdev=xvdb, access=rw, target=" + img});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_TRUE(console_has(other, "HOTPLUG vbd 51728 verify ok")) << console(other);
  // And the first guest takes a disk again, on the same vdev.
  const std::string img2 = image("hot2.img");
  ASSERT_EQ(pvctl({"block-attach", "hp", "vdev=xvdb, access=ro, target=" + img2}).exit_code, 0);
  EXPECT_TRUE(console_has(id, "HOTPLUG vbd 51728 verify ok (read-only")) << console(id);
  EXPECT_EQ(pvctl({"shutdown", "hp"}).exit_code, 0);
}

TEST_F(PvdHotplug, ADetachAGuestDoesNotAnswerTimesOutThenForceRemovesIt) {
  const std::string img = image("idle.img");
  const uint32_t id = create("quiet", "idle");
  ASSERT_NE(id, 0u);
  ASSERT_TRUE(console_has(id, "pvguest: idle"));
  ASSERT_EQ(pvctl({"block-attach", "quiet", "vdev=xvdb, target=" + img}).exit_code, 0);
  Result t = pvctl({"block-detach", "quiet", "xvdb", "--timeout", "2"});
  EXPECT_EQ(t.exit_code, 5) << t.err;
  EXPECT_NE(t.err.find("the guest did not release disk xvdb of domain 'quiet' within 2 s"), std::string::npos) << t.err;
  EXPECT_NE(list_row("quiet", 51728), "");
  Result f = pvctl({"block-detach", "quiet", "xvdb", "--timeout", "1", "--force"});
  EXPECT_EQ(f.exit_code, 0) << f.err;
  EXPECT_EQ(list_row("quiet", 51728), "");
  EXPECT_FALSE(exists(be(id, 51728)));
  // The guest itself is fine and still obeys shutdown.
  EXPECT_EQ(pvctl({"shutdown", "quiet"}).exit_code, 0);
}

}  // namespace
