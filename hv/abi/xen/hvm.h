// HVM operations and parameters (public/hvm/hvm_op.h, public/hvm/params.h).
#pragma once
#include "xen.h"

namespace xen::hvm {

namespace op {
inline constexpr uint32_t set_param = 0;
inline constexpr uint32_t get_param = 1;
inline constexpr uint32_t pagetable_dying = 9;
inline constexpr uint32_t get_time = 10;
inline constexpr uint32_t set_evtchn_upcall_vector = 23;
}  // namespace op

// HVM_PARAM_*
namespace param {
inline constexpr uint32_t CALLBACK_IRQ = 0;
inline constexpr uint32_t STORE_PFN = 1;
inline constexpr uint32_t STORE_EVTCHN = 2;
inline constexpr uint32_t PAE_ENABLED = 4;
inline constexpr uint32_t IOREQ_PFN = 5;
inline constexpr uint32_t BUFIOREQ_PFN = 6;
inline constexpr uint32_t TIMER_MODE = 10;
inline constexpr uint32_t HPET_ENABLED = 11;
inline constexpr uint32_t IDENT_PT = 12;
inline constexpr uint32_t ACPI_S_STATE = 14;
inline constexpr uint32_t VM86_TSS = 15;
inline constexpr uint32_t VPT_ALIGN = 16;
inline constexpr uint32_t CONSOLE_PFN = 17;
inline constexpr uint32_t CONSOLE_EVTCHN = 18;
inline constexpr uint32_t NR = 39;  // HVM_NR_PARAMS
}  // namespace param

// HVM_PARAM_CALLBACK_IRQ value: bits 63:56 give the delivery type.
inline constexpr unsigned kCallbackTypeShift = 56;
inline constexpr uint64_t CALLBACK_TYPE_GSI = 0;
inline constexpr uint64_t CALLBACK_TYPE_PCI_INTX = 1;
inline constexpr uint64_t CALLBACK_TYPE_VECTOR = 2;
inline constexpr uint64_t kCallbackVectorMask = 0xff;

struct param_arg {  // xen_hvm_param
  domid_t domid;
  uint16_t pad;
  uint32_t index;
  uint64_t value;
};
static_assert(sizeof(param_arg) == 16);

struct evtchn_upcall_vector {  // xen_hvm_evtchn_upcall_vector
  uint32_t vcpu;
  uint8_t vector;
};
static_assert(sizeof(evtchn_upcall_vector) == 8);

// Register state for VCPUOP_initialise on an HVM/PVH vCPU (hvm/hvm_vcpu.h).
struct vcpu_hvm_x86_32 {
  uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
  uint32_t eip, eflags;
  uint32_t cr0, cr3, cr4;
  uint32_t pad1;
  uint64_t efer;
  uint32_t cs_base, ds_base, ss_base, es_base, tr_base;
  uint32_t cs_limit, ds_limit, ss_limit, es_limit, tr_limit;
  // Attribute layout: type[3:0] s[4] dpl[6:5] p[7] avl[8] l[9] db[10] g[11]
  uint16_t cs_ar, ds_ar, ss_ar, es_ar, tr_ar;
  uint16_t pad2[3];
};
static_assert(sizeof(vcpu_hvm_x86_32) == 120);  // Xen's layout: 114 bytes of fields + pad2[3]

struct vcpu_hvm_x86_64 {
  uint64_t rax, rcx, rdx, rbx, rsp, rbp, rsi, rdi;
  uint64_t rip, rflags;
  uint64_t cr0, cr3, cr4, efer;
  // Segments are set to flat 64-bit code / data.
};
static_assert(sizeof(vcpu_hvm_x86_64) == 112);

inline constexpr uint32_t VCPU_HVM_MODE_32B = 0;
inline constexpr uint32_t VCPU_HVM_MODE_64B = 1;

struct vcpu_hvm_context {
  uint32_t mode;
  uint32_t pad;
  union {
    vcpu_hvm_x86_32 x86_32;
    vcpu_hvm_x86_64 x86_64;
  } cpu_regs;
};
static_assert(sizeof(vcpu_hvm_context) == 128);
static_assert(offsetof(vcpu_hvm_context, cpu_regs) == 8);

}  // namespace xen::hvm
