// Initial vCPU register state: the PVH entry state for the boot vCPU, and
// the state VCPUOP_initialise asks for on a secondary vCPU (validated).
#pragma once
#include <linux/kvm.h>

#include <cstdint>
#include <optional>
#include <string>

#include <xen/hvm.h>

namespace pv {

struct CpuState {
  kvm_regs regs{};
  kvm_sregs sregs{};
};

// 32-bit protected mode, paging off, flat segments, %ebx = start info.
// `base` is the vCPU's current sregs (keeps KVM's APIC base and the like).
CpuState pvh_entry_state(const kvm_sregs& base, uint32_t entry, uint32_t start_info);

// From a guest-supplied vcpu_hvm_context. Returns nullopt (with `why`) when
// the context asks for something invalid: the caller answers -EINVAL.
std::optional<CpuState> hvm_context_state(const kvm_sregs& base, const xen::hvm::vcpu_hvm_context& ctx,
                                          uint64_t ram_bytes, std::string& why);

}  // namespace pv
