// PVH boot (public/arch-x86/hvm/start_info.h, public/elfnote.h): the start
// info block whose physical address the entry point receives in %ebx, and
// the ELF note that names a kernel's 32-bit entry point.
//
// Entry state: 32-bit protected mode, paging off, flat 4 GiB CS (execute/
// read) and DS/ES/SS (read/write), a 32-bit TSS in TR, EFLAGS with only
// bit 1 set, CR0 = PE (+ET), CR4 = 0, %ebx = physical address of start_info.
#pragma once
#include "xen.h"

namespace xen::pvh {

inline constexpr uint32_t XEN_HVM_START_MAGIC_VALUE = 0x336ec578;

struct hvm_start_info {
  uint32_t magic;
  uint32_t version;  // 1: memmap fields valid
  uint32_t flags;
  uint32_t nr_modules;
  uint64_t modlist_paddr;
  uint64_t cmdline_paddr;  // NUL-terminated
  uint64_t rsdp_paddr;
  uint64_t memmap_paddr;
  uint32_t memmap_entries;
  uint32_t reserved;
};
static_assert(sizeof(hvm_start_info) == 56);

struct hvm_modlist_entry {
  uint64_t paddr;
  uint64_t size;
  uint64_t cmdline_paddr;
  uint64_t reserved;
};
static_assert(sizeof(hvm_modlist_entry) == 32);

struct hvm_memmap_table_entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
  uint32_t reserved;
};
static_assert(sizeof(hvm_memmap_table_entry) == 24);

inline constexpr uint32_t XEN_HVM_MEMMAP_TYPE_RAM = 1;
inline constexpr uint32_t XEN_HVM_MEMMAP_TYPE_RESERVED = 2;
inline constexpr uint32_t XEN_HVM_MEMMAP_TYPE_ACPI = 3;
inline constexpr uint32_t XEN_HVM_MEMMAP_TYPE_NVS = 4;

// ELF notes: name "Xen", type XEN_ELFNOTE_*.
inline constexpr uint32_t XEN_ELFNOTE_PHYS32_ENTRY = 18;
inline constexpr char kElfNoteName[] = "Xen";

}  // namespace xen::pvh

// ---- Xen's spellings (public/arch-x86/hvm/start_info.h, public/elfnote.h); see xen.h ----
namespace xen {
using pvh::XEN_HVM_START_MAGIC_VALUE;
using pvh::hvm_start_info;
using pvh::hvm_modlist_entry;
using pvh::hvm_memmap_table_entry;
using pvh::XEN_HVM_MEMMAP_TYPE_RAM;
using pvh::XEN_HVM_MEMMAP_TYPE_RESERVED;
using pvh::XEN_HVM_MEMMAP_TYPE_ACPI;
using pvh::XEN_HVM_MEMMAP_TYPE_NVS;
inline constexpr uint32_t XEN_HVM_MEMMAP_TYPE_UNUSABLE = 5;
inline constexpr uint32_t XEN_HVM_MEMMAP_TYPE_DISABLED = 6;
inline constexpr uint32_t XEN_HVM_MEMMAP_TYPE_PMEM = 7;
using pvh::XEN_ELFNOTE_PHYS32_ENTRY;
inline constexpr uint32_t XEN_ELFNOTE_PHYS32_RELOC = 19;
}  // namespace xen
