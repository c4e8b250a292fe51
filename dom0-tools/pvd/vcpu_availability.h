// vCPU hot-plug as Xen's toolstack does it: pvd writes
// /local/domain/<domid>/cpu/N/availability ("online" or "offline") for
// every vCPU N the domain has (maxvcpus), and the guest brings its vCPUs
// up and down to match (Linux's drivers/xen/cpu_hotplug.c). pv-hv tells
// which are up (VCPUOP_is_up) over its control socket.
#pragma once
#include <cstdint>
#include <string>

namespace pv::pvd {

std::string vcpu_availability_path(uint32_t domid, uint32_t vcpu);

// Why `pvctl vcpu-set DOMAIN requested` cannot be done on a domain created
// with `max_vcpus` vCPUs ("" when it can).
std::string vcpu_set_refusal(const std::string& domain, uint32_t requested, uint32_t max_vcpus);

}  // namespace pv::pvd
