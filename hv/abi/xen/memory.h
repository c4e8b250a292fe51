// Memory reservation and physmap operations (public/memory.h): XENMEM_*.
#pragma once
#include "xen.h"

namespace xen::mem {

namespace op {
inline constexpr uint32_t increase_reservation = 0;
inline constexpr uint32_t decrease_reservation = 1;
inline constexpr uint32_t maximum_ram_page = 2;
inline constexpr uint32_t current_reservation = 3;
inline constexpr uint32_t maximum_reservation = 4;
inline constexpr uint32_t machphys_mfn_list = 5;
inline constexpr uint32_t populate_physmap = 6;
inline constexpr uint32_t add_to_physmap = 7;
inline constexpr uint32_t memory_map = 9;
inline constexpr uint32_t machine_memory_map = 10;
inline constexpr uint32_t set_memory_map = 13;
inline constexpr uint32_t maximum_gpfn = 14;
inline constexpr uint32_t remove_from_physmap = 15;
inline constexpr uint32_t get_pod_target = 17;
inline constexpr uint32_t add_to_physmap_batch = 23;
inline constexpr uint32_t acquire_resource = 28;
// The low 6 bits carry the command; the rest is a continuation start extent.
inline constexpr uint32_t kCmdMask = 0x3f;
}  // namespace op

// xen_add_to_physmap.space
namespace space {
inline constexpr uint32_t shared_info = 0;
inline constexpr uint32_t grant_table = 1;
inline constexpr uint32_t gmfn = 2;
inline constexpr uint32_t gmfn_range = 3;
inline constexpr uint32_t gmfn_foreign = 4;
inline constexpr uint32_t dev_mmio = 5;
}  // namespace space
// In idx for space::grant_table: ask for a status frame (v2 only).
inline constexpr uint64_t XENMAPIDX_grant_table_status = 0x80000000u;

// XENMEM_add_to_physmap: place frame <idx> of <space> at guest frame <gpfn>.
struct add_to_physmap {
  domid_t domid;  // DOMID_SELF
  uint16_t size;  // gmfn_range only
  uint32_t space;
  xen_ulong_t idx;
  xen_pfn_t gpfn;
};
static_assert(sizeof(add_to_physmap) == 24);
static_assert(offsetof(add_to_physmap, idx) == 8);

// XENMEM_memory_map: copy the domain's e820 memory map into <buffer>.
struct memory_map {
  uint32_t nr_entries;  // IN: buffer capacity, OUT: entries written
  uint32_t pad;
  uint64_t buffer;  // guest handle to e820 entries
};
static_assert(sizeof(memory_map) == 16);

// The entry format XENMEM_memory_map returns (a packed BIOS e820 entry).
struct __attribute__((packed)) e820_entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
};
static_assert(sizeof(e820_entry) == 20);
inline constexpr uint32_t E820_RAM = 1;
inline constexpr uint32_t E820_RESERVED = 2;

// XENMEM_{increase,decrease}_reservation, XENMEM_populate_physmap: grow/shrink <domid> by extents.
struct memory_reservation {
  uint64_t extent_start;  // guest handle to xen_pfn_t[]
  xen_ulong_t nr_extents;
  uint32_t extent_order;
  uint32_t mem_flags;
  domid_t domid;
};
static_assert(sizeof(memory_reservation) == 32);

}  // namespace xen::mem

// ---- Xen's spellings (public/memory.h); see xen.h ----
namespace xen {
inline constexpr uint32_t XENMEM_increase_reservation = mem::op::increase_reservation;
inline constexpr uint32_t XENMEM_decrease_reservation = mem::op::decrease_reservation;
inline constexpr uint32_t XENMEM_maximum_ram_page = mem::op::maximum_ram_page;
inline constexpr uint32_t XENMEM_current_reservation = mem::op::current_reservation;
inline constexpr uint32_t XENMEM_maximum_reservation = mem::op::maximum_reservation;
inline constexpr uint32_t XENMEM_machphys_mfn_list = mem::op::machphys_mfn_list;
inline constexpr uint32_t XENMEM_populate_physmap = mem::op::populate_physmap;
inline constexpr uint32_t XENMEM_add_to_physmap = mem::op::add_to_physmap;
inline constexpr uint32_t XENMEM_memory_map = mem::op::memory_map;
inline constexpr uint32_t XENMEM_machine_memory_map = mem::op::machine_memory_map;
inline constexpr uint32_t XENMEM_exchange = 11;
inline constexpr uint32_t XENMEM_machphys_mapping = 12;
inline constexpr uint32_t XENMEM_set_memory_map = mem::op::set_memory_map;
inline constexpr uint32_t XENMEM_maximum_gpfn = mem::op::maximum_gpfn;
inline constexpr uint32_t XENMEM_remove_from_physmap = mem::op::remove_from_physmap;
inline constexpr uint32_t XENMEM_set_pod_target = 16;
inline constexpr uint32_t XENMEM_get_pod_target = mem::op::get_pod_target;
inline constexpr uint32_t XENMEM_get_sharing_freed_pages = 18;
inline constexpr uint32_t XENMEM_get_sharing_shared_pages = 19;
inline constexpr uint32_t XENMEM_paging_op = 20;
inline constexpr uint32_t XENMEM_access_op = 21;
inline constexpr uint32_t XENMEM_sharing_op = 22;
inline constexpr uint32_t XENMEM_add_to_physmap_batch = mem::op::add_to_physmap_batch;
inline constexpr uint32_t XENMEM_add_to_physmap_range = XENMEM_add_to_physmap_batch;
inline constexpr uint32_t XENMEM_claim_pages = 24;
inline constexpr uint32_t XENMEM_machphys_compat_mfn_list = 25;
inline constexpr uint32_t XENMEM_get_vnumainfo = 26;
inline constexpr uint32_t XENMEM_reserved_device_memory_map = 27;
inline constexpr uint32_t XENMEM_acquire_resource = mem::op::acquire_resource;

// xen_add_to_physmap.space
inline constexpr uint32_t XENMAPSPACE_shared_info = mem::space::shared_info;
inline constexpr uint32_t XENMAPSPACE_grant_table = mem::space::grant_table;
inline constexpr uint32_t XENMAPSPACE_gmfn = mem::space::gmfn;
inline constexpr uint32_t XENMAPSPACE_gmfn_range = mem::space::gmfn_range;
inline constexpr uint32_t XENMAPSPACE_gmfn_foreign = mem::space::gmfn_foreign;
inline constexpr uint32_t XENMAPSPACE_dev_mmio = mem::space::dev_mmio;
using mem::XENMAPIDX_grant_table_status;

// xen_memory_reservation.mem_flags
inline constexpr uint32_t XENMEMF_populate_on_demand = 1u << 16;
inline constexpr uint32_t XENMEMF_exact_node_request = 1u << 17;
inline constexpr uint32_t XENMEMF_vnode = 1u << 18;

using xen_add_to_physmap = mem::add_to_physmap;
using xen_memory_map = mem::memory_map;
using xen_memory_reservation = mem::memory_reservation;
}  // namespace xen
