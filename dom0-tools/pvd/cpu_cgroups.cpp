#include "cpu_cgroups.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <vector>

#include "pv/error.h"
#include "pv/files.h"

namespace pv::pvd {
namespace {

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) out.push_back(part);
  return out;
}

bool has_word(const std::string& text, const std::string& word) {
  std::istringstream in(text);
  std::string w;
  while (in >> w)
    if (w == word) return true;
  return false;
}

void make_dir(const std::string& path) {
  if (::mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) throw_errno("cannot create cgroup " + path);
}

}  // namespace

std::string check_cpu_share(const CpuShare& s, uint32_t vcpus) {
  if (s.weight < 1 || s.weight > kMaxCreditWeight)
    return "weight " + std::to_string(s.weight) + " is out of range (1-" + std::to_string(kMaxCreditWeight) + ")";
  if (s.cap_percent > 100 * std::max<uint32_t>(vcpus, 1))
    return "cap " + std::to_string(s.cap_percent) + "% is more than the domain's " + std::to_string(vcpus) +
           " vCPU(s) can use (at most " + std::to_string(100 * std::max<uint32_t>(vcpus, 1)) + ")";
  return "";
}

uint32_t v2_cpu_weight(uint32_t w) {
  const uint64_t v = (uint64_t(w) * 100 + kDefaultCreditWeight / 2) / kDefaultCreditWeight;
  return uint32_t(std::clamp<uint64_t>(v, 1, 10000));
}

uint32_t v1_cpu_shares(uint32_t w) { return uint32_t(std::clamp<uint64_t>(uint64_t(w) * 4, 2, 262144)); }

std::string v2_cpu_max(uint32_t cap) {
  const std::string period = std::to_string(kCfsPeriodUs);
  if (cap == 0) return "max " + period;
  return std::to_string(uint64_t(cap) * kCfsPeriodUs / 100) + " " + period;
}

std::unique_ptr<CpuCgroups> CpuCgroups::find(const std::string& slice, std::string* why) {
  std::ifstream in("/proc/self/mountinfo");
  std::string line, v1_mount, v2_mount;
  while (std::getline(in, line)) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
    const size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream head(line.substr(0, dash)), tail(line.substr(dash + 3));
    std::string id, parent, dev, root, mountpoint, fstype, source, superopts;
    head >> id >> parent >> dev >> root >> mountpoint;
    tail >> fstype >> source >> superopts;
    if (fstype == "cgroup2" && v2_mount.empty()) {
      if (has_word(read_file(mountpoint + "/cgroup.controllers"), "cpu"))
        v2_mount = mountpoint;
    } else if (fstype == "cgroup" && v1_mount.empty()) {
      const auto opts = split(superopts, ',');
      if (std::find(opts.begin(), opts.end(), "cpu") != opts.end()) v1_mount = mountpoint;
    }
  }
  try {
    if (!v2_mount.empty()) return std::make_unique<CpuCgroups>(v2_mount, 2, slice);
    if (!v1_mount.empty()) return std::make_unique<CpuCgroups>(v1_mount, 1, slice);
    if (why) *why = "no cgroup hierarchy with the cpu controller is mounted";
  } catch (const std::exception& e) {
    if (why) *why = e.what();
  }
  return nullptr;
}

CpuCgroups::CpuCgroups(std::string mount, int version, const std::string& slice)
    : mount_(std::move(mount)), version_(version), slice_dir_(mount_ + "/" + slice) {
  if (slice.empty() || slice.find('/') != std::string::npos || slice == "." || slice == "..")
    throw UserError("cgroup slice '" + slice + "' is not a directory name");
}

// Made with the first domain, so a pvd that runs none leaves nothing.
void CpuCgroups::make_slice() {
  // v2 hands a controller to children only when the parent enables it.
  if (version_ == 2) write(mount_ + "/cgroup.subtree_control", "+cpu");
  make_dir(slice_dir_);
  if (version_ == 2) write(slice_dir_ + "/cgroup.subtree_control", "+cpu");
}

CpuCgroups::~CpuCgroups() { ::rmdir(slice_dir_.c_str()); }  // only if empty: other pvds' groups stay

std::string CpuCgroups::dir(uint32_t domid) const { return slice_dir_ + "/dom" + std::to_string(domid); }

void CpuCgroups::write(const std::string& file, const std::string& value) const {
  std::ofstream f(file);
  f << value;
  f.flush();
  if (!f) throw SystemError("cannot write '" + value + "' to " + file, errno ? errno : EIO);
}

void CpuCgroups::apply(uint32_t domid, const CpuShare& s) {
  const std::string d = dir(domid);
  if (version_ == 2) {
    write(d + "/cpu.weight", std::to_string(v2_cpu_weight(s.weight)));
    write(d + "/cpu.max", v2_cpu_max(s.cap_percent));
  } else {
    write(d + "/cpu.shares", std::to_string(v1_cpu_shares(s.weight)));
    write(d + "/cpu.cfs_period_us", std::to_string(kCfsPeriodUs));
    write(d + "/cpu.cfs_quota_us", s.cap_percent ? std::to_string(uint64_t(s.cap_percent) * kCfsPeriodUs / 100) : "-1");
  }
}

void CpuCgroups::place(uint32_t domid, pid_t pid, const CpuShare& s) {
  make_slice();
  make_dir(dir(domid));
  apply(domid, s);
  // cgroup.procs moves the whole thread group (every vCPU thread).
  write(dir(domid) + "/cgroup.procs", std::to_string(pid));
}

bool CpuCgroups::remove(uint32_t domid) {
  return ::rmdir(dir(domid).c_str()) == 0 || errno == ENOENT;
}

}  // namespace pv::pvd
