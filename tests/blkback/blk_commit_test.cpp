// BlkCommit (blkback/blk_commit.h) without a guest: writer threads write
// through the commit's tracker as the queues do (map_write, pwrite on the
// runs, written()) while the copy runs; once it is ready the writers stop
// (the queues' pause) and finish() copies the rest. The base then holds
// exactly what the overlay shows (qemu-img compare), and is clean.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "blkback/blk_commit.h"
#include "disk/image_commit.h"
#include "disk/open_disk_image.h"

namespace {

using pv::blkback::BlkCommit;

int sh(const std::string& cmd) {
  const int st = std::system((cmd + " >/dev/null 2>&1").c_str());
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

struct Dir {
  std::string path;
  Dir() {
    char t[] = "/var/tmp/blk-commit.XXXXXX";
    if (!::mkdtemp(t)) std::abort();
    path = t;
  }
  ~Dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

// One guest write as a queue does it.
int guest_write(pv::disk::DiskImage& img, uint64_t off, const std::vector<uint8_t>& data) {
  std::vector<pv::disk::ImageRun> runs;
  if (int r = img.map_write(off, data.size(), runs)) return r;
  uint64_t done = 0;
  for (const auto& run : runs) {
    if (::pwrite(run.file->buffered_fd(), data.data() + done, run.bytes, off_t(run.file_offset)) != ssize_t(run.bytes))
      return -EIO;
    done += run.bytes;
  }
  img.written(off, data.size());
  return 0;
}

TEST(BlkCommit, CopiesWhatTheGuestWritesDuringTheCopy) {
  if (sh("qemu-img --version") != 0) GTEST_SKIP() << "qemu-img not installed (qemu-utils)";
  Dir d;
  const std::string base = d.path + "/base.qcow2", top = d.path + "/top.qcow2";
  ASSERT_EQ(sh("qemu-img create -q -f qcow2 " + base + " 64M"), 0);
  ASSERT_EQ(sh("qemu-io -f qcow2 -c 'write -P 0xaa 0 32m' " + base), 0);
  ASSERT_EQ(sh("qemu-img create -q -f qcow2 -b " + base + " -F qcow2 " + top), 0);
  ASSERT_EQ(sh("qemu-io -f qcow2 -c 'write -P 0x11 0 16m' -c 'write -P 0x22 40m 8m' " + top), 0);

  auto overlay = std::shared_ptr<pv::disk::Qcow2Image>(new pv::disk::Qcow2Image(top, false));
  std::shared_ptr<pv::disk::DiskImage> target = pv::disk::open_commit_base(*overlay);
  std::mutex mu;
  std::condition_variable cv;
  bool ready = false;
  std::vector<std::string> lines;
  {  // the commit holds the base open (reserved clusters) until it goes
    BlkCommit c(
        overlay, target,
        [&] {
          std::lock_guard l(mu);
          ready = true;
          cv.notify_all();
        },
        [&](const std::string& s) {
          std::lock_guard l(mu);
          lines.push_back(s);
        });
    // Writers keep going over the whole disk (new clusters, clusters being
    // copied, partial clusters) until the copy is ready.
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> writes{0};
    std::vector<std::thread> writers;
    for (int w = 0; w < 2; w++)
      writers.emplace_back([&, w] {
        std::mt19937_64 rng(w + 7);
        while (!stop) {
          const uint64_t len = 512 * (1 + rng() % 256), off = (rng() % ((64u << 20) - len)) & ~uint64_t(511);
          ASSERT_EQ(guest_write(*c.tracked(), off, std::vector<uint8_t>(len, uint8_t(rng()))), 0);
          writes++;
        }
      });
    {
      std::unique_lock l(mu);
      ASSERT_TRUE(cv.wait_for(l, std::chrono::seconds(60), [&] { return ready; }));
  }
  stop = true;  // the queues' pause: nothing in flight from here on
  for (auto& t : writers) t.join();
  EXPECT_EQ(c.finish(), "");
  EXPECT_GT(writes.load(), 100u);
  EXPECT_GE(c.copied_bytes(), 24u << 20);
  }
  ASSERT_EQ(overlay->flush(), 0);
  target.reset();
  EXPECT_EQ(sh("qemu-img check -q -f qcow2 " + base), 0);
  // The base alone shows what the overlay shows.
  EXPECT_EQ(sh("qemu-img compare -q -f qcow2 -F qcow2 " + top + " " + base), 0);
  EXPECT_FALSE(lines.empty());
}

TEST(BlkCommit, WritesNotTrackedAreNotCopied) {
  // The test above can fail: the same writes without written() (or through
  // the overlay itself) leave the base behind.
  if (sh("qemu-img --version") != 0) GTEST_SKIP() << "qemu-img not installed (qemu-utils)";
  Dir d;
  const std::string base = d.path + "/base.qcow2", top = d.path + "/top.qcow2";
  ASSERT_EQ(sh("qemu-img create -q -f qcow2 " + base + " 8M"), 0);
  ASSERT_EQ(sh("qemu-img create -q -f qcow2 -b " + base + " -F qcow2 " + top), 0);
  auto overlay = std::shared_ptr<pv::disk::Qcow2Image>(new pv::disk::Qcow2Image(top, false));
  std::shared_ptr<pv::disk::DiskImage> target = pv::disk::open_commit_base(*overlay);
  std::atomic<bool> ready{false};
  BlkCommit c(overlay, target, [&] { ready = true; }, [](const std::string&) {});
  while (!ready) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(guest_write(*overlay, 1 << 20, std::vector<uint8_t>(4096, 0x5a)), 0);  // behind the tracker's back
  EXPECT_EQ(c.finish(), "");
  ASSERT_EQ(overlay->flush(), 0);
  EXPECT_NE(sh("qemu-img compare -q -f qcow2 -F qcow2 " + top + " " + base), 0);
}

}  // namespace
