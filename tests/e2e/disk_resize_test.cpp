// Online resize end to end (issue 14): `pvctl disk resize DOMAIN VDEV SIZE`
// grows a running domain's qcow2 or raw disk; pv-backd writes the vbd's new
// `sectors` and Connected again, as Xen's blkback does; the guest's
// blkfront notices under its watch, prints the new size and writes past
// the old end; qemu-img then finds the image clean and of the new size.
#include <gtest/gtest.h>

#include <string>

#include "storage_fixture.h"

namespace {

using namespace pvtest;

class DiskResize : public StorageFixture {
 protected:
  // The guest prints its details, waits 10 s (the resize happens then),
  // and writes and verifies 1 MiB just past the old end (16 MiB).
  void grow_while_running(const std::string& img, const std::string& format) {
    const uint32_t id = create("rz", "blkio=info;write,seq,bs=64k,start=32768,bytes=1m,seed=3,verify,sleep=10000 idle",
                               disk(img, format));
    ASSERT_TRUE(console_has(id, "BLKIO info", 60s)) << console(id);
    EXPECT_EQ(xs_read(backend(id) + "/sectors"), "32768");
    Result r = pvctl({"disk", "resize", "rz", "xvda", "32M"});
    ASSERT_EQ(r.exit_code, 0) << r.out << r.err << slurp(state_ + "/pv-backd.log");
    EXPECT_EQ(xs_read(backend(id) + "/sectors"), "65536");
    EXPECT_TRUE(console_has(id, "BLKFRONT vbd 51712: capacity 32768 -> 65536 sectors", 20s)) << console(id);
    Result info = pvctl({"info", "rz"});
    EXPECT_NE(info.out.find("65536 sectors"), std::string::npos) << info.out;
    const std::string out = wait_blkio(id, 60s);
    EXPECT_NE(out.find("BLKIO DONE cmds=2 failed=0"), std::string::npos) << out;
    EXPECT_NE(out.find("BLKIO verify ok sectors=2048"), std::string::npos) << out;
    // Shrinking is refused, and so is a disk the domain does not have.
    Result shrink = pvctl({"disk", "resize", "rz", "xvda", "8M"});
    EXPECT_EQ(shrink.exit_code, 1);
    EXPECT_NE(shrink.err.find("shrinking is not supported"), std::string::npos) << shrink.err;
    destroy_and_release("rz", img);
  }
};

TEST_F(DiskResize, Qcow2GrowsOnlineAndTheGuestSeesIt) {
  const std::string img = qcow2("q", "16M");
  grow_while_running(img, "qcow2");
  EXPECT_EQ(qemu_check(img), "");
  Result info = qemu_img({"info", img});
  EXPECT_NE(info.out.find("virtual size: 32 MiB"), std::string::npos) << info.out;
  const std::string flat = dir_ + "/flat.img";
  ASSERT_EQ(qemu_img({"convert", "-q", "-O", "raw", img, flat}).exit_code, 0);
  EXPECT_EQ(check_guest_pattern(flat, 32768, 2048, 3), "");
}

TEST_F(DiskResize, RawGrowsOnlineAndTheGuestSeesIt) {
  const std::string img = raw("r", 16);
  grow_while_running(img, "raw");
  EXPECT_EQ(fs::file_size(img), uint64_t(32) << 20);
  EXPECT_EQ(check_guest_pattern(img, 32768, 2048, 3), "");
}

}  // namespace
