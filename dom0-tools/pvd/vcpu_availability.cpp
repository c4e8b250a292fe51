#include "vcpu_availability.h"

namespace pv::pvd {

std::string vcpu_availability_path(uint32_t domid, uint32_t vcpu) {
  return "/local/domain/" + std::to_string(domid) + "/cpu/" + std::to_string(vcpu) + "/availability";
}

std::string vcpu_set_refusal(const std::string& domain, uint32_t requested, uint32_t max_vcpus) {
  const std::string head = "vcpu-set " + std::to_string(requested) + " refused: ";
  if (requested == 0) return head + "a domain keeps at least one vCPU online (to stop it, use shutdown)";
  if (requested > max_vcpus)
    return head + "domain '" + domain + "' has maxvcpus = " + std::to_string(max_vcpus) + ", so 1 to " +
           std::to_string(max_vcpus) + " vCPUs can be online (the vCPUs it has are fixed when it is created: " +
           "recreate it with a larger maxvcpus)";
  return "";
}

}  // namespace pv::pvd
