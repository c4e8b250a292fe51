// What the fake guests of blkback's and netback's unit tests share (the
// netback tests include it from here): guest RAM in anonymous memory, a
// GrantShared region whose grant frames are consecutive guest pages from
// `first_frame_gfn`, the GrantAccess pv-backd would use over them, and a
// guest's view of its grant table.
#pragma once
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>

#include <xen/grant_table.h>

#include "pv/error.h"
#include "pv/grant_access.h"
#include "pv/grant_shared.h"
#include "pv/mapping.h"

namespace backtest {

// Polls `p` until it holds or `timeout` passed; its last answer.
template <typename Pred>
bool eventually(Pred p, std::chrono::milliseconds timeout = std::chrono::seconds(5),
                std::chrono::milliseconds interval = std::chrono::milliseconds(5)) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (p()) return true;
    std::this_thread::sleep_for(interval);
  }
  return p();
}

class FakeGuestMemory {
 public:
  FakeGuestMemory(uint64_t ram_pages, uint32_t grant_frames, uint64_t first_frame_gfn)
      : ram_(anonymous_mapping(ram_pages * 4096)),
        shared_(anonymous_mapping(pv::GrantShared::bytes_for(grant_frames, ram_pages))),
        first_frame_gfn_(first_frame_gfn) {
    auto* gs = reinterpret_cast<pv::GrantShared*>(shared_.data());
    gs->magic = pv::GrantShared::kMagic;
    gs->max_frames = grant_frames;
    gs->nr_frames = grant_frames;
    for (auto& g : gs->frame_gfn) g = pv::GrantShared::kInvalidGfn;
    for (uint32_t f = 0; f < grant_frames; f++) gs->frame_gfn[f] = first_frame_gfn + f;
    access_ = std::make_unique<pv::GrantAccess>(ram_.data(), ram_.size(), gs);
  }
  FakeGuestMemory(const FakeGuestMemory&) = delete;
  FakeGuestMemory& operator=(const FakeGuestMemory&) = delete;

  uint8_t* page(uint64_t gfn) { return ram_.data() + gfn * 4096; }
  xen::gnttab::grant_entry_v1& entry(xen::grant_ref_t ref) {
    return reinterpret_cast<xen::gnttab::grant_entry_v1*>(page(first_frame_gfn_))[ref];  // frames are consecutive
  }
  void grant(xen::grant_ref_t ref, uint64_t gfn, bool readonly = false, xen::domid_t to = 0) {
    namespace G = xen::gnttab;
    entry(ref).frame = uint32_t(gfn);
    entry(ref).domid = to;
    entry(ref).flags = G::GTF_permit_access | (readonly ? G::GTF_readonly : 0);
  }
  // The grant's in-use flags (the back-end still holds it).
  bool in_use(xen::grant_ref_t ref) {
    return (entry(ref).flags & (xen::gnttab::GTF_reading | xen::gnttab::GTF_writing)) != 0;
  }
  pv::GrantAccess& access() { return *access_; }

 private:
  static pv::Mapping anonymous_mapping(size_t bytes) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) pv::throw_errno("mmap(fake guest)");
    return pv::Mapping(p, bytes);
  }

  pv::Mapping ram_, shared_;
  uint64_t first_frame_gfn_;
  std::unique_ptr<pv::GrantAccess> access_;
};

}  // namespace backtest
