// A domain's share of the host's CPUs in the Xen credit scheduler's terms
// (`xl sched-credit`: a weight 1-65535, default 256, and a cap in percent
// of one CPU, 0 for none), enforced by the kernel's group scheduling: one
// cgroup per domain, "<slice>/dom<domid>", under the cpu controller's
// hierarchy, holding the domain's pv-hv and so every vCPU thread of it.
//
// cgroup v2 (cpu.weight, cpu.max) where the unified hierarchy has the cpu
// controller; otherwise the v1 cpu controller (cpu.shares,
// cpu.cfs_quota_us), as on hosts that still mount it (these build machines
// do). The weight is scaled so that Xen's default 256 is the kernel's
// default (v2 cpu.weight 100, v1 cpu.shares 1024); the ratios between
// domains are what count, and they are kept.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <string>

namespace pv::pvd {

inline constexpr uint32_t kDefaultCreditWeight = 256;  // Xen's default
inline constexpr uint32_t kMaxCreditWeight = 65535;
inline constexpr uint64_t kCfsPeriodUs = 100000;  // the period a cap is a share of

struct CpuShare {
  uint32_t weight = kDefaultCreditWeight;  // 1-65535
  uint32_t cap_percent = 0;                // of one CPU; 0: no cap; may exceed 100 (several vCPUs)
  bool operator==(const CpuShare&) const = default;
};

// Empty if `s` is a share pvd can apply to a domain of `vcpus` vCPUs, else
// why not (as xl says it).
std::string check_cpu_share(const CpuShare& s, uint32_t vcpus);

// What the kernel files get for a share.
uint32_t v2_cpu_weight(uint32_t credit_weight);  // 1-10000
uint32_t v1_cpu_shares(uint32_t credit_weight);  // 2-262144
// cpu.max's text ("max 100000" or "<quota> 100000").
std::string v2_cpu_max(uint32_t cap_percent);

class CpuCgroups {
 public:
  // The host's cpu controller, v2 first, with pvd's groups under `slice`
  // (a directory name, e.g. "pvd.slice"). Null when there is none usable,
  // and why in `*why`.
  static std::unique_ptr<CpuCgroups> find(const std::string& slice, std::string* why);
  // A hierarchy mounted at `mount` (cgroup version 1 or 2); the slice is
  // made when the first domain is placed, and removed with this object
  // when no domain is left in it.
  CpuCgroups(std::string mount, int version, const std::string& slice);
  ~CpuCgroups();
  CpuCgroups(const CpuCgroups&) = delete;
  CpuCgroups& operator=(const CpuCgroups&) = delete;

  int version() const { return version_; }
  const std::string& slice_dir() const { return slice_dir_; }
  std::string dir(uint32_t domid) const;

  // Creates the domain's group (if it is not there) with `share`, and
  // moves `pid` (with all its threads) into it. Throws SystemError.
  void place(uint32_t domid, pid_t pid, const CpuShare& share);
  // Changes the share of an existing group. Throws SystemError.
  void apply(uint32_t domid, const CpuShare& share);
  // Removes the domain's group once its processes have gone (a group
  // still holding a process is left, and false returned).
  bool remove(uint32_t domid);

 private:
  void make_slice();
  void write(const std::string& file, const std::string& value) const;

  std::string mount_;
  int version_;
  std::string slice_dir_;
};

}  // namespace pv::pvd
