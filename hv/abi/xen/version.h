// Version queries (public/version.h): HYPERVISOR_xen_version(cmd, arg).
#pragma once
#include "xen.h"

namespace xen::version {

namespace op {
inline constexpr uint32_t version = 0;
inline constexpr uint32_t extraversion = 1;      // char[16]
inline constexpr uint32_t compile_info = 2;      // struct compile_info
inline constexpr uint32_t capabilities = 3;      // char[1024]
inline constexpr uint32_t changeset = 4;         // char[64]
inline constexpr uint32_t platform_parameters = 5;
inline constexpr uint32_t get_features = 6;      // struct feature_info
inline constexpr uint32_t pagesize = 7;
inline constexpr uint32_t guest_handle = 8;      // uint8_t[16]
inline constexpr uint32_t commandline = 9;       // char[1024]
inline constexpr uint32_t build_id = 10;
}  // namespace op

inline constexpr size_t kExtraversionLen = 16;
inline constexpr size_t kCapabilitiesLen = 1024;
inline constexpr size_t kChangesetLen = 64;
inline constexpr size_t kCommandlineLen = 1024;
inline constexpr size_t kGuestHandleLen = 16;

// XENVER_compile_info: who built the hypervisor, with what, and when.
struct compile_info {
  char compiler[64];
  char compile_by[16];
  char compile_domain[32];
  char compile_date[32];
};
static_assert(sizeof(compile_info) == 144);

// XENVER_platform_parameters: the lowest virtual address the hypervisor reserves.
struct platform_parameters {
  xen_ulong_t virt_start;
};

// XENVER_get_features: 32-bit submap <submap_idx> of the XENFEAT_* bits.
struct feature_info {
  uint32_t submap_idx;  // IN: which 32-bit submap
  uint32_t submap;      // OUT
};

// XENFEAT_* bit numbers (public/features.h)
namespace feat {
inline constexpr unsigned writable_page_tables = 0;
inline constexpr unsigned writable_descriptor_tables = 1;
inline constexpr unsigned auto_translated_physmap = 2;
inline constexpr unsigned supervisor_mode_kernel = 3;
inline constexpr unsigned pae_pgdir_above_4gb = 4;
inline constexpr unsigned mmu_pt_update_preserve_ad = 5;
inline constexpr unsigned highmem_assist = 6;
inline constexpr unsigned gnttab_map_avail_bits = 7;
inline constexpr unsigned hvm_callback_vector = 8;
inline constexpr unsigned hvm_safe_pvclock = 9;
inline constexpr unsigned hvm_pirqs = 10;
inline constexpr unsigned dom0 = 11;
inline constexpr unsigned grant_map_identity = 12;
inline constexpr unsigned memory_op_vnode_supported = 13;
inline constexpr unsigned linux_rsdp_unrestricted = 15;
inline constexpr unsigned not_direct_mapped = 16;
inline constexpr unsigned direct_mapped = 17;
}  // namespace feat

}  // namespace xen::version

// ---- Xen's spellings (public/version.h, public/features.h); see xen.h ----
namespace xen {
inline constexpr uint32_t XENVER_version = version::op::version;
inline constexpr uint32_t XENVER_extraversion = version::op::extraversion;
inline constexpr uint32_t XENVER_compile_info = version::op::compile_info;
inline constexpr uint32_t XENVER_capabilities = version::op::capabilities;
inline constexpr uint32_t XENVER_changeset = version::op::changeset;
inline constexpr uint32_t XENVER_platform_parameters = version::op::platform_parameters;
inline constexpr uint32_t XENVER_get_features = version::op::get_features;
inline constexpr uint32_t XENVER_pagesize = version::op::pagesize;
inline constexpr uint32_t XENVER_guest_handle = version::op::guest_handle;
inline constexpr uint32_t XENVER_commandline = version::op::commandline;
inline constexpr uint32_t XENVER_build_id = version::op::build_id;
// Variable-length forms (Xen 4.21, struct xen_varbuf).
inline constexpr uint32_t XENVER_extraversion2 = 11;
inline constexpr uint32_t XENVER_capabilities2 = 12;
inline constexpr uint32_t XENVER_changeset2 = 13;
inline constexpr uint32_t XENVER_commandline2 = 14;

inline constexpr unsigned XENFEAT_writable_page_tables = version::feat::writable_page_tables;
inline constexpr unsigned XENFEAT_writable_descriptor_tables = version::feat::writable_descriptor_tables;
inline constexpr unsigned XENFEAT_auto_translated_physmap = version::feat::auto_translated_physmap;
inline constexpr unsigned XENFEAT_supervisor_mode_kernel = version::feat::supervisor_mode_kernel;
inline constexpr unsigned XENFEAT_pae_pgdir_above_4gb = version::feat::pae_pgdir_above_4gb;
inline constexpr unsigned XENFEAT_mmu_pt_update_preserve_ad = version::feat::mmu_pt_update_preserve_ad;
inline constexpr unsigned XENFEAT_highmem_assist = version::feat::highmem_assist;
inline constexpr unsigned XENFEAT_gnttab_map_avail_bits = version::feat::gnttab_map_avail_bits;
inline constexpr unsigned XENFEAT_hvm_callback_vector = version::feat::hvm_callback_vector;
inline constexpr unsigned XENFEAT_hvm_safe_pvclock = version::feat::hvm_safe_pvclock;
inline constexpr unsigned XENFEAT_hvm_pirqs = version::feat::hvm_pirqs;
inline constexpr unsigned XENFEAT_dom0 = version::feat::dom0;
inline constexpr unsigned XENFEAT_grant_map_identity = version::feat::grant_map_identity;
inline constexpr unsigned XENFEAT_memory_op_vnode_supported = version::feat::memory_op_vnode_supported;
inline constexpr unsigned XENFEAT_ARM_SMCCC_supported = 14;
inline constexpr unsigned XENFEAT_linux_rsdp_unrestricted = version::feat::linux_rsdp_unrestricted;
inline constexpr unsigned XENFEAT_not_direct_mapped = version::feat::not_direct_mapped;
inline constexpr unsigned XENFEAT_direct_mapped = version::feat::direct_mapped;
inline constexpr unsigned XENFEAT_runstate_phys_area = 18;
inline constexpr unsigned XENFEAT_vcpu_time_phys_area = 19;
inline constexpr unsigned XENFEAT_dm_msix_all_writes = 20;
inline constexpr unsigned XENFEAT_NR_SUBMAPS = 1;

using xen_compile_info = version::compile_info;
using xen_platform_parameters = version::platform_parameters;
using xen_feature_info = version::feature_info;
using xen_extraversion_t = char[version::kExtraversionLen];
using xen_capabilities_info_t = char[version::kCapabilitiesLen];
using xen_changeset_info_t = char[version::kChangesetLen];
using xen_commandline_t = char[version::kCommandlineLen];
}  // namespace xen
