// A vCPU's KVM state for a save stream (docs/save-format.md, VcpuState):
// read from and written to KVM (the vCPU must not be in KVM_RUN), and
// converted to and from its record.
#pragma once
#include <linux/kvm.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "domain_state.pb.h"
#include "kvm/kvm.h"

namespace pv {

// The MSRs a 64-bit guest's state needs beyond sregs (EFER is in sregs):
// syscall entry, the swapped GS base, SYSENTER, PAT, TSC, TSC_AUX.
inline constexpr uint32_t kSavedMsrs[] = {0xc0000081, 0xc0000082, 0xc0000083, 0xc0000084, 0xc0000102, 0xc0000103,
                                          0x174,      0x175,      0x176,      0x277,      0x10};

struct KvmVcpuState {
  kvm_regs regs{};
  kvm_sregs sregs{};
  std::string xsave;  // kvm_xsave (KVM_GET_XSAVE), or empty
  std::string fpu;    // kvm_fpu, when there is no xsave
  std::vector<std::pair<uint32_t, uint64_t>> msrs;  // the kSavedMsrs KVM has
  uint32_t mp_state = KVM_MP_STATE_RUNNABLE;
  std::string events;  // kvm_vcpu_events
};

// KVM_GET_* of everything above; throws SystemError naming the ioctl.
KvmVcpuState capture_vcpu(const kvm::VcpuFd& fd);
// KVM_SET_* in the order KVM wants (sregs before regs, MSRs after sregs,
// events last).
void apply_vcpu(kvm::VcpuFd& fd, const KvmVcpuState& s);

// The record's KVM part (id, registers, blobs); the Xen part (up,
// vcpu_info, upcall vector) is the caller's.
void to_record(const KvmVcpuState& s, state::VcpuState& rec);
// From a record the stream reader checked; throws save::StreamError when a
// block is not the size this KVM uses.
KvmVcpuState from_record(const state::VcpuState& rec);

}  // namespace pv
