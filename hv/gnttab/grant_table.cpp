#include "gnttab/grant_table.h"

#include <cstring>

namespace pv {
namespace G = xen::gnttab;

GrantTable::GrantTable(const GuestMemory& mem, uint32_t max_frames) : mem_(mem), max_frames_(max_frames) {}

uint32_t GrantTable::nr_frames() const {
  std::lock_guard lk(mu_);
  return static_cast<uint32_t>(frames_.size());
}

uint64_t GrantTable::frame_gfn(uint32_t i) const {
  std::lock_guard lk(mu_);
  return i < frames_.size() ? frames_[i] : kInvalidGfn;
}

int16_t GrantTable::grow(uint32_t nr) {
  if (nr > max_frames_) return G::st::general_error;
  std::lock_guard lk(mu_);
  if (nr > frames_.size()) frames_.resize(nr, kInvalidGfn);
  return G::st::okay;
}

int64_t GrantTable::map_frame(uint32_t idx, uint64_t gfn) {
  if (idx >= max_frames_) return -xen::XEN_EINVAL;
  uint8_t* dst = mem_.page(gfn);
  if (!dst) return -xen::XEN_EINVAL;
  std::lock_guard lk(mu_);
  if (idx >= frames_.size()) frames_.resize(idx + 1, kInvalidGfn);
  const uint64_t old = frames_[idx];
  if (old == gfn) return 0;
  for (uint32_t i = 0; i < frames_.size(); i++)
    if (frames_[i] == gfn) return -xen::XEN_EBUSY;  // one frame per guest page
  // A newly created frame starts empty; a moved one keeps its entries.
  if (old == kInvalidGfn) std::memset(dst, 0, xen::kPageSize);
  else std::memmove(dst, mem_.page(old), xen::kPageSize);
  frames_[idx] = gfn;
  return 0;
}

G::grant_entry_v1* GrantTable::entry(xen::grant_ref_t ref) const {
  const uint32_t frame = ref / G::kEntriesPerFrameV1;
  if (frame >= frames_.size() || frames_[frame] == kInvalidGfn) return nullptr;
  auto* page = reinterpret_cast<G::grant_entry_v1*>(mem_.page(frames_[frame]));
  return page ? page + ref % G::kEntriesPerFrameV1 : nullptr;
}

int16_t GrantTable::acquire(xen::grant_ref_t ref, xen::domid_t grantee, bool write, uint64_t& gfn) {
  std::lock_guard lk(mu_);
  G::grant_entry_v1* e = entry(ref);
  if (!e) return G::st::bad_gntref;
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
  if (frame >= mem_.pages()) {
    // Undo our flag change before refusing.
    auto& pin = pins_[ref];
    if (pin.readers == 0 && pin.writers == 0) {
      __atomic_fetch_and(word, ~uint32_t(G::GTF_reading | G::GTF_writing), __ATOMIC_ACQ_REL);
      pins_.erase(ref);
    } else if (write && pin.writers == 0) {
      __atomic_fetch_and(word, ~uint32_t(G::GTF_writing), __ATOMIC_ACQ_REL);
    }
    return G::st::bad_page;
  }
  auto& pin = pins_[ref];
  pin.readers++;
  if (write) pin.writers++;
  gfn = frame;
  return G::st::okay;
}

void GrantTable::release(xen::grant_ref_t ref, bool write) {
  std::lock_guard lk(mu_);
  auto it = pins_.find(ref);
  if (it == pins_.end() || it->second.readers == 0) return;
  auto& pin = it->second;
  pin.readers--;
  if (write && pin.writers) pin.writers--;
  uint32_t clear = 0;
  if (pin.writers == 0) clear |= G::GTF_writing;
  if (pin.readers == 0) clear |= G::GTF_reading;
  if (G::grant_entry_v1* e = entry(ref)) __atomic_fetch_and(reinterpret_cast<uint32_t*>(e), ~clear, __ATOMIC_ACQ_REL);
  if (pin.readers == 0) pins_.erase(it);
}

}  // namespace pv
