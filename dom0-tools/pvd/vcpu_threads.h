// The vCPUs of a running domain as the host sees them: pv-hv runs each
// vCPU on a thread of its own named "vcpuN" (hv/cpu/vcpu.cpp), so pvd finds
// them under /proc/PID/task, reads their state, CPU and CPU time there, and
// pins them with sched_setaffinity, as `xl vcpu-list` / `xl vcpu-pin` do
// with Xen's scheduler.
#pragma once
#include <sched.h>
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pv::pvd {

struct VcpuThread {
  uint32_t vcpu = 0;
  pid_t tid = 0;
  char state = '?';        // xl's: 'r' running (or runnable), 'b' blocked, 'p' paused (stopped)
  int cpu = -1;            // the host CPU it last ran on
  double cpu_seconds = 0;  // user + system time
  std::vector<int> affinity;  // host CPUs it may run on
};

// Every vCPU thread of process `pid`, by vCPU number ([] when it is gone).
std::vector<VcpuThread> vcpu_threads(pid_t pid);

// A host CPU list as xl takes it: "all", "3", "0-3,6", "0-7,^2" (a '^'
// range is taken out); each CPU below `ncpus`. nullopt, and why in
// `*why`, when it is not one.
std::optional<std::vector<int>> parse_cpu_list(const std::string& text, int ncpus, std::string* why);
// "0-3,6" (compressed ranges), as xl prints an affinity; "all" when every
// one of `ncpus` is in it.
std::string format_cpu_list(const std::vector<int>& cpus, int ncpus);

// Pins thread `tid` to `cpus`. 0 or an errno.
int pin_thread(pid_t tid, const std::vector<int>& cpus);

}  // namespace pv::pvd
