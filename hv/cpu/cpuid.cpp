#include "cpu/cpuid.h"

#include <xen/cpuid.h>

namespace pv {

std::vector<kvm_cpuid_entry2> domain_cpuid(const std::vector<kvm_cpuid_entry2>& supported, uint32_t vcpu_id,
                                           xen::domid_t domid) {
  namespace C = xen::cpuid;
  std::vector<kvm_cpuid_entry2> out;
  for (const auto& e : supported) {
    // Drop KVM's own paravirt leaves: this domain sees a Xen host.
    if (e.function >= C::kFirstLeaf && e.function < C::kLastBase) continue;
    kvm_cpuid_entry2 c = e;
    if (c.function == 1) {
      c.ecx |= 1u << 31;                          // hypervisor present
      c.ecx &= ~(1u << 21);                       // no x2APIC: pv-hv emulates no local APIC
      c.edx &= ~(1u << 9);                        // no APIC
      c.ebx = (c.ebx & 0x00ffffff) | (vcpu_id << 24);  // initial APIC id
    }
    if (c.function == 0xb || c.function == 0x1f) c.edx = vcpu_id;
    out.push_back(c);
  }
  auto leaf = [&](uint32_t fn, uint32_t a, uint32_t b, uint32_t c, uint32_t d) {
    kvm_cpuid_entry2 e{};
    e.function = fn;
    e.eax = a;
    e.ebx = b;
    e.ecx = c;
    e.edx = d;
    out.push_back(e);
  };
  const uint32_t base = C::kFirstLeaf;
  leaf(base + 0, base + C::kNumLeaves - 1, C::SIGNATURE_EBX, C::SIGNATURE_ECX, C::SIGNATURE_EDX);
  leaf(base + 1, (xen::kXenVersionMajor << 16) | xen::kXenVersionMinor, 0, 0, 0);
  leaf(base + 2, 1, C::kHypercallMsr, 0, 0);
  leaf(base + 3, 0, 0, 0, 0);
  leaf(base + 4, C::XEN_HVM_CPUID_VCPU_ID_PRESENT | C::XEN_HVM_CPUID_DOMID_PRESENT | C::XEN_HVM_CPUID_UPCALL_VECTOR,
       vcpu_id, domid, 0);
  return out;
}

}  // namespace pv
