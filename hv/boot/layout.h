// Guest-physical layout of a PVH domain built by pv-hv.
//
//   0x0000            unused (null page)
//   0x1000            hvm_start_info, then the memory map and module list
//   0x2000 - 0x2fff   kernel command line (NUL-terminated)
//   kernel            where its ELF program headers say (>= 0x3000)
//   ...               initrd, page aligned, just below the special pages
//   RAM end - 2 pages special pages, reserved in the memory map:
//                     console ring, xenstore ring
//
// RAM is maxmem long; with memory < maxmem the frames from (memory - 2
// pages) up to the special pages start ballooned out (not populated), as
// Xen builds a domain with memory < maxmem, and the guest's balloon driver
// grows into them. The memory map covers all of maxmem.
#pragma once
#include <cstdint>

namespace pv::boot {

inline constexpr uint64_t kStartInfoGpa = 0x1000;
inline constexpr uint64_t kMemmapGpa = 0x1100;
inline constexpr uint64_t kModlistGpa = 0x1800;
inline constexpr uint64_t kCmdlineGpa = 0x2000;
inline constexpr uint64_t kCmdlineMax = 0x1000;  // including the NUL
inline constexpr uint64_t kBootDataEnd = 0x3000;

inline constexpr uint64_t kSpecialPages = 2;
enum SpecialPage : uint64_t { kConsolePage = 0, kXenstorePage = 1 };

// First frame of the special-page region for a domain with `ram_bytes`.
constexpr uint64_t special_base_gfn(uint64_t ram_bytes) { return (ram_bytes >> 12) - kSpecialPages; }
constexpr uint64_t special_gfn(uint64_t ram_bytes, SpecialPage p) { return special_base_gfn(ram_bytes) + p; }
// With `boot_bytes` populated at boot out of `ram_bytes`: the frames
// [first, special_base_gfn(ram_bytes)) start ballooned out.
constexpr uint64_t boot_ballooned_first_gfn(uint64_t boot_bytes) { return (boot_bytes >> 12) - kSpecialPages; }

}  // namespace pv::boot
