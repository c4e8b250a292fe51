#include "save/vcpu_capture.h"

#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>

#include "pv/error.h"
#include "pv/save_stream.h"

namespace pv {
namespace {

// kvm_msrs with one entry, in the kernel's C layout (<linux/kvm.h>'s
// flexible array is laid out wrongly in C++: see kvm/kvm.cpp).
struct OneMsr {
  uint32_t nmsrs, pad;
  kvm_msr_entry entry;
};
struct MsrsHeader {
  uint32_t nmsrs, pad;
};
constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, MsrsHeader);
constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, MsrsHeader);
// kvm_xsave has a flexible `extra` array too: the legacy 4 KiB area.
struct XsaveArea {
  uint32_t region[1024];
};
constexpr unsigned long kGetXsave = _IOR(KVMIO, 0xa4, XsaveArea);
constexpr unsigned long kSetXsave = _IOW(KVMIO, 0xa5, XsaveArea);
constexpr size_t kGprs = 18;  // rax rbx rcx rdx rsi rdi rsp rbp r8..r15 rip rflags
static_assert(sizeof(kvm_regs) == kGprs * sizeof(uint64_t));

void ioctl_or_throw(int fd, unsigned long req, void* arg, const char* name) {
  if (::ioctl(fd, req, arg) < 0) throw_errno(name);
}

template <typename T>
std::string bytes_of(const T& v) {
  return std::string(reinterpret_cast<const char*>(&v), sizeof v);
}
template <typename T>
void copy_exact(const std::string& from, T& to, const char* what) {
  if (from.size() != sizeof to)
    throw save::StreamError(std::string("save stream: the vcpu's ") + what + " is " + std::to_string(from.size()) +
                            " bytes, not the " + std::to_string(sizeof to) + " this KVM uses");
  std::memcpy(&to, from.data(), sizeof to);
}

void to_segment(const kvm_segment& s, state::Segment& r) {
  r.set_base(s.base);
  r.set_limit(s.limit);
  r.set_selector(s.selector);
  r.set_type(s.type);
  r.set_present(s.present);
  r.set_dpl(s.dpl);
  r.set_db(s.db);
  r.set_s(s.s);
  r.set_l(s.l);
  r.set_g(s.g);
  r.set_avl(s.avl);
  r.set_unusable(s.unusable);
}
kvm_segment from_segment(const state::Segment& r) {
  kvm_segment s{};
  s.base = r.base();
  s.limit = r.limit();
  s.selector = static_cast<uint16_t>(r.selector());
  s.type = static_cast<uint8_t>(r.type());
  s.present = r.present();
  s.dpl = static_cast<uint8_t>(r.dpl() & 3);
  s.db = r.db();
  s.s = r.s();
  s.l = r.l();
  s.g = r.g();
  s.avl = r.avl();
  s.unusable = r.unusable();
  return s;
}


}  // namespace

KvmVcpuState capture_vcpu(const kvm::VcpuFd& fd) {
  KvmVcpuState s;
  s.regs = fd.regs();
  s.sregs = fd.sregs();
  XsaveArea xs{};
  if (::ioctl(fd.fd(), kGetXsave, &xs) == 0) {
    s.xsave = bytes_of(xs);
  } else {
    kvm_fpu f{};
    ioctl_or_throw(fd.fd(), KVM_GET_FPU, &f, "KVM_GET_FPU");
    s.fpu = bytes_of(f);
  }
  for (uint32_t index : kSavedMsrs) {
    OneMsr m{1, 0, {index, 0, 0}};
    const int n = ::ioctl(fd.fd(), kGetMsrs, &m);
    if (n < 0) throw_errno("KVM_GET_MSRS");
    if (n == 1) s.msrs.emplace_back(index, m.entry.data);  // 0: this KVM has no such MSR
  }
  kvm_mp_state mp{};
  ioctl_or_throw(fd.fd(), KVM_GET_MP_STATE, &mp, "KVM_GET_MP_STATE");
  s.mp_state = mp.mp_state;
  kvm_vcpu_events ev{};
  ioctl_or_throw(fd.fd(), KVM_GET_VCPU_EVENTS, &ev, "KVM_GET_VCPU_EVENTS");
  s.events = bytes_of(ev);
  return s;
}

void apply_vcpu(kvm::VcpuFd& fd, const KvmVcpuState& s) {
  fd.set_sregs(s.sregs);
  fd.set_regs(s.regs);
  if (!s.xsave.empty()) {
    XsaveArea xs{};
    copy_exact(s.xsave, xs, "xsave area");
    ioctl_or_throw(fd.fd(), kSetXsave, &xs, "KVM_SET_XSAVE");
  } else if (!s.fpu.empty()) {
    kvm_fpu f{};
    copy_exact(s.fpu, f, "fpu state");
    ioctl_or_throw(fd.fd(), KVM_SET_FPU, &f, "KVM_SET_FPU");
  }
  for (const auto& [index, value] : s.msrs) {
    OneMsr m{1, 0, {index, 0, value}};
    const int n = ::ioctl(fd.fd(), kSetMsrs, &m);
    if (n < 0) throw_errno("KVM_SET_MSRS");
    if (n != 1) throw SystemError("KVM_SET_MSRS: MSR " + std::to_string(index) + " refused", EINVAL);
  }
  kvm_mp_state mp{s.mp_state};
  ioctl_or_throw(fd.fd(), KVM_SET_MP_STATE, &mp, "KVM_SET_MP_STATE");
  if (!s.events.empty()) {
    kvm_vcpu_events ev{};
    copy_exact(s.events, ev, "vcpu events");
    ev.flags &= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR | KVM_VCPUEVENT_VALID_SHADOW;
    ioctl_or_throw(fd.fd(), KVM_SET_VCPU_EVENTS, &ev, "KVM_SET_VCPU_EVENTS");
  }
}

void to_record(const KvmVcpuState& s, state::VcpuState& rec) {
  uint64_t g[kGprs];
  std::memcpy(g, &s.regs, sizeof g);
  rec.clear_gprs();
  for (uint64_t v : g) rec.add_gprs(v);
  rec.clear_segments();
  for (const kvm_segment* seg : {&s.sregs.cs, &s.sregs.ds, &s.sregs.es, &s.sregs.fs, &s.sregs.gs, &s.sregs.ss,
                                 &s.sregs.tr, &s.sregs.ldt})
    to_segment(*seg, *rec.add_segments());
  rec.set_gdt_base(s.sregs.gdt.base);
  rec.set_gdt_limit(s.sregs.gdt.limit);
  rec.set_idt_base(s.sregs.idt.base);
  rec.set_idt_limit(s.sregs.idt.limit);
  rec.set_cr0(s.sregs.cr0);
  rec.set_cr2(s.sregs.cr2);
  rec.set_cr3(s.sregs.cr3);
  rec.set_cr4(s.sregs.cr4);
  rec.set_cr8(s.sregs.cr8);
  rec.set_efer(s.sregs.efer);
  rec.set_apic_base(s.sregs.apic_base);
  rec.set_interrupt_bitmap(bytes_of(s.sregs.interrupt_bitmap));
  rec.set_xsave(s.xsave);
  rec.set_fpu(s.fpu);
  rec.clear_msrs();
  for (const auto& [index, value] : s.msrs) {
    auto* m = rec.add_msrs();
    m->set_index(index);
    m->set_value(value);
  }
  rec.set_mp_state(s.mp_state);
  rec.set_vcpu_events(s.events);
}

KvmVcpuState from_record(const state::VcpuState& rec) {
  KvmVcpuState s;
  if (static_cast<size_t>(rec.gprs_size()) != kGprs || rec.segments_size() != 8)
    throw save::StreamError("save stream: vcpu " + std::to_string(rec.id()) + " has the wrong number of registers");
  uint64_t g[kGprs];
  for (size_t i = 0; i < kGprs; i++) g[i] = rec.gprs(static_cast<int>(i));
  std::memcpy(&s.regs, g, sizeof g);
  kvm_segment* segs[] = {&s.sregs.cs, &s.sregs.ds, &s.sregs.es, &s.sregs.fs,
                         &s.sregs.gs, &s.sregs.ss, &s.sregs.tr, &s.sregs.ldt};
  for (int i = 0; i < 8; i++) *segs[i] = from_segment(rec.segments(i));
  s.sregs.gdt = {rec.gdt_base(), static_cast<uint16_t>(rec.gdt_limit()), {}};
  s.sregs.idt = {rec.idt_base(), static_cast<uint16_t>(rec.idt_limit()), {}};
  s.sregs.cr0 = rec.cr0();
  s.sregs.cr2 = rec.cr2();
  s.sregs.cr3 = rec.cr3();
  s.sregs.cr4 = rec.cr4();
  s.sregs.cr8 = rec.cr8();
  s.sregs.efer = rec.efer();
  s.sregs.apic_base = rec.apic_base();
  if (!rec.interrupt_bitmap().empty()) copy_exact(rec.interrupt_bitmap(), s.sregs.interrupt_bitmap, "interrupt bitmap");
  s.xsave = rec.xsave();
  s.fpu = rec.fpu();
  s.events = rec.vcpu_events();
  if (!s.xsave.empty() && s.xsave.size() != sizeof(XsaveArea))
    throw save::StreamError("save stream: vcpu " + std::to_string(rec.id()) + ": the xsave area is " +
                            std::to_string(s.xsave.size()) + " bytes, not " + std::to_string(sizeof(XsaveArea)));
  if (!s.fpu.empty() && s.fpu.size() != sizeof(kvm_fpu))
    throw save::StreamError("save stream: vcpu " + std::to_string(rec.id()) + ": the fpu state has the wrong size");
  if (!s.events.empty() && s.events.size() != sizeof(kvm_vcpu_events))
    throw save::StreamError("save stream: vcpu " + std::to_string(rec.id()) + ": the vcpu events have the wrong size");
  for (const auto& m : rec.msrs()) s.msrs.emplace_back(m.index(), m.value());
  s.mp_state = rec.mp_state();
  return s;
}

}  // namespace pv
