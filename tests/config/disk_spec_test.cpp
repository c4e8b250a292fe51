#include "config/disk_spec.h"

#include <gtest/gtest.h>

using namespace pv::config;

namespace {

DiskSpec good(std::string_view spec) {
  auto r = parse_disk_spec(spec);
  EXPECT_TRUE(r.disk) << spec << ": " << r.error;
  return r.disk.value_or(DiskSpec{});
}

std::string bad(std::string_view spec) {
  auto r = parse_disk_spec(spec);
  EXPECT_FALSE(r.disk) << spec;
  return r.error;
}

}  // namespace

// The equivalent forms listed in xl-disk-configuration(5).
TEST(DiskSpec, XlDocEquivalents) {
  DiskSpec a = good("/dev/vg/guest-volume,,hda");
  EXPECT_EQ(a.target, "/dev/vg/guest-volume");
  EXPECT_EQ(a.format, "raw");
  EXPECT_EQ(a.vdev, "hda");
  EXPECT_EQ(a.access, DiskAccess::kReadWrite);
  EXPECT_EQ(good("/dev/vg/guest-volume,raw,hda,rw"), a);
  EXPECT_EQ(good("format=raw, vdev=hda, access=rw, target=/dev/vg/guest-volume"), a);
  EXPECT_EQ(good("raw:/dev/vg/guest-volume,hda,w"), a);

  DiskSpec cd = good("/root/image.iso,,hdc,cdrom");
  EXPECT_EQ(cd.devtype, DiskDevType::kCdrom);
  EXPECT_EQ(cd.access, DiskAccess::kReadOnly);
  EXPECT_EQ(cd.vdev, "hdc");
  EXPECT_EQ(good("/root/image.iso,,hdc,,cdrom"), cd);
  EXPECT_EQ(good("/root/image.iso,raw,hdc,devtype=cdrom"), cd);
  EXPECT_EQ(good("format=raw, vdev=hdc, access=ro, devtype=cdrom, target=/root/image.iso"), cd);
  EXPECT_EQ(good("raw:/root/image.iso,hdc:cdrom,ro"), cd);
}

TEST(DiskSpec, PositionalAndKeyValue) {
  DiskSpec d = good("/img/a.qcow2,qcow2,xvdb,ro");
  EXPECT_EQ(d.format, "qcow2");
  EXPECT_TRUE(d.readonly());
  d = good("  vdev=xvdc,  target=/path/with,comma and space");
  EXPECT_EQ(d.target, "/path/with,comma and space");
  EXPECT_EQ(good("/a,,xvda,r").access, DiskAccess::kReadOnly);
  EXPECT_EQ(good("/a,,xvda,w").access, DiskAccess::kReadWrite);
  EXPECT_EQ(good("/a,,xvda,").access, DiskAccess::kReadWrite);  // empty = default
  // As in xl, the second positional is the format: "/a,xvda" is a mistake.
  EXPECT_NE(bad("/a,xvda").find("unknown value for format: 'xvda'"), std::string::npos);
}

// xl's w!: read-write, shared with other domains on purpose (pvd does not
// refuse it beside another writer).
TEST(DiskSpec, SharedWriteAccess) {
  DiskSpec d = good("format=raw, vdev=xvda, access=w!, target=/img");
  EXPECT_EQ(d.access, DiskAccess::kSharedWrite);
  EXPECT_TRUE(d.shared_write());
  EXPECT_FALSE(d.readonly());
  EXPECT_EQ(good("/img,raw,xvda,w!").access, DiskAccess::kSharedWrite);
  EXPECT_FALSE(good("/img,raw,xvda,rw").shared_write());
  EXPECT_NE(to_spec(d).find("access=w!"), std::string::npos) << to_spec(d);
  EXPECT_NE(bad("/img,raw,xvda,!w").find("(ro, r, rw, w, or w! to share it read-write)"), std::string::npos);
  // A cdrom stays read-only, and says so.
  auto cd = parse_disk_spec("/x.iso,raw,hdc,w!,cdrom");
  ASSERT_TRUE(cd.disk);
  EXPECT_TRUE(cd.disk->readonly());
  ASSERT_EQ(cd.warnings.size(), 1u);
  EXPECT_NE(cd.warnings[0].find("a cdrom is always read-only"), std::string::npos);
}

TEST(DiskSpec, FlagsAndOptions) {
  DiskSpec d = good("/a,raw,xvda,rw,no-discard,direct-io-safe,untrusted,backend=drv,backendtype=phy,script=block-x");
  EXPECT_FALSE(d.discard);
  EXPECT_TRUE(d.direct_io_safe);
  EXPECT_FALSE(d.trusted);
  EXPECT_EQ(d.backend, "drv");
  EXPECT_EQ(d.backendtype, "phy");
  EXPECT_EQ(d.script, "block-x");
  EXPECT_TRUE(good("/a,,xvda,discard").discard);
}

TEST(DiskSpec, DeprecatedPrefixes) {
  DiskSpec d = good("phy:/dev/vg/lv,xvda,w");  // prefix: format slot skipped, as xl
  EXPECT_EQ(d.target, "/dev/vg/lv");
  EXPECT_EQ(d.vdev, "xvda");
  d = good("tap:aio:/img,xvdb,r");
  EXPECT_EQ(d.target, "/img");
  EXPECT_TRUE(d.readonly());
  EXPECT_EQ(good("nbd:host:1234,xvda,w").script, "block-nbd");
  EXPECT_EQ(good("vhd:/a.vhd,xvda,w").format, "vhd");
  EXPECT_NE(bad("foo:/img,xvda,w").find("unknown deprecated disk prefix"), std::string::npos);
}

TEST(DiskSpec, EmptyCdrom) {
  DiskSpec d = good(",hdc:cdrom,r");
  EXPECT_EQ(d.target, "");
  EXPECT_EQ(d.format, "empty");
  EXPECT_EQ(d.devtype, DiskDevType::kCdrom);
  d = good("vdev=xvdd, devtype=cdrom");
  EXPECT_EQ(d.format, "empty");
}

TEST(DiskSpec, CdromIsReadOnlyWithWarning) {
  auto r = parse_disk_spec("/a.iso,,hdc,rw,cdrom");
  ASSERT_TRUE(r.disk);
  EXPECT_TRUE(r.disk->readonly());
  EXPECT_EQ(r.warnings.size(), 1u);
}

TEST(DiskSpec, Errors) {
  EXPECT_NE(bad("/a,raw").find("no vdev"), std::string::npos);
  EXPECT_NE(bad("format=raw, target=/a").find("no vdev"), std::string::npos);
  EXPECT_NE(bad("/a,raw,,rw").find("no vdev"), std::string::npos);
}

TEST(DiskSpec, MoreErrors) {
  EXPECT_NE(bad("/a,raw,xvda,rx").find("unknown value for access"), std::string::npos);
  EXPECT_NE(bad("vdev=xvda, access=write, target=/a").find("unknown value for access"), std::string::npos);
  EXPECT_NE(bad("vdev=xvda, bogus=1, target=/a").find("unknown parameter 'bogus'"), std::string::npos);
  EXPECT_NE(bad("/a,weird,xvda").find("unknown value for format"), std::string::npos);
  EXPECT_NE(bad(",,xvda").find("no target"), std::string::npos);
  EXPECT_NE(bad("/a,raw,xvda,rw,extra").find("too many positional"), std::string::npos);
  EXPECT_NE(bad("vdev=xvda, vdev=xvdb, target=/a").find("vdev respecified"), std::string::npos);
  EXPECT_NE(bad("/a,raw,xvda,format=qcow2").find("format respecified"), std::string::npos);
  EXPECT_NE(bad("/a,,xvda,devtype=floppy").find("devtype"), std::string::npos);
  EXPECT_NE(bad("/a,,nvme0n1").find("invalid vdev"), std::string::npos);
  EXPECT_NE(bad("/a,,xvda,colo").find("not supported"), std::string::npos);
}

TEST(DiskSpec, VdevNumbers) {
  EXPECT_EQ(vdev_to_devid("xvda"), 51712u);
  EXPECT_EQ(vdev_to_devid("xvdb2"), (202u << 8) | (1 << 4) | 2);
  EXPECT_EQ(vdev_to_devid("d1p2"), (202u << 8) | (1 << 4) | 2);
  EXPECT_EQ(vdev_to_devid("xvdq"), (1u << 28) | (16 << 8));
  EXPECT_EQ(vdev_to_devid("xvdtq37"), (1u << 28) | (536 << 8) | 37);  // xen-vbd-interface(7) example
  EXPECT_EQ(vdev_to_devid("d536p37"), (1u << 28) | (536 << 8) | 37);
  EXPECT_EQ(vdev_to_devid("hda"), 3u << 8);
  EXPECT_EQ(vdev_to_devid("hdc2"), (22u << 8) | 2);
  EXPECT_EQ(vdev_to_devid("sdb3"), (8u << 8) | (1 << 4) | 3);
  EXPECT_EQ(vdev_to_devid("51712"), 51712u);
  EXPECT_FALSE(vdev_to_devid("xvda0"));   // no leading zeros in partitions
  EXPECT_FALSE(vdev_to_devid("hde"));     // IDE has disks 0..3
  EXPECT_FALSE(vdev_to_devid("xvd"));
  EXPECT_FALSE(vdev_to_devid("vda"));
}

TEST(DiskSpec, ToSpecRoundTrips) {
  for (const char* s : {"/a,,xvda", "/b.iso,,hdc,cdrom", ",hdc:cdrom,r", "/c,qcow2,xvdb,ro,no-discard,untrusted",
                        "/d,raw,xvde,force-raw", "/shared,raw,xvdd,w!",
                        "vdev=xvdc, backend=d1, backendtype=qdisk, script=s, direct-io-safe, target=/x,y z"}) {
    DiskSpec d = good(s);
    auto again = parse_disk_spec(to_spec(d));
    ASSERT_TRUE(again.disk) << to_spec(d) << ": " << again.error;
    EXPECT_EQ(*again.disk, d) << to_spec(d);
  }
}

// format= in every form xl has, and force-raw (ours): serve a raw image
// that starts with a qcow2 header as raw anyway; only with format raw.
TEST(DiskSpec, FormatAndForceRaw) {
  EXPECT_EQ(good("format=qcow2, vdev=xvda, target=/i.qcow2").format, "qcow2");
  EXPECT_EQ(good("/i.qcow2,qcow2,xvda,w").format, "qcow2");
  EXPECT_EQ(good("qcow2:/i.qcow2,xvda,w").format, "qcow2");
  EXPECT_EQ(good("format=raw, vdev=xvda, target=/i.img").format, "raw");
  EXPECT_EQ(good("vdev=xvda, target=/i.img").format, "raw");  // no format: raw, as xl
  EXPECT_FALSE(good("/i.img,raw,xvda").force_raw);
  DiskSpec f = good("format=raw, vdev=xvda, force-raw, target=/i.img");
  EXPECT_TRUE(f.force_raw);
  EXPECT_EQ(good("/i.img,,xvda,w,force-raw"), f);  // no format means raw
  EXPECT_NE(to_spec(f).find(", force-raw"), std::string::npos) << to_spec(f);
  EXPECT_NE(bad("format=qcow2, vdev=xvda, force-raw, target=/i.qcow2").find("force-raw is only for format=raw"),
            std::string::npos);
  EXPECT_NE(bad("/i.vhd,vhd,xvda,force-raw").find("force-raw is only for format=raw"), std::string::npos);
}

// I/O limits (ours): counts, byte rates with suffixes, the round trip, and
// what is refused.
TEST(DiskSpec, IoLimits) {
  DiskSpec d = good("format=raw, vdev=xvda, iops_rd=100, iops_wr=50, bps=10m, bps_wr=512k, burst_ms=250, target=/i.img");
  EXPECT_EQ(d.limits.iops_rd, 100u);
  EXPECT_EQ(d.limits.iops_wr, 50u);
  EXPECT_EQ(d.limits.iops, 0u);
  EXPECT_EQ(d.limits.bps, 10u << 20);
  EXPECT_EQ(d.limits.bps_wr, 512u << 10);
  EXPECT_EQ(d.limits.burst_ms, 250u);
  EXPECT_TRUE(d.limits.any());
  EXPECT_EQ(good(to_spec(d)), d) << to_spec(d);
  EXPECT_NE(to_spec(d).find("iops_rd=100, iops_wr=50, bps=10485760, bps_wr=524288, burst_ms=250"), std::string::npos)
      << to_spec(d);
  EXPECT_FALSE(good("vdev=xvda, target=/i.img").limits.any());
  EXPECT_NE(bad("vdev=xvda, iops=lots, target=/i.img").find("iops=lots is not a whole number"), std::string::npos);
  EXPECT_NE(bad("vdev=xvda, bps_rd=1.5m, target=/i.img").find("not a rate in bytes per second"), std::string::npos);
  EXPECT_NE(bad("vdev=xvda, burst_ms=100000, target=/i.img").find("0 to 60000"), std::string::npos);
  EXPECT_NE(bad("vdev=xvda, iops_total=5, target=/i.img").find("unknown parameter 'iops_total'"), std::string::npos);
}
