// External disk snapshots end to end (issue 14): `pvctl disk snapshot`
// while the guest writes: pv-backd switches the running disk to a new qcow2
// overlay between requests; the guest's writes and its read-back verify
// go on across the switch; qemu-img finds both images clean, the overlay
// over the base holds exactly what the guest wrote, and the base is no
// longer written.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <string>

#include "storage_fixture.h"

namespace {

using namespace pvtest;

class DiskSnapshot : public StorageFixture {};

TEST_F(DiskSnapshot, TakenWhileTheGuestWrites) {
  const std::string base = qcow2("base", "32M");
  // 24 MiB of 64 KiB writes (384), then read back and verified.
  const uint32_t id = create("sn", "blkio=write,seq,bs=64k,bytes=24m,qd=4,seed=21,verify,flush idle", disk(base, "qcow2"));
  ASSERT_TRUE(eventually([&] { return stat(id, "writes") >= 40; }, 60s)) << console(id);
  Result s = pvctl({"disk", "snapshot", "sn", "xvda", "s1"});
  const uint64_t writes_at_snapshot = stat(id, "writes");
  const std::string overlay = dir_ + "/base.s1.qcow2";
  ASSERT_EQ(s.exit_code, 0) << s.out << s.err << slurp(state_ + "/pv-backd.log");
  EXPECT_NE(s.out.find("sn xvda: now writes to " + overlay), std::string::npos) << s.out;
  EXPECT_LT(writes_at_snapshot, 384u) << "the guest had finished writing before the snapshot";
  EXPECT_EQ(xs_read(backend(id) + "/params"), overlay);
  // The next one would be base.s1.s2.qcow2: a file there is never overwritten.
  std::ofstream(dir_ + "/base.s1.s2.qcow2") << "mine";
  Result again = pvctl({"disk", "snapshot", "sn", "xvda", "s2"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("exists already"), std::string::npos) << again.err;
  EXPECT_EQ(slurp(dir_ + "/base.s1.s2.qcow2"), "mine");
  EXPECT_EQ(pvctl({"disk", "snapshot", "sn", "xvda", "../x"}).exit_code, 1);

  const std::string out = wait_blkio(id, 120s);
  EXPECT_NE(out.find("BLKIO DONE cmds=1 failed=0"), std::string::npos) << out;
  EXPECT_NE(out.find("BLKIO verify ok sectors=49152"), std::string::npos) << out;
  EXPECT_NE(out.find("BLKIO flush ok"), std::string::npos) << out;
  EXPECT_EQ(stat(id, "errors"), 0u);
  std::smatch m;
  const std::string log = slurp(state_ + "/pv-backd.log");
  ASSERT_TRUE(std::regex_search(log, m, std::regex("queues paused ([0-9]+) us"))) << log;
  std::fprintf(stderr, "measured: queues paused %s us for the snapshot\n", m[1].str().c_str());

  Result list = pvctl({"disk", "snapshot-list", "sn", "xvda"});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_EQ(list.out, overlay + " (qcow2, active)\n" + base + " (qcow2)\n");
  Result info = pvctl({"info", "sn"});
  EXPECT_NE(info.out.find("disk xvda: " + overlay + ", qcow2, rw"), std::string::npos) << info.out;

  destroy_and_release("sn", overlay);
  EXPECT_FALSE(backd_has_open(base));
  EXPECT_EQ(qemu_check(overlay), "");
  EXPECT_EQ(qemu_check(base), "");
  Result qi = qemu_img({"info", overlay});
  EXPECT_NE(qi.out.find("backing file: " + base), std::string::npos) << qi.out;
  // What the guest sees: the pattern on the first 24 MiB, zeros after.
  const std::string ref = raw("ref", 32);
  for (uint64_t sct = 0; sct < 49152; sct += 2048) write_file_at(ref, sct, guest_pattern(sct, 2048, 21));
  EXPECT_EQ(qemu_compare(overlay, "qcow2", ref, "raw"), "");
  // The base holds only what came before the switch: less than all of it.
  EXPECT_NE(qemu_compare(base, "qcow2", ref, "raw"), "");
}

}  // namespace
