// Reservation: ballooning over a real memfd guest RAM. Host memory is
// measured from the kernel (the memfd's st_blocks, this process's RssShmem
// in /proc/self/status), never from the Reservation's own counters.
#include <gtest/gtest.h>

#include <sys/mman.h>
#include <sys/stat.h>

#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include <xen/grant_table.h>

#include "gnttab/grant_table.h"
#include "memory/guest_memory.h"
#include "memory/reservation.h"
#include "pv/error.h"
#include "pv/grant_access.h"

namespace pv {
namespace {

namespace G = xen::gnttab;
constexpr uint64_t kRamPages = 16384;  // 64 MiB
constexpr uint64_t kRingGfn = kRamPages - 1;
constexpr uint64_t kMiB = 1 << 20;

uint64_t allocated_bytes(int fd) {
  struct stat st{};
  EXPECT_EQ(::fstat(fd, &st), 0);
  return uint64_t(st.st_blocks) * 512;
}

// Shared memory this process has resident (the memfd's pages mapped here).
uint64_t rss_shmem_bytes() {
  std::ifstream f("/proc/self/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind("RssShmem:", 0) == 0) return std::stoull(line.substr(9)) * 1024;
  ADD_FAILURE() << "no RssShmem in /proc/self/status";
  return 0;
}

Reservation::ReadExtent list(const std::vector<uint64_t>& gfns) {
  return [gfns](uint64_t i, uint64_t& gfn) {
    if (i >= gfns.size()) return false;
    gfn = gfns[i];
    return true;
  };
}

class ReservationTest : public ::testing::Test {
 protected:
  void touch(uint64_t gfn, uint64_t pages, uint8_t value) {
    for (uint64_t g = gfn; g < gfn + pages; g++) std::memset(mem.page(g), value, 4096);
  }
  bool page_is(uint64_t gfn, uint8_t value) {
    const uint8_t* p = mem.page(gfn);
    for (int i = 0; i < 4096; i++)
      if (p[i] != value) return false;
    return true;
  }
  // Everything a refused request must leave alone.
  struct Snapshot {
    uint64_t current, ballooned, blocks;
    bool operator==(const Snapshot&) const = default;
  };
  Snapshot snapshot() { return {res.current(), res.ballooned_out(), allocated_bytes(mem.fd())}; }

  GuestMemory mem{kRamPages * 4096};
  GrantTable gt{mem, 4};
  Reservation res{mem, gt.absent_bitmap(), 0, 0, [](uint64_t gfn) { return gfn < 3 || gfn == kRingGfn; }};
};

TEST_F(ReservationTest, StartsWithEveryFramePopulated) {
  EXPECT_EQ(res.current(), kRamPages);
  EXPECT_EQ(res.maximum(), kRamPages);
  EXPECT_EQ(res.ballooned_out(), 0u);
  EXPECT_TRUE(res.populated(100));
  EXPECT_FALSE(res.populated(kRamPages));
}

TEST_F(ReservationTest, BootTimeBalloonedOutRange) {
  GuestMemory m(kRamPages * 4096);
  GrantTable g(m, 1);
  Reservation r(m, g.absent_bitmap(), 4096, 8192, nullptr);
  EXPECT_EQ(r.current(), kRamPages - 4096);
  EXPECT_EQ(r.maximum(), kRamPages);
  EXPECT_EQ(r.ballooned_out(), 4096u);
  EXPECT_TRUE(r.populated(4095));
  EXPECT_FALSE(r.populated(4096));
  EXPECT_FALSE(r.populated(8191));
  EXPECT_TRUE(r.populated(8192));
  // Growing back into it works up to the ceiling.
  EXPECT_EQ(r.populate(0, 1, 0, list({5000})), 1u);
  EXPECT_EQ(r.current(), kRamPages - 4095);
  // Like Xen's populate-on-demand entries, a frame ballooned out at boot
  // may be given back once (Linux's balloon driver starts from the memory
  // map); nothing was held, so the reservation stays as it is.
  EXPECT_EQ(r.decrease(0, 2, 0, list({6000, 6001})), 2u);
  EXPECT_EQ(r.current(), kRamPages - 4095);
  EXPECT_EQ(r.ballooned_out(), 4095u);
  EXPECT_EQ(r.decrease(0, 1, 0, list({6000})), 0u);  // twice: refused
  EXPECT_EQ(r.decrease(0, 1, 0, list({5000})), 1u);  // populated since: really freed
  EXPECT_EQ(r.current(), kRamPages - 4096);
  EXPECT_EQ(r.populate(0, 1, 0, list({6000})), 1u);
  EXPECT_EQ(r.decrease(0, 2, 0, list({6000, 6000})), 1u);
  EXPECT_THROW(Reservation(m, g.absent_bitmap(), 10, kRamPages + 1, nullptr), UserError);
}

TEST_F(ReservationTest, ARestoreHasTheStreamsFramesAndTheSpecialOnesOnly) {
  // The stream carried frames 10..19 and 5000..5999; frames from 4096 on
  // were ballooned out at boot (the saved memory), the ceiling was 2000.
  res.restore({{10, 10}, {5000, 1000}}, 4096, 8192, 2000);
  EXPECT_EQ(res.current(), 10u + 1000u + 3u + 1u);  // runs + the special frames 0..2 and the ring
  EXPECT_EQ(res.maximum(), 2000u);
  EXPECT_EQ(res.ballooned_out(), kRamPages - res.current());
  EXPECT_TRUE(res.populated(0));
  EXPECT_TRUE(res.populated(kRingGfn));
  EXPECT_TRUE(res.populated(19));
  EXPECT_FALSE(res.populated(20));
  EXPECT_FALSE(res.populated(4999));
  EXPECT_TRUE(res.populated(5999));
  // A frame of the boot-time range may be given back once (nothing held),
  // one elsewhere not at all: it was given back before the save.
  EXPECT_EQ(res.decrease(0, 1, 0, list({7000})), 1u);
  EXPECT_EQ(res.decrease(0, 1, 0, list({7000})), 0u);
  EXPECT_EQ(res.decrease(0, 1, 0, list({100})), 0u);
  EXPECT_EQ(res.current(), 1014u);
  // Growth stops at the saved ceiling.
  std::vector<uint64_t> more;
  for (uint64_t g = 100; g < 1100; g++) more.push_back(g);
  EXPECT_EQ(res.populate(0, more.size(), 0, list(more)), 2000u - 1014u);
  EXPECT_EQ(res.current(), 2000u);
}

// The scenario in small: a guest that touched all its RAM gives
// three quarters back and takes it again; the host's memory follows.
TEST_F(ReservationTest, BalloonOutAndInReleasesAndRestoresHostMemory) {
  touch(3, kRamPages - 4, 0xa5);
  const uint64_t blocks_full = allocated_bytes(mem.fd());
  const uint64_t rss_full = rss_shmem_bytes();
  ASSERT_GE(blocks_full, 63 * kMiB);
  ASSERT_GE(rss_full, 63 * kMiB);

  // Balloon out 48 MiB: every frame from 4096 up, less the ring page.
  std::vector<uint64_t> out;
  for (uint64_t g = 4096; g < kRingGfn; g++) out.push_back(g);
  EXPECT_EQ(res.decrease(0, out.size(), 0, list(out)), out.size());
  EXPECT_EQ(res.current(), kRamPages - out.size());
  EXPECT_EQ(res.ballooned_out(), out.size());
  const uint64_t blocks_out = allocated_bytes(mem.fd());
  const uint64_t rss_out = rss_shmem_bytes();
  EXPECT_LE(blocks_out, blocks_full - 47 * kMiB) << blocks_full << " -> " << blocks_out;
  EXPECT_LE(rss_out, rss_full - 47 * kMiB) << rss_full << " -> " << rss_out;
  // The pages kept hold their data.
  for (uint64_t g = 3; g < 4096; g++) ASSERT_TRUE(page_is(g, 0xa5)) << "gfn " << g;

  // Balloon back in: the frames come back zeroed; touching them uses host memory again.
  EXPECT_EQ(res.populate(0, out.size(), 0, list(out)), out.size());
  EXPECT_EQ(res.current(), kRamPages);
  EXPECT_EQ(res.ballooned_out(), 0u);
  for (uint64_t g : out) ASSERT_TRUE(page_is(g, 0)) << "gfn " << g;
  touch(4096, kRingGfn - 4096, 0x5a);
  EXPECT_GE(allocated_bytes(mem.fd()), blocks_out + 47 * kMiB);
  EXPECT_GE(rss_shmem_bytes(), rss_out + 47 * kMiB);
  for (uint64_t g = 3; g < 4096; g++) ASSERT_TRUE(page_is(g, 0xa5)) << "gfn " << g;
}

TEST_F(ReservationTest, TwoMegabyteExtents) {
  touch(512, 1024, 0x11);
  EXPECT_EQ(res.decrease(0, 2, Reservation::kMaxOrder, list({512, 1024})), 2u);
  EXPECT_EQ(res.current(), kRamPages - 1024);
  EXPECT_FALSE(res.populated(512));
  EXPECT_FALSE(res.populated(1535));
  EXPECT_EQ(res.populate(0, 1, Reservation::kMaxOrder, list({1024})), 1u);
  EXPECT_TRUE(page_is(1024, 0) && page_is(1535, 0));
  EXPECT_FALSE(res.populated(512));
}

TEST_F(ReservationTest, RepopulatedFramesReadZeroEvenIfTheGuestWroteToTheHole) {
  touch(100, 1, 0x77);
  ASSERT_EQ(res.decrease(0, 1, 0, list({100})), 1u);
  EXPECT_TRUE(page_is(100, 0));
  touch(100, 1, 0x66);  // a guest writing to a frame it gave back
  ASSERT_EQ(res.populate(0, 1, 0, list({100})), 1u);
  EXPECT_TRUE(page_is(100, 0));
}

// ---- hostile requests: Xen's answer (the extents done before the refused
// one, here none) and nothing changed ----

TEST_F(ReservationTest, FramesOutsideRamAreRefused) {
  touch(3, 64, 0x42);
  const auto before = snapshot();
  EXPECT_EQ(res.decrease(0, 1, 0, list({kRamPages})), 0u);
  EXPECT_EQ(res.decrease(0, 1, 0, list({~uint64_t{0}})), 0u);
  EXPECT_EQ(res.decrease(0, 1, 1, list({kRamPages - 1})), 0u);           // extent runs past the end
  EXPECT_EQ(res.decrease(0, 1, 9, list({~uint64_t{0} - 10})), 0u);       // gfn + 512 overflows
  EXPECT_EQ(res.populate(0, 1, 9, list({~uint64_t{0} - 10})), 0u);
  EXPECT_EQ(res.populate(0, 1, 0, list({kRamPages + 5})), 0u);
  EXPECT_EQ(snapshot(), before);
  for (uint64_t g = 3; g < 67; g++) ASSERT_TRUE(page_is(g, 0x42));
}

TEST_F(ReservationTest, SpecialFramesAreRefused) {
  touch(kRingGfn, 1, 0x33);
  touch(1, 1, 0x34);
  res.xen_page_placed(200);  // shared_info, say
  touch(200, 1, 0x35);
  const auto before = snapshot();
  EXPECT_EQ(res.decrease(0, 1, 0, list({kRingGfn})), 0u);
  EXPECT_EQ(res.decrease(0, 1, 0, list({1})), 0u);
  EXPECT_EQ(res.decrease(0, 1, 0, list({200})), 0u);
  EXPECT_EQ(res.decrease(0, 1, 9, list({0})), 0u);  // an extent that covers boot data
  EXPECT_EQ(res.populate(0, 1, 0, list({200})), 0u);
  EXPECT_EQ(snapshot(), before);
  EXPECT_TRUE(page_is(kRingGfn, 0x33) && page_is(1, 0x34) && page_is(200, 0x35));
}

TEST_F(ReservationTest, TheSameFrameTwiceIsGivenBackOnce) {
  touch(300, 2, 0x21);
  EXPECT_EQ(res.decrease(0, 3, 0, list({300, 300, 301})), 1u);  // stops at the repeat
  EXPECT_EQ(res.current(), kRamPages - 1);
  EXPECT_TRUE(page_is(301, 0x21));
  const auto before = snapshot();
  EXPECT_EQ(res.decrease(0, 1, 0, list({300})), 0u);
  EXPECT_EQ(snapshot(), before);
  // Populating a populated frame (or the same one twice) is refused likewise.
  EXPECT_EQ(res.populate(0, 1, 0, list({301})), 0u);
  EXPECT_EQ(res.populate(0, 2, 0, list({300, 300})), 1u);
  EXPECT_EQ(res.current(), kRamPages);
  EXPECT_TRUE(page_is(301, 0x21));
}

TEST_F(ReservationTest, NeverBeyondTheCeiling) {
  ASSERT_EQ(res.decrease(0, 4, 0, list({400, 401, 402, 403})), 4u);
  const auto before = snapshot();
  res.set_maximum(kRamPages - 2);
  EXPECT_EQ(res.maximum(), kRamPages - 2);
  EXPECT_EQ(res.populate(0, 4, 0, list({400, 401, 402, 403})), 2u);  // up to the ceiling, no further
  EXPECT_EQ(res.current(), kRamPages - 2);
  EXPECT_EQ(res.populate(0, 1, 0, list({402})), 0u);
  res.set_maximum(kRamPages - 10);  // below current: nothing grows
  EXPECT_EQ(res.populate(0, 1, 0, list({403})), 0u);
  EXPECT_EQ(res.current(), kRamPages - 2);
  res.set_maximum(~uint64_t{0});  // clamped to guest RAM
  EXPECT_EQ(res.maximum(), kRamPages);
  EXPECT_EQ(res.populate(0, 2, 0, list({402, 403})), 2u);
  EXPECT_EQ(res.current(), before.current + 4);
}

TEST_F(ReservationTest, BadExtentOrderDoesNothing) {
  touch(1024, 1024, 0x44);
  const auto before = snapshot();
  EXPECT_EQ(res.decrease(0, 1, Reservation::kMaxOrder + 1, list({1024})), 0u);
  EXPECT_EQ(res.decrease(0, 1, 63, list({1024})), 0u);
  EXPECT_EQ(res.decrease(0, 1, 64, list({1024})), 0u);
  EXPECT_EQ(res.decrease(0, 1, ~0u, list({1024})), 0u);
  EXPECT_EQ(res.populate(0, 1, Reservation::kMaxOrder + 1, list({1024})), 0u);
  EXPECT_EQ(res.increase(0, 1, 0), 0u);
  EXPECT_EQ(snapshot(), before);
  EXPECT_TRUE(page_is(1024, 0x44) && page_is(2047, 0x44));
}

TEST_F(ReservationTest, HugeCountsAreBounded) {
  // A count Xen's continuation cannot encode: nothing done, nothing read.
  uint64_t reads = 0;
  const auto counting = [&](uint64_t i, uint64_t& gfn) {
    reads++;
    gfn = 3 + i;
    return true;
  };
  const auto before = snapshot();
  EXPECT_EQ(res.decrease(0, Reservation::kMaxExtents + 1, 0, counting), 0u);
  EXPECT_EQ(res.decrease(0, ~uint64_t{0}, 0, counting), 0u);
  EXPECT_EQ(reads, 0u);
  EXPECT_EQ(snapshot(), before);
  // The largest count Xen takes is done in bounded pieces: the answer says
  // how far it got, the guest asks again from there (the start extent).
  GuestMemory big((Reservation::kMaxPagesPerCall + 64) * 4096);
  GrantTable g(big, 1);
  Reservation r(big, g.absent_bitmap(), 0, 0, [](uint64_t gfn) { return gfn < 3; });
  const uint64_t done = r.decrease(0, Reservation::kMaxExtents, 0, counting);
  EXPECT_EQ(done, Reservation::kMaxPagesPerCall);
  EXPECT_EQ(reads, Reservation::kMaxPagesPerCall);
  EXPECT_EQ(r.decrease(done, Reservation::kMaxExtents, 0, counting), done + 61);  // then RAM ends
  EXPECT_EQ(r.current(), 3u);
  // A start at or past the count does nothing.
  EXPECT_EQ(r.populate(7, 7, 0, counting), 7u);
  EXPECT_EQ(r.current(), 3u);
}

TEST_F(ReservationTest, UnreadableExtentListStops) {
  const auto fault = [](uint64_t i, uint64_t& gfn) {
    gfn = 500 + i;
    return i < 2;
  };
  EXPECT_EQ(res.decrease(0, 5, 0, fault), 2u);
  EXPECT_EQ(res.current(), kRamPages - 2);
  EXPECT_TRUE(res.populated(502));
}

TEST_F(ReservationTest, XenPagesOnBalloonedOutFrames) {
  ASSERT_EQ(res.decrease(0, 1, 0, list({600})), 1u);
  const uint64_t current = res.current();
  res.xen_page_placed(600);  // Linux puts grant frames on ballooned-out frames
  EXPECT_TRUE(res.populated(600));
  EXPECT_EQ(res.current(), current);  // a Xen page is not the guest's RAM
  EXPECT_EQ(res.decrease(0, 1, 0, list({600})), 0u);
  touch(600, 1, 0x99);
  res.xen_page_removed(600);  // moved elsewhere: a hole again
  EXPECT_FALSE(res.populated(600));
  EXPECT_TRUE(page_is(600, 0));
  // A Xen page placed over a RAM frame frees that frame, as Xen does.
  res.xen_page_placed(601);
  EXPECT_EQ(res.current(), current - 1);
  res.xen_page_placed(601);  // the same page again changes nothing
  EXPECT_EQ(res.current(), current - 1);
}

// pv-backd never touches a ballooned-out frame: a grant of one fails, in
// pv-hv's GrantAccess and in a second one over the shared region, as
// pv-backd maps it.
TEST_F(ReservationTest, GrantOfBalloonedOutFrameIsRefused) {
  ASSERT_EQ(gt.map_frame(0, 10), 0);
  auto* entries = reinterpret_cast<G::grant_entry_v1*>(mem.page(10));
  entries[1].frame = 50;
  entries[1].domid = 0;
  entries[1].flags = G::GTF_permit_access;
  uint64_t gfn = 0;
  ASSERT_EQ(gt.acquire(1, 0, true, gfn), G::st::okay);
  gt.release(1, true);

  ASSERT_EQ(res.decrease(0, 1, 0, list({50})), 1u);
  EXPECT_EQ(gt.acquire(1, 0, true, gfn), G::st::bad_page);
  EXPECT_EQ(gt.acquire(1, 0, false, gfn), G::st::bad_page);
  EXPECT_EQ(entries[1].flags, G::GTF_permit_access);  // no in-use flag left behind

  void* shared = ::mmap(nullptr, gt.shared_bytes(), PROT_READ | PROT_WRITE, MAP_SHARED, gt.shared_fd(), 0);
  ASSERT_NE(shared, MAP_FAILED);
  void* ram = ::mmap(nullptr, mem.size(), PROT_READ | PROT_WRITE, MAP_SHARED, mem.fd(), 0);
  ASSERT_NE(ram, MAP_FAILED);
  {
    GrantAccess backend(static_cast<uint8_t*>(ram), mem.size(), static_cast<GrantShared*>(shared));
    EXPECT_FALSE(backend.populated(50));
    EXPECT_EQ(backend.acquire(1, 0, false, gfn), G::st::bad_page);
    ASSERT_EQ(res.populate(0, 1, 0, list({50})), 1u);
    EXPECT_TRUE(backend.populated(50));
    EXPECT_EQ(backend.acquire(1, 0, false, gfn), G::st::okay);
    EXPECT_EQ(gfn, 50u);
    backend.release(1, false);
  }
  ::munmap(ram, mem.size());
  ::munmap(shared, gt.shared_bytes());
}

}  // namespace
}  // namespace pv
