// pvguest: grant table v1 setup (set_version, query_size, add_to_physmap of
// the table frames into our own pages, setup_table) and a grant-reference
// allocator on top of it, as Linux's drivers/xen/grant-table.c.
#pragma once
#include <stdint.h>
#include <xen/grant_table.h>

namespace grant {
// Frames we reserve in .bss. init() maps kInitialFrames of them; the
// allocator maps more (XENMEM_add_to_physmap, as Linux's gnttab_expand)
// when its free list runs dry, up to the host's max_nr_frames.
inline constexpr unsigned kMaxFrames = 32;
inline constexpr unsigned kInitialFrames = 4;

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

// ---- reference allocator ----
// References below kFirstFreeRef are never handed out: 0-7 are Xen's
// reserved entries (GNTTAB_NR_RESERVED_ENTRIES: console, xenstore), 8-15
// are left to code that writes fixed entries (the selftest uses ref 8).
// All calls are safe from any vCPU (one interrupt-safe lock).
inline constexpr xen::grant_ref_t kFirstFreeRef = 16;
inline constexpr xen::grant_ref_t kInvalidRef = 0xffffffffu;  // Linux's INVALID_GRANT_REF

// Lets `domid` access frame `gfn` (read-only if `readonly`): a fresh
// reference with frame and domid written before the flags. kInvalidRef
// when the table is full and cannot grow.
xen::grant_ref_t gnttab_grant_access(xen::domid_t domid, uint64_t gfn, bool readonly);
// Revokes and frees `ref`, as Linux's gnttab_try_end_foreign_access: clears
// the flags with cmpxchg unless the grantee still has GTF_reading or
// GTF_writing set, in which case nothing changes and it returns false (the
// caller may try again later or leak the reference; it must not reuse the
// page for anything the grantee may not see).
bool gnttab_end_access(xen::grant_ref_t ref);

// The pieces, for callers that keep references across grants (persistent
// grants, rings re-granted on reconnect):
xen::grant_ref_t gnttab_alloc_ref();            // kInvalidRef when none
void gnttab_free_ref(xen::grant_ref_t ref);     // the entry must be revoked
void gnttab_grant_access_ref(xen::grant_ref_t ref, xen::domid_t domid, uint64_t gfn, bool readonly);
bool gnttab_end_access_ref(xen::grant_ref_t ref);  // revoke, keep the ref
}  // namespace grant
