// Parses and validates a PVH-bootable ELF kernel image (ELF32 or ELF64,
// x86) and finds its Xen PHYS32_ENTRY note. Nothing in the file is
// trusted: every offset, size and count is range-checked, and a bad image
// is refused with a UserError naming the problem.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace pv::boot {

struct LoadSegment {
  uint64_t paddr;    // guest-physical load address
  uint64_t filesz;   // bytes copied from the file
  uint64_t memsz;    // bytes occupied (the rest is zeroed)
  uint64_t offset;   // file offset of the data
};

struct ElfImage {
  bool is64 = true;
  uint32_t phys32_entry = 0;  // from XEN_ELFNOTE_PHYS32_ENTRY
  std::vector<LoadSegment> segments;
  uint64_t lowest = 0;   // lowest paddr of any segment
  uint64_t highest = 0;  // end of the highest segment (exclusive)
};

// Throws UserError with a message naming `name` when the image is unusable.
ElfImage parse_elf(std::span<const uint8_t> file, const std::string& name);

}  // namespace pv::boot
