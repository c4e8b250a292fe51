// pvguest: grant table v1 setup (set_version, query_size, add_to_physmap of
// the table frames into our own pages, setup_table).
#pragma once
#include <stdint.h>
#include <xen/grant_table.h>

namespace grant {
inline constexpr unsigned kMaxFrames = 4;  // frames we reserve in .bss

struct State {
  long set_version_rc;
  long query_rc;
  xen::gnttab::query_size query;
  unsigned nr_frames;        // frames mapped with add_to_physmap
  long map_rc;               // first failing add_to_physmap rc (0 = all ok)
  long setup_rc;
  int16_t setup_status;
  uint64_t setup_frames[kMaxFrames];
  bool ok;
};
extern State state;
xen::gnttab::grant_entry_v1* table();  // nr_frames * 512 entries
uint64_t frame_gpfn(unsigned i);
bool init();
}  // namespace grant
