#include "kvm/kvm.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "pv/error.h"

namespace pv::kvm {
namespace {
// <linux/kvm.h> declares its flexible arrays with __DECLARE_FLEX_ARRAY,
// which in C++ puts a one-byte empty struct before the array: the C++
// layouts of kvm_cpuid2 / kvm_signal_mask are wrong and so are the sizes
// encoded in their ioctl numbers. These headers mirror the kernel's C
// layout; the array follows each one.
struct Cpuid2Header {
  uint32_t nent, padding;
};
struct SignalMaskHeader {
  uint32_t len;
};
constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, Cpuid2Header);
constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, Cpuid2Header);
constexpr unsigned long kSetSignalMask = _IOW(KVMIO, 0x8b, SignalMaskHeader);
}  // namespace

System::System() {
  fd_.reset(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
  if (!fd_) throw_errno("open /dev/kvm (is KVM loaded and are you root?)");
  int v = ::ioctl(fd_.get(), KVM_GET_API_VERSION, 0);
  if (v != KVM_API_VERSION) throw UserError("unsupported KVM API version " + std::to_string(v));
}

int System::check(long cap) const {
  int r = ::ioctl(fd_.get(), KVM_CHECK_EXTENSION, cap);
  return r < 0 ? 0 : r;
}

std::vector<kvm_cpuid_entry2> System::supported_cpuid() const {
  for (uint32_t n = 64; n <= 4096; n *= 2) {
    std::vector<uint8_t> buf(sizeof(Cpuid2Header) + n * sizeof(kvm_cpuid_entry2));
    auto* hdr = reinterpret_cast<Cpuid2Header*>(buf.data());
    hdr->nent = n;
    if (::ioctl(fd_.get(), kGetSupportedCpuid, hdr) == 0) {
      std::vector<kvm_cpuid_entry2> out(hdr->nent);
      std::memcpy(out.data(), buf.data() + sizeof(Cpuid2Header), hdr->nent * sizeof(kvm_cpuid_entry2));
      return out;
    }
    if (errno != E2BIG) throw_errno("KVM_GET_SUPPORTED_CPUID");
  }
  throw UserError("KVM_GET_SUPPORTED_CPUID: too many entries");
}

size_t System::vcpu_mmap_size() const {
  int r = ::ioctl(fd_.get(), KVM_GET_VCPU_MMAP_SIZE, 0);
  if (r <= 0) throw_errno("KVM_GET_VCPU_MMAP_SIZE");
  return static_cast<size_t>(r);
}

Vm::Vm(const System& sys) : sys_(sys) {
  int fd;
  do fd = ::ioctl(sys.fd(), KVM_CREATE_VM, 0);
  while (fd < 0 && errno == EINTR);
  if (fd < 0) throw_errno("KVM_CREATE_VM");
  fd_.reset(fd);
}

void Vm::set_memory(uint32_t slot, uint64_t gpa, uint64_t size, void* host, uint32_t flags) {
  kvm_userspace_memory_region r{};
  r.slot = slot;
  r.flags = flags;
  r.guest_phys_addr = gpa;
  r.memory_size = size;
  r.userspace_addr = reinterpret_cast<uint64_t>(host);
  if (::ioctl(fd_.get(), KVM_SET_USER_MEMORY_REGION, &r) < 0) throw_errno("KVM_SET_USER_MEMORY_REGION");
}

void Vm::get_dirty_log(uint32_t slot, uint64_t* bitmap) {
  kvm_dirty_log d{};
  d.slot = slot;
  d.dirty_bitmap = bitmap;
  if (::ioctl(fd_.get(), KVM_GET_DIRTY_LOG, &d) < 0) throw_errno("KVM_GET_DIRTY_LOG");
}

VcpuFd Vm::create_vcpu(uint32_t id) {
  int fd = ::ioctl(fd_.get(), KVM_CREATE_VCPU, id);
  if (fd < 0) throw_errno("KVM_CREATE_VCPU " + std::to_string(id));
  return VcpuFd(fd, sys_.vcpu_mmap_size());
}

void Vm::enable_cap(uint32_t cap, uint64_t arg0) {
  kvm_enable_cap c{};
  c.cap = cap;
  c.args[0] = arg0;
  if (::ioctl(fd_.get(), KVM_ENABLE_CAP, &c) < 0) throw_errno("KVM_ENABLE_CAP " + std::to_string(cap));
}

void Vm::trap_msr(uint32_t msr) {
  enable_cap(KVM_CAP_X86_USER_SPACE_MSR, KVM_MSR_EXIT_REASON_FILTER | KVM_MSR_EXIT_REASON_UNKNOWN);
  static uint8_t deny = 0;  // bitmap: 0 = deny = exit to user space
  kvm_msr_filter f{};
  f.flags = KVM_MSR_FILTER_DEFAULT_ALLOW;
  f.ranges[0].flags = KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE;
  f.ranges[0].nmsrs = 1;
  f.ranges[0].base = msr;
  f.ranges[0].bitmap = &deny;
  if (::ioctl(fd_.get(), KVM_X86_SET_MSR_FILTER, &f) < 0) throw_errno("KVM_X86_SET_MSR_FILTER");
}

VcpuFd::VcpuFd(int fd, size_t mmap_size) : fd_(fd) {
  void* p = ::mmap(nullptr, mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw_errno("mmap(kvm_run)");
  run_ = Mapping(p, mmap_size);
}

bool VcpuFd::enter() {
  if (::ioctl(fd_.get(), KVM_RUN, 0) == 0) return true;
  if (errno == EINTR || errno == EAGAIN) return false;
  throw_errno("KVM_RUN");
}

kvm_regs VcpuFd::regs() const {
  kvm_regs r{};
  if (::ioctl(fd_.get(), KVM_GET_REGS, &r) < 0) throw_errno("KVM_GET_REGS");
  return r;
}
void VcpuFd::set_regs(const kvm_regs& r) {
  if (::ioctl(fd_.get(), KVM_SET_REGS, &r) < 0) throw_errno("KVM_SET_REGS");
}
kvm_sregs VcpuFd::sregs() const {
  kvm_sregs s{};
  if (::ioctl(fd_.get(), KVM_GET_SREGS, &s) < 0) throw_errno("KVM_GET_SREGS");
  return s;
}
void VcpuFd::set_sregs(const kvm_sregs& s) {
  if (::ioctl(fd_.get(), KVM_SET_SREGS, &s) < 0) throw_errno("KVM_SET_SREGS");
}

void VcpuFd::set_cpuid(const std::vector<kvm_cpuid_entry2>& entries) {
  std::vector<uint8_t> buf(sizeof(Cpuid2Header) + entries.size() * sizeof(kvm_cpuid_entry2));
  reinterpret_cast<Cpuid2Header*>(buf.data())->nent = static_cast<uint32_t>(entries.size());
  std::memcpy(buf.data() + sizeof(Cpuid2Header), entries.data(), entries.size() * sizeof(kvm_cpuid_entry2));
  if (::ioctl(fd_.get(), kSetCpuid2, buf.data()) < 0) throw_errno("KVM_SET_CPUID2");
}

void VcpuFd::inject_interrupt(uint32_t vector) {
  kvm_interrupt irq{};
  irq.irq = vector;
  if (::ioctl(fd_.get(), KVM_INTERRUPT, &irq) < 0) throw_errno("KVM_INTERRUPT");
}

void VcpuFd::set_signal_mask(const sigset_t& mask) {
  // The kernel's sigset is 8 bytes on x86-64.
  alignas(SignalMaskHeader) uint8_t buf[sizeof(SignalMaskHeader) + 8];
  reinterpret_cast<SignalMaskHeader*>(buf)->len = 8;
  std::memcpy(buf + sizeof(SignalMaskHeader), &mask, 8);
  if (::ioctl(fd_.get(), kSetSignalMask, buf) < 0) throw_errno("KVM_SET_SIGNAL_MASK");
}

uint32_t VcpuFd::tsc_khz() const {
  int r = ::ioctl(fd_.get(), KVM_GET_TSC_KHZ, 0);
  if (r <= 0) throw_errno("KVM_GET_TSC_KHZ");
  return static_cast<uint32_t>(r);
}

}  // namespace pv::kvm
