// pvguest: grant table v1 setup.
#include "grant.h"

#include <xen/memory.h>

#include "hypercall.h"

namespace grant {
namespace {
alignas(4096) uint8_t frames[kMaxFrames][4096];
}
State state;

xen::gnttab::grant_entry_v1* table() { return reinterpret_cast<xen::gnttab::grant_entry_v1*>(frames[0]); }
uint64_t frame_gpfn(unsigned i) { return uint64_t(frames[i]) >> xen::kPageShift; }

bool init() {
  using namespace xen::gnttab;
  set_version sv{1};
  state.set_version_rc = hv::gnttab_op(op::set_version, &sv, 1);

  state.query = query_size{xen::DOMID_SELF, 0, 0, 0};
  state.query_rc = hv::gnttab_op(op::query_size, &state.query, 1);
  unsigned want = kMaxFrames;
  if (state.query_rc == 0 && state.query.max_nr_frames < want) want = state.query.max_nr_frames;

  state.map_rc = 0;
  state.nr_frames = 0;
  for (unsigned i = 0; i < want; i++) {
    xen::mem::add_to_physmap a{xen::DOMID_SELF, 0, xen::mem::space::grant_table, i, frame_gpfn(i)};
    long rc = hv::memory_op(xen::mem::op::add_to_physmap, &a);
    if (rc != 0) {
      state.map_rc = rc;
      break;
    }
    state.nr_frames++;
  }

  setup_table st{xen::DOMID_SELF, state.nr_frames ? state.nr_frames : 1, 0, uint64_t(state.setup_frames)};
  state.setup_rc = hv::gnttab_op(op::setup_table, &st, 1);
  state.setup_status = st.status;
  state.ok = state.set_version_rc == 0 && state.query_rc == 0 && state.map_rc == 0 && state.nr_frames > 0 &&
             state.setup_rc == 0 && state.setup_status == st::okay;
  return state.ok;
}

}  // namespace grant
