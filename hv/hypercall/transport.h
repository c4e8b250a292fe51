// How guest hypercalls reach pv-hv (see docs/architecture.md):
//  - kPortIo: pv-hv traps the guest's write to the hypercall MSR (user-space
//    MSR exits) and fills the hypercall page with stubs that exit through
//    an OUT to kHypercallPort; registers travel through KVM's sync-regs.
//  - kKvmXen: where KVM has KVM_CAP_XEN_HVM, KVM writes the page itself and
//    delivers hypercalls as KVM_EXIT_XEN.
#pragma once
#include <cstdint>
#include <string>

#include "kvm/kvm.h"

namespace pv {

enum class Transport { kPortIo, kKvmXen };
enum class TransportChoice { kAuto, kPortIo, kKvmXen };

inline constexpr uint16_t kHypercallPort = 0x7e;

// Picks the transport; throws UserError when an explicit choice is absent.
Transport select_transport(const kvm::System& kvm, TransportChoice choice);
const char* transport_name(Transport t);
TransportChoice parse_transport(const std::string& s);  // auto|port-io|kvm-xen

// Configures the VM for the transport (MSR trap or KVM_XEN_HVM_CONFIG).
void configure_transport(kvm::Vm& vm, Transport t);

// Writes the port-I/O hypercall page: entry N at N * 32 is
// `out %eax, $kHypercallPort; ret`, and the rest of each entry is ud2 so a
// stray jump faults visibly. The entry's position names the hypercall: no
// `mov $N, %eax` is needed, which saves an instruction per hypercall (and
// guest instructions are what hypercalls cost on the PVM machines).
void write_port_io_hypercall_page(uint8_t* page);
// The hypercall number of an OUT to kHypercallPort at guest `rip`: its
// 32-byte slot in the page. Whether KVM reports the OUT's own address or
// the next instruction's, both lie in the same slot. A guest that executes
// the OUT elsewhere just names some hypercall, checked like any other.
uint64_t port_io_hypercall_number(uint64_t rip);

}  // namespace pv
