// pvguest: grant table v1 setup and the reference allocator.
#include "grant.h"

#include <xen/memory.h>

#include "arch.h"
#include "console.h"
#include "hypercall.h"

namespace grant {
namespace {
alignas(4096) uint8_t frames[kMaxFrames][4096];

// Free list as Linux's gnttab_list: next[ref] is the next free reference.
constexpr unsigned kMaxRefs = kMaxFrames * xen::gnttab::kEntriesPerFrameV1;
uint32_t next_free[kMaxRefs];
uint32_t free_head = kInvalidRef;
unsigned listed_frames = 0;  // frames whose entries are on the free list
uint64_t grow_fails = 0;
arch::SpinLock lock;

// Puts the references of frames [listed_frames, state.nr_frames) on the
// free list (lock held).
void list_new_frames() {
  for (unsigned f = state.nr_frames; f > listed_frames; f--) {
    unsigned first = (f - 1) * xen::gnttab::kEntriesPerFrameV1;
    for (unsigned r = first + xen::gnttab::kEntriesPerFrameV1; r > first; r--) {
      if (r - 1 < kFirstFreeRef) continue;
      next_free[r - 1] = free_head;
      free_head = r - 1;
    }
  }
  listed_frames = state.nr_frames;
}

// Maps one more frame (lock held); false when the host says no.
bool grow() {
  unsigned limit = kMaxFrames;
  if (state.query_rc == 0 && state.query.max_nr_frames < limit) limit = state.query.max_nr_frames;
  if (state.nr_frames >= limit) return false;
  unsigned i = state.nr_frames;
  xen::mem::add_to_physmap a{xen::DOMID_SELF, 0, xen::mem::space::grant_table, i, frame_gpfn(i)};
  long rc = hv::memory_op(xen::mem::op::add_to_physmap, &a);
  if (rc != 0) {
    if (grow_fails++ == 0) con::printf("grant: add_to_physmap(grant frame %u) rc=%ld\n", i, rc);
    return false;
  }
  state.nr_frames++;
  return true;
}

inline volatile uint16_t* flags_of(xen::grant_ref_t ref) { return &table()[ref].flags; }
inline uint16_t cmpxchg16(volatile uint16_t* p, uint16_t old, uint16_t nv) {
  asm volatile("lock cmpxchgw %2, %1" : "+a"(old), "+m"(*p) : "r"(nv) : "memory");
  return old;
}
}  // namespace
State state;

xen::gnttab::grant_entry_v1* table() { return reinterpret_cast<xen::gnttab::grant_entry_v1*>(frames[0]); }
uint64_t frame_gpfn(unsigned i) { return uint64_t(frames[i]) >> xen::kPageShift; }

bool init() {
  using namespace xen::gnttab;
  set_version sv{1};
  state.set_version_rc = hv::gnttab_op(op::set_version, &sv, 1);

  state.query = query_size{xen::DOMID_SELF, 0, 0, 0};
  state.query_rc = hv::gnttab_op(op::query_size, &state.query, 1);
  unsigned want = kInitialFrames;
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

xen::grant_ref_t gnttab_alloc_ref() {
  uint64_t f = arch::lock_irqsave(lock);
  if (listed_frames < state.nr_frames) list_new_frames();
  if (free_head == kInvalidRef && grow()) list_new_frames();
  xen::grant_ref_t ref = free_head;
  if (ref != kInvalidRef) {
    free_head = next_free[ref];
  }
  arch::unlock_irqrestore(lock, f);
  return ref;
}

void gnttab_free_ref(xen::grant_ref_t ref) {
  if (ref < kFirstFreeRef || ref >= listed_frames * xen::gnttab::kEntriesPerFrameV1) {
    con::printf("grant: freeing bad reference %u\n", ref);
    return;
  }
  uint64_t f = arch::lock_irqsave(lock);
  next_free[ref] = free_head;
  free_head = ref;
  arch::unlock_irqrestore(lock, f);
}

void gnttab_grant_access_ref(xen::grant_ref_t ref, xen::domid_t domid, uint64_t gfn, bool readonly) {
  xen::gnttab::grant_entry_v1& e = table()[ref];
  e.frame = uint32_t(gfn);
  e.domid = domid;
  arch::wmb();  // frame and domid before the flags that make them valid
  *flags_of(ref) = uint16_t(xen::gnttab::GTF_permit_access | (readonly ? xen::gnttab::GTF_readonly : 0));
}

xen::grant_ref_t gnttab_grant_access(xen::domid_t domid, uint64_t gfn, bool readonly) {
  xen::grant_ref_t ref = gnttab_alloc_ref();
  if (ref != kInvalidRef) gnttab_grant_access_ref(ref, domid, gfn, readonly);
  return ref;
}

// gnttab_end_foreign_access_ref_v1: refuse while the grantee holds it.
bool gnttab_end_access_ref(xen::grant_ref_t ref) {
  volatile uint16_t* p = flags_of(ref);
  uint16_t flags = *p;
  for (;;) {
    if (flags & (xen::gnttab::GTF_reading | xen::gnttab::GTF_writing)) return false;
    uint16_t seen = cmpxchg16(p, flags, 0);
    if (seen == flags) return true;
    flags = seen;
  }
}

bool gnttab_end_access(xen::grant_ref_t ref) {
  if (!gnttab_end_access_ref(ref)) return false;
  gnttab_free_ref(ref);
  return true;
}

}  // namespace grant
