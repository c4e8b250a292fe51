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

struct compile_info {
  char compiler[64];
  char compile_by[16];
  char compile_domain[32];
  char compile_date[32];
};
static_assert(sizeof(compile_info) == 144);

struct platform_parameters {
  xen_ulong_t virt_start;
};

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
