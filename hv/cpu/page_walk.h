// Translates guest-virtual addresses through the guest's own page tables
// (4-level long mode, 2 MiB and 1 GiB pages; or paging off). Each table
// read is bounds-checked against guest RAM; any fault gives nullopt.
#pragma once
#include <cstdint>
#include <optional>

#include "memory/guest_memory.h"

namespace pv {

struct PagingState {
  uint64_t cr0, cr3, cr4, efer;
};

std::optional<uint64_t> translate_gva(const GuestMemory& mem, const PagingState& ps, uint64_t gva, bool write);

}  // namespace pv
