// qcow2 end to end (issue 14): the reference guest writes and verifies its
// pattern on a qcow2 image that qemu-img made, with and without a backing
// file, while a second domain runs the same commands on a raw image. Then
// qemu-img judges: `check` finds the qcow2 clean, `compare` finds it holds
// the same bytes as the raw image, and the backing file is unchanged.
#include <gtest/gtest.h>

#include <signal.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "storage_fixture.h"

namespace {

using namespace pvtest;

class Qcow2Guest : public StorageFixture {};

// Sequential 64 KiB and 1 MiB writes, 4 KiB random writes at queue depth 16
// (sub-cluster: qcow2's clusters are 64 KiB) and unaligned 96 KiB writes,
// each read back and verified by the guest, then a flush.
constexpr const char* kWrites =
    "write,seq,bs=64k,start=2048,bytes=2m,qd=4,seed=5,verify;"
    "write,seq,bs=1m,start=12288,bytes=3m,qd=2,seed=7,verify;"
    "write,rand,bs=4k,qd=16,count=200,range=32768,seed=6,verify;"
    "write,seq,bs=96k,start=101,bytes=3m,qd=4,seed=13,verify;flush";

TEST_F(Qcow2Guest, WritesOnAFreshQcow2MatchTheSameWritesOnRaw) {
  const std::string q = qcow2("fresh", "16M"), r = raw("ref", 16);
  const uint32_t qid = create("q", std::string("blkio=") + kWrites + " idle", disk(q, "qcow2"));
  const uint32_t rid = create("r", std::string("blkio=") + kWrites + " idle", disk(r, "raw"));
  const std::string qout = wait_blkio(qid), rout = wait_blkio(rid);
  EXPECT_NE(qout.find("BLKIO DONE cmds=5 failed=0"), std::string::npos) << qout;
  EXPECT_NE(qout.find("BLKIO flush ok"), std::string::npos) << qout;
  EXPECT_NE(rout.find("BLKIO DONE cmds=5 failed=0"), std::string::npos) << rout;
  EXPECT_EQ(stat(qid, "errors"), 0u);
  destroy_and_release("q", q);
  destroy_and_release("r", r);
  EXPECT_EQ(qemu_check(q), "");
  EXPECT_EQ(qemu_compare(q, "qcow2", r, "raw"), "");
  // Thin: a 16 MiB disk of which about 8 MiB were written.
  Result info = qemu_img({"info", q});
  EXPECT_NE(info.out.find("virtual size: 16 MiB"), std::string::npos) << info.out;
  EXPECT_LT(fs::file_size(q), uint64_t(14) << 20);
}

// The overlay of a qcow2 base (itself converted from a raw file the host
// filled with the pattern): the guest first reads the base's pattern through
// the overlay, then writes; the reference is a copy of the raw base that
// gets the same writes. The base's bytes never change.
TEST_F(Qcow2Guest, WritesOnAnOverlayMatchRawAndLeaveTheBackingFileAlone) {
  const std::string base_raw = raw("base", 16);
  for (uint64_t s = 0; s < 32768; s += 2048) write_file_at(base_raw, s, guest_pattern(s, 2048, 11));
  const std::string base = dir_ + "/base.qcow2";
  Result conv = qemu_img({"convert", "-q", "-f", "raw", "-O", "qcow2", base_raw, base});
  ASSERT_EQ(conv.exit_code, 0) << conv.err;
  const std::string ref = dir_ + "/ref.img";
  fs::copy_file(base_raw, ref);
  const std::string ov = qcow2("overlay", "16M", base, "qcow2");
  const std::string base_before = slurp(base);
  ASSERT_FALSE(base_before.empty());

  const std::string cmds = std::string("blkio=read,seq,bs=128k,bytes=16m,qd=4,seed=11,verify;") + kWrites + " idle";
  const uint32_t qid = create("ov", cmds, disk(ov, "qcow2"));
  const uint32_t rid = create("rf", cmds, disk(ref, "raw"));
  const std::string qout = wait_blkio(qid, 120s), rout = wait_blkio(rid, 120s);
  EXPECT_NE(qout.find("BLKIO DONE cmds=6 failed=0"), std::string::npos) << qout;
  EXPECT_NE(qout.find("BLKIO verify ok sectors=32768"), std::string::npos) << "the base did not show through\n" << qout;
  EXPECT_NE(rout.find("BLKIO DONE cmds=6 failed=0"), std::string::npos) << rout;
  destroy_and_release("ov", ov);
  destroy_and_release("rf", ref);
  EXPECT_EQ(qemu_check(ov), "");
  EXPECT_EQ(qemu_check(base), "");
  EXPECT_EQ(qemu_compare(ov, "qcow2", ref, "raw"), "");
  EXPECT_TRUE(slurp(base) == base_before) << "the backing file changed";
  // Only what the guest wrote is in the overlay (about 8 MiB of 16).
  EXPECT_LT(fs::file_size(ov), uint64_t(12) << 20);
}

// pv-backd SIGKILLed in the middle of the guest's writes to a qcow2 image
// (clusters being allocated, 4 KiB writes into fresh 64 KiB clusters): pvd
// starts a new one, the guest's blkfront reconnects and re-queues what was
// in flight, its verify passes; then qemu-img check finds no corruption
// (leaked clusters, which a kill may leave as it may under QEMU, are
// allowed: exit status 3) and every byte the guest wrote is in the image.
TEST_F(Qcow2Guest, ABackdKilledMidWriteLeavesTheImageConsistentWithEveryWriteInIt) {
  const std::string q = qcow2("killed", "16M");
  const pid_t backd = backd_pid();
  ASSERT_GT(backd, 0);
  const uint32_t id = create("kq",
                             "blkio=write,seq,bs=64k,bytes=6m,qd=4,pattern,seed=31,verify;"
                             "write,seq,bs=4k,start=16385,bytes=1m,qd=8,pattern,seed=32,verify;flush idle",
                             disk(q, "qcow2"));
  ASSERT_TRUE(eventually([&] { return stat(id, "writes") >= 8; }, 60s)) << console(id);
  ASSERT_LT(stat(id, "writes"), 90u) << "the first write phase ended before the kill";
  ASSERT_EQ(::kill(backd, SIGKILL), 0);
  const std::string out = wait_blkio(id, 120s);
  EXPECT_NE(out.find("BLKIO DONE cmds=3 failed=0"), std::string::npos) << out;
  EXPECT_NE(out.find("reconnected"), std::string::npos) << out;
  EXPECT_NE(backd_pid(), backd);
  destroy_and_release("kq", q);

  const Result check = qemu_img({"check", q});
  EXPECT_TRUE(check.exit_code == 0 || check.exit_code == 3) << "qemu-img check: " << check.exit_code << "\n" << check.out << check.err;
  EXPECT_EQ(check.out.find("ERROR"), std::string::npos) << check.out;
  const std::string flat = dir_ + "/killed.raw";
  const Result conv = qemu_img({"convert", "-q", "-f", "qcow2", "-O", "raw", q, flat});
  ASSERT_EQ(conv.exit_code, 0) << conv.err;
  EXPECT_EQ(check_guest_pattern(flat, 0, 12288, 31), "");
  EXPECT_EQ(check_guest_pattern(flat, 16385, 2048, 32), "");
  std::ifstream between(flat, std::ios::binary);
  between.seekg(12288 * 512);
  std::string gap(4097 * 512, '\1');
  between.read(gap.data(), std::streamsize(gap.size()));
  EXPECT_EQ(gap, std::string(gap.size(), '\0')) << "the sectors between the writes are not zeros";
}

}  // namespace
