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

struct add_to_physmap {
  domid_t domid;  // DOMID_SELF
  uint16_t size;  // gmfn_range only
  uint32_t space;
  xen_ulong_t idx;
  xen_pfn_t gpfn;
};
static_assert(sizeof(add_to_physmap) == 24);
static_assert(offsetof(add_to_physmap, idx) == 8);

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

struct memory_reservation {
  uint64_t extent_start;  // guest handle to xen_pfn_t[]
  xen_ulong_t nr_extents;
  uint32_t extent_order;
  uint32_t mem_flags;
  domid_t domid;
};
static_assert(sizeof(memory_reservation) == 32);

}  // namespace xen::mem
