#include "gnttab/grant_table.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "pv/error.h"

namespace pv {
namespace G = xen::gnttab;

GrantTable::GrantTable(const GuestMemory& mem, uint32_t max_frames)
    : mem_(mem), max_frames_(std::min(max_frames, GrantShared::kMaxFrames)) {
  const uint64_t bytes = GrantShared::bytes_for(max_frames_, mem.pages());
  shared_fd_.reset(::memfd_create("pv-grant-state", MFD_CLOEXEC));
  if (!shared_fd_) throw_errno("memfd_create(grant state)");
  if (::ftruncate(shared_fd_.get(), static_cast<off_t>(bytes)) != 0) throw_errno("ftruncate(grant state)");
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, shared_fd_.get(), 0);
  if (p == MAP_FAILED) throw_errno("mmap(grant state)");
  shared_map_ = Mapping(p, bytes);
  GrantShared* s = shared();
  s->magic = GrantShared::kMagic;
  s->max_frames = max_frames_;
  s->nr_frames = 0;
  std::fill(std::begin(s->frame_gfn), std::end(s->frame_gfn), kInvalidGfn);
  access_ = std::make_unique<GrantAccess>(mem_.base(), mem_.size(), s);
}

uint32_t GrantTable::nr_frames() const { return __atomic_load_n(&shared()->nr_frames, __ATOMIC_ACQUIRE); }

uint64_t GrantTable::frame_gfn(uint32_t i) const {
  return i < nr_frames() ? __atomic_load_n(&shared()->frame_gfn[i], __ATOMIC_ACQUIRE) : kInvalidGfn;
}

int16_t GrantTable::grow(uint32_t nr) {
  if (nr > max_frames_) return G::st::general_error;
  std::lock_guard lk(mu_);
  if (nr > nr_frames()) __atomic_store_n(&shared()->nr_frames, nr, __ATOMIC_RELEASE);
  return G::st::okay;
}

int64_t GrantTable::map_frame(uint32_t idx, uint64_t gfn) {
  if (idx >= max_frames_) return -xen::XEN_EINVAL;
  uint8_t* dst = mem_.page(gfn);
  if (!dst) return -xen::XEN_EINVAL;
  std::lock_guard lk(mu_);
  GrantShared* s = shared();
  const uint32_t nr = nr_frames();
  const uint64_t old = idx < nr ? s->frame_gfn[idx] : kInvalidGfn;
  if (old == gfn) return 0;
  for (uint32_t i = 0; i < nr; i++)
    if (s->frame_gfn[i] == gfn) return -xen::XEN_EBUSY;  // one frame per guest page
  // A newly created frame starts empty; a moved one keeps its entries.
  if (old == kInvalidGfn) std::memset(dst, 0, xen::kPageSize);
  else std::memmove(dst, mem_.page(old), xen::kPageSize);
  __atomic_store_n(&s->frame_gfn[idx], gfn, __ATOMIC_RELEASE);
  if (idx >= nr) __atomic_store_n(&s->nr_frames, idx + 1, __ATOMIC_RELEASE);
  return 0;
}

}  // namespace pv
