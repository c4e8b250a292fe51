// Xen's CPUID leaves (public/arch-x86/cpuid.h) and the hypercall MSR.
#pragma once
#include "xen.h"

namespace xen::cpuid {

// Xen leaves start at the first free 0x100-aligned base from 0x40000000.
inline constexpr uint32_t kFirstLeaf = 0x40000000;
inline constexpr uint32_t kLastBase = 0x40010000;
inline constexpr uint32_t SIGNATURE_EBX = 0x566e6558;  // "XenV"
inline constexpr uint32_t SIGNATURE_ECX = 0x65584d4d;  // "MMXe"
inline constexpr uint32_t SIGNATURE_EDX = 0x4d4d566e;  // "nVMM"
// Leaves relative to the base:
//  +0 eax = highest leaf, ebx:ecx:edx = signature
//  +1 eax = version (major << 16 | minor)
//  +2 eax = number of hypercall pages (1), ebx = hypercall MSR index
//  +3 time leaf (sub-leaves; zero = no TSC information)
//  +4 HVM features: eax flags, ebx = vcpu id, ecx = domid
inline constexpr uint32_t kNumLeaves = 5;
inline constexpr uint32_t XEN_HVM_CPUID_APIC_ACCESS_VIRT = 1u << 0;
inline constexpr uint32_t XEN_HVM_CPUID_X2APIC_VIRT = 1u << 1;
inline constexpr uint32_t XEN_HVM_CPUID_IOMMU_MAPPINGS = 1u << 2;
inline constexpr uint32_t XEN_HVM_CPUID_VCPU_ID_PRESENT = 1u << 3;
inline constexpr uint32_t XEN_HVM_CPUID_DOMID_PRESENT = 1u << 4;
// HVMOP_set_evtchn_upcall_vector is available.
inline constexpr uint32_t XEN_HVM_CPUID_UPCALL_VECTOR = 1u << 6;

// Writing gpa|page_index to this MSR asks for the hypercall page at gpa.
inline constexpr uint32_t kHypercallMsr = 0x40000000;

}  // namespace xen::cpuid

// ---- Xen's spellings (public/arch-x86/cpuid.h); see xen.h ----
namespace xen {
inline constexpr uint32_t XEN_CPUID_FIRST_LEAF = cpuid::kFirstLeaf;
inline constexpr uint32_t XEN_CPUID_SIGNATURE_EBX = cpuid::SIGNATURE_EBX;
inline constexpr uint32_t XEN_CPUID_SIGNATURE_ECX = cpuid::SIGNATURE_ECX;
inline constexpr uint32_t XEN_CPUID_SIGNATURE_EDX = cpuid::SIGNATURE_EDX;
inline constexpr uint32_t XEN_CPUID_MAX_NUM_LEAVES = cpuid::kNumLeaves;
using cpuid::XEN_HVM_CPUID_APIC_ACCESS_VIRT;
using cpuid::XEN_HVM_CPUID_X2APIC_VIRT;
using cpuid::XEN_HVM_CPUID_IOMMU_MAPPINGS;
using cpuid::XEN_HVM_CPUID_VCPU_ID_PRESENT;
using cpuid::XEN_HVM_CPUID_DOMID_PRESENT;
inline constexpr uint32_t XEN_HVM_CPUID_EXT_DEST_ID = 1u << 5;
using cpuid::XEN_HVM_CPUID_UPCALL_VECTOR;
}  // namespace xen
