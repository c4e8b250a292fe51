#include "hypercall/transport.h"

#include <sys/ioctl.h>

#include <xen/cpuid.h>
#include <xen/xen.h>

#include "pv/error.h"

namespace pv {

Transport select_transport(const kvm::System& kvm, TransportChoice choice) {
  const int xen_caps = kvm.check(KVM_CAP_XEN_HVM);
  const bool have_xen = (xen_caps & KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL) != 0;
  const bool have_msr = kvm.check(KVM_CAP_X86_USER_SPACE_MSR) && kvm.check(KVM_CAP_X86_MSR_FILTER);
  switch (choice) {
    case TransportChoice::kKvmXen:
      if (!have_xen) throw UserError("--hypercall-transport=kvm-xen: this KVM lacks KVM_CAP_XEN_HVM (hypercall intercept)");
      return Transport::kKvmXen;
    case TransportChoice::kPortIo:
      if (!have_msr) throw UserError("--hypercall-transport=port-io: this KVM lacks user-space MSR exits");
      return Transport::kPortIo;
    case TransportChoice::kAuto:
      if (have_xen) return Transport::kKvmXen;
      if (have_msr) return Transport::kPortIo;
      throw UserError("this KVM offers neither KVM_CAP_XEN_HVM nor user-space MSR exits: no hypercall transport");
  }
  throw UserError("bad transport choice");
}

const char* transport_name(Transport t) { return t == Transport::kKvmXen ? "kvm-xen" : "port-io"; }

TransportChoice parse_transport(const std::string& s) {
  if (s == "auto") return TransportChoice::kAuto;
  if (s == "port-io") return TransportChoice::kPortIo;
  if (s == "kvm-xen") return TransportChoice::kKvmXen;
  throw UserError("unknown hypercall transport '" + s + "' (expected auto, port-io or kvm-xen)");
}

void configure_transport(kvm::Vm& vm, Transport t) {
  if (t == Transport::kPortIo) {
    vm.trap_msr(xen::cpuid::kHypercallMsr);
    return;
  }
  kvm_xen_hvm_config cfg{};
  cfg.flags = KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL;
  cfg.msr = xen::cpuid::kHypercallMsr;
  if (::ioctl(vm.fd(), KVM_XEN_HVM_CONFIG, &cfg) < 0) throw_errno("KVM_XEN_HVM_CONFIG");
}

uint64_t port_io_hypercall_number(uint64_t rip) { return (rip & (xen::kPageSize - 1)) / xen::hc::kStubSize; }

void write_port_io_hypercall_page(uint8_t* page) {
  for (uint32_t nr = 0; nr < xen::hc::kPageEntries; nr++) {
    uint8_t* p = page + nr * xen::hc::kStubSize;
    for (uint32_t i = 0; i < xen::hc::kStubSize; i += 2) {
      p[i] = 0x0f;  // ud2
      p[i + 1] = 0x0b;
    }
    p[0] = 0xe7;  // out %eax, $port
    p[1] = static_cast<uint8_t>(kHypercallPort);
    p[2] = 0xc3;  // ret
  }
}

}  // namespace pv
