// The storage tests' fixture (issue 14): a real pvd with its pv-backd, real
// domains running the reference guest's `blkio=` mode, images made by
// qemu-img and judged by qemu-img (check, compare), and the guest's data
// pattern (guest-kernel-patches/pvguest/blkio.cpp): 512-byte sector s holds
// 64 little-endian words, word w = s * 0x9E3779B97F4A7C15 + seed + w.
#pragma once
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "pvd_fixture.h"

namespace pvtest {

inline constexpr uint32_t kXvdaDevid = 51712;  // vdev xvda

inline std::vector<uint8_t> guest_pattern(uint64_t sector, uint64_t nsectors, uint64_t seed) {
  std::vector<uint8_t> v(nsectors * 512);
  for (uint64_t s = 0; s < nsectors; s++)
    for (unsigned w = 0; w < 64; w++) {
      const uint64_t x = (sector + s) * 0x9E3779B97F4A7C15ull + seed + w;
      std::memcpy(&v[s * 512 + w * 8], &x, 8);
    }
  return v;
}

inline void write_file_at(const std::string& path, uint64_t sector, const std::vector<uint8_t>& data) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(::pwrite(fd, data.data(), data.size(), off_t(sector * 512)), ssize_t(data.size()));
  ::fsync(fd);
  ::close(fd);
}

// "" when the raw file holds `seed`'s pattern on [sector, sector + n).
inline std::string check_guest_pattern(const std::string& path, uint64_t sector, uint64_t n, uint64_t seed) {
  std::vector<uint8_t> got(n * 512);
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "cannot open " + path;
  const ssize_t r = ::pread(fd, got.data(), got.size(), off_t(sector * 512));
  ::close(fd);
  if (r != ssize_t(got.size())) return "short read of " + path;
  const auto want = guest_pattern(sector, n, seed);
  for (uint64_t s = 0; s < n; s++)
    if (std::memcmp(&got[s * 512], &want[s * 512], 512) != 0)
      return "sector " + std::to_string(sector + s) + " does not hold the pattern (seed " + std::to_string(seed) + ")";
  return "";
}

class StorageFixture : public PvdFixture {
 protected:
  StorageFixture() { vcpus_ = 2; }

  void SetUp() override {
    if (run({"/usr/bin/env", "qemu-img", "--version"}, 10s).exit_code != 0)
      GTEST_SKIP() << "qemu-img is not installed (package qemu-utils)";
    PvdFixture::SetUp();
  }

  Result qemu_img(std::vector<std::string> args) {
    args.insert(args.begin(), {"/usr/bin/env", "qemu-img"});
    return run(args, 60s);
  }
  // qemu-img create -f qcow2 [-b BACKING -F FMT] PATH SIZE.
  std::string qcow2(const std::string& name, const std::string& size, const std::string& backing = "",
                    const std::string& backing_fmt = "raw") {
    const std::string path = dir_ + "/" + name + ".qcow2";
    std::vector<std::string> a = {"create", "-q", "-f", "qcow2"};
    if (!backing.empty()) a.insert(a.end(), {"-b", backing, "-F", backing_fmt});
    a.insert(a.end(), {path, size});
    Result r = qemu_img(a);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    return path;
  }
  // A sparse raw image of `mib` MiB.
  std::string raw(const std::string& name, uint64_t mib) {
    const std::string path = dir_ + "/" + name + ".img";
    std::ofstream(path).close();
    fs::resize_file(path, mib << 20);
    return path;
  }
  static std::string disk(const std::string& path, const std::string& format, const std::string& more = "") {
    return "disk = ['format=" + format + ", vdev=xvda, access=rw" + more + ", target=" + path + "']\n";
  }

  std::string backend(uint32_t domid) {
    return "/local/domain/0/backend/vbd/" + std::to_string(domid) + "/" + std::to_string(kXvdaDevid);
  }
  uint64_t stat(uint32_t domid, const std::string& key) {
    const std::string v = xs_read(backend(domid) + "/statistics/" + key);
    return v.empty() ? 0 : std::stoull(v);
  }
  pid_t backd_pid() {
    std::ifstream f(state_ + "/pv-backd.pid");
    pid_t pid = -1;
    f >> pid;
    return pid;
  }
  // Whether pv-backd holds `path` open.
  bool backd_has_open(const std::string& path) {
    const pid_t pid = backd_pid();
    std::error_code ec;
    const auto want = fs::canonical(path, ec);
    for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
      std::error_code ec2;
      if (fs::read_symlink(e.path(), ec2) == want) return true;
    }
    return false;
  }
  // Destroys a domain and waits until pv-backd closed `image` (so its
  // metadata is written and qemu-img may look at it).
  void destroy_and_release(const std::string& name, const std::string& image) {
    Result d = pvctl({"destroy", name});
    EXPECT_EQ(d.exit_code, 0) << d.out << d.err;
    EXPECT_TRUE(eventually([&] { return !backd_has_open(image); }, 20s)) << "pv-backd still holds " << image;
  }

  // The moment a statistics/ counter changes (pv-backd refreshes them about
  // every 500 ms while they move) and its new value: rates measured
  // between two such moments are not blurred by the refresh period.
  std::pair<std::chrono::steady_clock::time_point, uint64_t> next_stat(uint32_t domid, const std::string& key) {
    const uint64_t before = stat(domid, key);
    const auto end = std::chrono::steady_clock::now() + 5s;
    for (;;) {
      const uint64_t v = stat(domid, key);
      const auto t = std::chrono::steady_clock::now();
      if (v != before || t > end) return {t, v};
      std::this_thread::sleep_for(5ms);
    }
  }
  // The counter's rate per second over about `window`.
  double stat_rate(uint32_t domid, const std::string& key, std::chrono::milliseconds window) {
    const auto [t0, v0] = next_stat(domid, key);
    std::this_thread::sleep_for(window - 300ms);
    const auto [t1, v1] = next_stat(domid, key);
    const double s = std::chrono::duration<double>(t1 - t0).count();
    return s > 0 ? double(v1 - v0) / s : 0;
  }

  std::string wait_blkio(uint32_t domid, std::chrono::milliseconds timeout = 90s) {
    EXPECT_TRUE(console_has(domid, "BLKIO DONE", timeout)) << console(domid) << slurp(state_ + "/pv-backd.log");
    return console(domid);
  }

  // "" when qemu-img check finds the image clean (no errors, no leaks).
  std::string qemu_check(const std::string& path) {
    Result r = qemu_img({"check", path});
    if (r.exit_code != 0) return "qemu-img check " + path + " exits " + std::to_string(r.exit_code) + ": " + r.out + r.err;
    if (r.out.find("No errors were found") == std::string::npos) return "qemu-img check " + path + ": " + r.out;
    return "";
  }
  // "" when the two images hold the same guest-visible bytes.
  std::string qemu_compare(const std::string& a, const std::string& afmt, const std::string& b, const std::string& bfmt) {
    Result r = qemu_img({"compare", "-f", afmt, "-F", bfmt, a, b});
    if (r.exit_code != 0) return "qemu-img compare " + a + " " + b + ": " + r.out + r.err;
    return "";
  }
};

}  // namespace pvtest
