// Host memory admission in pvd, and mem-set / mem-max (docs/toolstack.md).
// Admission runs before pv-hv is started, so the refusals run without KVM;
// the tests that need a running domain skip where /dev/kvm is missing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "pvd_fixture.h"

namespace {

using namespace pvtest;
namespace fs = std::filesystem;

uint64_t memtotal_mib() {
  std::ifstream f("/proc/meminfo");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("MemTotal:", 0) == 0) return std::stoull(line.substr(9)) / 1024;
  return 0;
}

bool have_kvm() { return access("/dev/kvm", R_OK | W_OK) == 0; }

// pvd admits 100 MiB of guest memory: the host's MemTotal less a reserve
// of all but 100 MiB (times `overcommit`).
class PvdMemory : public PvdFixture {
 protected:
  static constexpr uint64_t kAdmitMib = 100;
  bool needs_kvm() const override { return false; }
  std::vector<std::string> pvd_options() const override {
    return {"--mem-reserve", std::to_string(memtotal_mib() - kAdmitMib) + "M", "--mem-overcommit", overcommit()};
  }
  virtual std::string overcommit() const { return "1"; }

  std::string cfg(const std::string& name, const std::string& body) {
    const std::string path = dir_ + "/" + name + ".cfg";
    std::ofstream(path) << "name = \"" << name << "\"\nkernel = \"" << kGuest << "\"\nextra = \"watchdog=3600\"\n"
                        << body;
    return path;
  }
};

TEST_F(PvdMemory, ACreateThatDoesNotFitIsRefusedSayingWhatIsFree) {
  Result r = pvctl({"create", cfg("big", "memory = 256\n")});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("not enough host memory for domain 'big': it needs 256 MiB, 100 MiB of the 100 MiB pvd "
                       "admits are free"),
            std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("cannot build"), std::string::npos) << "pv-hv was started: " << r.err;
  expect_nothing_left_of("big");
}

TEST_F(PvdMemory, ACreateThatFitsIsAdmitted) {
  Result r = pvctl({"create", cfg("small", "memory = 64\nmaxmem = 128\n")});
  EXPECT_EQ(r.err.find("not enough host memory"), std::string::npos) << r.err;
  if (!have_kvm()) {
    // Admitted; pv-hv then cannot open /dev/kvm here.
    EXPECT_NE(r.err.find("cannot build the domain"), std::string::npos) << r.err;
    return;
  }
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The first holds 64 of the 100 MiB: a second 64 MiB does not fit.
  Result second = pvctl({"create", cfg("second", "memory = 64\n")});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("it needs 64 MiB, 36 MiB of the 100 MiB pvd admits are free"), std::string::npos)
      << second.err;
  expect_nothing_left_of("second", 1);
  // Once the first is gone, its memory is free again.
  ASSERT_EQ(pvctl({"destroy", "small"}).exit_code, 0);
  EXPECT_TRUE(eventually([&] { return row("small").empty(); }, 10s));
  EXPECT_EQ(pvctl({"create", cfg("third", "memory = 64\n")}).exit_code, 0);
}

class PvdMemoryOvercommit : public PvdMemory {
 protected:
  std::string overcommit() const override { return "3"; }
};

TEST_F(PvdMemoryOvercommit, TheRatioAdmitsMoreThanThereIs) {
  Result r = pvctl({"create", cfg("big", "memory = 256\n")});  // 256 <= 3 x 100
  EXPECT_EQ(r.err.find("not enough host memory"), std::string::npos) << r.err;
  Result bigger = pvctl({"create", cfg("bigger", "memory = 301\n")});
  EXPECT_NE(bigger.err.find("not enough host memory for domain 'bigger'"), std::string::npos) << bigger.err;
}

TEST_F(PvdMemory, BadPolicyOptionsStopPvd) {
  for (const auto& [opt, value] : std::vector<std::pair<std::string, std::string>>{
           {"--mem-overcommit", "0"},
           {"--mem-overcommit", "lots"},
           {"--mem-reserve", "12q"},
           {"--mem-reserve", ""},
           {"--balancer", "maybe"},
           {"--balancer-low-water", "12q"},
           {"--balancer-margin", ""},
           {"--balancer-interval", "0"},
           {"--balancer-stuck-timeout", "soon"}}) {
    Result r = run({kPvd, "--state-dir", dir_ + "/other", "--socket", dir_ + "/other.sock", "--pv-hv", kPvHv, opt,
                    value},
                   10s);
    EXPECT_EQ(r.exit_code, 2) << opt << "=" << value << ": " << r.err;
    EXPECT_NE(r.err.find(opt), std::string::npos) << r.err;
  }
  // A high-water mark below the low one cannot be met.
  Result r = run({kPvd, "--state-dir", dir_ + "/other", "--socket", dir_ + "/other.sock", "--pv-hv", kPvHv,
                  "--balancer-low-water", "2G", "--balancer-high-water", "1G"},
                 10s);
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.err.find("--balancer-high-water (1024 MiB) is below --balancer-low-water (2048 MiB)"), std::string::npos)
      << r.err;
}

TEST_F(PvdMemory, MemSetAndMemMaxCheckTheirWords) {
  for (const auto& verb : {"mem-set", "mem-max"}) {
    EXPECT_EQ(pvctl({verb, "dom"}).exit_code, 2);
    EXPECT_EQ(pvctl({verb, "dom", "12x"}).exit_code, 2);
    EXPECT_EQ(pvctl({verb, "dom", "0"}).exit_code, 2);
    EXPECT_EQ(pvctl({verb, "dom", "99999999999t"}).exit_code, 2);
    Result r = pvctl({verb, "nosuch", "64"});
    EXPECT_EQ(r.exit_code, 1) << r.err;
  }
}

// ---- with a running domain (KVM) ----

class PvdBalloon : public PvdMemory {
 protected:
  bool needs_kvm() const override { return true; }
  std::vector<std::string> pvd_options() const override { return {}; }
  std::string read(const std::string& path) {
    Result r = xs("read", {path});
    return r.exit_code == 0 ? r.out.substr(0, r.out.find('\n')) : "<" + r.err + ">";
  }
};

TEST_F(PvdBalloon, MemSetWritesTheTargetAndMemMaxTheCeiling) {
  ASSERT_EQ(pvctl({"create", cfg("bal", "memory = 64\nmaxmem = 128\n")}).exit_code, 0);
  const std::string id = pvctl({"domid", "bal"}).out.substr(0, pvctl({"domid", "bal"}).out.find('\n'));
  const std::string mem = "/local/domain/" + id + "/memory";
  EXPECT_EQ(read(mem + "/static-max"), "131072");  // kB, as libxl writes them
  EXPECT_EQ(read(mem + "/target"), "65536");

  EXPECT_EQ(pvctl({"mem-set", "bal", "96m"}).exit_code, 0);
  EXPECT_EQ(read(mem + "/target"), "98304");
  Result over = pvctl({"mem-set", "bal", "129"});
  EXPECT_EQ(over.exit_code, 1);
  EXPECT_NE(over.err.find("may have 1 to 128 MiB"), std::string::npos) << over.err;
  EXPECT_EQ(read(mem + "/target"), "98304");

  EXPECT_EQ(pvctl({"mem-max", "bal", "100"}).exit_code, 0);
  EXPECT_EQ(read(mem + "/static-max"), "102400");
  EXPECT_EQ(pvctl({"mem-set", "bal", "120"}).exit_code, 1);  // above the new ceiling
  Result grow = pvctl({"mem-max", "bal", "1g"});
  EXPECT_EQ(grow.exit_code, 1);
  EXPECT_NE(grow.err.find("booted with maxmem = 128 MiB"), std::string::npos) << grow.err;
  EXPECT_EQ(read(mem + "/static-max"), "102400");
}

}  // namespace
