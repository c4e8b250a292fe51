// hv/save/: what pv-hv puts into a save stream. Only populated frames are
// sent (ballooned ones are not); a vCPU's KVM state goes to its record and
// back unchanged, and into another vCPU through KVM.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <set>

#include <gtest/gtest.h>

#include "gnttab/grant_table.h"
#include "kvm/kvm.h"
#include "memory/guest_memory.h"
#include "memory/reservation.h"
#include "save/domain_stream.h"
#include "save/memory_capture.h"
#include "save/vcpu_capture.h"

namespace pv {
namespace {
namespace S = pv::state;

constexpr uint64_t kPages = 1024;

KvmVcpuState synthetic_vcpu() {
  KvmVcpuState s;
  uint64_t g[18];
  for (int i = 0; i < 18; i++) g[i] = 0x1111000000000000ull + i;
  std::memcpy(&s.regs, g, sizeof g);
  kvm_segment* segs[] = {&s.sregs.cs, &s.sregs.ds, &s.sregs.es, &s.sregs.fs,
                         &s.sregs.gs, &s.sregs.ss, &s.sregs.tr, &s.sregs.ldt};
  for (int i = 0; i < 8; i++) {
    *segs[i] = kvm_segment{};
    segs[i]->base = 0x1000u * i;
    segs[i]->limit = 0xfffff;
    segs[i]->selector = static_cast<uint16_t>(8 * i);
    segs[i]->type = static_cast<uint8_t>(i + 3);
    segs[i]->present = 1;
    segs[i]->dpl = static_cast<uint8_t>(i & 3);
    segs[i]->l = i == 0;
    segs[i]->g = 1;
    segs[i]->unusable = i == 7;
  }
  s.sregs.gdt = {0xffff8000, 0x7f, {}};
  s.sregs.idt = {0xffff9000, 0xfff, {}};
  s.sregs.cr0 = 0x80050033;
  s.sregs.cr2 = 0xdead000;
  s.sregs.cr3 = 0x5000;
  s.sregs.cr4 = 0x6a0;
  s.sregs.cr8 = 1;
  s.sregs.efer = 0xd01;
  s.sregs.apic_base = 0xfee00900;
  s.sregs.interrupt_bitmap[3] = 1ull << 51;
  s.xsave = std::string(4096, '\x5a');
  s.msrs = {{0xc0000082, 0xffffffff81000000ull}, {0x10, 123456789}};
  s.mp_state = KVM_MP_STATE_HALTED;
  kvm_vcpu_events ev{};
  ev.interrupt.injected = 1;
  ev.interrupt.nr = 0xf3;
  s.events = std::string(reinterpret_cast<const char*>(&ev), sizeof ev);
  return s;
}

TEST(SaveCapture, AVcpusStateGoesToItsRecordAndBackUnchanged) {
  const KvmVcpuState in = synthetic_vcpu();
  S::VcpuState rec;
  rec.set_id(0);
  to_record(in, rec);
  S::VcpuState parsed;
  ASSERT_TRUE(parsed.ParseFromString(rec.SerializeAsString()));
  const KvmVcpuState out = from_record(parsed);
  EXPECT_EQ(std::memcmp(&in.regs, &out.regs, sizeof in.regs), 0);
  EXPECT_EQ(std::memcmp(&in.sregs, &out.sregs, sizeof in.sregs), 0);
  EXPECT_EQ(out.xsave, in.xsave);
  EXPECT_EQ(out.msrs, in.msrs);
  EXPECT_EQ(out.mp_state, in.mp_state);
  EXPECT_EQ(out.events, in.events);
}

TEST(SaveCapture, ABlockOfTheWrongSizeIsRefused) {
  S::VcpuState rec;
  to_record(synthetic_vcpu(), rec);
  rec.set_xsave(std::string(100, 'x'));
  EXPECT_THROW(from_record(rec), save::StreamError);
  to_record(synthetic_vcpu(), rec);
  rec.set_vcpu_events("short");
  EXPECT_THROW(from_record(rec), save::StreamError);
  to_record(synthetic_vcpu(), rec);
  rec.mutable_gprs()->RemoveLast();
  EXPECT_THROW(from_record(rec), save::StreamError);
}

TEST(SaveCapture, OnlyPopulatedFramesAreSentAndComeBack) {
  GuestMemory mem{kPages * 4096};
  GrantTable gt{mem, 1};
  Reservation res{mem, gt.absent_bitmap(), 512, 768, nullptr};  // 512..767 ballooned at boot
  for (uint64_t g = 0; g < kPages; g++)
    if (res.populated(g)) std::memset(mem.page(g), static_cast<int>(g % 251 + 1), 4096);
  uint64_t next = 100;  // the guest gives back frames 100..109
  ASSERT_EQ(res.decrease(0, 10, 0, [&](uint64_t, uint64_t& gfn) {
    gfn = next++;
    return true;
  }), 10u);

  UniqueFd fd(memfd_create("save-capture", MFD_CLOEXEC));
  S::DomainConfig c;
  c.set_name("m");
  c.set_vcpus(1);
  c.set_memory_bytes(kPages * 4096);
  c.set_maxmem_bytes(kPages * 4096);
  c.set_transport("port-io");
  save::DomainStreamWriter w(fd.get(), c);
  S::VcpuState v;
  to_record(synthetic_vcpu(), v);
  w.vcpu(v);
  const uint64_t sent = write_populated_memory(w, mem, [&](uint64_t g) { return res.populated(g); });
  w.hvm_params({});
  w.xen_pages({});
  S::TimeState t;
  t.set_tsc_khz(1);
  w.time(t);
  w.console({});
  w.end();
  EXPECT_EQ(sent, res.current());
  EXPECT_EQ(sent, kPages - 256 - 10);
  EXPECT_LT(w.bytes_written(), kPages * 4096);  // the holes cost nothing

  ASSERT_EQ(::lseek(fd.get(), 0, SEEK_SET), 0);
  GuestMemory back{kPages * 4096};
  std::set<uint64_t> frames;
  const auto st = save::read_domain_stream(fd.get(), [&](uint64_t gfn, std::string_view d) {
    copy_run_into(back, gfn, d);
    for (uint64_t i = 0; i < d.size() / 4096; i++) frames.insert(gfn + i);
  });
  EXPECT_EQ(st.memory_frames, sent);
  for (uint64_t g = 0; g < kPages; g++) {
    ASSERT_EQ(frames.count(g) == 1, res.populated(g)) << "frame " << g;
    ASSERT_EQ(std::memcmp(back.page(g), mem.page(g), 4096), 0) << "frame " << g;
  }
}

TEST(SaveCapture, KvmStateMovesToAnotherVcpu) {
  if (access("/dev/kvm", R_OK | W_OK) != 0) GTEST_SKIP() << "/dev/kvm is not usable here";
  kvm::System sys;
  kvm::Vm vm(sys);
  auto a = vm.create_vcpu(0);
  auto b = vm.create_vcpu(1);
  kvm_regs r = a.regs();
  r.rax = 0x1234;
  r.r15 = 0xfeedface;
  r.rip = 0x4000;
  r.rflags = 0x202;
  a.set_regs(r);
  kvm_sregs s = a.sregs();
  s.cr3 = 0x7000;
  a.set_sregs(s);

  const KvmVcpuState from_a = capture_vcpu(a);
  EXPECT_FALSE(from_a.xsave.empty() && from_a.fpu.empty());
  S::VcpuState rec;
  to_record(from_a, rec);
  apply_vcpu(b, from_record(rec));
  const KvmVcpuState from_b = capture_vcpu(b);
  EXPECT_EQ(from_b.regs.rax, 0x1234u);
  EXPECT_EQ(from_b.regs.r15, 0xfeedfaceu);
  EXPECT_EQ(from_b.regs.rip, 0x4000u);
  EXPECT_EQ(from_b.sregs.cr3, 0x7000u);
  EXPECT_EQ(from_b.xsave, from_a.xsave);
  EXPECT_EQ(from_b.mp_state, from_a.mp_state);
  for (const auto& [index, value] : from_a.msrs) {
    if (index == 0x10) continue;  // the TSC moves on
    bool found = false;
    for (const auto& [i2, v2] : from_b.msrs)
      if (i2 == index) {
        found = true;
        EXPECT_EQ(v2, value) << "MSR " << std::hex << index;
      }
    EXPECT_TRUE(found) << "MSR " << std::hex << index;
  }
}

}  // namespace
}  // namespace pv
