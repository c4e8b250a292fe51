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

// HVMOP_set_param / HVMOP_get_param: write or read HVM parameter <index> of <domid>.
struct param_arg {  // xen_hvm_param
  domid_t domid;
  uint16_t pad;
  uint32_t index;
  uint64_t value;
};
static_assert(sizeof(param_arg) == 16);

// HVMOP_set_evtchn_upcall_vector: deliver <vcpu>'s event upcalls on <vector>.
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

// VCPUOP_initialise (HVM/PVH): the register state a secondary vCPU starts with.
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

// ---- Xen's spellings (public/hvm/hvm_op.h, params.h, hvm_vcpu.h); see xen.h ----
namespace xen {
inline constexpr uint32_t HVMOP_set_param = hvm::op::set_param;
inline constexpr uint32_t HVMOP_get_param = hvm::op::get_param;
inline constexpr uint32_t HVMOP_set_pci_intx_level = 2;
inline constexpr uint32_t HVMOP_set_isa_irq_level = 3;
inline constexpr uint32_t HVMOP_set_pci_link_route = 4;
inline constexpr uint32_t HVMOP_flush_tlbs = 5;
inline constexpr uint32_t HVMOP_pagetable_dying = hvm::op::pagetable_dying;
inline constexpr uint32_t HVMOP_get_time = hvm::op::get_time;
inline constexpr uint32_t HVMOP_xentrace = 11;
inline constexpr uint32_t HVMOP_set_mem_access = 12;
inline constexpr uint32_t HVMOP_get_mem_access = 13;
inline constexpr uint32_t HVMOP_get_mem_type = 15;
inline constexpr uint32_t HVMOP_set_evtchn_upcall_vector = hvm::op::set_evtchn_upcall_vector;
inline constexpr uint32_t HVMOP_guest_request_vm_event = 24;
inline constexpr uint32_t HVMOP_altp2m = 25;

inline constexpr uint32_t HVM_PARAM_CALLBACK_IRQ = hvm::param::CALLBACK_IRQ;
inline constexpr uint32_t HVM_PARAM_STORE_PFN = hvm::param::STORE_PFN;
inline constexpr uint32_t HVM_PARAM_STORE_EVTCHN = hvm::param::STORE_EVTCHN;
inline constexpr uint32_t HVM_PARAM_PAE_ENABLED = hvm::param::PAE_ENABLED;
inline constexpr uint32_t HVM_PARAM_IOREQ_PFN = hvm::param::IOREQ_PFN;
inline constexpr uint32_t HVM_PARAM_BUFIOREQ_PFN = hvm::param::BUFIOREQ_PFN;
inline constexpr uint32_t HVM_PARAM_VIRIDIAN = 9;
inline constexpr uint32_t HVM_PARAM_TIMER_MODE = hvm::param::TIMER_MODE;
inline constexpr uint32_t HVM_PARAM_HPET_ENABLED = hvm::param::HPET_ENABLED;
inline constexpr uint32_t HVM_PARAM_IDENT_PT = hvm::param::IDENT_PT;
inline constexpr uint32_t HVM_PARAM_DM_DOMAIN = 13;
inline constexpr uint32_t HVM_PARAM_ACPI_S_STATE = hvm::param::ACPI_S_STATE;
inline constexpr uint32_t HVM_PARAM_VM86_TSS = hvm::param::VM86_TSS;
inline constexpr uint32_t HVM_PARAM_VPT_ALIGN = hvm::param::VPT_ALIGN;
inline constexpr uint32_t HVM_PARAM_CONSOLE_PFN = hvm::param::CONSOLE_PFN;
inline constexpr uint32_t HVM_PARAM_CONSOLE_EVTCHN = hvm::param::CONSOLE_EVTCHN;
inline constexpr uint32_t HVM_PARAM_ACPI_IOPORTS_LOCATION = 19;
inline constexpr uint32_t HVM_PARAM_NESTEDHVM = 24;
inline constexpr uint32_t HVM_PARAM_BUFIOREQ_EVTCHN = 26;
inline constexpr uint32_t HVM_PARAM_PAGING_RING_PFN = 27;
inline constexpr uint32_t HVM_PARAM_MONITOR_RING_PFN = 28;
inline constexpr uint32_t HVM_PARAM_SHARING_RING_PFN = 29;
inline constexpr uint32_t HVM_PARAM_TRIPLE_FAULT_REASON = 31;
inline constexpr uint32_t HVM_PARAM_IOREQ_SERVER_PFN = 32;
inline constexpr uint32_t HVM_PARAM_NR_IOREQ_SERVER_PAGES = 33;
inline constexpr uint32_t HVM_PARAM_VM_GENERATION_ID_ADDR = 34;
inline constexpr uint32_t HVM_PARAM_ALTP2M = 35;
inline constexpr uint32_t HVM_PARAM_X87_FIP_WIDTH = 36;
inline constexpr uint32_t HVM_PARAM_VM86_TSS_SIZED = 37;
inline constexpr uint32_t HVM_PARAM_MCA_CAP = 38;
inline constexpr uint32_t HVM_NR_PARAMS = hvm::param::NR;

// HVM_PARAM_CALLBACK_IRQ value: delivery type in bits 63:56.
inline constexpr uint64_t HVM_PARAM_CALLBACK_IRQ_TYPE_MASK = 0xff00000000000000ull;
inline constexpr uint64_t HVM_PARAM_CALLBACK_TYPE_GSI = hvm::CALLBACK_TYPE_GSI;
inline constexpr uint64_t HVM_PARAM_CALLBACK_TYPE_PCI_INTX = hvm::CALLBACK_TYPE_PCI_INTX;
inline constexpr uint64_t HVM_PARAM_CALLBACK_TYPE_VECTOR = hvm::CALLBACK_TYPE_VECTOR;

using hvm::VCPU_HVM_MODE_32B;
using hvm::VCPU_HVM_MODE_64B;

using xen_hvm_param = hvm::param_arg;
using xen_hvm_evtchn_upcall_vector = hvm::evtchn_upcall_vector;
using hvm::vcpu_hvm_x86_32;
using hvm::vcpu_hvm_x86_64;
using hvm::vcpu_hvm_context;
}  // namespace xen
