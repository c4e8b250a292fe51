#include "cpu/cpu_state.h"

namespace pv {
namespace {

constexpr uint64_t kCr0Pe = 1, kCr0Et = 1 << 4, kCr0Pg = 1ull << 31;
constexpr uint64_t kCr4Pae = 1 << 5;
constexpr uint64_t kEferLme = 1 << 8, kEferLma = 1 << 10;
constexpr uint64_t kRflagsFixed = 1 << 1;
// Bits a guest may set in each control register through VCPUOP_initialise.
constexpr uint64_t kCr0Allowed = 0xe005003full;  // PE MP EM TS ET NE WP AM NW CD PG
constexpr uint64_t kCr4Allowed = 0x3f7fffull & ~(1ull << 12);  // no LA57
constexpr uint64_t kEferAllowed = 1 | kEferLme | kEferLma | (1 << 11);  // SCE LME LMA NXE

kvm_segment flat_segment(uint16_t selector, uint8_t type, bool code64) {
  kvm_segment s{};
  s.base = 0;
  s.limit = 0xffffffff;
  s.selector = selector;
  s.type = type;
  s.present = 1;
  s.dpl = 0;
  s.db = code64 ? 0 : 1;
  s.s = 1;
  s.l = code64 ? 1 : 0;
  s.g = 1;
  return s;
}

kvm_segment task_segment() {
  kvm_segment tr{};
  tr.selector = 0x18;
  tr.limit = 0x67;
  tr.type = 11;  // busy 32/64-bit TSS
  tr.present = 1;
  return tr;
}

// The vcpu_hvm_x86_32 "_ar" attribute layout (see hvm.h).
kvm_segment segment_from_ar(uint32_t base, uint32_t limit, uint16_t ar, uint16_t selector) {
  kvm_segment s{};
  s.base = base;
  s.limit = limit;
  s.selector = selector;
  s.type = ar & 0xf;
  s.s = (ar >> 4) & 1;
  s.dpl = (ar >> 5) & 3;
  s.present = (ar >> 7) & 1;
  s.avl = (ar >> 8) & 1;
  s.l = (ar >> 9) & 1;
  s.db = (ar >> 10) & 1;
  s.g = (ar >> 11) & 1;
  s.unusable = !s.present;
  return s;
}

void clear_tables(kvm_sregs& s) {
  s.gdt = {};
  s.idt = {};
  s.ldt = {};
  s.ldt.unusable = 1;
  s.ldt.type = 2;
}

}  // namespace

CpuState pvh_entry_state(const kvm_sregs& base, uint32_t entry, uint32_t start_info) {
  CpuState st;
  st.sregs = base;
  st.sregs.cs = flat_segment(0x08, 0xb, false);
  st.sregs.ds = st.sregs.es = st.sregs.ss = st.sregs.fs = st.sregs.gs = flat_segment(0x10, 0x3, false);
  st.sregs.tr = task_segment();
  clear_tables(st.sregs);
  st.sregs.cr0 = kCr0Pe | kCr0Et;
  st.sregs.cr3 = 0;
  st.sregs.cr4 = 0;
  st.sregs.efer = 0;
  st.regs.rflags = kRflagsFixed;
  st.regs.rip = entry;
  st.regs.rbx = start_info;
  return st;
}

namespace {

// VCPU_HVM_MODE_64B: long mode with paging, flat segments.
std::optional<CpuState> hvm_context_64(CpuState st, const xen::hvm::vcpu_hvm_x86_64& r, uint64_t ram_bytes,
                                       std::string& why) {
  if ((r.cr0 & ~kCr0Allowed) || (r.cr4 & ~kCr4Allowed) || (r.efer & ~kEferAllowed)) {
    why = "reserved bits in cr0/cr4/efer";
    return std::nullopt;
  }
  if ((r.cr0 & (kCr0Pe | kCr0Pg)) != (kCr0Pe | kCr0Pg) || !(r.cr4 & kCr4Pae) || !(r.efer & kEferLme)) {
    why = "64-bit mode needs cr0.PE|PG, cr4.PAE and efer.LME";
    return std::nullopt;
  }
  if ((r.cr3 & ~0xfffull) >= ram_bytes) {
    why = "cr3 outside guest RAM";
    return std::nullopt;
  }
  if ((static_cast<int64_t>(r.rip) << 16 >> 16) != static_cast<int64_t>(r.rip)) {
    why = "non-canonical rip";
    return std::nullopt;
  }
  st.sregs.cs = flat_segment(0x08, 0xb, true);
  st.sregs.ds = st.sregs.es = st.sregs.ss = st.sregs.fs = st.sregs.gs = flat_segment(0x10, 0x3, false);
  st.sregs.cr0 = r.cr0 | kCr0Et;
  st.sregs.cr3 = r.cr3;
  st.sregs.cr4 = r.cr4;
  st.sregs.efer = r.efer | kEferLma;
  st.regs = kvm_regs{};
  st.regs.rax = r.rax;
  st.regs.rcx = r.rcx;
  st.regs.rdx = r.rdx;
  st.regs.rbx = r.rbx;
  st.regs.rsp = r.rsp;
  st.regs.rbp = r.rbp;
  st.regs.rsi = r.rsi;
  st.regs.rdi = r.rdi;
  st.regs.rip = r.rip;
  st.regs.rflags = (r.rflags & 0x3f7fd5) | kRflagsFixed;
  return st;
}

// VCPU_HVM_MODE_32B: protected mode, segments as the context describes them.
std::optional<CpuState> hvm_context_32(CpuState st, const xen::hvm::vcpu_hvm_x86_32& r, uint64_t ram_bytes,
                                       std::string& why) {
  if ((r.cr0 & ~kCr0Allowed) || (r.cr4 & ~kCr4Allowed) || (r.efer & ~kEferAllowed) || !(r.cr0 & kCr0Pe)) {
    why = "invalid cr0/cr4/efer for 32-bit mode";
    return std::nullopt;
  }
  if ((r.cr0 & kCr0Pg) && (r.cr3 & ~0xfffull) >= ram_bytes) {
    why = "cr3 outside guest RAM";
    return std::nullopt;
  }
  st.sregs.cs = segment_from_ar(r.cs_base, r.cs_limit, r.cs_ar, 0x08);
  st.sregs.ds = segment_from_ar(r.ds_base, r.ds_limit, r.ds_ar, 0x10);
  st.sregs.ss = segment_from_ar(r.ss_base, r.ss_limit, r.ss_ar, 0x10);
  st.sregs.es = segment_from_ar(r.es_base, r.es_limit, r.es_ar, 0x10);
  st.sregs.fs = st.sregs.gs = st.sregs.ds;
  if (r.tr_ar) st.sregs.tr = segment_from_ar(r.tr_base, r.tr_limit, r.tr_ar, 0x18);
  if (!st.sregs.cs.present || !st.sregs.cs.s || !(st.sregs.cs.type & 8)) {
    why = "cs is not a present code segment";
    return std::nullopt;
  }
  st.sregs.cr0 = r.cr0 | kCr0Et;
  st.sregs.cr3 = r.cr3;
  st.sregs.cr4 = r.cr4;
  st.sregs.efer = r.efer;
  st.regs = kvm_regs{};
  st.regs.rax = r.eax;
  st.regs.rcx = r.ecx;
  st.regs.rdx = r.edx;
  st.regs.rbx = r.ebx;
  st.regs.rsp = r.esp;
  st.regs.rbp = r.ebp;
  st.regs.rsi = r.esi;
  st.regs.rdi = r.edi;
  st.regs.rip = r.eip;
  st.regs.rflags = (r.eflags & 0x3f7fd5) | kRflagsFixed;
  return st;
}

}  // namespace

std::optional<CpuState> hvm_context_state(const kvm_sregs& base, const xen::hvm::vcpu_hvm_context& ctx,
                                          uint64_t ram_bytes, std::string& why) {
  CpuState st;
  st.sregs = base;
  clear_tables(st.sregs);
  st.sregs.tr = task_segment();
  if (ctx.mode == xen::hvm::VCPU_HVM_MODE_64B) return hvm_context_64(st, ctx.cpu_regs.x86_64, ram_bytes, why);
  if (ctx.mode == xen::hvm::VCPU_HVM_MODE_32B) return hvm_context_32(st, ctx.cpu_regs.x86_32, ram_bytes, why);
  why = "unknown mode " + std::to_string(ctx.mode);
  return std::nullopt;
}

}  // namespace pv
