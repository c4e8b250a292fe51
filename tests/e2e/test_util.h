// Small helpers every end-to-end fixture uses: reading files (including
// /proc files of processes that may exit meanwhile), telling whether a
// process still runs, and waiting for a condition.
#pragma once
#include <signal.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace pvtest {

using namespace std::chrono_literals;

// "" when the file cannot be read; /proc files of a process that exits
// while being read fail half-way (ESRCH), which is not an error here.
inline std::string slurp(const std::string& path) {
  try {
    std::ifstream f(path);
    return std::string((std::istreambuf_iterator<char>(f)), {});
  } catch (const std::exception&) {
    return "";
  }
}

// Running (a zombie waiting for its reaper counts as gone: a process whose
// parent was killed is reaped by init, a moment after it exits).
inline bool alive(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] != 'Z';
}

// The mount points of every cgroup hierarchy (v1 and v2), from mountinfo.
inline std::vector<std::string> cgroup_mounts() {
  std::vector<std::string> out;
  std::ifstream in("/proc/self/mountinfo");
  for (std::string line; std::getline(in, line);) {
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream head(line.substr(0, dash)), tail(line.substr(dash + 3));
    std::string id, parent, dev, root, mountpoint, fstype;
    head >> id >> parent >> dev >> root >> mountpoint;
    tail >> fstype;
    if (fstype == "cgroup" || fstype == "cgroup2") out.push_back(mountpoint);
  }
  return out;
}

// Removes a pvd's cgroup slice (pvd --cgroup-slice), its per-domain
// groups first, from every mounted cgroup hierarchy: a pvd killed by a
// test cannot remove it itself. A group still holds a killed process
// until the process is reaped (by init, a moment later): tried again for up
// to 3 s; one holding a live process stays.
inline void remove_cgroup_slice(const std::string& slice) {
  for (const std::string& mountpoint : cgroup_mounts()) {
    const std::string dir = mountpoint + "/" + slice;
    for (int attempt = 0; attempt < 60 && std::filesystem::exists(dir); attempt++) {
      std::error_code ec;
      for (const auto& e : std::filesystem::directory_iterator(dir, ec))
        if (e.is_directory()) ::rmdir(e.path().c_str());
      if (::rmdir(dir.c_str()) == 0) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

template <typename Pred>
bool eventually(Pred p, std::chrono::milliseconds timeout = 20s) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (p()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return p();
}

// What the host holds for a pv-hv, measured from /proc (not from our own
// counters): its VmRSS, and the allocated blocks (st_blocks * 512) of its
// guest-RAM memfd "pv-guest-ram", reached through /proc/PID/fd. -1 when
// not found.
struct HostMemory {
  int64_t rss = -1;
  int64_t memfd_bytes = -1;
};
inline HostMemory host_memory(pid_t pid) {
  HostMemory m;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmRSS:", 0) == 0) m.rss = std::stoll(line.substr(6)) * 1024;
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code lec;
    if (std::filesystem::read_symlink(e.path(), lec).string().rfind("/memfd:pv-guest-ram", 0) != 0) continue;
    struct stat st{};
    if (::stat(e.path().c_str(), &st) == 0) m.memfd_bytes = static_cast<int64_t>(st.st_blocks) * 512;
  }
  return m;
}

}  // namespace pvtest
