// Host-side I/O errors are logged, rate-limited, with the device's name:
// RateLimitedLog on its own (a fake clock), and BlkQueue against backing
// stores that fail: an image that shrank under the disk (end of file) and
// an image on a full file system (ENOSPC; a 256 KiB tmpfs mounted in a
// child's own mount namespace, gone with the child).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/wait.h>

#include <cstring>

#include "common/rate_limited_log.h"
#include "fake_guest.h"

namespace blktest {
namespace {

using pv::backd::RateLimitedLog;
using namespace std::chrono_literals;

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) n++;
  return n;
}

class FakeClock {
 public:
  RateLimitedLog::Clock::time_point now() const { return t_; }
  void advance(std::chrono::milliseconds d) { t_ += d; }
  std::function<RateLimitedLog::Clock::time_point()> fn() {
    return [this] { return now(); };
  }

 private:
  RateLimitedLog::Clock::time_point t_{std::chrono::hours(1)};
};

TEST(RateLimitedLog, FirstBurstInFullThenOneSummaryPerInterval) {
  FakeClock clock;
  RateLimitedLog log("vbd 3/51712", "I/O errors", {3, 10s, clock.fn()});
  testing::internal::CaptureStderr();
  for (int i = 0; i < 10; i++) log.report("write failed #" + std::to_string(i));
  clock.advance(5s);
  log.tick();  // the interval is not over: nothing yet
  const std::string burst = testing::internal::GetCapturedStderr();
  EXPECT_EQ(count(burst, "vbd 3/51712: write failed #"), 3u) << burst;
  EXPECT_NE(burst.find("write failed #2"), std::string::npos) << burst;
  EXPECT_EQ(burst.find("write failed #3"), std::string::npos) << burst;
  EXPECT_EQ(count(burst, "further I/O errors are counted, one line every 10 s"), 1u) << burst;
  EXPECT_EQ(burst.find("more I/O errors"), std::string::npos) << burst;

  testing::internal::CaptureStderr();
  clock.advance(5s);
  log.tick();  // the interval is over: one summary with the count and the last one
  log.tick();
  const std::string summary = testing::internal::GetCapturedStderr();
  EXPECT_EQ(count(summary, "\n"), 1u) << summary;
  EXPECT_NE(summary.find("error: vbd 3/51712: 7 more I/O errors in the last 10 s (last: write failed #9)"),
            std::string::npos)
      << summary;

  testing::internal::CaptureStderr();
  clock.advance(1s);
  log.report("write failed again");  // a new interval: in full again
  log.flush();                       // nothing suppressed: no summary
  const std::string again = testing::internal::GetCapturedStderr();
  EXPECT_NE(again.find("error: vbd 3/51712: write failed again"), std::string::npos) << again;
  EXPECT_EQ(count(again, "\n"), 1u) << again;
  EXPECT_EQ(log.total(), 11u);
}

TEST(RateLimitedLog, ContinuousErrorsGiveOneSummaryPerInterval) {
  FakeClock clock;
  RateLimitedLog log("vif 1/0", "errors", {1, 1000ms, clock.fn()});
  testing::internal::CaptureStderr();
  for (int i = 0; i < 50; i++) {  // 10 per second for 5 seconds
    log.report("e" + std::to_string(i));
    clock.advance(100ms);
  }
  log.flush();
  const std::string out = testing::internal::GetCapturedStderr();
  // Each second: its first report in full, the other 9 in one summary.
  EXPECT_EQ(count(out, "vif 1/0: e"), 5u) << out;
  EXPECT_EQ(count(out, "9 more errors in the last 1 s"), 5u) << out;
}

class IoErrorTest : public ::testing::Test {
 protected:
  static constexpr unsigned kPages = 11;
  void grant_data(FakeGuest& g) {
    for (unsigned i = 0; i < kPages; i++) g.grant(100 + i, kDataGfn + i);
  }
};

// The image shrank to 1 MiB under a 4 MiB disk: reads past its end fail
// (end of file), each is answered with an error and counted; the log has
// the first two in full, then one summary.
TEST_F(IoErrorTest, ShrunkImageIsLoggedOnceThenRateLimited) {
  TempDisk disk;
  RateLimitedLog log("vbd 9/51712", "I/O errors", {2, std::chrono::hours(1), {}});
  FakeGuest g;
  g.io_errors = &log;
  Limits l;
  l.disk_sectors = kDiskSectors;
  g.start(std::make_shared<HostFile>(disk.path(), false), l);
  grant_data(g);
  ASSERT_EQ(::truncate(disk.path().c_str(), 1 << 20), 0);
  testing::internal::CaptureStderr();
  for (unsigned i = 0; i < 20; i++)
    EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_READ, i, 4096, kPages, 100)).status, B::BLKIF_RSP_ERROR);
  EXPECT_EQ(g.run(rw_request(B::BLKIF_OP_READ, 99, 0, kPages, 100)).status, B::BLKIF_RSP_OKAY);  // inside: fine
  g.stop();
  log.flush();
  const std::string out = testing::internal::GetCapturedStderr();
  const std::string line = "error: vbd 9/51712: read of 88 sectors at sector 4096 failed: end of file";
  EXPECT_EQ(count(out, line), 2u) << out;
  EXPECT_NE(out.find("(" + disk.path() + ")"), std::string::npos) << out;
  EXPECT_EQ(count(out, "18 more I/O errors"), 1u) << out;
  EXPECT_EQ(g.stats.fault_count(Fault::kIoError), 20u);
  EXPECT_EQ(log.total(), 20u);
}

// Runs `body` in a child process with a private mount namespace and a
// 256 KiB tmpfs at `mnt`; returns the child's exit status (77: no mount
// namespace here) and its stderr in `err`.
int in_small_tmpfs(const std::string& mnt, const std::function<int()>& body, std::string& err) {
  int pipefd[2];
  if (::pipe2(pipefd, O_CLOEXEC) != 0) return -1;
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(pipefd[1], STDERR_FILENO);
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
        ::mount("tmpfs", mnt.c_str(), "tmpfs", 0, "size=256k") != 0)
      ::_exit(77);
    ::_exit(body());
  }
  ::close(pipefd[1]);
  char buf[4096];
  for (ssize_t n; (n = ::read(pipefd[0], buf, sizeof buf)) > 0;) err.append(buf, size_t(n));
  ::close(pipefd[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// A sparse 4 MiB image on a 256 KiB file system: writes fail with ENOSPC
// once it is full; the guest gets errors, the log says which device, what
// and why (the child reports through its exit status and stderr).
TEST_F(IoErrorTest, FullFileSystemIsLoggedWithTheDevice) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (a tmpfs in a mount namespace)";
  char tmpl[] = "/tmp/blkback-enospc.XXXXXX";
  ASSERT_NE(::mkdtemp(tmpl), nullptr);
  const std::string mnt = tmpl;
  std::string err;
  const int rc = in_small_tmpfs(mnt, [&] {
    const std::string img = mnt + "/disk.img";
    {
      pv::UniqueFd fd(::open(img.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
      if (!fd || ::ftruncate(fd.get(), off_t(kDiskBytes)) != 0) return 2;
    }
    RateLimitedLog log("vbd 4/51728", "I/O errors", {3, std::chrono::hours(1), {}});
    unsigned errors = 0;
    {
      FakeGuest g;
      g.io_errors = &log;
      Limits l;
      l.disk_sectors = kDiskSectors;
      g.start(std::make_shared<HostFile>(img, false), l);
      grant_data(g);
      // 40 x 44 KiB = 1.7 MiB into 256 KiB.
      for (unsigned i = 0; i < 40; i++)
        if (g.run(rw_request(B::BLKIF_OP_WRITE, i, i * 88, kPages, 100)).status == B::BLKIF_RSP_ERROR) errors++;
    }
    log.flush();
    return errors >= 30 && log.total() == errors ? 0 : 1;
  }, err);
  ::rmdir(mnt.c_str());
  if (rc == 77) GTEST_SKIP() << "no mount namespace here";
  EXPECT_EQ(rc, 0) << err;
  EXPECT_EQ(count(err, "failed: No space left on device (" + mnt + "/disk.img)\n"), 3u) << err;
  EXPECT_EQ(count(err, "error: vbd 4/51728: write of 88 sectors at sector "), 3u) << err;
  EXPECT_EQ(count(err, "more I/O errors"), 1u) << err;
}

}  // namespace
}  // namespace blktest
