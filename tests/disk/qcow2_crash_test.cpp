// Crash consistency: a child process writes, discards and flushes through
// Qcow2Image in epochs, telling the parent after each completed flush; the
// parent SIGKILLs it at a random point (often inside map_write or flush),
// then `qemu-img check` must find no corruption (leaked clusters are
// allowed) and every block must read back as of the last acknowledged
// flush, or as a later write the child may have done before it died.
// In the `publish` mode the child acknowledges each write as blkback does
// (publish_written, no flush): a kill of the process then loses none of
// them, since what was published is in the file's page cache.
#include <signal.h>
#include <sys/wait.h>

#include <map>
#include <poll.h>
#include <set>

#include "disk/qcow2/qcow2_image.h"
#include "disk_test_util.h"

namespace disktest {
namespace {

using pv::disk::Qcow2Image;

constexpr uint64_t kBlock = 4096, kDiskBytes = 16 << 20, kBlocks = kDiskBytes / kBlock, kCluster = 65536;

struct Op {
  uint64_t block = 0, count = 0;
  bool discard = false;
};

// The operations of epoch `e` (the same in child and parent).
std::vector<Op> epoch_ops(uint64_t seed, uint64_t e) {
  std::mt19937_64 rng(seed * 7919 + e);
  std::vector<Op> ops(4 + rng() % 12);
  for (auto& op : ops) {
    if (rng() % 8 == 0) {
      op.discard = true;
      op.count = kCluster / kBlock * (1 + rng() % 3);
      op.block = (rng() % (kBlocks / (kCluster / kBlock) - 3)) * (kCluster / kBlock);
    } else {
      op.count = 1 + rng() % 8;
      op.block = rng() % (kBlocks - op.count);
    }
  }
  return ops;
}

// Block contents are identified by a salt: 0 = as initially (zeros or the
// backing file), ~0 = discarded (zeros), else epoch << 16 | op + 1.
uint64_t salt_of(uint64_t e, size_t i) { return e << 16 | (i + 1); }
constexpr uint64_t kInitial = 0, kDiscarded = ~uint64_t(0);

enum class Ack { kFlush, kPublish };

[[noreturn]] void child(const std::string& img, uint64_t seed, int ack_fd, Ack mode) {
  try {
    Qcow2Image q(img, false);
    for (uint64_t e = 1;; e++) {
      auto ops = epoch_ops(seed, e);
      for (size_t i = 0; i < ops.size(); i++) {
        const auto& op = ops[i];
        if (op.discard && mode == Ack::kPublish) continue;  // a discard is advisory until a flush
        if (op.discard) {
          if (q.discard(op.block * kBlock, op.count * kBlock) != 0) ::_exit(2);
          continue;
        }
        std::vector<uint8_t> d(op.count * kBlock);
        for (uint64_t b = 0; b < op.count; b++) fill_pattern(&d[b * kBlock], kBlock, (op.block + b) * kBlock, salt_of(e, i));
        if (image_write(q, op.block * kBlock, d) != 0) ::_exit(3);
        if (mode == Ack::kPublish) {
          if (q.publish_written({{op.block * kBlock, op.count * kBlock}}) != 0) ::_exit(7);
          const uint64_t acked = salt_of(e, i);
          if (::write(ack_fd, &acked, sizeof acked) != sizeof acked) ::_exit(5);
        }
      }
      if (mode == Ack::kPublish) continue;
      if (image_flush(q) != 0) ::_exit(4);
      if (::write(ack_fd, &e, sizeof e) != sizeof e) ::_exit(5);
    }
  } catch (...) {
    ::_exit(6);
  }
}

void crash_round(bool with_backing, uint64_t seed, Ack mode = Ack::kFlush) {
  TempDir dir;
  const auto img = dir.file("crash.qcow2");
  std::vector<uint8_t> base;
  if (with_backing) {
    RawFile raw(dir.file("base.raw"), kDiskBytes);
    base = pattern(kDiskBytes, 0, 0x5eed);
    raw.write(0, base);
    qemu("qemu-img create -q -f qcow2 -b base.raw -F raw '" + img + "'");
  } else {
    qemu("qemu-img create -q -f qcow2 '" + img + "' " + std::to_string(kDiskBytes));
  }
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::close(fds[0]);
    child(img, seed, fds[1], mode);
  }
  ::close(fds[1]);
  pv::UniqueFd acks(fds[0]);
  std::mt19937_64 rng(seed);
  const uint64_t wait_acks = 1 + rng() % 6;
  uint64_t acked = 0;
  for (uint64_t got = 0; got < wait_acks;) {
    pollfd p{acks.get(), POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 10000), 1) << "no flush acknowledged";
    uint64_t e = 0;
    ASSERT_EQ(::read(acks.get(), &e, sizeof e), ssize_t(sizeof e)) << "child died";
    acked = e;
    got++;
  }
  ::usleep(useconds_t(rng() % 4000));
  ::kill(pid, SIGKILL);
  int st = 0;
  ASSERT_EQ(::waitpid(pid, &st, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(st)) << "child exited with " << WEXITSTATUS(st);
  // Acks written just before the kill.
  for (uint64_t e = 0; ::read(acks.get(), &e, sizeof e) == ssize_t(sizeof e);) acked = e;

  auto check = qemu_check(img);
  EXPECT_TRUE(check.status == 0 || check.status == 3) << "qemu-img check after the crash (seed " << seed << "):\n" << check.output;

  // The state every block must have: as of `acked` (an epoch flushed, or
  // in the publish mode the salt of the last write published), or any
  // later value.
  std::vector<uint64_t> as_acked(kBlocks, kInitial);
  std::vector<std::set<uint64_t>> later(kBlocks);
  const uint64_t last_epoch = mode == Ack::kPublish ? acked >> 16 : acked;
  bool past = false;
  for (uint64_t e = 1; e <= last_epoch + 2; e++) {
    auto ops = epoch_ops(seed, e);
    for (size_t i = 0; i < ops.size(); i++) {
      if (mode == Ack::kPublish && ops[i].discard) continue;
      const uint64_t s = ops[i].discard ? kDiscarded : salt_of(e, i);
      const bool done = mode == Ack::kPublish ? !past : e <= acked;
      for (uint64_t b = ops[i].block; b < ops[i].block + ops[i].count; b++) {
        if (done) as_acked[b] = s;
        else later[b].insert(s);
      }
      if (mode == Ack::kPublish && s == acked) past = true;
    }
  }
  Qcow2Image q(img, true);
  std::vector<uint8_t> got(kBlock), want(kBlock);
  unsigned bad = 0;
  for (uint64_t b = 0; b < kBlocks && bad < 5; b++) {
    ASSERT_EQ(image_read(q, b * kBlock, got.data(), kBlock), 0);
    auto matches = [&](uint64_t s) {
      if (s == kDiscarded) want.assign(kBlock, 0);
      else if (s == kInitial) want = with_backing ? std::vector<uint8_t>(base.begin() + b * kBlock, base.begin() + (b + 1) * kBlock) : std::vector<uint8_t>(kBlock, 0);
      else fill_pattern(want.data(), kBlock, b * kBlock, s);
      return got == want;
    };
    bool ok = matches(as_acked[b]);
    for (uint64_t s : later[b]) ok = ok || matches(s);
    if (!ok) {
      bad++;
      ADD_FAILURE() << "block " << b << " lost its acknowledged contents (salt " << as_acked[b] << ", acked " << acked << ", seed " << seed << ")";
    }
  }
  // The crashed image takes writes again (past clusters a crash left
  // reserved at its end), and stays consistent.
  {
    Qcow2Image w(img, false);
    for (uint64_t b = 0; b < kBlocks; b += 97) {
      fill_pattern(want.data(), kBlock, b * kBlock, 0xfeed);
      ASSERT_EQ(image_write(w, b * kBlock, want), 0);
    }
    ASSERT_EQ(image_flush(w), 0);
    for (uint64_t b = 0; b < kBlocks; b += 97) {
      fill_pattern(want.data(), kBlock, b * kBlock, 0xfeed);
      ASSERT_EQ(image_read(w, b * kBlock, kBlock), want);
    }
  }
  check = qemu_check(img);
  EXPECT_TRUE(check.status == 0 || check.status == 3) << "qemu-img check after writing again (seed " << seed << "):\n" << check.output;
}

TEST(Qcow2Crash, KilledWritersLeaveConsistentImages) {
  SKIP_WITHOUT_QEMU_IMG();
  for (uint64_t seed = 1; seed <= 8; seed++) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    crash_round(false, seed);
    if (HasFatalFailure()) return;
  }
}

TEST(Qcow2Crash, KilledWritersOverABackingFile) {
  SKIP_WITHOUT_QEMU_IMG();
  for (uint64_t seed = 101; seed <= 106; seed++) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    crash_round(true, seed);
    if (HasFatalFailure()) return;
  }
}

// As blkback acknowledges writes: each published, none flushed; a kill
// (not a host crash: the page cache survives it) loses none of them.
TEST(Qcow2Crash, KilledWritersLoseNoPublishedWrite) {
  SKIP_WITHOUT_QEMU_IMG();
  for (uint64_t seed = 201; seed <= 208; seed++) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    crash_round(false, seed, Ack::kPublish);
    if (HasFatalFailure()) return;
  }
}

TEST(Qcow2Crash, KilledWritersLoseNoPublishedWriteOverABackingFile) {
  SKIP_WITHOUT_QEMU_IMG();
  for (uint64_t seed = 301; seed <= 306; seed++) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    crash_round(true, seed, Ack::kPublish);
    if (HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace disktest
