// pvguest: blkfront's grants: the per-device cache of persistent grants
// (keyed by frame, open addressing), temporary grants per segment and the
// indirect pages of the shadow entries. See blkfront_internal.h.
#include "blkfront_internal.h"
#include "grant.h"
#include "mm.h"

namespace blkfront {
namespace {

inline unsigned cache_hash(uint32_t key) { return uint32_t(key * 0x9E3779B1u) >> (32 - 12); }
static_assert(kCacheSlots == 1u << 12);

// Adopts a grant the back-end kept mapped (it made it persistent).
bool cache_adopt(Device& d, grant_ref_t ref) {
  if (!d.cache || d.cache_used >= kCacheMax) return false;
  uint32_t key = grant::table()[ref].frame + 1;
  for (unsigned h = cache_hash(key);; h = (h + 1) & (kCacheSlots - 1)) {
    CacheEntry& e = d.cache[h];
    if (e.key == key) return false;  // that frame already has a cached grant
    if (e.key == 0) {
      e.ref = ref;
      e.key = key;
      d.cache_used++;
      return true;
    }
  }
}

// Revokes a temporary grant at completion.
void end_temp(Device& d, grant_ref_t ref) {
  if (grant::gnttab_end_access(ref)) return;
  if (d.persistent_on && cache_adopt(d, ref)) return;
  d.st.leaked_grants++;
}

}  // namespace

grant_ref_t cache_get(Device& d, uint64_t gfn) {
  uint32_t key = uint32_t(gfn) + 1;
  for (unsigned h = cache_hash(key);; h = (h + 1) & (kCacheSlots - 1)) {
    CacheEntry& e = d.cache[h];
    if (e.key == key) return e.ref;
    if (e.key == 0) {
      if (d.cache_used >= kCacheMax) return grant::kInvalidRef;
      grant_ref_t ref = grant::gnttab_grant_access(d.info.backend_id, gfn, false);
      if (ref == grant::kInvalidRef) return ref;
      e.ref = ref;
      e.key = key;
      d.cache_used++;
      d.st.cache_grants++;
      return ref;
    }
  }
}

bool cache_alloc(Device& d) {
  if (!d.cache) d.cache = static_cast<CacheEntry*>(mm::alloc_pages(kCacheSlots * sizeof(CacheEntry) / mm::kPageSize));
  return d.cache != nullptr;
}

void cache_clear(Device& d) {
  if (!d.cache) return;
  for (unsigned i = 0; i < kCacheSlots; i++) {
    CacheEntry& e = d.cache[i];
    if (!e.key) continue;
    if (!grant::gnttab_end_access(e.ref)) d.st.leaked_grants++;
    e.key = 0;
  }
  d.cache_used = 0;
}

void release_grants(Device& d, Shadow& s) {
  if (!s.temp_any) return;
  const grant_ref_t* refs = s.op == BLKIF_OP_INDIRECT ? s.priv : s.dref;
  for (unsigned i = 0; i < s.nsegs; i++)
    if (refs[i] & kTempBit) end_temp(d, refs[i] & ~kTempBit);
  s.temp_any = false;
}

void release_shadow(Device& d, Shadow& s) {
  release_grants(d, s);
  if (s.ind) {
    if (s.ind_ref == grant::kInvalidRef || grant::gnttab_end_access(s.ind_ref)) mm::free_page(s.ind);
    else d.st.leaked_grants++;  // still mapped: leak the page with its grant
  }
  if (s.priv) mm::free_page(s.priv);
}

bool indirect_pages(Device& d, Shadow& s) {
  if (!s.ind) {
    s.ind = static_cast<blkif_request_segment*>(mm::alloc_page());
    s.priv = static_cast<grant_ref_t*>(mm::alloc_pages(1, mm::kNoZero));
    s.ind_ref = s.ind ? grant::gnttab_grant_access(d.info.backend_id, mm::gfn(s.ind), !d.persistent_on)
                      : grant::kInvalidRef;
  }
  return s.ind && s.priv && s.ind_ref != grant::kInvalidRef;
}

bool grant_segments(Device& d, Shadow& s, blkif_request_segment* segs, grant_ref_t* refs, unsigned nsegs, bool ro,
                    uint64_t& addr, uint64_t& left, uint64_t& sector) {
  for (unsigned i = 0; i < nsegs; i++) {
    uint64_t off2 = addr & (mm::kPageSize - 1);
    uint64_t len = mm::kPageSize - off2;
    if (len > left) len = left;
    uint64_t gfn = addr >> mm::kPageShift;
    grant_ref_t ref = d.persistent_on ? cache_get(d, gfn) : grant::kInvalidRef;
    if (ref == grant::kInvalidRef) {
      ref = grant::gnttab_grant_access(d.info.backend_id, gfn, ro);
      if (ref == grant::kInvalidRef) {
        s.nsegs = uint16_t(i);
        return false;
      }
      refs[i] = ref | kTempBit;
      s.temp_any = true;
      d.st.temp_grants++;
    } else {
      refs[i] = ref;
    }
    uint8_t first = uint8_t(off2 >> kSectorShift);
    segs[i] = blkif_request_segment{ref, first, uint8_t(first + (len >> kSectorShift) - 1), 0};
    addr += len;
    left -= len;
    sector += len >> kSectorShift;
  }
  s.nsegs = uint16_t(nsegs);
  return true;
}

}  // namespace blkfront
