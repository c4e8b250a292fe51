// Builds a PVH domain's initial memory: loads the kernel's segments, the
// initrd module, the command line, the memory map and hvm_start_info.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "boot/elf_image.h"
#include "memory/guest_memory.h"

namespace pv::boot {

struct BootInfo {
  uint32_t entry;          // 32-bit PVH entry point
  uint64_t start_info_gpa; // passed in %ebx
  uint64_t kernel_end;     // end of the loaded kernel
};

struct BootFiles {
  std::string kernel_path;
  std::optional<std::string> initrd_path;
  std::string cmdline;
};

struct MemRegion {
  uint64_t addr, size;
  uint32_t type;  // xen::pvh::XEN_HVM_MEMMAP_TYPE_*
};
// The memory map a domain with `ram_bytes` of RAM sees (start info and
// XENMEM_memory_map report the same one).
std::vector<MemRegion> memory_map(uint64_t ram_bytes);

// Reads a whole file, refusing anything larger than `max_bytes`.
std::vector<uint8_t> read_file(const std::string& path, uint64_t max_bytes);

// Loads everything into `mem`. Throws UserError on any bad input.
// `boot_bytes` (0: all of it): the RAM populated at boot (memory, with
// maxmem the size of `mem`); the kernel and initrd go below its end, less
// the special pages. The memory map covers all of `mem`.
BootInfo load_pvh(GuestMemory& mem, const BootFiles& files, uint64_t boot_bytes = 0);

}  // namespace pv::boot
