// Helpers for the disk image tests: a temporary directory, running QEMU's
// tools, and driving a DiskImage the way blkback's queue does (map, then
// pread/pwrite on the runs, read_sync for kCopy, fdatasync + flush()).
#pragma once
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "disk/disk_image.h"
#include "pv/unique_fd.h"

namespace disktest {

using pv::disk::DiskImage;
using pv::disk::ImageRun;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/var/tmp/disk-test.XXXXXX";
    if (!::mkdtemp(tmpl)) std::abort();
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct CommandResult {
  int status = -1;  // exit code, or -1
  std::string output;
};

// Runs a shell command (stderr folded into the output).
inline CommandResult run(const std::string& cmd) {
  CommandResult r;
  FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
  const int st = ::pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

inline bool have_qemu_img() { return run("qemu-img --version").status == 0 && run("qemu-io --version").status == 0; }

#define SKIP_WITHOUT_QEMU_IMG() \
  if (!::disktest::have_qemu_img()) GTEST_SKIP() << "qemu-img/qemu-io not installed (Debian package qemu-utils)"

inline void qemu(const std::string& cmd) {
  auto r = run(cmd);
  ASSERT_EQ(r.status, 0) << cmd << "\n" << r.output;
}

// Bytes that say where they are: every 8 bytes hold (offset ^ salt).
inline void fill_pattern(uint8_t* p, size_t n, uint64_t off, uint64_t salt) {
  for (size_t i = 0; i < n; i++) {
    const uint64_t at = off + i, word = (at / 8) * 0x9e3779b97f4a7c15ull ^ salt;
    p[i] = uint8_t(word >> ((at % 8) * 8));
  }
}
inline std::vector<uint8_t> pattern(size_t n, uint64_t off, uint64_t salt) {
  std::vector<uint8_t> v(n);
  fill_pattern(v.data(), n, off, salt);
  return v;
}

// What blkback's queue does with a write: map, then write each run.
inline int image_write(DiskImage& img, uint64_t off, const uint8_t* data, uint64_t len) {
  std::vector<ImageRun> runs;
  if (int r = img.map_write(off, len, runs)) return r;
  uint64_t done = 0;
  for (const auto& run : runs) {
    if (run.kind != ImageRun::Kind::kFile) return -EPROTO;
    if (::pwrite(run.file->buffered_fd(), data + done, run.bytes, off_t(run.file_offset)) != ssize_t(run.bytes)) return -EIO;
    done += run.bytes;
  }
  return done == len ? 0 : -EPROTO;
}
inline int image_write(DiskImage& img, uint64_t off, const std::vector<uint8_t>& data) {
  return image_write(img, off, data.data(), data.size());
}

// ... and with a read: kFile runs read from their file, kZero zeros, kCopy
// through read_sync.
inline int image_read(DiskImage& img, uint64_t off, uint8_t* out, uint64_t len) {
  std::vector<ImageRun> runs;
  if (int r = img.map_read(off, len, runs)) return r;
  uint64_t done = 0;
  for (const auto& run : runs) {
    switch (run.kind) {
      case ImageRun::Kind::kFile: {
        const ssize_t n = ::pread(run.file->buffered_fd(), out + done, run.bytes, off_t(run.file_offset));
        if (n != ssize_t(run.bytes)) return -EIO;
        break;
      }
      case ImageRun::Kind::kZero:
        std::memset(out + done, 0, run.bytes);
        break;
      case ImageRun::Kind::kCopy: {
        iovec iov{out + done, run.bytes};
        if (int r = img.read_sync(off + done, run.bytes, &iov, 1)) return r;
        break;
      }
    }
    done += run.bytes;
  }
  return done == len ? 0 : -EPROTO;
}
inline std::vector<uint8_t> image_read(DiskImage& img, uint64_t off, uint64_t len) {
  std::vector<uint8_t> v(len);
  EXPECT_EQ(image_read(img, off, v.data(), len), 0) << "read at " << off;
  return v;
}

// A guest flush: the data first, then the image's metadata.
inline int image_flush(DiskImage& img) {
  if (::fdatasync(img.file().buffered_fd()) != 0) return -errno;
  return img.flush();
}

// A plain file of `bytes` bytes (the raw reference the tests compare with).
class RawFile {
 public:
  RawFile(const std::string& path, uint64_t bytes) : path_(path) {
    fd_.reset(::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    EXPECT_TRUE(bool(fd_));
    EXPECT_EQ(::ftruncate(fd_.get(), off_t(bytes)), 0);
  }
  void write(uint64_t off, const std::vector<uint8_t>& d) { ASSERT_EQ(::pwrite(fd_.get(), d.data(), d.size(), off_t(off)), ssize_t(d.size())); }
  void zero(uint64_t off, uint64_t len) { write(off, std::vector<uint8_t>(len, 0)); }
  std::vector<uint8_t> read(uint64_t off, uint64_t len) const {
    std::vector<uint8_t> v(len);
    EXPECT_EQ(::pread(fd_.get(), v.data(), len, off_t(off)), ssize_t(len));
    return v;
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  pv::UniqueFd fd_;
};

// `qemu-img check` output, and whether it found corruption (exit 2) or
// only leaks (3).
inline CommandResult qemu_check(const std::string& path) { return run("qemu-img check -f qcow2 '" + path + "'"); }

}  // namespace disktest
