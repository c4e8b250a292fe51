// The CPUID a domain sees: what KVM supports, with the hypervisor leaves
// replaced by Xen's (signature, version, hypercall MSR, HVM features).
#pragma once
#include <linux/kvm.h>

#include <cstdint>
#include <vector>

#include <xen/xen.h>

namespace pv {

std::vector<kvm_cpuid_entry2> domain_cpuid(const std::vector<kvm_cpuid_entry2>& supported, uint32_t vcpu_id,
                                           xen::domid_t domid);

}  // namespace pv
