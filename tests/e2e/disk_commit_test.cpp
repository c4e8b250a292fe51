// Commit and snapshot deletion end to end (issue 14): `pvctl disk commit`
// while the guest writes and verifies: pv-backd copies the snapshot
// overlay's clusters into the base while the guest's writes go on (those
// written meanwhile copied again), pauses the queues between requests for
// the rest and serves the base; the guest's verify passes, the base alone
// holds what the guest wrote (qemu-img check and compare), the overlay is
// gone. Snapshots are deleted, the active one (a commit) or one below it
// (merged into its base, the image above it renamed to stand on the base);
// commits that would lose or change data are refused and change nothing.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <string>
#include <thread>

#include "storage_fixture.h"

namespace {

using namespace pvtest;

class DiskCommit : public StorageFixture {
 protected:
  size_t count(uint32_t id, const std::string& text) {
    const std::string c = console(id);
    size_t n = 0;
    for (size_t at = c.find(text); at != std::string::npos; at = c.find(text, at + 1)) n++;
    return n;
  }
  // A domain NAME on BASE that wrote 1 MiB into it and then `mib` MiB
  // into snapshot s1's overlay (the pattern with `seed`), now idle.
  uint32_t on_overlay_with_data(const std::string& name, const std::string& base, uint64_t seed, uint64_t mib) {
    const std::string s = std::to_string(seed);
    const uint32_t id = create(name,
                               "blkio=write,seq,bs=64k,bytes=1m,seed=" + s + ",pattern;write,seq,start=2048,bs=64k,bytes=" +
                                   std::to_string(mib) + "m,seed=" + s + ",pattern,sleep=6000;flush idle",
                               disk(base, "qcow2"));
    EXPECT_TRUE(eventually([&] { return count(id, "BLKIO op=write") >= 1; }, 60s)) << console(id);
    EXPECT_EQ(pvctl({"disk", "snapshot", name, "xvda", "s1"}).exit_code, 0);
    EXPECT_NE(wait_blkio(id, 120s).find("BLKIO DONE cmds=3 failed=0"), std::string::npos) << console(id);
    return id;
  }
  // The reference: the guest's pattern (seed) on sectors [0, sectors), zeros up to mib.
  std::string reference(uint64_t sectors, uint64_t seed, uint64_t mib) {
    const std::string ref = raw("ref", mib);
    for (uint64_t s = 0; s < sectors; s += 2048) write_file_at(ref, s, guest_pattern(s, std::min<uint64_t>(2048, sectors - s), seed));
    return ref;
  }
};

TEST_F(DiskCommit, WhileTheGuestWrites) {
  const std::string base = qcow2("base", "64M");
  // 48 MiB of 64 KiB writes (768), then read back and verified.
  const uint32_t id = create("cm", "blkio=write,seq,bs=64k,bytes=48m,qd=4,seed=31,verify,flush idle", disk(base, "qcow2"));
  ASSERT_TRUE(eventually([&] { return stat(id, "writes") >= 40; }, 60s)) << console(id);
  Result s = pvctl({"disk", "snapshot", "cm", "xvda", "s1"});
  ASSERT_EQ(s.exit_code, 0) << s.out << s.err;
  const std::string overlay = dir_ + "/base.s1.qcow2";
  const uint64_t at_snapshot = stat(id, "writes");
  // The overlay takes some of the guest's writes, and the commit starts
  // while the guest still writes.
  ASSERT_TRUE(eventually([&] { return stat(id, "writes") >= at_snapshot + 150; }, 60s)) << console(id);
  const uint64_t at_commit = stat(id, "writes");
  const auto t0 = std::chrono::steady_clock::now();
  // Held to 16 MiB/s, the copy lasts about a second: the guest writes new
  // clusters of the overlay meanwhile, which are copied again.
  Result c = pvctl({"disk", "commit", "cm", "xvda", "--speed", "16m"});
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  const uint64_t after_commit = stat(id, "writes");
  ASSERT_EQ(c.exit_code, 0) << c.out << c.err << slurp(state_ + "/pv-backd.log");
  EXPECT_EQ(c.out, "cm xvda: overlay merged, now writes to " + base + "\n");
  EXPECT_LT(after_commit, 768u) << "the guest had finished writing before the commit was done";
  EXPECT_FALSE(std::filesystem::exists(overlay));
  EXPECT_EQ(xs_read(backend(id) + "/params"), base);
  EXPECT_EQ(xs_read(backend(id) + "/format"), "qcow2");
  Result info = pvctl({"info", "cm"});
  EXPECT_NE(info.out.find("disk xvda: " + base + ", qcow2, rw"), std::string::npos) << info.out;
  Result list = pvctl({"disk", "snapshot-list", "cm", "xvda"});
  EXPECT_EQ(list.out, base + " (qcow2, active)\n") << list.err;

  const std::string out = wait_blkio(id, 180s);
  EXPECT_NE(out.find("BLKIO DONE cmds=1 failed=0"), std::string::npos) << out;
  EXPECT_NE(out.find("BLKIO verify ok sectors=98304"), std::string::npos) << out;
  EXPECT_NE(out.find("BLKIO flush ok"), std::string::npos) << out;
  EXPECT_EQ(stat(id, "errors"), 0u);
  std::smatch m;
  const std::string log = slurp(state_ + "/pv-backd.log");
  ASSERT_TRUE(std::regex_search(log, m, std::regex("([0-9]+) bytes copied in ([0-9]+) passes \\(([0-9]+) clusters again\\), ([0-9]+) ms; queues paused ([0-9]+) us for the last ([0-9]+) bytes")))
      << log;
  EXPECT_GT(std::stoull(m[3].str()), 0u) << "nothing the guest wrote during the copy was copied again: " << log;
  EXPECT_GE(std::stoull(m[2].str()), 2u);
  std::fprintf(stderr,
               "measured: commit of %.1f MiB at 16 MiB/s (guest writes %llu -> %llu during it) took %s ms in pv-backd "
               "(%lld ms for pvctl), %s passes, %s clusters copied again; queues paused %s us for the last %s bytes\n",
               double(std::stoull(m[1].str())) / 1048576, (unsigned long long)at_commit, (unsigned long long)after_commit,
               m[4].str().c_str(), (long long)ms, m[2].str().c_str(), m[3].str().c_str(), m[5].str().c_str(),
               m[6].str().c_str());

  destroy_and_release("cm", base);
  EXPECT_EQ(qemu_check(base), "");
  EXPECT_EQ(qemu_compare(base, "qcow2", reference(98304, 31, 64), "raw"), "");
}

TEST_F(DiskCommit, SnapshotsAreDeletedOldOrNew) {
  const std::string base = qcow2("base", "16M");
  // 2 MiB into the base, 2 MiB into snapshot s1's overlay, 2 MiB into s2's,
  // then all 6 MiB read back once both snapshots are deleted (the older
  // one first, from under the newer).
  const uint32_t id = create("sd",
                             "blkio=write,seq,bs=64k,bytes=2m,seed=5,verify;"
                             "write,seq,start=4096,bs=64k,bytes=2m,seed=5,verify,sleep=8000;"
                             "write,seq,start=8192,bs=64k,bytes=2m,seed=5,verify,sleep=8000;"
                             "read,verify,start=0,range=12288,seed=5,sleep=12000 idle",
                             disk(base, "qcow2"));
  const std::string s1 = dir_ + "/base.s1.qcow2", s2 = dir_ + "/base.s1.s2.qcow2";
  ASSERT_TRUE(eventually([&] { return count(id, "BLKIO verify ok") >= 1; }, 60s)) << console(id);
  ASSERT_EQ(pvctl({"disk", "snapshot", "sd", "xvda", "s1"}).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return count(id, "BLKIO verify ok") >= 2; }, 60s)) << console(id);
  ASSERT_EQ(pvctl({"disk", "snapshot", "sd", "xvda", "s2"}).exit_code, 0);
  ASSERT_TRUE(eventually([&] { return count(id, "BLKIO verify ok") >= 3; }, 60s)) << console(id);
  EXPECT_EQ(pvctl({"disk", "snapshot-list", "sd", "xvda"}).out,
            s2 + " (qcow2, active)\n" + s1 + " (qcow2)\n" + base + " (qcow2)\n");

  Result none = pvctl({"disk", "snapshot-delete", "sd", "xvda", "nosuch"});
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.err.find("has no snapshot nosuch"), std::string::npos) << none.err;
  // s1, under the active s2: merged into the base, s2 then stands on the base.
  Result d1 = pvctl({"disk", "snapshot-delete", "sd", "xvda", "s1"});
  ASSERT_EQ(d1.exit_code, 0) << d1.err << slurp(state_ + "/pv-backd.log");
  EXPECT_EQ(d1.out, "sd xvda: snapshot s1 deleted, now writes to " + s2 + "\n");
  EXPECT_FALSE(std::filesystem::exists(s1));
  EXPECT_EQ(pvctl({"disk", "snapshot-list", "sd", "xvda"}).out, s2 + " (qcow2, active)\n" + base + " (qcow2)\n");
  EXPECT_EQ(xs_read(backend(id) + "/params"), s2);
  // s2, the active one: a commit into the base.
  Result d2 = pvctl({"disk", "snapshot-delete", "sd", "xvda", "s2"});
  ASSERT_EQ(d2.exit_code, 0) << d2.err << slurp(state_ + "/pv-backd.log");
  EXPECT_EQ(d2.out, "sd xvda: snapshot s2 deleted, now writes to " + base + "\n");
  EXPECT_FALSE(std::filesystem::exists(s2));
  EXPECT_EQ(pvctl({"disk", "snapshot-list", "sd", "xvda"}).out, base + " (qcow2, active)\n");
  Result bottom = pvctl({"disk", "snapshot-delete", "sd", "xvda", "s2"});
  EXPECT_NE(bottom.err.find("has no snapshot s2"), std::string::npos) << bottom.err;
  EXPECT_EQ(count(id, "BLKIO DONE"), 0u) << "the deletes were not done before the guest's last read";
  // The first snapshot's name (and file) may be taken again.
  Result again = pvctl({"disk", "snapshot", "sd", "xvda", "s1"});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_EQ(xs_read(backend(id) + "/params"), s1);

  const std::string out = wait_blkio(id, 60s);
  EXPECT_NE(out.find("BLKIO verify ok sectors=12288"), std::string::npos) << out;
  EXPECT_NE(out.find("BLKIO DONE cmds=4 failed=0"), std::string::npos) << out;
  EXPECT_EQ(stat(id, "errors"), 0u);
  std::smatch m;
  const std::string log = slurp(state_ + "/pv-backd.log");
  ASSERT_TRUE(std::regex_search(log, m, std::regex("queues paused ([0-9]+) us to reopen"))) << log;
  std::fprintf(stderr, "measured: queues paused %s us to drop s1 from under s2\n", m[1].str().c_str());
  destroy_and_release("sd", s1);
  EXPECT_EQ(qemu_check(base), "");
  EXPECT_EQ(qemu_compare(base, "qcow2", reference(12288, 5, 16), "raw"), "");
}

TEST_F(DiskCommit, RefusedWhereItWouldLoseOrChangeData) {
  const std::string rawdisk = raw("plain", 8), lone = qcow2("lone", "8M");
  const std::string tbase = qcow2("tbase", "8M"), over = qcow2("over", "8M", tbase, "qcow2");
  ASSERT_EQ(qemu_img({"convert", "-O", "raw", tbase, dir_ + "/tbase.raw"}).exit_code, 0);
  ASSERT_EQ(::chmod(tbase.c_str(), 0444), 0);  // as a template's base
  const std::string disks = "disk = ['format=raw, vdev=xvda, access=rw, target=" + rawdisk +
                            "', 'format=qcow2, vdev=xvdb, access=rw, target=" + lone +
                            "', 'format=qcow2, vdev=xvdc, access=rw, target=" + over + "']\n";
  const uint32_t id = create("rf", "blkio=write,seq,bs=64k,bytes=1m,seed=9,verify idle", disks);
  ASSERT_NE(wait_blkio(id).find("BLKIO DONE cmds=1 failed=0"), std::string::npos);
  auto refused = [&](const std::vector<std::string>& args, const std::string& want) {
    Result r = pvctl(args);
    EXPECT_NE(r.exit_code, 0) << r.out;
    EXPECT_NE(r.err.find(want), std::string::npos) << r.err;
  };
  refused({"disk", "commit", "rf", "xvda"}, "cannot commit disk xvda: " + rawdisk + " is a raw image, not an overlay");
  refused({"disk", "commit", "rf", "xvdb"}, lone + " has no backing file: there is nothing to merge it into");
  refused({"disk", "commit", "rf", "xvdc"}, "the base " + tbase + " is read-only (mode 0444");
  refused({"disk", "commit", "rf", "xvdz"}, "has no disk xvdz");
  refused({"disk", "commit", "nosuch", "xvda"}, "no domain named 'nosuch'");
  refused({"disk", "commit", dir_ + "/missing.qcow2"}, "missing.qcow2");
  EXPECT_EQ(xs_read("/local/domain/0/backend/vbd/" + std::to_string(id) + "/51744/params"), over);
  EXPECT_TRUE(std::filesystem::exists(over));
  EXPECT_EQ(qemu_compare(tbase, "qcow2", dir_ + "/tbase.raw", "raw"), "");

  // Once the base may be written: the live commit, the overlay kept.
  ASSERT_EQ(::chmod(tbase.c_str(), 0644), 0);
  Result keep = pvctl({"disk", "commit", "rf", "xvdc", "--keep-overlay"});
  ASSERT_EQ(keep.exit_code, 0) << keep.err;
  EXPECT_EQ(keep.out, "rf xvdc: overlay merged, now writes to " + tbase + "\n");
  EXPECT_EQ(xs_read("/local/domain/0/backend/vbd/" + std::to_string(id) + "/51744/params"), tbase);
  EXPECT_TRUE(std::filesystem::exists(over));
  destroy_and_release("rf", tbase);
  EXPECT_EQ(qemu_check(tbase), "");

  // The offline form: qemu-img commit's result.
  const std::string top = qcow2("top", "8M", tbase, "qcow2");
  ASSERT_EQ(qemu_img({"convert", "-O", "raw", tbase, dir_ + "/tbase.raw"}).exit_code, 0);
  Result w = run({"/usr/bin/env", "qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 1m 3m", "-c", "write -z 6m 64k", top}, 30s);
  ASSERT_EQ(w.exit_code, 0) << w.out << w.err;
  ASSERT_EQ(qemu_img({"convert", "-O", "raw", top, dir_ + "/top.raw"}).exit_code, 0);
  EXPECT_NE(qemu_compare(tbase, "qcow2", dir_ + "/top.raw", "raw"), "");
  Result off = pvctl({"disk", "commit", top});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_NE(off.out.find("committed " + top + " into " + tbase + " (qcow2)"), std::string::npos) << off.out;
  EXPECT_EQ(qemu_check(tbase), "");
  EXPECT_EQ(qemu_compare(tbase, "qcow2", dir_ + "/top.raw", "raw"), "");
}

TEST_F(DiskCommit, DomainDestroyedDuringTheCopyLosesNothing) {
  const std::string base = qcow2("base", "64M"), overlay = dir_ + "/base.s1.qcow2";
  on_overlay_with_data("dd", base, 3, 16);
  ASSERT_FALSE(HasFailure());
  const pid_t backd = backd_pid();
  // At 1 MiB/s the copy takes about 17 s: the domain goes in the middle of it.
  Result c;
  std::thread t([&] { c = pvctl({"disk", "commit", "dd", "xvda", "--speed", "1m"}); });
  EXPECT_TRUE(eventually([&] { return slurp(state_ + "/pv-backd.log").find("commit: copying") != std::string::npos; }, 10s));
  std::this_thread::sleep_for(2s);
  destroy_and_release("dd", overlay);
  t.join();
  EXPECT_NE(c.exit_code, 0) << c.out;
  EXPECT_NE(c.err.find("the domain went away during the commit"), std::string::npos) << c.err;
  EXPECT_EQ(backd_pid(), backd);
  EXPECT_EQ(::kill(backd, 0), 0) << "pv-backd is gone";
  EXPECT_FALSE(backd_has_open(base));
  // The overlay over the base is the whole disk still; the base holds a
  // part of it, clean.
  ASSERT_TRUE(std::filesystem::exists(overlay));
  EXPECT_EQ(qemu_check(overlay), "");
  EXPECT_EQ(qemu_check(base), "");
  const std::string ref = reference(2048 + 32768, 3, 64);
  EXPECT_EQ(qemu_compare(overlay, "qcow2", ref, "raw"), "");
  // And the commit finishes offline.
  Result off = pvctl({"disk", "commit", overlay});
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_EQ(qemu_check(base), "");
  EXPECT_EQ(qemu_compare(base, "qcow2", ref, "raw"), "");
}

TEST_F(DiskCommit, UnderWayWhenPvdRestartsIsRecordedWhenItEnds) {
  const std::string base = qcow2("base", "64M"), overlay = dir_ + "/base.s1.qcow2";
  on_overlay_with_data("pa", base, 4, 8);
  ASSERT_FALSE(HasFailure());
  // At 2 MiB/s the copy takes about 4 s; pvd is killed in the middle.
  Result c;
  std::thread t([&] { c = pvctl({"disk", "commit", "pa", "xvda", "--speed", "2m"}); });
  EXPECT_TRUE(eventually([&] { return slurp(state_ + "/pv-backd.log").find("commit: copying") != std::string::npos; }, 10s));
  pvd_.reset();  // SIGKILL
  t.join();
  EXPECT_NE(c.exit_code, 0);
  // (pv-backd's devices wait for xenstored, which is pvd's, to pivot.)
  std::this_thread::sleep_for(1s);
  start_pvd();
  ASSERT_TRUE(eventually([&] { return slurp(state_ + "/pv-backd.log").find("commit: now serving") != std::string::npos; }, 30s))
      << slurp(state_ + "/pv-backd.log");
  EXPECT_TRUE(eventually([&] { return pvctl({"info", "pa"}).out.find("disk xvda: " + base + ", qcow2, rw") != std::string::npos; }, 10s))
      << pvctl({"info", "pa"}).out << slurp(state_ + "/pvd.log");
  EXPECT_FALSE(std::filesystem::exists(overlay));
  destroy_and_release("pa", base);
  EXPECT_EQ(qemu_check(base), "");
  EXPECT_EQ(qemu_compare(base, "qcow2", reference(2048 + 16384, 4, 64), "raw"), "");
}

}  // namespace
