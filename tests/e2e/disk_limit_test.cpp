// Per-disk I/O limits end to end (issue 14): the disk spec's iops_rd= /
// bps_wr= hold within 10% over a few seconds, measured from pv-backd's
// statistics while the reference guest drives more than the limit; and
// `pvctl disk-limit` changes them on the running domain.
#include <gtest/gtest.h>

#include <cstdio>
#include <regex>
#include <string>

#include "storage_fixture.h"

namespace {

using namespace pvtest;

class DiskLimit : public StorageFixture {};

TEST_F(DiskLimit, IopsLimitHoldsAndChangesOnARunningDomain) {
  const std::string img = raw("iops", 64);
  // Random 4 KiB reads at queue depth 8: far more than 100/s unthrottled.
  const uint32_t id = create("iops", "blkio=read,rand,bs=4k,qd=8,count=3000,range=131072 idle",
                             disk(img, "raw", ", iops_rd=100"));
  ASSERT_TRUE(console_has(id, "BLKFRONT vbd 51712: connected", 60s)) << console(id);
  Result info = pvctl({"info", "iops"});
  EXPECT_NE(info.out.find("limits iops_rd=100"), std::string::npos) << info.out;
  EXPECT_EQ(xs_read(backend(id) + "/qos-iops-rd"), "100");
  ASSERT_TRUE(eventually([&] { return stat(id, "reads") > 50; }, 30s));
  const double slow = stat_rate(id, "reads", 4s);
  std::fprintf(stderr, "measured: %.1f reads/s with iops_rd=100\n", slow);
  EXPECT_NEAR(slow, 100.0, 10.0) << "reads per second with iops_rd=100";
  EXPECT_GT(stat(id, "throttled"), 0u);
  // top: one limited disk, its throttled requests counted (VBD_LIM, VBD_THR).
  const Result top = pvctl({"top", "--batch", "-i", "1"});
  ASSERT_EQ(top.exit_code, 0) << top.err;
  const std::regex row("\\n\\s*iops .* ([0-9]+) +([0-9]+)\\n");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(top.out, m, row)) << top.out;
  EXPECT_EQ(m[1], "1") << top.out;
  EXPECT_GT(std::stoull(m[2]), 0u) << top.out;

  Result ch = pvctl({"disk-limit", "iops", "xvda", "iops_rd=250"});
  ASSERT_EQ(ch.exit_code, 0) << ch.out << ch.err;
  EXPECT_NE(ch.out.find("I/O limits iops_rd=250"), std::string::npos) << ch.out;
  EXPECT_EQ(xs_read(backend(id) + "/qos-iops-rd"), "250");
  std::this_thread::sleep_for(500ms);
  const double fast = stat_rate(id, "reads", 4s);
  std::fprintf(stderr, "measured: %.1f reads/s with iops_rd=250\n", fast);
  EXPECT_NEAR(fast, 250.0, 25.0) << "reads per second after disk-limit iops_rd=250";
  EXPECT_NE(slurp(state_ + "/pv-backd.log").find("I/O limits: iops_rd=250"), std::string::npos);

  // Lifted: the rest goes at the guest's own pace; nothing was dropped.
  ASSERT_EQ(pvctl({"disk-limit", "iops", "xvda", "iops_rd=0"}).exit_code, 0);
  const std::string out = wait_blkio(id, 120s);
  EXPECT_NE(out.find("BLKIO DONE cmds=1 failed=0"), std::string::npos) << out;
  EXPECT_NE(out.find("errors=0"), std::string::npos) << out;
  EXPECT_EQ(stat(id, "errors"), 0u);
}

TEST_F(DiskLimit, WriteBandwidthLimitHolds) {
  const std::string img = raw("bps", 64);
  const uint32_t id = create("bps", "blkio=write,seq,bs=64k,qd=4,bytes=48m,seed=9,pattern idle",
                             disk(img, "raw", ", bps_wr=1m, iops_rd=5"));
  ASSERT_TRUE(eventually([&] { return stat(id, "writes") > 20; }, 60s)) << console(id);
  // 1 MiB/s = 2048 sectors per second.
  const double rate = stat_rate(id, "sectors_written", 5s);
  std::fprintf(stderr, "measured: %.1f sectors/s written with bps_wr=1m\n", rate);
  EXPECT_NEAR(rate, 2048.0, 204.8) << "sectors written per second with bps_wr=1m";
  // The read limit does not slow writes down, and bad settings are refused.
  Result bad = pvctl({"disk-limit", "bps", "xvda", "iops_rd=lots"});
  EXPECT_EQ(bad.exit_code, 2) << bad.out << bad.err;
  Result none = pvctl({"disk-limit", "bps", "xvdz", "iops=5"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("has no disk xvdz"), std::string::npos) << none.err;
}

}  // namespace
