// `pvctl create` succeeds only once pv-hv has built the domain (kernel and
// ramdisk loaded, vCPUs created); every build failure makes create fail
// with pv-hv's own message, and nothing of the domain is left: no record,
// no console log, no pv-hv, no xenstore nodes, no list row. pv-hv checks
// the boot image before it opens /dev/kvm, so these run without KVM; where
// /dev/kvm is missing, a good kernel fails too, with pv-hv's KVM message.
// A disk whose image does not match its format= (a qcow2 image configured
// as raw, a raw file as qcow2) is refused before anything is built.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
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
    expect_nothing_left_of(name);
  }
};

// ---- disk formats (format=, the probe, force-raw) ----

class PvdCreateDiskFormat : public PvdCreate {
 protected:
  // A qcow2 image made by qemu-img, the reference.
  std::string qcow2_image(const std::string& name) {
    const std::string path = dir_ + "/" + name;
    const std::string cmd = "qemu-img create -q -f qcow2 " + path + " 4M";
    if (std::system(cmd.c_str()) != 0) return "";
    return path;
  }
  std::string raw_image(const std::string& name) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path).close();
    fs::resize_file(path, 4 << 20);
    return path;
  }
  std::string disk_cfg(const std::string& name, const std::string& disk) {
    return cfg(name, "memory = 64\nkernel = \"" + kGuest + "\"\nextra = \"idle\"\ndisk = [ '" + disk + "' ]\n");
  }
  // create is refused at the device check with `message`, nothing left.
  void expect_refused(const std::string& name, const std::string& disk, const std::string& message) {
    SCOPED_TRACE(disk);
    Result r = pvctl({"create", disk_cfg(name, disk)});
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("cannot build the domain"), std::string::npos) << "refused too late: " << r.err;
    expect_nothing_left_of(name);
    EXPECT_NE(xs("read", {"/local/domain/0/backend/vbd/1/51712/params"}).exit_code, 0);
  }
  // create gets past the device check: built (with KVM; then destroyed)
  // or refused by pv-hv for want of /dev/kvm, never for the disk.
  void expect_past_device_check(const std::string& name, const std::string& disk, const std::string& format) {
    SCOPED_TRACE(disk);
    Result r = pvctl({"create", disk_cfg(name, disk)});
    if (access("/dev/kvm", R_OK | W_OK) == 0) {
      ASSERT_EQ(r.exit_code, 0) << r.err;
      const std::string domid = pvctl({"domid", name}).out;  // IDs are not reused: not 1 for the second
      ASSERT_FALSE(domid.empty());
      // The nodes are written when pv-hv's xenstore link comes up, which
      // may be just after create answered (built is reported apart).
      const std::string node = "/local/domain/0/backend/vbd/" + domid.substr(0, domid.size() - 1) + "/51712/format";
      EXPECT_TRUE(eventually([&] { return xs("read", {node}).out == format + "\n"; }, 5s)) << xs("read", {node}).out;
      EXPECT_EQ(pvctl({"destroy", name}).exit_code, 0);
    } else {
      EXPECT_EQ(r.exit_code, 1) << r.out;
      EXPECT_NE(r.err.find("/dev/kvm"), std::string::npos) << r.err;
      EXPECT_EQ(r.err.find("disk xvda"), std::string::npos) << r.err;
    }
    EXPECT_TRUE(eventually([&] { return pv_hv_processes(state_ + "/").empty() && row(name).empty(); }, 5s));
  }
};

TEST_F(PvdCreateDiskFormat, AQcow2ImageConfiguredAsRawIsRefused) {
  const std::string q = qcow2_image("q.qcow2");
  ASSERT_FALSE(q.empty()) << "qemu-img create failed (scripts/setup installs qemu-utils)";
  const std::string use = "is a qcow2 image (it starts with qcow2's magic) but the disk is raw";
  expect_refused("asraw", "format=raw, vdev=xvda, target=" + q, use);
  expect_refused("noformat", "vdev=xvda, target=" + q, use);  // no format= is raw, as in xl
  expect_refused("positional", q + ",raw,xvda,w", "use format=qcow2");
  expect_refused("rawro", "format=raw, vdev=xvda, access=ro, target=" + q, "add force-raw");
}

TEST_F(PvdCreateDiskFormat, ARawFileConfiguredAsQcow2IsRefused) {
  expect_refused("notq", "format=qcow2, vdev=xvda, target=" + raw_image("r.img"),
                 "is not a qcow2 image (it does not start with qcow2's magic); use format=raw");
  expect_refused("vhd", "format=vhd, vdev=xvda, target=" + raw_image("v.img"), "format 'vhd' is not supported");
}

TEST_F(PvdCreateDiskFormat, MatchingFormatsAndForceRawPassTheDeviceCheck) {
  const std::string q = qcow2_image("q.qcow2");
  ASSERT_FALSE(q.empty()) << "qemu-img create failed";
  expect_past_device_check("q", "format=qcow2, vdev=xvda, target=" + q, "qcow2");
  expect_past_device_check("r", "format=raw, vdev=xvda, target=" + raw_image("r.img"), "raw");
  expect_past_device_check("forced", "format=raw, vdev=xvda, force-raw, target=" + q, "raw");
}

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
