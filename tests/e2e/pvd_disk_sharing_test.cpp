// One writer per disk, as Xen's block scripts enforce (disk_sharing.h): an
// image or block device is attached read-write to one domain at a time,
// once; read-only sharing is fine; w! shares on purpose. Checked at create
// before anything exists, with the same object however it is spelled
// (symlink, hard link, another block device node). Domains run on
// pv-hv-double, so this needs no /dev/kvm.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "pvd_fixture.h"
#include "registry.pb.h"

namespace {

using namespace pvtest;

class PvdDiskSharing : public PvdFixture {
 protected:
  bool with_pv_hv_double() const override { return true; }

  void SetUp() override {
    PvdFixture::SetUp();
    if (IsSkipped()) return;
    image_ = dir_ + "/disk.img";
    std::ofstream(image_) << std::string(1 << 20, '\0');
  }

  // A domain with `disks` (xl DISKSPECs, quoted for the list).
  std::string cfg(const std::string& name, const std::vector<std::string>& disks) {
    std::string list;
    for (const auto& d : disks) list += (list.empty() ? "'" : ", '") + d + "'";
    const std::string path = dir_ + "/" + name + ".cfg";
    std::ofstream(path) << "name = \"" << name << "\"\nmemory = 64\nkernel = \"" << kGuest << "\"\ndisk = [ " << list
                        << " ]\n";
    return path;
  }
  std::string disk(const std::string& vdev, const std::string& access, const std::string& target) {
    return "format=raw, vdev=" + vdev + ", access=" + access + ", target=" + target;
  }

  Result create(const std::string& name, const std::vector<std::string>& disks) {
    return pvctl({"create", cfg(name, disks)});
  }

  // create of `name` is refused with `message` and leaves nothing: no row,
  // no record, no process, no ID taken, no xenstore nodes.
  void expect_refused(const std::string& name, const std::vector<std::string>& disks, const std::string& message) {
    const std::string last = slurp(state_ + "/last-domid");
    const size_t processes = pv_hv_processes(state_ + "/").size();
    const std::set<std::string> files = domain_files();
    Result r = create(name, disks);
    EXPECT_EQ(r.exit_code, 1) << r.out;
    EXPECT_NE(r.err.find(message), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("access=w! shares it read-write on purpose"), std::string::npos) << r.err;
    EXPECT_EQ(row(name), "");
    EXPECT_EQ(slurp(state_ + "/last-domid"), last);
    EXPECT_EQ(pv_hv_processes(state_ + "/").size(), processes);
    EXPECT_NE(pvctl({"info", name}).exit_code, 0);
    EXPECT_EQ(domain_files(), files);  // no record, log or socket of its own
    // The ID it would have had has no xenstore directory.
    Result ls = xs("list", {"/local/domain"});
    EXPECT_EQ(("\n" + ls.out).find("\n" + std::to_string(std::stoul("0" + last) + 1) + "\n"), std::string::npos)
        << ls.out;
  }

  std::set<std::string> domain_files() {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(state_ + "/domains")) out.insert(e.path().filename());
    return out;
  }

  std::string image_;
};

TEST_F(PvdDiskSharing, AReadWriteImageIsRefusedToASecondDomain) {
  ASSERT_EQ(create("a", {disk("xvda", "rw", image_)}).exit_code, 0);
  expect_refused("b", {disk("xvdb", "rw", image_)},
                 "disk xvdb: " + image_ + " is attached to domain 'a' (id 1) as xvda, read-write; "
                 "a read-write disk must be attached once, to one domain");
  // Read-only beside a writer is refused too (Xen's 'r' against 'w').
  expect_refused("c", {disk("xvda", "ro", image_)},
                 "disk xvda: " + image_ + " is attached to domain 'a' (id 1) as xvda, read-write; "
                 "a read-only attach needs every other attach to be read-only");
  // Once a is gone the image is free again.
  ASSERT_EQ(pvctl({"destroy", "a"}).exit_code, 0);
  Result b = create("b", {disk("xvdb", "rw", image_)});
  EXPECT_EQ(b.exit_code, 0) << b.err;
}

TEST_F(PvdDiskSharing, OtherSpellingsOfTheSameImageAreTheSameImage) {
  ASSERT_EQ(create("a", {disk("xvda", "rw", image_)}).exit_code, 0);
  const std::string link = dir_ + "/link.img", hard = dir_ + "/hard.img";
  fs::create_symlink(image_, link);
  fs::create_hard_link(image_, hard);
  expect_refused("viasymlink", {disk("xvda", "rw", link)}, "disk xvda: " + link + " is attached to domain 'a' (id 1) as xvda");
  expect_refused("viahardlink", {disk("xvda", "rw", hard)}, "disk xvda: " + hard + " is attached to domain 'a' (id 1)");
  expect_refused("viadots", {disk("xvda", "rw", dir_ + "/./../" + fs::path(dir_).filename().string() + "/disk.img")},
                 "is attached to domain 'a' (id 1) as xvda");
}

TEST_F(PvdDiskSharing, AReadWriteImageIsRefusedTwiceInOneDomain) {
  const std::string link = dir_ + "/again.img";
  fs::create_symlink(image_, link);
  expect_refused("twice", {disk("xvda", "rw", image_), disk("xvdb", "rw", link)},
                 "disk xvdb: " + link + " is also disk xvda of this domain, read-write");
  expect_refused("mixed", {disk("xvda", "ro", image_), disk("xvdb", "rw", image_)},
                 "disk xvdb: " + image_ + " is also disk xvda of this domain, read-only");
  // Read-only twice in one domain is sharing among readers.
  Result ro = create("readers", {disk("xvda", "ro", image_), disk("xvdb", "ro", link)});
  EXPECT_EQ(ro.exit_code, 0) << ro.err;
}

TEST_F(PvdDiskSharing, ReadOnlySharingIsAllowed) {
  ASSERT_EQ(create("r1", {disk("xvda", "ro", image_)}).exit_code, 0);
  Result r2 = create("r2", {disk("xvda", "ro", image_)});
  EXPECT_EQ(r2.exit_code, 0) << r2.err;
  expect_refused("w", {disk("xvdc", "rw", image_)},
                 "disk xvdc: " + image_ + " is attached to domain 'r1' (id 1) as xvda, read-only; "
                 "a read-write disk must be attached once, to one domain");
}

TEST_F(PvdDiskSharing, SharedWriteIsTheWayAroundIt) {
  ASSERT_EQ(create("w1", {disk("xvda", "rw", image_)}).exit_code, 0);
  Result w2 = create("w2", {disk("xvda", "w!", image_)});
  EXPECT_EQ(w2.exit_code, 0) << w2.err;
  // A w! attach still counts as a writer for those that come later.
  expect_refused("w3", {disk("xvda", "rw", image_)}, "is attached to domain 'w1' (id 1) as xvda, read-write");
  Result i = pvctl({"info", "w2"});
  EXPECT_NE(i.out.find("disk xvda: " + image_ + ", raw, w!, disk, backend "), std::string::npos) << i.out;
}

// Domains pvd adopts after a restart keep running whatever the check says;
// the disks they hold still count against new creates.
TEST_F(PvdDiskSharing, AdoptedDomainsKeepTheirDisks) {
  ASSERT_EQ(create("keep1", {disk("xvda", "rw", image_)}).exit_code, 0);
  ASSERT_EQ(create("keep2", {disk("xvda", "w!", image_)}).exit_code, 0);
  const pid_t p1 = pid_of("keep1"), p2 = pid_of("keep2");
  pvd_->signal(SIGKILL);
  pvd_.reset();
  start_pvd();
  EXPECT_EQ(pid_of("keep1"), p1);
  EXPECT_EQ(pid_of("keep2"), p2);
  EXPECT_NE(row("keep1").find("r-----"), std::string::npos);
  EXPECT_NE(row("keep2").find("r-----"), std::string::npos);
  expect_refused("late", {disk("xvda", "rw", image_)}, "is attached to domain 'keep1' (id 1) as xvda");
}

// A clash among adopted domains (records an older pvd wrote, that did not
// check) is logged, and both domains go on running.
TEST_F(PvdDiskSharing, AClashAmongAdoptedDomainsIsLoggedNotActedOn) {
  ASSERT_EQ(create("old1", {disk("xvda", "rw", image_)}).exit_code, 0);
  ASSERT_EQ(create("old2", {disk("xvda", "w!", image_)}).exit_code, 0);
  const pid_t p1 = pid_of("old1"), p2 = pid_of("old2");
  pvd_->signal(SIGKILL);
  pvd_.reset();
  // As if an older pvd had let old2 have the image read-write, unshared.
  const std::string path = state_ + "/domains/2.rec";
  pv::registry::DomainRecord rec;
  ASSERT_TRUE(rec.ParseFromString(slurp(path)));
  std::string text = rec.config_text();
  const size_t at = text.find("access=w!");
  ASSERT_NE(at, std::string::npos) << text;
  rec.set_config_text(text.replace(at, 9, "access=rw"));
  std::ofstream(path, std::ios::binary | std::ios::trunc) << rec.SerializeAsString();
  start_pvd();
  EXPECT_TRUE(pvd_->wait_for_output("domain 2 (old2), adopted as it runs: disk xvda: " + image_ +
                                        " is attached to domain 'old1' (id 1) as xvda, read-write",
                                    10s, true));
  EXPECT_EQ(pid_of("old1"), p1);
  EXPECT_EQ(pid_of("old2"), p2);
  EXPECT_NE(row("old2").find("r-----"), std::string::npos) << row("old2");
  EXPECT_EQ(pvctl({"destroy", "old2"}).exit_code, 0);
  EXPECT_EQ(pvctl({"destroy", "old1"}).exit_code, 0);
}

// Block devices are the same device by number (st_rdev), whichever node
// names them. Two nodes of one (unused) loop device number stand in for
// /dev/vg/lv and /dev/mapper/vg-lv; needs CAP_MKNOD.
TEST_F(PvdDiskSharing, ABlockDeviceIsTheSameThroughAnotherNode) {
  const std::string n1 = dir_ + "/blk1", n2 = dir_ + "/blk2", other = dir_ + "/blk3";
  if (::mknod(n1.c_str(), S_IFBLK | 0600, makedev(7, 250)) != 0) GTEST_SKIP() << "cannot mknod (not root?)";
  ASSERT_EQ(::mknod(n2.c_str(), S_IFBLK | 0600, makedev(7, 250)), 0);
  ASSERT_EQ(::mknod(other.c_str(), S_IFBLK | 0600, makedev(7, 251)), 0);
  ASSERT_EQ(create("blk", {disk("xvda", "rw", n1)}).exit_code, 0);
  expect_refused("blk2", {disk("xvda", "rw", n2)}, "disk xvda: " + n2 + " is attached to domain 'blk' (id 1) as xvda");
  Result o = create("blk3", {disk("xvda", "rw", other)});
  EXPECT_EQ(o.exit_code, 0) << o.err;
}

}  // namespace
