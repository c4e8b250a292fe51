// translate_gva and GuestAccess over 4-level page tables built by hand in
// guest RAM.
#include <gtest/gtest.h>

#include <array>
#include <cstring>
#include <numeric>

#include "cpu/page_walk.h"
#include "hypercall/guest_access.h"
#include "memory/guest_memory.h"

namespace pv {
namespace {

constexpr uint64_t kP = 1, kW = 2, kPs = 1ull << 7;
constexpr uint64_t kCr0Pe = 1, kCr0Wp = 1ull << 16, kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1ull << 5, kCr4La57 = 1ull << 12;
constexpr uint64_t kEferLme = 1ull << 8, kEferLma = 1ull << 10;
constexpr uint64_t kRam = 16ull << 20;

// Builds page tables in guest RAM; tables come from a bump allocator.
class PageTables {
 public:
  explicit PageTables(GuestMemory& mem) : mem_(mem), pml4_(alloc()) {}

  uint64_t cr3() const { return pml4_; }

  // Maps gva at `leaf_level` (0: 4 KiB PTE, 1: 2 MiB PDE, 2: 1 GiB PDPTE).
  void map(uint64_t gva, uint64_t gpa, int leaf_level, uint64_t flags = kP | kW) {
    uint64_t table = pml4_;
    for (int level = 3; level > leaf_level; level--) {
      uint64_t* e = slot(table, gva, level);
      if (!(*e & kP)) *e = alloc() | kP | kW;
      table = *e & 0x000ffffffffff000ull;
    }
    *slot(table, gva, leaf_level) = gpa | flags | (leaf_level > 0 ? kPs : 0);
  }

  // The entry that translates gva at `level` (the path must exist).
  uint64_t& entry(uint64_t gva, int level) {
    uint64_t table = pml4_;
    for (int l = 3; l > level; l--) table = *slot(table, gva, l) & 0x000ffffffffff000ull;
    return *slot(table, gva, level);
  }

 private:
  uint64_t alloc() {
    const uint64_t p = next_;
    next_ += 0x1000;
    std::memset(mem_.host(p, 0x1000), 0, 0x1000);
    return p;
  }
  uint64_t* slot(uint64_t table, uint64_t gva, int level) {
    const unsigned idx = (gva >> (12 + 9 * level)) & 0x1ff;
    auto* e = mem_.object<uint64_t>(table + idx * 8);
    if (!e) throw std::runtime_error("page table outside RAM");
    return e;
  }

  GuestMemory& mem_;
  uint64_t next_ = 0x100000;
  uint64_t pml4_;
};

class PageWalk : public ::testing::Test {
 protected:
  PagingState long_mode(bool wp = true) const {
    return {kCr0Pe | kCr0Pg | (wp ? kCr0Wp : 0), pt.cr3(), kCr4Pae, kEferLme | kEferLma};
  }
  std::optional<uint64_t> tr(uint64_t gva, bool write = false, bool wp = true) const {
    return translate_gva(mem, long_mode(wp), gva, write);
  }

  GuestMemory mem{kRam};
  PageTables pt{mem};
};

TEST_F(PageWalk, FourKiBPage) {
  const uint64_t gva = 0x00007fff12345000ull;
  pt.map(gva, 0x345000, 0);
  EXPECT_EQ(tr(gva), 0x345000u);
  EXPECT_EQ(tr(gva + 0x678), 0x345678u);
  EXPECT_EQ(tr(gva + 0xfff, true), 0x345fffu);
  EXPECT_EQ(tr(gva + 0x1000), std::nullopt);  // next page not mapped
  EXPECT_EQ(tr(gva - 1), std::nullopt);
}

TEST_F(PageWalk, TwoMiBPage) {
  const uint64_t gva = 0xffff800000400000ull;
  pt.map(gva, 0x600000, 1);
  EXPECT_EQ(tr(gva), 0x600000u);
  EXPECT_EQ(tr(gva + 0x12345), 0x612345u);
  EXPECT_EQ(tr(gva + 0x1fffff), 0x7fffffu);
  EXPECT_EQ(tr(gva + 0x200000), std::nullopt);
  // Bit 12 of a large-page entry is PAT, not an address bit.
  pt.entry(gva, 1) |= 1ull << 12;
  EXPECT_EQ(tr(gva + 0x12345), 0x612345u);
}

TEST_F(PageWalk, OneGiBPage) {
  const uint64_t gva = 0xffffc00000000000ull;
  pt.map(gva, 0, 2);
  EXPECT_EQ(tr(gva + 0xabcdef), 0xabcdefu);
  EXPECT_EQ(tr(gva + 0x3fffffff), 0x3fffffffu);  // translation does not check RAM
  pt.entry(gva, 2) = 0x40000000ull | kP | kW | kPs | (1ull << 12);  // PAT bit ignored
  EXPECT_EQ(tr(gva + 0x123), 0x40000123u);
}

TEST_F(PageWalk, NotPresentAtEachLevel) {
  const uint64_t gva = 0x0000000040201000ull;
  pt.map(gva, 0x345000, 0);
  ASSERT_EQ(tr(gva), 0x345000u);
  for (int level = 3; level >= 0; level--) {
    uint64_t& e = pt.entry(gva, level);
    e &= ~kP;
    EXPECT_EQ(tr(gva), std::nullopt) << "level " << level;
    EXPECT_EQ(tr(gva, true), std::nullopt) << "level " << level;
    e |= kP;
    EXPECT_EQ(tr(gva), 0x345000u) << "level " << level;
  }
}

TEST_F(PageWalk, NonCanonicalAddressFaults) {
  // PML4 slot 256 is the first upper-half slot; the same index bits with
  // bits 63:48 clear are non-canonical.
  pt.map(0xffff800000000000ull, 0x200000, 0);
  EXPECT_EQ(tr(0xffff800000000000ull), 0x200000u);
  EXPECT_EQ(tr(0x0000800000000000ull), std::nullopt);
  EXPECT_EQ(tr(0x7fff800000000000ull), std::nullopt);
  EXPECT_EQ(tr(0xfff0800000000000ull), std::nullopt);
}

TEST_F(PageWalk, WriteToReadOnlyPage) {
  const uint64_t gva = 0x0000000000403000ull;
  pt.map(gva, 0x345000, 0, kP);  // read-only PTE
  EXPECT_EQ(tr(gva, false, true), 0x345000u);
  EXPECT_EQ(tr(gva, true, true), std::nullopt) << "CR0.WP set: supervisor writes honour R/O";
  EXPECT_EQ(tr(gva, true, false), 0x345000u) << "CR0.WP clear: supervisor may write";
}

TEST_F(PageWalk, ReadOnlyIntermediateLevel) {
  const uint64_t gva = 0x0000000000403000ull;
  pt.map(gva, 0x345000, 0);
  ASSERT_EQ(tr(gva, true), 0x345000u);
  pt.entry(gva, 1) &= ~kW;  // PDE read-only
  EXPECT_EQ(tr(gva, true), std::nullopt);
  EXPECT_EQ(tr(gva, false), 0x345000u);
  EXPECT_EQ(tr(gva, true, false), 0x345000u);
}

TEST_F(PageWalk, ReadOnlyLargePage) {
  const uint64_t gva = 0x0000000000600000ull;
  pt.map(gva, 0x800000, 1, kP);
  EXPECT_EQ(tr(gva + 5, true), std::nullopt);
  EXPECT_EQ(tr(gva + 5, false), 0x800005u);
}

TEST_F(PageWalk, PagingOffIsIdentity) {
  const PagingState real{kCr0Pe, 0, 0, 0};
  EXPECT_EQ(translate_gva(mem, real, 0x12345678, false), 0x12345678u);
  EXPECT_EQ(translate_gva(mem, real, 0x12345678, true), 0x12345678u);
  EXPECT_EQ(translate_gva(mem, real, 0, false), 0u);
  // Without paging only 32-bit addresses exist.
  EXPECT_EQ(translate_gva(mem, real, 0x100001000ull, false), 0x1000u);
}

TEST_F(PageWalk, UnsupportedPagingModesFault) {
  pt.map(0x1000, 0x5000, 0);
  PagingState ps = long_mode();
  ASSERT_EQ(translate_gva(mem, ps, 0x1000, false), 0x5000u);
  ps.efer = kEferLme;  // PAE paging, not long mode
  EXPECT_EQ(translate_gva(mem, ps, 0x1000, false), std::nullopt);
  ps = long_mode();
  ps.cr4 = 0;  // 32-bit paging
  EXPECT_EQ(translate_gva(mem, ps, 0x1000, false), std::nullopt);
  ps = long_mode();
  ps.cr4 |= kCr4La57;  // 5-level paging
  EXPECT_EQ(translate_gva(mem, ps, 0x1000, false), std::nullopt);
}

TEST_F(PageWalk, TablePointerOutsideRam) {
  const uint64_t gva = 0x0000000000403000ull;
  pt.map(gva, 0x345000, 0);
  ASSERT_TRUE(tr(gva).has_value());
  uint64_t& pde = pt.entry(gva, 1);
  const uint64_t saved = pde;
  pde = kRam | kP | kW;  // page table just past the end of RAM
  EXPECT_EQ(tr(gva), std::nullopt);
  pde = 0x000ffffffffff000ull | kP | kW;  // huge table address
  EXPECT_EQ(tr(gva), std::nullopt);
  pde = saved;
  PagingState ps = long_mode();
  ps.cr3 = kRam + 0x1000;  // PML4 outside RAM
  EXPECT_EQ(translate_gva(mem, ps, gva, false), std::nullopt);
  // Low CR3 bits (PCID / PWT / PCD) are not part of the table address.
  ps.cr3 = pt.cr3() | 0x18;
  EXPECT_EQ(translate_gva(mem, ps, gva, false), 0x345000u);
}

// ----------------------------------------------------------- GuestAccess

TEST_F(PageWalk, CopyStraddlingNonContiguousFrames) {
  const uint64_t gva = 0x0000000000400000ull;
  pt.map(gva, 0x345000, 0);
  pt.map(gva + 0x1000, 0x222000, 0);  // lower frame: not contiguous
  GuestAccess ga(mem, long_mode());

  std::array<uint8_t, 32> out{};
  std::iota(out.begin(), out.end(), 1);
  ASSERT_TRUE(ga.write(gva + 0xff0, out.data(), out.size()));
  EXPECT_EQ(0, std::memcmp(mem.host(0x345ff0, 16), out.data(), 16));
  EXPECT_EQ(0, std::memcmp(mem.host(0x222000, 16), out.data() + 16, 16));
  EXPECT_EQ(mem.base()[0x346000], 0);  // the physically next byte is untouched

  std::array<uint8_t, 32> in{};
  ASSERT_TRUE(ga.read(gva + 0xff0, in.data(), in.size()));
  EXPECT_EQ(in, out);

  uint64_t v = 0;
  ASSERT_TRUE(ga.get(gva + 0xffc, v));
  uint64_t expect;
  std::memcpy(&expect, out.data() + 12, 8);
  EXPECT_EQ(v, expect);
  ASSERT_TRUE(ga.put(gva + 0xffc, uint64_t{0x1122334455667788ull}));
  EXPECT_EQ(*mem.object<uint32_t>(0x345ffc), 0x55667788u);
  EXPECT_EQ(*mem.object<uint32_t>(0x222000), 0x11223344u);
}

TEST_F(PageWalk, CopyWhoseSecondPageIsUnmappedFails) {
  const uint64_t gva = 0x0000000000400000ull;
  pt.map(gva, 0x345000, 0);
  GuestAccess ga(mem, long_mode());
  uint8_t buf[32] = {};
  EXPECT_TRUE(ga.read(gva + 0xfe0, buf, 32));  // ends exactly at the page end
  EXPECT_FALSE(ga.read(gva + 0xff0, buf, 32));
  EXPECT_FALSE(ga.write(gva + 0xff0, buf, 32));
}

TEST_F(PageWalk, CopyToReadOnlyPageFailsButReadWorks) {
  const uint64_t gva = 0x0000000000400000ull;
  pt.map(gva, 0x345000, 0, kP);
  uint32_t v = 0xabcd;
  EXPECT_FALSE(GuestAccess(mem, long_mode(true)).put(gva, v));
  EXPECT_TRUE(GuestAccess(mem, long_mode(true)).get(gva, v));
  EXPECT_TRUE(GuestAccess(mem, long_mode(false)).put(gva, uint32_t{0xabcd}));
  EXPECT_EQ(*mem.object<uint32_t>(0x345000), 0xabcdu);
}

TEST_F(PageWalk, CopyToFrameOutsideRamFails) {
  const uint64_t gva = 0xffffc00000000000ull;
  pt.map(gva, 0, 2);  // 1 GiB page: most of it is beyond 16 MiB of RAM
  GuestAccess ga(mem, long_mode());
  uint64_t v;
  EXPECT_TRUE(ga.get(gva + kRam - 8, v));
  EXPECT_FALSE(ga.get(gva + kRam - 4, v));  // straddles the end of RAM
  EXPECT_FALSE(ga.get(gva + kRam, v));
}

TEST_F(PageWalk, CopyWrappingTheAddressSpaceFails) {
  pt.map(0xfffffffffffff000ull, 0x345000, 0);
  pt.map(0, 0x346000, 0);
  GuestAccess ga(mem, long_mode());
  uint8_t buf[32] = {};
  EXPECT_TRUE(ga.read(0xfffffffffffffff0ull, buf, 8));
  EXPECT_FALSE(ga.read(0xfffffffffffffff0ull, buf, 32));
  EXPECT_FALSE(ga.write(0xfffffffffffffff0ull, buf, 32));
}

TEST_F(PageWalk, CopyWithPagingOff) {
  GuestAccess ga(mem, PagingState{kCr0Pe, 0, 0, 0});
  const uint32_t v = 0xfeedface;
  ASSERT_TRUE(ga.put(0x7000, v));
  EXPECT_EQ(*mem.object<uint32_t>(0x7000), v);
  EXPECT_FALSE(ga.put(kRam - 2, v));  // runs past the end of RAM
  EXPECT_TRUE(ga.read(kRam, nullptr, 0));  // empty copies succeed
}

}  // namespace
}  // namespace pv
