#include "pv/grant_access.h"

namespace pv {
namespace G = xen::gnttab;

namespace {
constexpr uint32_t kReader = 1, kWriter = 1u << 16;
uint32_t readers(uint32_t pin) { return pin & 0xffff; }
uint32_t writers(uint32_t pin) { return pin >> 16; }
}  // namespace

GrantAccess::GrantAccess(uint8_t* ram, uint64_t ram_bytes, GrantShared* shared)
    : ram_(ram),
      ram_pages_(ram_bytes >> 12),
      shared_(shared),
      pins_(reinterpret_cast<uint32_t*>(reinterpret_cast<uint8_t*>(shared) + GrantShared::kPinsOffset)),
      absent_(reinterpret_cast<const uint64_t*>(reinterpret_cast<uint8_t*>(shared) +
                                                GrantShared::absent_offset(shared->max_frames))),
      written_(reinterpret_cast<uint64_t*>(reinterpret_cast<uint8_t*>(shared) +
                                           GrantShared::written_offset(shared->max_frames, ram_bytes >> 12))) {}

void GrantAccess::mark_written(const uint8_t* page) {
  if (page < ram_ || page >= ram_ + (ram_pages_ << 12)) return;
  const uint64_t gfn = static_cast<uint64_t>(page - ram_) >> 12;
  __atomic_fetch_or(written_word(gfn), uint64_t{1} << (gfn % 64), __ATOMIC_RELEASE);
}

G::grant_entry_v1* GrantAccess::entry(xen::grant_ref_t ref) const {
  const uint32_t frame = ref / G::kEntriesPerFrameV1;
  const uint32_t max = shared_->max_frames < GrantShared::kMaxFrames ? shared_->max_frames : GrantShared::kMaxFrames;
  if (frame >= max || frame >= __atomic_load_n(&shared_->nr_frames, __ATOMIC_ACQUIRE)) return nullptr;
  const uint64_t gfn = __atomic_load_n(&shared_->frame_gfn[frame], __ATOMIC_ACQUIRE);
  uint8_t* p = page(gfn);
  return p ? reinterpret_cast<G::grant_entry_v1*>(p) + ref % G::kEntriesPerFrameV1 : nullptr;
}

uint32_t* GrantAccess::pin(xen::grant_ref_t ref) const { return ref < max_refs() ? &pins_[ref] : nullptr; }

int16_t GrantAccess::acquire(xen::grant_ref_t ref, xen::domid_t grantee, bool write, uint64_t& gfn) {
  std::lock_guard lk(mu_);
  G::grant_entry_v1* e = entry(ref);
  uint32_t* p = pin(ref);
  if (!e || !p) return G::st::bad_gntref;
  const uint32_t held = __atomic_load_n(p, __ATOMIC_RELAXED);
  if (readers(held) == 0xffff || writers(held) == 0xffff) return G::st::no_device_space;
  // flags and domid form one 32-bit word, updated with compare-and-swap
  // so the guest's own updates are never lost.
  auto* word = reinterpret_cast<uint32_t*>(e);
  uint32_t cur = __atomic_load_n(word, __ATOMIC_ACQUIRE);
  for (;;) {
    const uint16_t flags = static_cast<uint16_t>(cur);
    const uint16_t domid = static_cast<uint16_t>(cur >> 16);
    if ((flags & G::GTF_type_mask) != G::GTF_permit_access || domid != grantee) return G::st::general_error;
    if (write && (flags & G::GTF_readonly)) return G::st::permission_denied;
    const uint32_t want = cur | G::GTF_reading | (write ? G::GTF_writing : 0);
    if (__atomic_compare_exchange_n(word, &cur, want, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) break;
  }
  const uint32_t frame = __atomic_load_n(&e->frame, __ATOMIC_ACQUIRE);
  if (!populated(frame)) {
    // Undo the flags this call set before refusing.
    uint32_t clear = 0;
    if (readers(held) == 0) clear |= G::GTF_reading;
    if (write && writers(held) == 0) clear |= G::GTF_writing;
    if (clear) __atomic_fetch_and(word, ~clear, __ATOMIC_ACQ_REL);
    return G::st::bad_page;
  }
  __atomic_store_n(p, held + kReader + (write ? kWriter : 0), __ATOMIC_RELEASE);
  gfn = frame;
  return G::st::okay;
}

void GrantAccess::release(xen::grant_ref_t ref, bool write) {
  std::lock_guard lk(mu_);
  uint32_t* p = pin(ref);
  if (!p) return;
  uint32_t held = __atomic_load_n(p, __ATOMIC_RELAXED);
  if (readers(held) == 0) return;
  held -= kReader;
  if (write && writers(held)) held -= kWriter;
  uint32_t clear = 0;
  if (writers(held) == 0) clear |= G::GTF_writing;
  if (readers(held) == 0) clear |= G::GTF_reading;
  if (G::grant_entry_v1* e = entry(ref)) __atomic_fetch_and(reinterpret_cast<uint32_t*>(e), ~clear, __ATOMIC_ACQ_REL);
  __atomic_store_n(p, held, __ATOMIC_RELEASE);
}

uint32_t GrantAccess::release_all() {
  std::lock_guard lk(mu_);
  uint32_t n = 0;
  const uint32_t refs = max_refs();
  for (uint32_t ref = 0; ref < refs; ref++) {
    if (__atomic_load_n(&pins_[ref], __ATOMIC_ACQUIRE) == 0) continue;
    n++;
    if (G::grant_entry_v1* e = entry(ref))
      __atomic_fetch_and(reinterpret_cast<uint32_t*>(e), ~uint32_t(G::GTF_reading | G::GTF_writing), __ATOMIC_ACQ_REL);
    __atomic_store_n(&pins_[ref], 0u, __ATOMIC_RELEASE);
  }
  return n;
}

}  // namespace pv
