// GrantTable (v1) over guest RAM.
#include <gtest/gtest.h>

#include <sys/mman.h>

#include <atomic>
#include <cstring>
#include <thread>

#include <xen/grant_table.h>

#include "gnttab/grant_table.h"
#include "memory/guest_memory.h"

namespace pv {
namespace {

namespace G = xen::gnttab;
constexpr uint64_t kRamPages = 256;  // 1 MiB
constexpr uint32_t kMaxFrames = 4;
constexpr xen::domid_t kBackend = 0;

class GrantTableTest : public ::testing::Test {
 protected:
  // The guest's view of entry `ref` (through the frame the table uses).
  G::grant_entry_v1& e(xen::grant_ref_t ref) {
    const uint64_t gfn = gt.frame_gfn(ref / G::kEntriesPerFrameV1);
    return *reinterpret_cast<G::grant_entry_v1*>(mem.page(gfn) + (ref % G::kEntriesPerFrameV1) * 8);
  }
  // Grants `frame` to `domid` the way a guest does: frame and domid, then flags.
  void grant(xen::grant_ref_t ref, uint32_t frame, uint16_t flags = G::GTF_permit_access,
             xen::domid_t domid = kBackend) {
    e(ref).frame = frame;
    e(ref).domid = domid;
    e(ref).flags = flags;
  }

  GuestMemory mem{kRamPages * 4096};
  GrantTable gt{mem, kMaxFrames};
};

TEST_F(GrantTableTest, StartsEmpty) {
  EXPECT_EQ(gt.version(), 1u);
  EXPECT_EQ(gt.nr_frames(), 0u);
  EXPECT_EQ(gt.max_frames(), kMaxFrames);
  EXPECT_EQ(gt.frame_gfn(0), GrantTable::kInvalidGfn);
  uint64_t gfn = 0;
  EXPECT_EQ(gt.acquire(0, kBackend, false, gfn), G::st::bad_gntref);
}

TEST_F(GrantTableTest, GrowLimits) {
  EXPECT_EQ(gt.grow(0), G::st::okay);
  EXPECT_EQ(gt.nr_frames(), 0u);
  EXPECT_EQ(gt.grow(2), G::st::okay);
  EXPECT_EQ(gt.nr_frames(), 2u);
  EXPECT_EQ(gt.frame_gfn(0), GrantTable::kInvalidGfn);  // grown but not placed
  EXPECT_EQ(gt.frame_gfn(1), GrantTable::kInvalidGfn);
  EXPECT_EQ(gt.grow(kMaxFrames), G::st::okay);
  EXPECT_EQ(gt.nr_frames(), kMaxFrames);
  EXPECT_EQ(gt.grow(kMaxFrames + 1), G::st::general_error);
  EXPECT_EQ(gt.grow(0xffffffffu), G::st::general_error);
  EXPECT_EQ(gt.nr_frames(), kMaxFrames);
  EXPECT_EQ(gt.grow(1), G::st::okay);  // never shrinks
  EXPECT_EQ(gt.nr_frames(), kMaxFrames);
  EXPECT_EQ(gt.frame_gfn(kMaxFrames), GrantTable::kInvalidGfn);
}

TEST_F(GrantTableTest, MapFrameZeroesNewFrame) {
  std::memset(mem.page(10), 0xff, 4096);
  ASSERT_EQ(gt.map_frame(0, 10), 0);
  EXPECT_EQ(gt.frame_gfn(0), 10u);
  EXPECT_EQ(gt.nr_frames(), 1u);
  for (int i = 0; i < 4096; i++) ASSERT_EQ(mem.page(10)[i], 0) << i;
}

TEST_F(GrantTableTest, MapFrameGrowsTable) {
  ASSERT_EQ(gt.map_frame(2, 30), 0);
  EXPECT_EQ(gt.nr_frames(), 3u);
  EXPECT_EQ(gt.frame_gfn(0), GrantTable::kInvalidGfn);
  EXPECT_EQ(gt.frame_gfn(1), GrantTable::kInvalidGfn);
  EXPECT_EQ(gt.frame_gfn(2), 30u);
}

TEST_F(GrantTableTest, MovingAFrameKeepsEntries) {
  ASSERT_EQ(gt.map_frame(0, 10), 0);
  grant(5, 0x42);
  grant(511, 0x43, G::GTF_permit_access | G::GTF_readonly, 7);
  ASSERT_EQ(gt.map_frame(0, 20), 0);
  EXPECT_EQ(gt.frame_gfn(0), 20u);
  const auto* moved = reinterpret_cast<G::grant_entry_v1*>(mem.page(20));
  EXPECT_EQ(moved[5].frame, 0x42u);
  EXPECT_EQ(moved[5].flags, G::GTF_permit_access);
  EXPECT_EQ(moved[511].domid, 7);
  EXPECT_EQ(moved[511].flags, G::GTF_permit_access | G::GTF_readonly);
  // Acquisition now uses the new location.
  uint64_t gfn = 0;
  ASSERT_EQ(gt.acquire(5, kBackend, false, gfn), G::st::okay);
  EXPECT_EQ(gfn, 0x42u);
  EXPECT_TRUE(moved[5].flags & G::GTF_reading);
  // Re-placing at the same gfn changes nothing (no zeroing).
  ASSERT_EQ(gt.map_frame(0, 20), 0);
  EXPECT_EQ(moved[5].frame, 0x42u);
}

TEST_F(GrantTableTest, MapFrameRefusals) {
  EXPECT_EQ(gt.map_frame(0, kRamPages), -xen::XEN_EINVAL);
  EXPECT_EQ(gt.map_frame(0, ~uint64_t{0}), -xen::XEN_EINVAL);
  EXPECT_EQ(gt.map_frame(kMaxFrames, 10), -xen::XEN_EINVAL);
  EXPECT_EQ(gt.map_frame(0xffffffffu, 10), -xen::XEN_EINVAL);
  EXPECT_EQ(gt.nr_frames(), 0u);  // refusals do not grow the table
  ASSERT_EQ(gt.map_frame(0, 10), 0);
  grant(3, 0x44);
  EXPECT_EQ(gt.map_frame(1, 10), -xen::XEN_EBUSY);  // one gfn per frame
  EXPECT_EQ(gt.frame_gfn(0), 10u);
  EXPECT_EQ(e(3).frame, 0x44u);  // frame 0's entries untouched
  EXPECT_EQ(gt.map_frame(0, kRamPages - 1), 0);  // last page of RAM is fine
}

TEST_F(GrantTableTest, AcquireReadAndWrite) {
  ASSERT_EQ(gt.map_frame(0, 10), 0);
  grant(5, 0x42);
  uint64_t gfn = 0;
  ASSERT_EQ(gt.acquire(5, kBackend, false, gfn), G::st::okay);
  EXPECT_EQ(gfn, 0x42u);
  EXPECT_EQ(e(5).flags, G::GTF_permit_access | G::GTF_reading);
  EXPECT_EQ(e(5).domid, kBackend);
  EXPECT_EQ(e(5).frame, 0x42u);

  grant(6, 0x50);
  gfn = 0;
  ASSERT_EQ(gt.acquire(6, kBackend, true, gfn), G::st::okay);
  EXPECT_EQ(gfn, 0x50u);
  EXPECT_EQ(e(6).flags, G::GTF_permit_access | G::GTF_reading | G::GTF_writing);
}

TEST_F(GrantTableTest, AcquireInLaterFrame) {
  ASSERT_EQ(gt.map_frame(0, 10), 0);
  ASSERT_EQ(gt.map_frame(1, 11), 0);
  const xen::grant_ref_t ref = G::kEntriesPerFrameV1 + 3;
  grant(ref, 0x60, G::GTF_permit_access, 2);
  uint64_t gfn = 0;
  ASSERT_EQ(gt.acquire(ref, 2, false, gfn), G::st::okay);
  EXPECT_EQ(gfn, 0x60u);
  EXPECT_EQ(reinterpret_cast<G::grant_entry_v1*>(mem.page(11))[3].flags, G::GTF_permit_access | G::GTF_reading);
  EXPECT_EQ(reinterpret_cast<G::grant_entry_v1*>(mem.page(10))[3].flags, 0);
}

TEST_F(GrantTableTest, AcquireRefusalsLeaveEntryAlone) {
  ASSERT_EQ(gt.map_frame(0, 10), 0);
  uint64_t gfn = 0xabc;
  struct Case {
    uint16_t flags;
    xen::domid_t domid;
    bool write;
    int16_t want;
  } cases[] = {
      {G::GTF_permit_access, 1, false, G::st::general_error},  // granted to another domain
      {G::GTF_invalid, kBackend, false, G::st::general_error},
      {G::GTF_accept_transfer, kBackend, false, G::st::general_error},
      {G::GTF_transitive, kBackend, false, G::st::general_error},
      {G::GTF_readonly, kBackend, false, G::st::general_error},  // readonly but not permitted
      {G::GTF_permit_access | G::GTF_readonly, kBackend, true, G::st::permission_denied},
  };
  for (const auto& c : cases) {
    grant(9, 0x42, c.flags, c.domid);
    EXPECT_EQ(gt.acquire(9, kBackend, c.write, gfn), c.want) << "flags " << c.flags;
    EXPECT_EQ(e(9).flags, c.flags);
    EXPECT_EQ(e(9).domid, c.domid);
    EXPECT_EQ(gfn, 0xabcu);
  }
  // Read access to a read-only grant is fine.
  grant(9, 0x42, G::GTF_permit_access | G::GTF_readonly);
  EXPECT_EQ(gt.acquire(9, kBackend, false, gfn), G::st::okay);
  EXPECT_EQ(e(9).flags, G::GTF_permit_access | G::GTF_readonly | G::GTF_reading);
}

TEST_F(GrantTableTest, BadReferences) {
  ASSERT_EQ(gt.map_frame(0, 10), 0);
  ASSERT_EQ(gt.grow(2), G::st::okay);  // frame 1 exists but is not placed
  uint64_t gfn = 0;
  EXPECT_EQ(gt.acquire(G::kEntriesPerFrameV1, kBackend, false, gfn), G::st::bad_gntref);
  EXPECT_EQ(gt.acquire(2 * G::kEntriesPerFrameV1, kBackend, false, gfn), G::st::bad_gntref);
  EXPECT_EQ(gt.acquire(kMaxFrames * G::kEntriesPerFrameV1, kBackend, false, gfn), G::st::bad_gntref);
  EXPECT_EQ(gt.acquire(0xffffffffu, kBackend, false, gfn), G::st::bad_gntref);
  gt.release(0xffffffffu, false);  // harmless
}

TEST_F(GrantTableTest, FrameBeyondRamIsBadPageAndFlagsRestored) {
  ASSERT_EQ(gt.map_frame(0, 10), 0);
  grant(4, kRamPages);
  uint64_t gfn = 0xabc;
  EXPECT_EQ(gt.acquire(4, kBackend, true, gfn), G::st::bad_page);
  EXPECT_EQ(e(4).flags, G::GTF_permit_access);
  EXPECT_EQ(gfn, 0xabcu);
  EXPECT_EQ(gt.acquire(4, kBackend, false, gfn), G::st::bad_page);
  EXPECT_EQ(e(4).flags, G::GTF_permit_access);
  grant(4, 0xffffffffu);
  EXPECT_EQ(gt.acquire(4, kBackend, false, gfn), G::st::bad_page);
  EXPECT_EQ(e(4).flags, G::GTF_permit_access);
  // The last frame of RAM is fine.
  grant(4, kRamPages - 1);
  EXPECT_EQ(gt.acquire(4, kBackend, false, gfn), G::st::okay);
  EXPECT_EQ(gfn, kRamPages - 1);
}

TEST_F(GrantTableTest, BadPageWhileAlreadyPinnedKeepsExistingPins) {
  ASSERT_EQ(gt.map_frame(0, 10), 0);
  grant(4, 0x42);
  uint64_t gfn = 0;
  ASSERT_EQ(gt.acquire(4, kBackend, false, gfn), G::st::okay);
  // The guest (wrongly) rewrites the frame while the grant is in use.
  e(4).frame = kRamPages + 5;
  EXPECT_EQ(gt.acquire(4, kBackend, true, gfn), G::st::bad_page);
  EXPECT_EQ(e(4).flags, G::GTF_permit_access | G::GTF_reading);  // write bit undone, read pin kept
  gt.release(4, false);
  EXPECT_EQ(e(4).flags, G::GTF_permit_access);
}

TEST_F(GrantTableTest, ReleaseClearsFlagsWithTheLastPin) {
  ASSERT_EQ(gt.map_frame(0, 10), 0);
  grant(7, 0x42);
  uint64_t gfn = 0;
  ASSERT_EQ(gt.acquire(7, kBackend, false, gfn), G::st::okay);
  ASSERT_EQ(gt.acquire(7, kBackend, false, gfn), G::st::okay);
  gt.release(7, false);
  EXPECT_EQ(e(7).flags, G::GTF_permit_access | G::GTF_reading);
  gt.release(7, false);
  EXPECT_EQ(e(7).flags, G::GTF_permit_access);
  gt.release(7, false);  // extra release: no effect
  EXPECT_EQ(e(7).flags, G::GTF_permit_access);

  // A writer and a reader: writing goes with the writer, reading with both.
  ASSERT_EQ(gt.acquire(7, kBackend, true, gfn), G::st::okay);
  ASSERT_EQ(gt.acquire(7, kBackend, false, gfn), G::st::okay);
  EXPECT_EQ(e(7).flags, G::GTF_permit_access | G::GTF_reading | G::GTF_writing);
  gt.release(7, true);
  EXPECT_EQ(e(7).flags, G::GTF_permit_access | G::GTF_reading);
  gt.release(7, false);
  EXPECT_EQ(e(7).flags, G::GTF_permit_access);
}

TEST_F(GrantTableTest, ReleaseWithoutAcquireLeavesGuestFlags) {
  ASSERT_EQ(gt.map_frame(0, 10), 0);
  grant(8, 0x42, G::GTF_permit_access | G::GTF_reading | G::GTF_writing);
  gt.release(8, true);
  EXPECT_EQ(e(8).flags, G::GTF_permit_access | G::GTF_reading | G::GTF_writing);
}

TEST_F(GrantTableTest, GuestUpdatesBetweenAcquireAndReleaseAreKept) {
  ASSERT_EQ(gt.map_frame(0, 10), 0);
  grant(2, 0x42);
  uint64_t gfn = 0;
  ASSERT_EQ(gt.acquire(2, kBackend, true, gfn), G::st::okay);
  // The guest sets other flag bits in the same word meanwhile.
  e(2).flags |= G::GTF_PWT | G::GTF_sub_page;
  gt.release(2, true);
  EXPECT_EQ(e(2).flags, G::GTF_permit_access | G::GTF_PWT | G::GTF_sub_page);
  EXPECT_EQ(e(2).domid, kBackend);
  EXPECT_EQ(e(2).frame, 0x42u);
}

TEST_F(GrantTableTest, ConcurrentGuestFlagTogglesAreNeverLost) {
  ASSERT_EQ(gt.map_frame(0, 10), 0);
  grant(1, 0x42);
  auto* word = reinterpret_cast<uint32_t*>(&e(1));
  std::atomic<bool> stop{false};
  uint64_t toggles = 0;
  std::thread guest([&] {
    // The guest flips GTF_PAT with atomic ops, as a real guest would.
    while (!stop.load(std::memory_order_relaxed)) {
      __atomic_fetch_xor(word, uint32_t{G::GTF_PAT}, __ATOMIC_SEQ_CST);
      toggles++;
    }
  });
  uint64_t gfn = 0;
  int failures = 0;
  for (int i = 0; i < 20000; i++) {
    if (gt.acquire(1, kBackend, (i & 1) != 0, gfn) != G::st::okay) failures++;
    else gt.release(1, (i & 1) != 0);
  }
  stop = true;
  guest.join();
  EXPECT_EQ(failures, 0);
  const uint16_t flags = e(1).flags;
  EXPECT_EQ((flags & G::GTF_PAT) != 0, (toggles & 1) != 0) << "a guest update was lost; toggles " << toggles;
  EXPECT_EQ(flags & ~G::GTF_PAT, G::GTF_permit_access);
}

// The back-end daemon maps the same grant state (a second GrantAccess over
// the shared region, as pv-backd does) and pv-hv cleans up after it.
TEST_F(GrantTableTest, BackendProcessSharesPinsAndIsCleanedUpAfter) {
  ASSERT_EQ(gt.map_frame(0, 10), 0);
  grant(1, 40);
  grant(2, 41);
  void* shared = ::mmap(nullptr, gt.shared_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED, gt.shared_fd(), 0);
  ASSERT_NE(shared, MAP_FAILED);
  {
    GrantAccess backend(mem.base(), mem.size(), static_cast<GrantShared*>(shared));
    uint64_t gfn = 0;
    ASSERT_EQ(backend.acquire(1, kBackend, true, gfn), G::st::okay);
    EXPECT_EQ(gfn, 40u);
    ASSERT_EQ(backend.acquire(2, kBackend, false, gfn), G::st::okay);
    ASSERT_EQ(backend.acquire(2, kBackend, false, gfn), G::st::okay);
    EXPECT_EQ(e(1).flags, G::GTF_permit_access | G::GTF_reading | G::GTF_writing);
    EXPECT_EQ(e(2).flags, G::GTF_permit_access | G::GTF_reading);
    backend.release(2, false);
    EXPECT_EQ(e(2).flags, G::GTF_permit_access | G::GTF_reading);  // one use left
  }
  // The back-end died holding refs 1 and 2: pv-hv releases both.
  EXPECT_EQ(gt.release_backend_pins(), 2u);
  EXPECT_EQ(e(1).flags, G::GTF_permit_access);
  EXPECT_EQ(e(2).flags, G::GTF_permit_access);
  EXPECT_EQ(gt.release_backend_pins(), 0u);
  ::munmap(shared, gt.shared_bytes());
}

TEST_F(GrantTableTest, GrantStateHeaderDescribesFrames) {
  ASSERT_EQ(gt.map_frame(1, 12), 0);
  auto* s = static_cast<GrantShared*>(::mmap(nullptr, gt.shared_bytes(), PROT_READ, MAP_SHARED, gt.shared_fd(), 0));
  ASSERT_NE(static_cast<void*>(s), MAP_FAILED);
  EXPECT_EQ(s->magic, GrantShared::kMagic);
  EXPECT_EQ(s->max_frames, kMaxFrames);
  EXPECT_EQ(s->nr_frames, 2u);
  EXPECT_EQ(s->frame_gfn[0], GrantShared::kInvalidGfn);
  EXPECT_EQ(s->frame_gfn[1], 12u);
  EXPECT_EQ(gt.shared_bytes(), GrantShared::bytes_for(kMaxFrames, mem.pages()));
  ::munmap(s, gt.shared_bytes());
}

}  // namespace
}  // namespace pv
