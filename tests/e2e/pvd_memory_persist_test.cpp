// mem-set's target and mem-max's ceiling are kept in the domain's record:
// a pvd restarted after kill -9 still knows them, and a reboot of the
// domain (on_reboot = restart) builds it again with them, as libxl rebuilds
// a rebooted domain from its memory/target and static-max. Runs with
// pv-hv-double: mem-set through pvctl; mem-max needs pv-hv's control
// socket, which the double does not serve, so its record is written here
// as mem-max leaves it.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "pvd_fixture.h"
#include "registry.pb.h"

namespace {

using namespace pvtest;

class PvdMemoryKept : public PvdFixture {
 protected:
  bool with_pv_hv_double() const override { return true; }
  std::string cmdline(pid_t pid) {
    std::string c = slurp("/proc/" + std::to_string(pid) + "/cmdline");
    for (char& ch : c) if (ch == '\0') ch = ' ';
    return c;
  }
  uint64_t target_kib(const std::string& name) {
    Result r = pvctl({"info", "--json", name});
    if (r.exit_code != 0) return 0;
    return nlohmann::json::parse(r.out).value("target_kib", uint64_t{0});
  }
  // Kills pvd (the domain runs on) and starts a new one, which adopts it.
  void restart_pvd() {
    pvd_->signal(SIGKILL);
    pvd_.reset();
    start_pvd();
  }
  void reboot(const std::string& name) {
    const pid_t before = pid_of(name);
    Result r = pvctl({"reboot", name});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ASSERT_TRUE(eventually([&] { const pid_t p = pid_of(name); return p > 0 && p != before; }, 10s));
  }
};

TEST_F(PvdMemoryKept, MemSetsTargetOutlastsAPvdRestartAndAReboot) {
  const uint32_t id = create("keep", "", "maxmem = 128\n");
  ASSERT_NE(id, 0u);
  const std::string mem = "/local/domain/" + std::to_string(id) + "/memory/";
  Result s = pvctl({"mem-set", "keep", "48"});
  ASSERT_EQ(s.exit_code, 0) << s.err;
  EXPECT_EQ(xs_read(mem + "target"), "49152");

  restart_pvd();
  EXPECT_EQ(target_kib("keep"), 48u * 1024);  // the new pvd knows the target

  reboot("keep");
  // Rebuilt at the target, within the same RAM (no mem-max was set).
  const std::string args = cmdline(pid_of("keep"));
  EXPECT_NE(args.find("--memory 48M "), std::string::npos) << args;
  EXPECT_NE(args.find("--maxmem 128M "), std::string::npos) << args;
  EXPECT_TRUE(eventually([&] { return xs_read(mem + "target") == "49152"; }, 5s)) << xs_read(mem + "target");
  EXPECT_EQ(xs_read(mem + "static-max"), "131072");
  EXPECT_EQ(target_kib("keep"), 48u * 1024);
}

TEST_F(PvdMemoryKept, AMemMaxInTheRecordOutlastsAPvdRestartAndAReboot) {
  const uint32_t id = create("cap", "", "maxmem = 128\n");
  ASSERT_NE(id, 0u);
  // The record as mem-max 96 and mem-set 80 leave it, read by the next pvd.
  pvd_->signal(SIGKILL);
  pvd_.reset();
  const std::string path = state_ + "/domains/" + std::to_string(id) + ".rec";
  pv::registry::DomainRecord rec;
  ASSERT_TRUE(rec.ParseFromString(slurp(path)));
  EXPECT_EQ(rec.booted_maxmem_mib(), 128u);
  rec.set_memory_max_mib(96);
  rec.set_memory_target_mib(80);
  std::ofstream(path, std::ios::trunc) << rec.SerializeAsString();
  start_pvd();
  EXPECT_EQ(target_kib("cap"), 80u * 1024);
  // mem-set checks the kept ceiling.
  Result over = pvctl({"mem-set", "cap", "100"});
  EXPECT_EQ(over.exit_code, 1);
  EXPECT_NE(over.err.find("1 to 96 MiB"), std::string::npos) << over.err;

  reboot("cap");
  const std::string args = cmdline(pid_of("cap"));
  EXPECT_NE(args.find("--memory 80M "), std::string::npos) << args;
  EXPECT_NE(args.find("--maxmem 96M "), std::string::npos) << args;
  const std::string mem = "/local/domain/" + std::to_string(id) + "/memory/";
  EXPECT_TRUE(eventually([&] { return xs_read(mem + "static-max") == "98304"; }, 5s)) << xs_read(mem + "static-max");
  EXPECT_EQ(xs_read(mem + "target"), "81920");
  // The rebuilt domain's RAM is the ceiling: mem-max cannot go past it now.
  Result up = pvctl({"mem-max", "cap", "128"});
  EXPECT_EQ(up.exit_code, 1);
  EXPECT_NE(up.err.find("maxmem = 96 MiB"), std::string::npos) << up.err;
  rec.Clear();
  ASSERT_TRUE(rec.ParseFromString(slurp(path)));
  EXPECT_EQ(rec.booted_maxmem_mib(), 96u);
  EXPECT_EQ(rec.memory_target_mib(), 80u);
}

}  // namespace
