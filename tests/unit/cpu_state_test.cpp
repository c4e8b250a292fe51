// Initial vCPU state: PVH entry, and VCPUOP_initialise contexts.
#include <gtest/gtest.h>

#include <cstring>

#include <xen/hvm.h>

#include "cpu/cpu_state.h"

namespace pv {
namespace {

namespace H = xen::hvm;
constexpr uint64_t kRam = 64ull << 20;
constexpr uint64_t kCr0Pe = 1, kCr0Mp = 2, kCr0Et = 1 << 4, kCr0Ne = 1 << 5, kCr0Wp = 1 << 16, kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pse = 1 << 4, kCr4Pae = 1 << 5, kCr4Pge = 1 << 7, kCr4La57 = 1 << 12;
constexpr uint64_t kEferSce = 1, kEferLme = 1 << 8, kEferLma = 1 << 10, kEferNxe = 1 << 11;

kvm_sregs base_sregs() {
  kvm_sregs s{};
  s.apic_base = 0xfee00900;
  s.interrupt_bitmap[0] = 0x1234;
  s.cr8 = 0;
  s.gdt.base = 0x9999;  // must be replaced
  return s;
}

void expect_flat(const kvm_segment& s, uint16_t sel, uint8_t type, bool code64, const char* what) {
  SCOPED_TRACE(what);
  EXPECT_EQ(s.base, 0u);
  EXPECT_EQ(s.limit, 0xffffffffu);
  EXPECT_EQ(s.selector, sel);
  EXPECT_EQ(s.type, type);
  EXPECT_EQ(s.present, 1);
  EXPECT_EQ(s.dpl, 0);
  EXPECT_EQ(s.s, 1);
  EXPECT_EQ(s.g, 1);
  EXPECT_EQ(s.l, code64 ? 1 : 0);
  EXPECT_EQ(s.db, code64 ? 0 : 1);
}

TEST(PvhEntryState, MatchesThePvhBootAbi) {
  const CpuState st = pvh_entry_state(base_sregs(), 0x1000040, 0x1000);
  EXPECT_EQ(st.regs.rip, 0x1000040u);
  EXPECT_EQ(st.regs.rbx, 0x1000u);
  EXPECT_EQ(st.regs.rflags, 2u);
  EXPECT_TRUE(st.sregs.cr0 & kCr0Pe);
  EXPECT_FALSE(st.sregs.cr0 & kCr0Pg);
  EXPECT_EQ(st.sregs.cr0, kCr0Pe | kCr0Et);
  EXPECT_EQ(st.sregs.cr4, 0u);
  EXPECT_EQ(st.sregs.efer, 0u);
  EXPECT_EQ(st.sregs.cr3, 0u);
  expect_flat(st.sregs.cs, 0x08, 0xb, false, "cs");  // execute/read, accessed
  expect_flat(st.sregs.ds, 0x10, 0x3, false, "ds");  // read/write, accessed
  expect_flat(st.sregs.es, 0x10, 0x3, false, "es");
  expect_flat(st.sregs.ss, 0x10, 0x3, false, "ss");
  expect_flat(st.sregs.fs, 0x10, 0x3, false, "fs");
  expect_flat(st.sregs.gs, 0x10, 0x3, false, "gs");
  EXPECT_EQ(st.sregs.tr.present, 1);
  EXPECT_EQ(st.sregs.tr.type, 11);  // busy TSS
  EXPECT_EQ(st.sregs.gdt.base, 0u);
  EXPECT_EQ(st.sregs.ldt.unusable, 1);
  // Things KVM owns are kept.
  EXPECT_EQ(st.sregs.apic_base, 0xfee00900u);
  EXPECT_EQ(st.sregs.interrupt_bitmap[0], 0x1234u);
}

H::vcpu_hvm_context ctx64() {
  H::vcpu_hvm_context c{};
  c.mode = H::VCPU_HVM_MODE_64B;
  auto& r = c.cpu_regs.x86_64;
  r.rax = 1;
  r.rcx = 2;
  r.rdx = 3;
  r.rbx = 4;
  r.rsp = 0xffffffff82003ff8ull;
  r.rbp = 6;
  r.rsi = 7;
  r.rdi = 8;
  r.rip = 0xffffffff81000123ull;
  r.rflags = 0x202;
  r.cr0 = kCr0Pe | kCr0Mp | kCr0Ne | kCr0Wp | kCr0Pg;
  r.cr3 = 0x5000;
  r.cr4 = kCr4Pae | kCr4Pge | kCr4Pse;
  r.efer = kEferLme | kEferSce | kEferNxe;
  return c;
}

std::optional<CpuState> run(const H::vcpu_hvm_context& c, std::string& why) {
  return hvm_context_state(base_sregs(), c, kRam, why);
}

TEST(HvmContext64, ValidContextAccepted) {
  std::string why;
  const auto st = run(ctx64(), why);
  ASSERT_TRUE(st.has_value()) << why;
  EXPECT_EQ(st->regs.rax, 1u);
  EXPECT_EQ(st->regs.rcx, 2u);
  EXPECT_EQ(st->regs.rdx, 3u);
  EXPECT_EQ(st->regs.rbx, 4u);
  EXPECT_EQ(st->regs.rsp, 0xffffffff82003ff8ull);
  EXPECT_EQ(st->regs.rbp, 6u);
  EXPECT_EQ(st->regs.rsi, 7u);
  EXPECT_EQ(st->regs.rdi, 8u);
  EXPECT_EQ(st->regs.rip, 0xffffffff81000123ull);
  EXPECT_EQ(st->regs.rflags, 0x202u);
  EXPECT_EQ(st->regs.r8, 0u);
  EXPECT_EQ(st->sregs.cr3, 0x5000u);
  EXPECT_EQ(st->sregs.cr0, ctx64().cpu_regs.x86_64.cr0 | kCr0Et);
  EXPECT_EQ(st->sregs.cr4, kCr4Pae | kCr4Pge | kCr4Pse);
  EXPECT_EQ(st->sregs.efer, kEferLme | kEferLma | kEferSce | kEferNxe);
  expect_flat(st->sregs.cs, 0x08, 0xb, true, "cs");
  expect_flat(st->sregs.ss, 0x10, 0x3, false, "ss");
  expect_flat(st->sregs.ds, 0x10, 0x3, false, "ds");
  EXPECT_EQ(st->sregs.tr.type, 11);
  EXPECT_EQ(st->sregs.apic_base, 0xfee00900u);
  EXPECT_EQ(st->sregs.gdt.base, 0u);
}

TEST(HvmContext64, RflagsReservedBitsMaskedAndBit1Set) {
  auto c = ctx64();
  c.cpu_regs.x86_64.rflags = 0x200 | (1 << 3) | (1 << 5) | (1 << 15) | (1ull << 22) | (1ull << 40);
  std::string why;
  const auto st = run(c, why);
  ASSERT_TRUE(st) << why;
  EXPECT_EQ(st->regs.rflags, 0x202u);
}

TEST(HvmContext64, CanonicalUpperHalfAndCr3AtTopOfRam) {
  auto c = ctx64();
  c.cpu_regs.x86_64.rip = 0xffff800000000000ull;
  c.cpu_regs.x86_64.cr3 = kRam - 0x1000 + 0x18;  // last page, PWT|PCD bits
  std::string why;
  EXPECT_TRUE(run(c, why)) << why;
}

struct Bad64 {
  const char* name;
  void (*edit)(H::vcpu_hvm_x86_64&);
  const char* why;
};

class HvmContext64Refused : public ::testing::TestWithParam<Bad64> {};

TEST_P(HvmContext64Refused, Refused) {
  auto c = ctx64();
  GetParam().edit(c.cpu_regs.x86_64);
  std::string why;
  EXPECT_FALSE(run(c, why).has_value());
  EXPECT_NE(why.find(GetParam().why), std::string::npos) << "why: " << why;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, HvmContext64Refused,
    ::testing::Values(
        Bad64{"Cr0WithoutPg", [](auto& r) { r.cr0 &= ~kCr0Pg; }, "64-bit mode needs"},
        Bad64{"Cr0WithoutPe", [](auto& r) { r.cr0 &= ~kCr0Pe; }, "64-bit mode needs"},
        Bad64{"Cr4WithoutPae", [](auto& r) { r.cr4 &= ~kCr4Pae; }, "64-bit mode needs"},
        Bad64{"EferWithoutLme", [](auto& r) { r.efer &= ~kEferLme; }, "64-bit mode needs"},
        Bad64{"Cr4La57", [](auto& r) { r.cr4 |= kCr4La57; }, "reserved"},
        Bad64{"Cr4Bit15", [](auto& r) { r.cr4 |= 1 << 15; }, "reserved"},
        Bad64{"Cr4Bit30", [](auto& r) { r.cr4 |= 1ull << 30; }, "reserved"},
        Bad64{"Cr0Bit6", [](auto& r) { r.cr0 |= 1 << 6; }, "reserved"},
        Bad64{"Cr0High", [](auto& r) { r.cr0 |= 1ull << 32; }, "reserved"},
        Bad64{"EferSvme", [](auto& r) { r.efer |= 1 << 12; }, "reserved"},
        Bad64{"Cr3AtRamEnd", [](auto& r) { r.cr3 = kRam; }, "cr3 outside"},
        Bad64{"Cr3Huge", [](auto& r) { r.cr3 = 0xfffffffffffff000ull; }, "cr3 outside"},
        Bad64{"RipNonCanonical", [](auto& r) { r.rip = 0x0000800000000000ull; }, "non-canonical"},
        Bad64{"RipNonCanonicalHigh", [](auto& r) { r.rip = 0xfff0000000001000ull; }, "non-canonical"}),
    [](const auto& p) { return std::string(p.param.name); });

TEST(HvmContext, UnknownModeRefused) {
  auto c = ctx64();
  std::string why;
  for (uint32_t mode : {2u, 3u, 0xffffffffu}) {
    c.mode = mode;
    why.clear();
    EXPECT_FALSE(run(c, why).has_value());
    EXPECT_NE(why.find("unknown mode"), std::string::npos) << why;
  }
}

// Attribute word: type[3:0] s[4] dpl[6:5] p[7] avl[8] l[9] db[10] g[11].
constexpr uint16_t kCodeAr = 0xb | 1 << 4 | 1 << 7 | 1 << 10 | 1 << 11;  // 0xc9b
constexpr uint16_t kDataAr = 0x3 | 1 << 4 | 1 << 7 | 1 << 10 | 1 << 11;  // 0xc93

H::vcpu_hvm_context ctx32() {
  H::vcpu_hvm_context c{};
  c.mode = H::VCPU_HVM_MODE_32B;
  auto& r = c.cpu_regs.x86_32;
  r.eax = 10;
  r.ecx = 11;
  r.edx = 12;
  r.ebx = 13;
  r.esp = 0x9000;
  r.ebp = 15;
  r.esi = 16;
  r.edi = 17;
  r.eip = 0x100040;
  r.eflags = 0x2;
  r.cr0 = kCr0Pe;
  r.cs_base = 0;
  r.cs_limit = 0xffffffff;
  r.cs_ar = kCodeAr;
  r.ds_base = 0x1000;
  r.ds_limit = 0xfffff;
  r.ds_ar = kDataAr;
  r.es_limit = 0xffffffff;
  r.es_ar = kDataAr;
  r.ss_limit = 0xffffffff;
  r.ss_ar = kDataAr | 3 << 5;  // dpl 3
  return c;
}

TEST(HvmContext32, ValidContextWithSegmentAttributes) {
  auto c = ctx32();
  c.cpu_regs.x86_32.tr_base = 0x7000;
  c.cpu_regs.x86_32.tr_limit = 0x67;
  c.cpu_regs.x86_32.tr_ar = 0xb | 1 << 7;
  std::string why;
  const auto st = run(c, why);
  ASSERT_TRUE(st) << why;
  EXPECT_EQ(st->regs.rax, 10u);
  EXPECT_EQ(st->regs.rcx, 11u);
  EXPECT_EQ(st->regs.rdx, 12u);
  EXPECT_EQ(st->regs.rbx, 13u);
  EXPECT_EQ(st->regs.rsp, 0x9000u);
  EXPECT_EQ(st->regs.rbp, 15u);
  EXPECT_EQ(st->regs.rsi, 16u);
  EXPECT_EQ(st->regs.rdi, 17u);
  EXPECT_EQ(st->regs.rip, 0x100040u);
  EXPECT_EQ(st->regs.rflags, 2u);
  EXPECT_EQ(st->sregs.cr0, kCr0Pe | kCr0Et);
  EXPECT_EQ(st->sregs.efer, 0u);

  const kvm_segment& cs = st->sregs.cs;
  EXPECT_EQ(cs.selector, 0x08);
  EXPECT_EQ(cs.base, 0u);
  EXPECT_EQ(cs.limit, 0xffffffffu);
  EXPECT_EQ(cs.type, 0xb);
  EXPECT_EQ(cs.s, 1);
  EXPECT_EQ(cs.dpl, 0);
  EXPECT_EQ(cs.present, 1);
  EXPECT_EQ(cs.avl, 0);
  EXPECT_EQ(cs.l, 0);
  EXPECT_EQ(cs.db, 1);
  EXPECT_EQ(cs.g, 1);
  EXPECT_EQ(cs.unusable, 0);

  const kvm_segment& ds = st->sregs.ds;
  EXPECT_EQ(ds.selector, 0x10);
  EXPECT_EQ(ds.base, 0x1000u);
  EXPECT_EQ(ds.limit, 0xfffffu);
  EXPECT_EQ(ds.type, 0x3);
  EXPECT_EQ(st->sregs.ss.dpl, 3);
  EXPECT_EQ(st->sregs.ss.type, 0x3);
  EXPECT_EQ(st->sregs.es.base, 0u);
  EXPECT_EQ(st->sregs.fs.base, 0x1000u);  // fs and gs copy ds
  EXPECT_EQ(st->sregs.gs.limit, 0xfffffu);

  EXPECT_EQ(st->sregs.tr.base, 0x7000u);
  EXPECT_EQ(st->sregs.tr.limit, 0x67u);
  EXPECT_EQ(st->sregs.tr.type, 0xb);
  EXPECT_EQ(st->sregs.tr.selector, 0x18);
  EXPECT_EQ(st->sregs.apic_base, 0xfee00900u);
}

TEST(HvmContext32, AllAttributeBitsDecoded) {
  auto c = ctx32();
  c.cpu_regs.x86_32.ds_ar = 0x5 | 0 << 4 | 2 << 5 | 0 << 7 | 1 << 8 | 1 << 9 | 1 << 10 | 0 << 11;
  c.cpu_regs.x86_32.es_ar = 0x3 | 1 << 4 | 1 << 7 | 0 << 10 | 1 << 11;  // g without db
  std::string why;
  const auto st = run(c, why);
  ASSERT_TRUE(st) << why;
  const kvm_segment& ds = st->sregs.ds;
  EXPECT_EQ(ds.type, 5);
  EXPECT_EQ(ds.s, 0);
  EXPECT_EQ(ds.dpl, 2);
  EXPECT_EQ(ds.present, 0);
  EXPECT_EQ(ds.unusable, 1);  // not present
  EXPECT_EQ(ds.avl, 1);
  EXPECT_EQ(ds.l, 1);
  EXPECT_EQ(ds.db, 1);
  EXPECT_EQ(ds.g, 0);
  const kvm_segment& es = st->sregs.es;
  EXPECT_EQ(es.type, 3);
  EXPECT_EQ(es.s, 1);
  EXPECT_EQ(es.dpl, 0);
  EXPECT_EQ(es.present, 1);
  EXPECT_EQ(es.unusable, 0);
  EXPECT_EQ(es.avl, 0);
  EXPECT_EQ(es.l, 0);
  EXPECT_EQ(es.db, 0);
  EXPECT_EQ(es.g, 1);
}

TEST(HvmContext32, DefaultTssWhenTrAttributesAreZero) {
  std::string why;
  const auto st = run(ctx32(), why);
  ASSERT_TRUE(st) << why;
  EXPECT_EQ(st->sregs.tr.selector, 0x18);
  EXPECT_EQ(st->sregs.tr.type, 11);
  EXPECT_EQ(st->sregs.tr.present, 1);
}

TEST(HvmContext32, PagedContextNeedsCr3InRam) {
  auto c = ctx32();
  c.cpu_regs.x86_32.cr0 = kCr0Pe | kCr0Pg;
  c.cpu_regs.x86_32.cr3 = 0x4000;
  std::string why;
  EXPECT_TRUE(run(c, why)) << why;
  c.cpu_regs.x86_32.cr3 = static_cast<uint32_t>(kRam);
  EXPECT_FALSE(run(c, why));
  EXPECT_NE(why.find("cr3 outside"), std::string::npos) << why;
  // Without paging cr3 is not used.
  c.cpu_regs.x86_32.cr0 = kCr0Pe;
  EXPECT_TRUE(run(c, why));
}

TEST(HvmContext32, Refusals) {
  std::string why;
  auto c = ctx32();
  c.cpu_regs.x86_32.cr0 = 0;  // real mode
  EXPECT_FALSE(run(c, why));
  c = ctx32();
  c.cpu_regs.x86_32.cr4 = kCr4La57;
  EXPECT_FALSE(run(c, why));
  c = ctx32();
  c.cpu_regs.x86_32.efer = 1 << 14;
  EXPECT_FALSE(run(c, why));
  c = ctx32();
  c.cpu_regs.x86_32.cs_ar = kDataAr;  // data segment in cs
  why.clear();
  EXPECT_FALSE(run(c, why));
  EXPECT_NE(why.find("cs"), std::string::npos) << why;
  c = ctx32();
  c.cpu_regs.x86_32.cs_ar = kCodeAr & ~(1 << 7);  // not present
  EXPECT_FALSE(run(c, why));
  c = ctx32();
  c.cpu_regs.x86_32.cs_ar = kCodeAr & ~(1 << 4);  // system segment
  EXPECT_FALSE(run(c, why));
}

}  // namespace
}  // namespace pv
