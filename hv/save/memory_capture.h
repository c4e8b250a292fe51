// Guest memory for a save stream: only populated frames are sent, as runs
// (docs/save-format.md, MemoryRun); ballooned-out frames are not.
#pragma once
#include <cstdint>
#include <functional>
#include <string_view>

#include "memory/guest_memory.h"
#include "save/domain_stream.h"

namespace pv {

// Writes every run of frames `populated(gfn)` says hold memory; returns
// the number of frames written.
uint64_t write_populated_memory(save::DomainStreamWriter& out, const GuestMemory& mem,
                                const std::function<bool(uint64_t gfn)>& populated);

// A run the stream reader checked (inside RAM, whole frames) into RAM.
void copy_run_into(const GuestMemory& mem, uint64_t first_gfn, std::string_view data);

}  // namespace pv
