// Thin provisioning made visible (docs/disks.md, "Thin provisioning"):
// `pvctl list --disks` and `info` show each disk's virtual size against
// what its file takes on the host (read from the file system here, not
// from pvd), and a create whose images could outgrow their file system is
// warned about (overcommit), in pvctl's output and pvd's log. Domains run
// on pv-hv-double: no /dev/kvm needed.
#include <gtest/gtest.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "pvd_fixture.h"

namespace {

using namespace pvtest;

uint64_t allocated(const std::string& path) {
  struct stat st{};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return static_cast<uint64_t>(st.st_blocks) * 512;
}

class PvdThinProvisioning : public PvdFixture {
 protected:
  bool with_pv_hv_double() const override { return true; }

  void TearDown() override {
    if (!small_.empty()) ::umount2(small_.c_str(), MNT_DETACH);
    PvdFixture::TearDown();
  }

  std::string cfg(const std::string& name, const std::string& disks) {
    const std::string path = dir_ + "/" + name + ".cfg";
    std::ofstream(path) << "name = \"" << name << "\"\nmemory = 64\nkernel = \"" << kGuest << "\"\ndisk = [ " << disks
                        << " ]\n";
    return path;
  }

  // A tmpfs of `mib` MiB at dir_/small, gone at TearDown.
  bool mount_small(unsigned mib) {
    small_ = dir_ + "/small";
    fs::create_directory(small_);
    if (::mount("pvtest", small_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, ("size=" + std::to_string(mib) + "m").c_str()) == 0)
      return true;
    small_.clear();
    return false;
  }

  std::string small_;
};

TEST_F(PvdThinProvisioning, ListDisksAndInfoShowVirtualAgainstAllocated) {
  const std::string q = dir_ + "/thin.qcow2", raw = dir_ + "/sparse.img";
  ASSERT_EQ(pvctl({"disk", "create", q, "1g"}).exit_code, 0);
  {
    std::ofstream f(raw, std::ios::binary);
    f.seekp((64 << 20) - 1);
    f.put('\0');
    f.seekp(0);
    f << std::string(1 << 20, 'x');  // 1 MiB written of 64
  }
  const Result created = pvctl({"create", cfg("thin1", "'format=qcow2, vdev=xvda, access=rw, target=" + q +
                                                        "', 'format=raw, vdev=xvdb, access=ro, target=" + raw + "'")});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  EXPECT_EQ(created.err.find("overcommitted"), std::string::npos) << created.err;

  const Result j = pvctl({"list", "--disks", "--json"});
  ASSERT_EQ(j.exit_code, 0) << j.err;
  const auto doc = nlohmann::json::parse(j.out);
  bool seen_q = false, seen_raw = false;
  for (const auto& d : doc["domains"]) {
    if (d["name"] != "thin1") continue;
    for (const auto& k : d["disks"]) {
      if (k["vdev"] == "xvda") {
        seen_q = true;
        EXPECT_EQ(k["virtual_bytes"].get<uint64_t>(), 1ull << 30);
        EXPECT_EQ(k["allocated_bytes"].get<uint64_t>(), allocated(q));
        EXPECT_LT(k["allocated_bytes"].get<uint64_t>(), 1ull << 20);  // a fresh qcow2: metadata only
      } else if (k["vdev"] == "xvdb") {
        seen_raw = true;
        EXPECT_EQ(k["virtual_bytes"].get<uint64_t>(), 64ull << 20);
        EXPECT_EQ(k["allocated_bytes"].get<uint64_t>(), allocated(raw));
      }
    }
  }
  EXPECT_TRUE(seen_q && seen_raw) << j.out;
  ASSERT_EQ(doc["storage"].size(), 1u) << j.out;
  const auto& s = doc["storage"][0];
  EXPECT_EQ(s["images"].get<unsigned>(), 2u);
  EXPECT_EQ(s["virtual_bytes"].get<uint64_t>(), (1ull << 30) + (64ull << 20));
  // Only the writable image may grow; the read-only one does not count.
  EXPECT_EQ(s["growth_bytes"].get<uint64_t>(), (1ull << 30) - allocated(q));

  const Result text = pvctl({"list", "--disks"});
  ASSERT_EQ(text.exit_code, 0);
  EXPECT_NE(text.out.find("1 GiB"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("64 MiB"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("file system "), std::string::npos) << text.out;
  const Result info = pvctl({"info", "thin1"});
  EXPECT_NE(info.out.find("1 GiB virtual"), std::string::npos) << info.out;
  EXPECT_NE(info.out.find("64 MiB virtual, 1.0 MiB allocated"), std::string::npos) << info.out;  // 1 MiB and the last block
}

TEST_F(PvdThinProvisioning, AnOvercommittedFileSystemIsWarnedAboutAtCreateAndInTheListing) {
  if (!mount_small(8)) GTEST_SKIP() << "cannot mount a tmpfs here (needs root)";
  const std::string q = small_ + "/big.qcow2";
  ASSERT_EQ(pvctl({"disk", "create", q, "1g"}).exit_code, 0);
  const Result created = pvctl({"create", cfg("over1", "'format=qcow2, vdev=xvda, access=rw, target=" + q + "'")});
  ASSERT_EQ(created.exit_code, 0) << created.err;  // allowed: thin provisioning
  EXPECT_NE(created.err.find("warning: disks of 'over1': file system " + small_), std::string::npos) << created.err;
  EXPECT_NE(created.err.find("overcommitted by"), std::string::npos) << created.err;
  EXPECT_NE(created.err.find("ENOSPC"), std::string::npos) << created.err;
  EXPECT_TRUE(pvd_->wait_for_output("overcommitted by", 5s, true));  // pvd logs it too
  const Result text = pvctl({"list", "--disks"});
  EXPECT_NE(text.out.find(small_ + " (1 image)"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("overcommitted by"), std::string::npos) << text.out;
  // The same create on a file system that holds it: no warning.
  const std::string fits = dir_ + "/fits.qcow2";
  ASSERT_EQ(pvctl({"disk", "create", fits, "4m"}).exit_code, 0);
  const Result ok = pvctl({"create", cfg("fits1", "'format=qcow2, vdev=xvda, access=rw, target=" + fits + "'")});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_EQ(ok.err.find("overcommitted"), std::string::npos) << ok.err;
}

}  // namespace
