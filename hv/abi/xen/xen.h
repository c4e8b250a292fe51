// The Xen guest ABI, core definitions: hypercall numbers, error codes, domain
// ids, and the shared_info / vcpu_info pages. x86-64 layout only.
//
// This directory is the one definition of every Xen ABI structure in the
// project. pv-hv, pv-backd and the guest kernel all include it; nothing else
// re-declares these layouts. Facts (numbers, layouts) follow Xen's public
// headers (xen/include/public/); the static_asserts pin every offset a guest
// depends on. Headers here are freestanding: <stdint.h>/<stddef.h> only.
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace xen {

using domid_t = uint16_t;
using evtchn_port_t = uint32_t;
using grant_ref_t = uint32_t;
using xen_pfn_t = uint64_t;
using xen_ulong_t = uint64_t;

inline constexpr uint64_t kPageSize = 4096;
inline constexpr unsigned kPageShift = 12;

inline constexpr domid_t DOMID_FIRST_RESERVED = 0x7ff0;
inline constexpr domid_t DOMID_SELF = 0x7ff0;
inline constexpr domid_t DOMID_IO = 0x7ff1;
inline constexpr domid_t DOMID_XEN = 0x7ff2;
inline constexpr domid_t DOMID_INVALID = 0x7ff4;
inline constexpr domid_t DOMID_IDLE = 0x7fff;

// Version we report through XENVER_version and CPUID (major << 16 | minor).
inline constexpr uint32_t kXenVersionMajor = 4;
inline constexpr uint32_t kXenVersionMinor = 17;

// Hypercall numbers (xen.h, __HYPERVISOR_*).
namespace hc {
inline constexpr uint32_t set_trap_table = 0;
inline constexpr uint32_t mmu_update = 1;
inline constexpr uint32_t set_timer_op = 15;
inline constexpr uint32_t memory_op = 12;
inline constexpr uint32_t multicall = 13;
inline constexpr uint32_t event_channel_op_compat = 16;
inline constexpr uint32_t xen_version = 17;
inline constexpr uint32_t console_io = 18;
inline constexpr uint32_t grant_table_op = 20;
inline constexpr uint32_t vm_assist = 21;
inline constexpr uint32_t vcpu_op = 24;
inline constexpr uint32_t mmuext_op = 26;
inline constexpr uint32_t xsm_op = 27;
inline constexpr uint32_t nmi_op = 28;
inline constexpr uint32_t sched_op = 29;
inline constexpr uint32_t callback_op = 30;
inline constexpr uint32_t event_channel_op = 32;
inline constexpr uint32_t physdev_op = 33;
inline constexpr uint32_t hvm_op = 34;
inline constexpr uint32_t sysctl = 35;
inline constexpr uint32_t domctl = 36;
inline constexpr uint32_t argo_op = 39;
inline constexpr uint32_t xenpmu_op = 40;
inline constexpr uint32_t dm_op = 41;
inline constexpr uint32_t hypfs_op = 42;
// Entries in the hypercall page: one 32-byte stub per number.
inline constexpr uint32_t kStubSize = 32;
inline constexpr uint32_t kPageEntries = kPageSize / kStubSize;  // 128
}  // namespace hc

// Xen's errno values (public/errno.h, named as there so they do not clash
// with <errno.h>); hypercalls return their negation.
inline constexpr int64_t XEN_EPERM = 1;
inline constexpr int64_t XEN_ENOENT = 2;
inline constexpr int64_t XEN_ESRCH = 3;
inline constexpr int64_t XEN_EINTR = 4;
inline constexpr int64_t XEN_EIO = 5;
inline constexpr int64_t XEN_ENXIO = 6;
inline constexpr int64_t XEN_E2BIG = 7;
inline constexpr int64_t XEN_EBADF = 9;
inline constexpr int64_t XEN_EAGAIN = 11;
inline constexpr int64_t XEN_ENOMEM = 12;
inline constexpr int64_t XEN_EACCES = 13;
inline constexpr int64_t XEN_EFAULT = 14;
inline constexpr int64_t XEN_EBUSY = 16;
inline constexpr int64_t XEN_EEXIST = 17;
inline constexpr int64_t XEN_ENODEV = 19;
inline constexpr int64_t XEN_EINVAL = 22;
inline constexpr int64_t XEN_ENOSPC = 28;
inline constexpr int64_t XEN_ERANGE = 34;
inline constexpr int64_t XEN_ENOSYS = 38;
inline constexpr int64_t XEN_ENODATA = 61;
inline constexpr int64_t XEN_ETIME = 62;
inline constexpr int64_t XEN_EOVERFLOW = 75;
inline constexpr int64_t XEN_EOPNOTSUPP = 95;
inline constexpr int64_t XEN_ETIMEDOUT = 110;

// VIRQs (xen.h, VIRQ_*): per-vCPU or global virtual interrupts.
namespace virq {
inline constexpr uint32_t TIMER = 0;
inline constexpr uint32_t DEBUG = 1;
inline constexpr uint32_t CONSOLE = 2;
inline constexpr uint32_t DOM_EXC = 3;
inline constexpr uint32_t TBUF = 4;
inline constexpr uint32_t DEBUGGER = 6;
inline constexpr uint32_t XENOPROF = 7;
inline constexpr uint32_t CON_RING = 8;
inline constexpr uint32_t PCPU_STATE = 9;
inline constexpr uint32_t MEM_EVENT = 10;
inline constexpr uint32_t ARGO = 11;
inline constexpr uint32_t ENOMEM_ = 12;
inline constexpr uint32_t XENPMU = 13;
inline constexpr uint32_t NR = 24;  // NR_VIRQS
// VIRQs bound per vCPU (the rest are global: bound on one vCPU only).
inline constexpr bool is_per_vcpu(uint32_t v) { return v == TIMER || v == DEBUG || v == XENOPROF || v == XENPMU; }
}  // namespace virq

// pvclock: system time = system_time + scale(tsc - tsc_timestamp).
// version is odd while the host updates the record.
struct vcpu_time_info {
  uint32_t version;
  uint32_t pad0;
  uint64_t tsc_timestamp;
  uint64_t system_time;  // ns since domain start
  uint32_t tsc_to_system_mul;
  int8_t tsc_shift;
  uint8_t flags;
  uint8_t pad1[2];
};
static_assert(sizeof(vcpu_time_info) == 32);
inline constexpr uint8_t XEN_PVCLOCK_TSC_STABLE_BIT = 1 << 0;

struct arch_vcpu_info {
  uint64_t cr2;
  uint64_t pad;
};

struct vcpu_info {
  uint8_t evtchn_upcall_pending;
  uint8_t evtchn_upcall_mask;
  uint8_t pad0[6];
  xen_ulong_t evtchn_pending_sel;
  arch_vcpu_info arch;
  vcpu_time_info time;
};
static_assert(sizeof(vcpu_info) == 64);
static_assert(offsetof(vcpu_info, evtchn_pending_sel) == 8);
static_assert(offsetof(vcpu_info, time) == 32);

inline constexpr unsigned XEN_LEGACY_MAX_VCPUS = 32;
inline constexpr unsigned kEvtchnWordBits = 64;
// 2-level event channels: 64 selector bits x 64 bits per word.
inline constexpr unsigned EVTCHN_2L_NR_CHANNELS = kEvtchnWordBits * kEvtchnWordBits;  // 4096

struct arch_shared_info {
  uint64_t max_pfn;
  xen_pfn_t pfn_to_mfn_frame_list_list;
  uint64_t nmi_reason;
  uint64_t p2m_cr3;
  uint64_t p2m_vaddr;
  uint64_t p2m_generation;
};

struct shared_info {
  ::xen::vcpu_info vcpu_info[XEN_LEGACY_MAX_VCPUS];  // qualified: the member reuses the type's name
  xen_ulong_t evtchn_pending[kEvtchnWordBits];
  xen_ulong_t evtchn_mask[kEvtchnWordBits];
  // Wallclock at system time 0; version is odd while being updated.
  uint32_t wc_version;
  uint32_t wc_sec;
  uint32_t wc_nsec;
  uint32_t wc_sec_hi;
  arch_shared_info arch;
};
static_assert(offsetof(shared_info, evtchn_pending) == 2048);
static_assert(offsetof(shared_info, evtchn_mask) == 2560);
static_assert(offsetof(shared_info, wc_version) == 3072);
static_assert(offsetof(shared_info, wc_sec_hi) == 3084);
static_assert(sizeof(shared_info) <= kPageSize);

// Shutdown reasons (sched.h, SHUTDOWN_*).
namespace shutdown {
inline constexpr uint32_t poweroff = 0;
inline constexpr uint32_t reboot = 1;
inline constexpr uint32_t suspend = 2;
inline constexpr uint32_t crash = 3;
inline constexpr uint32_t watchdog = 4;
inline constexpr uint32_t soft_reset = 5;
inline constexpr uint32_t max = 5;
}  // namespace shutdown

// ---- Xen's spellings ----
// Each constant also under the name Xen's and Linux's sources use, so that
// grepping for a Xen name lands on its definition. Where the project has its
// own name above, Xen's is an alias of it; otherwise Xen's name is the
// definition. The same pattern closes every header in this directory; the
// values are pinned against Xen's in tests/unit/abi_names_test.cpp.
// (__HYPERVISOR_* keeps the double underscore of Xen's macros, a spelling C++
// reserves to the implementation, because it is the name people grep for.)

// Hypercall numbers (public/xen.h).
inline constexpr uint32_t __HYPERVISOR_set_trap_table = hc::set_trap_table;
inline constexpr uint32_t __HYPERVISOR_mmu_update = hc::mmu_update;
inline constexpr uint32_t __HYPERVISOR_set_gdt = 2;
inline constexpr uint32_t __HYPERVISOR_stack_switch = 3;
inline constexpr uint32_t __HYPERVISOR_set_callbacks = 4;
inline constexpr uint32_t __HYPERVISOR_fpu_taskswitch = 5;
inline constexpr uint32_t __HYPERVISOR_sched_op_compat = 6;
inline constexpr uint32_t __HYPERVISOR_platform_op = 7;
inline constexpr uint32_t __HYPERVISOR_set_debugreg = 8;
inline constexpr uint32_t __HYPERVISOR_get_debugreg = 9;
inline constexpr uint32_t __HYPERVISOR_update_descriptor = 10;
inline constexpr uint32_t __HYPERVISOR_memory_op = hc::memory_op;
inline constexpr uint32_t __HYPERVISOR_multicall = hc::multicall;
inline constexpr uint32_t __HYPERVISOR_update_va_mapping = 14;
inline constexpr uint32_t __HYPERVISOR_set_timer_op = hc::set_timer_op;
inline constexpr uint32_t __HYPERVISOR_event_channel_op_compat = hc::event_channel_op_compat;
inline constexpr uint32_t __HYPERVISOR_xen_version = hc::xen_version;
inline constexpr uint32_t __HYPERVISOR_console_io = hc::console_io;
inline constexpr uint32_t __HYPERVISOR_physdev_op_compat = 19;
inline constexpr uint32_t __HYPERVISOR_grant_table_op = hc::grant_table_op;
inline constexpr uint32_t __HYPERVISOR_vm_assist = hc::vm_assist;
inline constexpr uint32_t __HYPERVISOR_update_va_mapping_otherdomain = 22;
inline constexpr uint32_t __HYPERVISOR_iret = 23;
inline constexpr uint32_t __HYPERVISOR_vcpu_op = hc::vcpu_op;
inline constexpr uint32_t __HYPERVISOR_set_segment_base = 25;
inline constexpr uint32_t __HYPERVISOR_mmuext_op = hc::mmuext_op;
inline constexpr uint32_t __HYPERVISOR_xsm_op = hc::xsm_op;
inline constexpr uint32_t __HYPERVISOR_nmi_op = hc::nmi_op;
inline constexpr uint32_t __HYPERVISOR_sched_op = hc::sched_op;
inline constexpr uint32_t __HYPERVISOR_callback_op = hc::callback_op;
inline constexpr uint32_t __HYPERVISOR_xenoprof_op = 31;
inline constexpr uint32_t __HYPERVISOR_event_channel_op = hc::event_channel_op;
inline constexpr uint32_t __HYPERVISOR_physdev_op = hc::physdev_op;
inline constexpr uint32_t __HYPERVISOR_hvm_op = hc::hvm_op;
inline constexpr uint32_t __HYPERVISOR_sysctl = hc::sysctl;
inline constexpr uint32_t __HYPERVISOR_domctl = hc::domctl;
inline constexpr uint32_t __HYPERVISOR_kexec_op = 37;
inline constexpr uint32_t __HYPERVISOR_tmem_op = 38;
inline constexpr uint32_t __HYPERVISOR_argo_op = hc::argo_op;
inline constexpr uint32_t __HYPERVISOR_xenpmu_op = hc::xenpmu_op;
inline constexpr uint32_t __HYPERVISOR_dm_op = hc::dm_op;
inline constexpr uint32_t __HYPERVISOR_hypfs_op = hc::hypfs_op;
// Architecture-specific hypercalls.
inline constexpr uint32_t __HYPERVISOR_arch_0 = 48;
inline constexpr uint32_t __HYPERVISOR_arch_1 = 49;
inline constexpr uint32_t __HYPERVISOR_arch_2 = 50;
inline constexpr uint32_t __HYPERVISOR_arch_3 = 51;
inline constexpr uint32_t __HYPERVISOR_arch_4 = 52;
inline constexpr uint32_t __HYPERVISOR_arch_5 = 53;
inline constexpr uint32_t __HYPERVISOR_arch_6 = 54;
inline constexpr uint32_t __HYPERVISOR_arch_7 = 55;
inline constexpr uint32_t __HYPERVISOR_mca = __HYPERVISOR_arch_0;  // x86 (arch-x86/xen-mca.h)

// Reserved domain ids not named above.
inline constexpr domid_t DOMID_COW = 0x7ff3;
inline constexpr domid_t DOMID_ANY = 0x7ff5;
inline constexpr domid_t DOMID_MASK = 0x7fff;

// VIRQs (public/xen.h).
inline constexpr uint32_t VIRQ_TIMER = virq::TIMER;
inline constexpr uint32_t VIRQ_DEBUG = virq::DEBUG;
inline constexpr uint32_t VIRQ_CONSOLE = virq::CONSOLE;
inline constexpr uint32_t VIRQ_DOM_EXC = virq::DOM_EXC;
inline constexpr uint32_t VIRQ_TBUF = virq::TBUF;
inline constexpr uint32_t VIRQ_DEBUGGER = virq::DEBUGGER;
inline constexpr uint32_t VIRQ_XENOPROF = virq::XENOPROF;
inline constexpr uint32_t VIRQ_CON_RING = virq::CON_RING;
inline constexpr uint32_t VIRQ_PCPU_STATE = virq::PCPU_STATE;
inline constexpr uint32_t VIRQ_MEM_EVENT = virq::MEM_EVENT;
inline constexpr uint32_t VIRQ_ARGO = virq::ARGO;
inline constexpr uint32_t VIRQ_ENOMEM = virq::ENOMEM_;
inline constexpr uint32_t VIRQ_XENPMU = virq::XENPMU;
inline constexpr uint32_t VIRQ_ARCH_0 = 16;
inline constexpr uint32_t VIRQ_ARCH_1 = 17;
inline constexpr uint32_t VIRQ_ARCH_2 = 18;
inline constexpr uint32_t VIRQ_ARCH_3 = 19;
inline constexpr uint32_t VIRQ_ARCH_4 = 20;
inline constexpr uint32_t VIRQ_ARCH_5 = 21;
inline constexpr uint32_t VIRQ_ARCH_6 = 22;
inline constexpr uint32_t VIRQ_ARCH_7 = 23;
inline constexpr uint32_t NR_VIRQS = virq::NR;

// pvclock flags (vcpu_time_info.flags) not named above.
inline constexpr uint8_t XEN_PVCLOCK_GUEST_STOPPED = 1 << 1;

// Shutdown reasons (public/sched.h).
inline constexpr uint32_t SHUTDOWN_poweroff = shutdown::poweroff;
inline constexpr uint32_t SHUTDOWN_reboot = shutdown::reboot;
inline constexpr uint32_t SHUTDOWN_suspend = shutdown::suspend;
inline constexpr uint32_t SHUTDOWN_crash = shutdown::crash;
inline constexpr uint32_t SHUTDOWN_watchdog = shutdown::watchdog;
inline constexpr uint32_t SHUTDOWN_soft_reset = shutdown::soft_reset;
inline constexpr uint32_t SHUTDOWN_MAX = shutdown::max;

// Xen's errno values (public/errno.h) not named above.
inline constexpr int64_t XEN_ENOEXEC = 8;
inline constexpr int64_t XEN_ECHILD = 10;
inline constexpr int64_t XEN_EWOULDBLOCK = XEN_EAGAIN;
inline constexpr int64_t XEN_EXDEV = 18;
inline constexpr int64_t XEN_ENOTDIR = 20;
inline constexpr int64_t XEN_EISDIR = 21;
inline constexpr int64_t XEN_ENFILE = 23;
inline constexpr int64_t XEN_EMFILE = 24;
inline constexpr int64_t XEN_EROFS = 30;
inline constexpr int64_t XEN_EMLINK = 31;
inline constexpr int64_t XEN_EDOM = 33;
inline constexpr int64_t XEN_EDEADLK = 35;
inline constexpr int64_t XEN_EDEADLOCK = XEN_EDEADLK;
inline constexpr int64_t XEN_ENAMETOOLONG = 36;
inline constexpr int64_t XEN_ENOLCK = 37;
inline constexpr int64_t XEN_ENOTEMPTY = 39;
inline constexpr int64_t XEN_EBADMSG = 74;
inline constexpr int64_t XEN_EILSEQ = 84;
inline constexpr int64_t XEN_ENOTSOCK = 88;
inline constexpr int64_t XEN_EMSGSIZE = 90;
inline constexpr int64_t XEN_EADDRINUSE = 98;
inline constexpr int64_t XEN_EADDRNOTAVAIL = 99;
inline constexpr int64_t XEN_ENOBUFS = 105;
inline constexpr int64_t XEN_EISCONN = 106;
inline constexpr int64_t XEN_ENOTCONN = 107;
inline constexpr int64_t XEN_ECONNREFUSED = 111;

}  // namespace xen
