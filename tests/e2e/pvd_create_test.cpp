// `pvctl create` succeeds only once pv-hv has built the domain (kernel and
// ramdisk loaded, vCPUs created); every build failure makes create fail
// with pv-hv's own message, and nothing of the domain is left: no record,
// no console log, no pv-hv, no xenstore nodes, no list row. pv-hv checks
// the boot image before it opens /dev/kvm, so these run without KVM; where
// /dev/kvm is missing, a good kernel fails too, with pv-hv's KVM message.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "pvd_fixture.h"

namespace {

using namespace pvtest;
namespace fs = std::filesystem;

class PvdCreate : public PvdFixture {
 protected:
  bool needs_kvm() const override { return false; }

  std::string cfg(const std::string& name, const std::string& body) {
    const std::string path = dir_ + "/" + name + ".cfg";
    std::ofstream(path) << "name = \"" << name << "\"\n" << body;
    return path;
  }

  // create must fail (exit 1) with `message` in what pvctl says, and leave
  // nothing of the domain behind.
  void expect_refused_leaving_nothing(const std::string& name, const std::string& body, const std::string& message) {
    Result r = pvctl({"create", cfg(name, body)});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find("cannot build the domain: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_EQ(row(name), "");
    EXPECT_NE(pvctl({"info", name}).exit_code, 0);
    EXPECT_TRUE(eventually([&] { return pv_hv_processes(state_ + "/").empty(); }, 5s));
    EXPECT_TRUE(eventually([&] { return fs::is_empty(state_ + "/domains"); }, 5s)) << "files left in domains/";
    Result ls = xs("ls", {"/local/domain"});
    EXPECT_EQ(ls.out.find("1"), std::string::npos) << ls.out;  // only dom0's node
  }
};

TEST_F(PvdCreate, AKernelThatIsNotAnElfFailsTheCreate) {
  const std::string junk = dir_ + "/junk.bin";
  std::ofstream(junk) << "this is no kernel\n";
  expect_refused_leaving_nothing("junk", "memory = 64\nkernel = \"" + junk + "\"\n", "not an ELF file");
}

TEST_F(PvdCreate, WhatAFailedDomainPrintedIsKeptAfterIt) {
  const std::string junk = dir_ + "/junk.bin";
  std::ofstream(junk) << "this is no kernel\n";
  ASSERT_EQ(pvctl({"create", cfg("kept", "memory = 64\nkernel = \"" + junk + "\"\n")}).exit_code, 1);
  // The domain is gone, its console log (pv-hv's own messages go there) is
  // kept under its name and id, as xenconsoled keeps its logs.
  std::string kept;
  EXPECT_TRUE(eventually([&] {
    // The reply may come just before pvd has forgotten the domain.
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(state_ + "/console-logs", ec))
      if (e.path().filename().string().rfind("kept.", 0) == 0) kept = slurp(e.path().string());
    return !kept.empty();
  }, 5s));
  EXPECT_NE(kept.find("not an ELF file"), std::string::npos) << kept;
}

TEST_F(PvdCreate, AMissingRamdiskFailsTheCreate) {
  expect_refused_leaving_nothing("noramdisk",
                                 "memory = 64\nkernel = \"" + kGuest + "\"\nramdisk = \"" + dir_ + "/none.img\"\n",
                                 "cannot open " + dir_ + "/none.img");
}

TEST_F(PvdCreate, AnOverlongCommandLineFailsTheCreate) {
  expect_refused_leaving_nothing("longcmd",
                                 "memory = 64\nkernel = \"" + kGuest + "\"\nextra = \"" + std::string(5000, 'a') + "\"\n",
                                 "command line is");
}

TEST_F(PvdCreate, AKernelThatDoesNotFitInMemoryFailsTheCreate) {
  // 5 MiB of zeros after an ELF header is no kernel, but the size check
  // comes first: it does not fit in 4 MiB of guest RAM.
  const std::string big = dir_ + "/big.elf";
  {
    std::ofstream f(big, std::ios::binary);
    f << std::string(5 << 20, '\0');
  }
  expect_refused_leaving_nothing("tiny", "memory = 4\nkernel = \"" + big + "\"\n", "does not fit in guest memory");
}

TEST_F(PvdCreate, AGoodKernelIsBuiltOrFailsWithPvHvsKvmMessage) {
  Result r = pvctl({"create", cfg("good", "memory = 64\nkernel = \"" + kGuest + "\"\nextra = \"idle\"\n")});
  if (access("/dev/kvm", R_OK | W_OK) == 0) {
    // Built: create answers with the domain, which is there and running.
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(row("good"), "");
    EXPECT_EQ(pvctl({"destroy", "good"}).exit_code, 0);
  } else {
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.err.find("/dev/kvm"), std::string::npos) << r.err;
    EXPECT_EQ(row("good"), "");
  }
  EXPECT_TRUE(eventually([&] { return pv_hv_processes(state_ + "/").empty(); }, 5s));
}

}  // namespace
