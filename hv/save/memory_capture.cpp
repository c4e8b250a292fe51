#include "save/memory_capture.h"

#include <stdexcept>

namespace pv {

uint64_t write_populated_memory(save::DomainStreamWriter& out, const GuestMemory& mem,
                                const std::function<bool(uint64_t gfn)>& populated) {
  uint64_t sent = 0;
  for (uint64_t gfn = 0; gfn < mem.pages();) {
    if (!populated(gfn)) {
      gfn++;
      continue;
    }
    uint64_t end = gfn + 1;
    while (end < mem.pages() && populated(end)) end++;
    out.memory(gfn, mem.page(gfn), end - gfn);
    sent += end - gfn;
    gfn = end;
  }
  return sent;
}

void copy_run_into(const GuestMemory& mem, uint64_t first_gfn, std::string_view data) {
  if (first_gfn >= mem.pages() || !mem.write(first_gfn << 12, data.data(), data.size()))
    throw std::logic_error("memory run outside guest RAM (the stream reader should have refused it)");
}

}  // namespace pv
