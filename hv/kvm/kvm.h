// Thin RAII wrappers over the KVM API: the system (/dev/kvm), one VM and
// its vCPU file descriptors. Every failing ioctl throws with its name.
#pragma once
#include <linux/kvm.h>
#include <signal.h>

#include <cstdint>
#include <vector>

#include "pv/mapping.h"
#include "pv/unique_fd.h"

namespace pv::kvm {

class System {
 public:
  System();  // opens /dev/kvm, checks the API version
  int fd() const { return fd_.get(); }
  int check(long cap) const;  // KVM_CHECK_EXTENSION, 0 when absent
  std::vector<kvm_cpuid_entry2> supported_cpuid() const;
  size_t vcpu_mmap_size() const;

 private:
  UniqueFd fd_;
};

class VcpuFd {
 public:
  VcpuFd(int fd, size_t mmap_size);
  int fd() const { return fd_.get(); }
  kvm_run* run() const { return reinterpret_cast<kvm_run*>(run_.data()); }

  // KVM_RUN; returns false on EINTR (a kick), throws on other errors.
  bool enter();
  kvm_regs regs() const;
  void set_regs(const kvm_regs& r);
  kvm_sregs sregs() const;
  void set_sregs(const kvm_sregs& s);
  void set_cpuid(const std::vector<kvm_cpuid_entry2>& entries);
  void inject_interrupt(uint32_t vector);
  void set_signal_mask(const sigset_t& mask);
  uint32_t tsc_khz() const;

 private:
  UniqueFd fd_;
  Mapping run_;
};

class Vm {
 public:
  explicit Vm(const System& sys);
  int fd() const { return fd_.get(); }
  // `flags`: KVM_MEM_* (KVM_MEM_LOG_DIRTY_PAGES: KVM logs the guest's writes).
  void set_memory(uint32_t slot, uint64_t gpa, uint64_t size, void* host, uint32_t flags = 0);
  // KVM_GET_DIRTY_LOG: the frames of `slot` the guest wrote since the last
  // call, one bit each, into `bitmap` (the slot's pages / 64 words, rounded
  // up); the log is cleared. The slot must log dirty pages.
  void get_dirty_log(uint32_t slot, uint64_t* bitmap);
  VcpuFd create_vcpu(uint32_t id);
  void enable_cap(uint32_t cap, uint64_t arg0);
  // Sends guest writes of `msr` to user space as KVM_EXIT_X86_WRMSR/RDMSR.
  void trap_msr(uint32_t msr);

 private:
  const System& sys_;
  UniqueFd fd_;
};

}  // namespace pv::kvm
