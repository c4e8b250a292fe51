// Virtual disks end to end (issue 5): a real pvd with its pv-backd, real
// domains (the reference guest's blkfront and its `blkio=` / `blkhostile`
// modes) and raw image files in the test's temporary directory.
//
// The data pattern is the guest's (guest-kernel-patches/pvguest/blkio.cpp):
// 512-byte sector s holds 64 little-endian words, word w =
// s * 0x9E3779B97F4A7C15 + seed + w (mod 2^64).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "pvd_fixture.h"

namespace {

using namespace pvtest;

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;
constexpr uint32_t kXvda = 51712;  // vdev xvda

std::vector<uint8_t> pattern(uint64_t sector, uint64_t nsectors, uint64_t seed) {
  std::vector<uint8_t> v(nsectors * 512);
  for (uint64_t s = 0; s < nsectors; s++)
    for (unsigned w = 0; w < 64; w++) {
      const uint64_t x = (sector + s) * kGolden + seed + w;
      std::memcpy(&v[s * 512 + w * 8], &x, 8);
    }
  return v;
}

std::vector<uint8_t> read_image(const std::string& path, uint64_t sector, uint64_t nsectors) {
  std::vector<uint8_t> v(nsectors * 512);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  EXPECT_GE(fd, 0) << path;
  if (fd >= 0) {
    EXPECT_EQ(::pread(fd, v.data(), v.size(), off_t(sector * 512)), ssize_t(v.size()));
    ::close(fd);
  }
  return v;
}

void write_image(const std::string& path, uint64_t sector, const std::vector<uint8_t>& data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::pwrite(fd, data.data(), data.size(), off_t(sector * 512)), ssize_t(data.size()));
  ::fsync(fd);
  ::close(fd);
}

// "" when the image holds `seed`'s pattern on [sector, sector + n), else
// where it does not.
std::string check_pattern(const std::string& path, uint64_t sector, uint64_t n, uint64_t seed) {
  const auto got = read_image(path, sector, n), want = pattern(sector, n, seed);
  for (uint64_t s = 0; s < n; s++)
    if (std::memcmp(&got[s * 512], &want[s * 512], 512) != 0)
      return "sector " + std::to_string(sector + s) + " does not hold the pattern (seed " + std::to_string(seed) + ")";
  return "";
}

bool all_zero(const std::vector<uint8_t>& v) {
  for (uint8_t b : v)
    if (b) return false;
  return true;
}

uint64_t allocated_bytes(const std::string& path) {
  struct stat st{};
  ::stat(path.c_str(), &st);
  return uint64_t(st.st_blocks) * 512;
}

class Blk : public PvdFixture {
 protected:
  Blk() { vcpus_ = 2; }

  // A sparse raw image of `mib` MiB in the test directory.
  std::string image(const std::string& name, uint64_t mib) {
    const std::string path = dir_ + "/" + name + ".img";
    std::ofstream(path).close();
    fs::resize_file(path, mib << 20);
    return path;
  }

  static std::string disk(const std::string& path, const std::string& access = "rw") {
    return "disk = ['format=raw, vdev=xvda, access=" + access + ", target=" + path + "']\n";
  }


  std::string backend(uint32_t domid) {
    return "/local/domain/0/backend/vbd/" + std::to_string(domid) + "/" + std::to_string(kXvda);
  }
  // A blkback counter of the domain's xvda (statistics/, refreshed every 500 ms).
  uint64_t stat(uint32_t domid, const std::string& key) {
    const std::string v = xs_read(backend(domid) + "/statistics/" + key);
    return v.empty() ? 0 : std::stoull(v);
  }
  bool stat_reaches(uint32_t domid, const std::string& key, uint64_t at_least, std::chrono::milliseconds t = 10s) {
    return eventually([&] { return stat(domid, key) >= at_least; }, t);
  }

  pid_t backd_pid() {
    std::ifstream f(state_ + "/pv-backd.pid");
    pid_t pid = -1;
    f >> pid;
    return pid;
  }

  // Waits for the guest's blkio to finish; returns its console.
  std::string wait_blkio(uint32_t domid, std::chrono::milliseconds timeout = 90s) {
    EXPECT_TRUE(console_has(domid, "BLKIO DONE", timeout)) << console(domid) << slurp(state_ + "/pv-backd.log");
    return console(domid);
  }
};

// The guest writes a pattern; the host finds exactly it, and nothing else.
TEST_F(Blk, GuestWritesHostReadsSameBytes) {
  const std::string img = image("gw", 16);
  const uint32_t id = create("gw", "blkio=write,seq,bs=64k,start=2048,bytes=2m,qd=4,pattern,seed=5,flush idle", disk(img));
  const std::string out = wait_blkio(id);
  EXPECT_NE(out.find("BLKIO DONE cmds=1 failed=0"), std::string::npos) << out;
  EXPECT_NE(out.find("BLKIO flush ok"), std::string::npos) << out;
  EXPECT_EQ(check_pattern(img, 2048, 4096, 5), "");
  EXPECT_TRUE(all_zero(read_image(img, 0, 2048))) << "sectors before the written range changed";
  EXPECT_TRUE(all_zero(read_image(img, 6144, 2048))) << "sectors after the written range changed";
  EXPECT_TRUE(stat_reaches(id, "sectors_written", 4096));
  EXPECT_GE(stat(id, "flushes"), 1u);
  EXPECT_EQ(stat(id, "errors"), 0u);
}

// The host writes a pattern; the guest reads it back sequentially (large,
// indirect requests) and at random (4 KiB, queue depth 16).
TEST_F(Blk, HostWritesGuestReadsSameBytes) {
  const std::string img = image("hw", 16);
  write_image(img, 0, pattern(0, 8192, 11));
  const uint32_t id = create("hw",
                             "blkio=read,seq,bs=128k,bytes=4m,qd=4,verify,seed=11;"
                             "read,rand,bs=4k,qd=16,count=300,range=8192,verify,seed=11 idle",
                             disk(img));
  const std::string out = wait_blkio(id);
  EXPECT_NE(out.find("BLKIO DONE cmds=2 failed=0"), std::string::npos) << out;
  size_t oks = 0;
  for (size_t at = out.find("BLKIO verify ok"); at != std::string::npos; at = out.find("BLKIO verify ok", at + 1)) oks++;
  EXPECT_EQ(oks, 2u) << out;
  EXPECT_GE(stat(id, "indirect"), 1u);  // 128 KiB = 32 segments: indirect requests
  EXPECT_EQ(stat(id, "errors"), 0u);
  // Indirect requests are answered with their inner operation, as Linux's
  // blkfront requires (the guest's blkfront reports anything else).
  EXPECT_EQ(out.find("back-end answers indirect requests"), std::string::npos) << out;
  EXPECT_EQ(out.find("has operation"), std::string::npos) << out;
}

// A flush the guest saw acknowledged is durable: pv-backd is SIGKILLed the
// moment the guest prints that, and the image holds every byte written
// before it.
TEST_F(Blk, AcknowledgedFlushSurvivesBackdKill) {
  const std::string img = image("fl", 16);
  const pid_t backd = backd_pid();
  ASSERT_GT(backd, 0);
  const uint32_t id = create("fl", "blkio=write,seq,bs=64k,start=4096,bytes=1m,qd=8,pattern,seed=21,flush idle", disk(img));
  // Poll fast: the kill should follow the acknowledgement closely.
  const auto end = std::chrono::steady_clock::now() + 90s;
  while (console(id).find("BLKIO flush ok") == std::string::npos && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(1ms);
  ASSERT_NE(console(id).find("BLKIO flush ok"), std::string::npos) << console(id);
  ASSERT_EQ(::kill(backd, SIGKILL), 0);
  EXPECT_EQ(check_pattern(img, 4096, 2048, 21), "");
  // The guest prints its summary just after the flush line.
  EXPECT_TRUE(console_has(id, "BLKIO DONE cmds=1 failed=0", 20s)) << console(id);
  // pvd starts a new pv-backd, which serves the device again.
  EXPECT_TRUE(eventually([&] {
    const pid_t now = backd_pid();
    return now > 0 && now != backd && alive(now);
  }));
}

// Discard punches holes: the image's allocated blocks shrink and the
// discarded range reads zeros; data outside it stays.
TEST_F(Blk, DiscardShrinksTheImage) {
  const std::string img = image("dc", 32);
  const uint32_t id = create("dc",
                             "blkio=info;write,seq,bs=256k,bytes=4m,qd=4,pattern,seed=4;"
                             "write,seq,bs=256k,start=16384,bytes=1m,pattern,seed=4,flush;"
                             "discard=0:8192,flush idle",
                             disk(img));
  const std::string out = wait_blkio(id);
  EXPECT_NE(out.find("BLKIO DONE cmds=4 failed=0"), std::string::npos) << out;
  EXPECT_NE(out.find("discard=1 discard-granularity="), std::string::npos) << out;
  EXPECT_NE(out.find("BLKIO discard ok start=0 sectors=8192"), std::string::npos) << out;
  // 5 MiB were written, 4 MiB of it discarded.
  EXPECT_LT(allocated_bytes(img), uint64_t(3) << 20) << "the discard left the blocks allocated";
  EXPECT_TRUE(all_zero(read_image(img, 0, 8192)));
  EXPECT_EQ(check_pattern(img, 16384, 2048, 4), "");
  EXPECT_TRUE(stat_reaches(id, "sectors_discarded", 8192));
}

// access=ro: the back-end opens the image read-only, says so (info), and
// refuses the writes a hostile guest forges; reads work; the image is
// unchanged.
TEST_F(Blk, ReadOnlyDiskRefusesWrites) {
  const std::string img = image("ro", 8);
  write_image(img, 0, pattern(0, 2048, 13));
  const auto before = read_image(img, 0, 16384);
  const uint32_t id = create("ro", "blkio=info;read,seq,bs=64k,bytes=1m,verify,seed=13 blkhostile idle", disk(img, "ro"));
  ASSERT_TRUE(console_has(id, "BLKHOSTILE done", 90s)) << console(id);
  const std::string out = console(id);
  EXPECT_NE(out.find(" ro=1 "), std::string::npos) << out;
  EXPECT_NE(out.find("discard=0"), std::string::npos) << out;
  EXPECT_NE(out.find("BLKIO verify ok"), std::string::npos) << out;
  EXPECT_NE(out.find("BLKHOSTILE write_readonly_disk ok"), std::string::npos) << out;
  EXPECT_NE(out.find("fail=0"), std::string::npos) << out;
  EXPECT_EQ(read_image(img, 0, 16384), before);
  EXPECT_EQ(xs_read(backend(id) + "/info"), "4");  // VDISK_READONLY
  EXPECT_TRUE(stat_reaches(id, "err_read_only", 1));
}

// The guest's forged requests all fail, the broken ring disconnects only
// that device, pv-backd lives on and another domain's disk keeps working.
TEST_F(Blk, HostileGuestHurtsOnlyItself) {
  const std::string bad = image("bad", 8), good = image("good", 16);
  const pid_t backd = backd_pid();
  const uint32_t g = create("good", "blkio=write,seq,bs=64k,bytes=2m,qd=4,pattern,seed=8,verify idle", disk(good));
  const uint32_t h = create("bad", "blkhostile idle", disk(bad));
  ASSERT_TRUE(console_has(h, "BLKHOSTILE done", 90s)) << console(h);
  const std::string out = console(h);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(out, m, std::regex("BLKHOSTILE done pass=([0-9]+) fail=([0-9]+)"))) << out;
  EXPECT_EQ(m[2], "0") << out;
  EXPECT_GE(std::stoi(m[1]), 20) << out;
  EXPECT_NE(out.find("BLKHOSTILE broken_ring_disconnects ok"), std::string::npos) << out;
  EXPECT_NE(out.find("BLKHOSTILE ballooned_frame_gref ok"), std::string::npos) << out;  // a grant of a ballooned-out frame is refused
  const std::string gout = wait_blkio(g);
  EXPECT_NE(gout.find("BLKIO verify ok"), std::string::npos) << gout;
  EXPECT_NE(gout.find("BLKIO DONE cmds=1 failed=0"), std::string::npos) << gout;
  EXPECT_EQ(check_pattern(good, 0, 4096, 8), "");
  EXPECT_EQ(backd_pid(), backd);
  EXPECT_TRUE(alive(backd)) << "pv-backd died";
  EXPECT_EQ(xs_read(backend(g) + "/state"), "4");
  const std::string hs = xs_read(backend(h) + "/state");
  EXPECT_TRUE(hs == "5" || hs == "6") << "hostile device's back-end state " << hs;
  EXPECT_TRUE(stat_reaches(h, "ring_broken", 1));
  EXPECT_GE(stat(h, "errors"), 15u);
}

// Two domains writing and verifying at the same time, each on its disk.
TEST_F(Blk, TwoDomainsAtOnce) {
  const std::string a = image("a", 16), b = image("b", 16);
  const uint32_t ia = create("a", "blkio=write,rand,bs=16k,qd=8,count=128,range=4096,pattern,seed=41,verify;"
                                  "write,seq,bs=128k,start=8192,bytes=2m,qd=4,pattern,seed=42,verify idle", disk(a));
  const uint32_t ib = create("b", "blkio=write,rand,bs=16k,qd=8,count=128,range=4096,pattern,seed=51,verify;"
                                  "write,seq,bs=128k,start=8192,bytes=2m,qd=4,pattern,seed=52,verify idle", disk(b));
  const std::string oa = wait_blkio(ia), ob = wait_blkio(ib);
  EXPECT_NE(oa.find("BLKIO DONE cmds=2 failed=0"), std::string::npos) << oa;
  EXPECT_NE(ob.find("BLKIO DONE cmds=2 failed=0"), std::string::npos) << ob;
  EXPECT_EQ(check_pattern(a, 8192, 4096, 42), "");
  EXPECT_EQ(check_pattern(b, 8192, 4096, 52), "");
  // The random phase wrote some blocks of [0, 4096); each holds its own pattern.
  for (const auto& [img, seed] : {std::pair{a, 41}, std::pair{b, 51}}) {
    const auto data = read_image(img, 0, 4096);
    unsigned written = 0;
    for (uint64_t blk = 0; blk < 4096 / 32; blk++) {
      if (all_zero(std::vector<uint8_t>(data.begin() + blk * 16384, data.begin() + (blk + 1) * 16384))) continue;
      written++;
      EXPECT_EQ(check_pattern(img, blk * 32, 32, seed), "") << img;
    }
    EXPECT_GT(written, 20u) << img;
  }
}

// Bad front-end keys (written here as dom0, standing in for a broken or
// hostile front-end; the guest itself never touches the vbd) fail the
// connection with a reason in the back-end's `error` key; the device comes
// back to InitWait when the front-end starts over, and pv-backd lives on.
TEST_F(Blk, BadFrontendKeysFailTheConnectionWithAReason) {
  const std::string img = image("fe", 8);
  const pid_t backd = backd_pid();
  const uint32_t id = create("fe", "watchdog=3600", disk(img));
  const std::string be = backend(id), fe = "/local/domain/" + std::to_string(id) + "/device/vbd/51712";
  ASSERT_TRUE(eventually([&] { return xs_read(be + "/state") == "2"; })) << "back-end never reached InitWait";
  EXPECT_EQ(xs_read(be + "/feature-max-indirect-segments"), "256");
  EXPECT_EQ(xs_read(be + "/max-ring-page-order"), "4");
  EXPECT_EQ(xs_read(be + "/multi-queue-max-queues"), "4");
  EXPECT_EQ(xs_read(be + "/sectors"), "16384");

  struct Case {
    std::vector<std::pair<std::string, std::string>> keys;  // written before state=3
    std::vector<std::string> removed;
    std::string error;  // expected in the back-end's error key
  };
  const std::vector<Case> cases = {
      {{{"ring-page-order", "9"}, {"ring-ref0", "8"}, {"event-channel", "5"}}, {}, "ring-page-order 9 is above"},
      {{{"protocol", "arm-abi"}, {"ring-ref", "8"}, {"event-channel", "5"}}, {"ring-page-order"}, "protocol 'arm-abi'"},
      {{{"protocol", "x86_64-abi"}, {"ring-ref", "99999"}, {"event-channel", "5"}}, {}, "ring-ref 99999"},
      {{{"ring-ref", "junk"}, {"event-channel", "5"}}, {}, "is not a number"},
      {{{"ring-ref", "8"}, {"event-channel", "5"}, {"multi-queue-num-queues", "9"}}, {}, "multi-queue-num-queues 9"},
      {{{"event-channel", "0"}}, {"multi-queue-num-queues"}, "event-channel 0 is not a port"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.error);
    for (const auto& k : c.removed) xs("rm", {fe + "/" + k});
    for (const auto& [k, v] : c.keys) ASSERT_EQ(xs("write", {fe + "/" + k, v}).exit_code, 0);
    ASSERT_EQ(xs("write", {fe + "/state", "3"}).exit_code, 0);  // Initialised
    EXPECT_TRUE(eventually([&] { return xs_read(be + "/state") == "5"; })) << xs_read(be + "/state");
    EXPECT_NE(xs_read(be + "/error").find(c.error), std::string::npos) << xs_read(be + "/error");
    // The front-end starts over: the back-end waits for it again.
    ASSERT_EQ(xs("write", {fe + "/state", "1"}).exit_code, 0);
    EXPECT_TRUE(eventually([&] { return xs_read(be + "/state") == "2"; })) << xs_read(be + "/state");
  }
  EXPECT_EQ(backd_pid(), backd);
  EXPECT_TRUE(alive(backd));
}

// pv-backd dies in the middle of the guest's I/O: pvd restarts it, the
// guest's blkfront reconnects and re-issues what was in flight, and what it
// wrote reads back intact.
TEST_F(Blk, BackdKilledMidIoRestartsAndGuestCarriesOn) {
  const std::string img = image("rs", 16);
  const pid_t backd = backd_pid();
  const uint32_t id = create("rs", "blkio=write,seq,bs=64k,bytes=6m,qd=4,pattern,seed=31,verify idle", disk(img));
  // Mid-write: some requests served, far from all.
  ASSERT_TRUE(stat_reaches(id, "writes", 8, 60s)) << console(id);
  ASSERT_LT(stat(id, "writes"), 90u) << "the write phase ended before the kill";
  ASSERT_EQ(::kill(backd, SIGKILL), 0);
  const std::string out = wait_blkio(id);
  EXPECT_NE(out.find("BLKIO DONE cmds=1 failed=0"), std::string::npos) << out;
  EXPECT_NE(out.find("BLKIO verify ok"), std::string::npos) << out;
  EXPECT_NE(out.find("reconnected"), std::string::npos) << out;
  EXPECT_EQ(check_pattern(img, 0, 12288, 31), "");
  const pid_t now = backd_pid();
  EXPECT_NE(now, backd);
  EXPECT_TRUE(alive(now));
  EXPECT_EQ(xs_read(backend(id) + "/state"), "4");
}

}  // namespace
