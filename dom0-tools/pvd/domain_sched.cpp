// `pvctl sched-credit`: each domain's CPU share (cpu_cgroups.h). A domain
// starts with its configuration's cpu_weight and cap; a change made on a
// running domain is kept in its record, so it holds across pvd restarts
// and the domain's reboots, as `xl sched-credit` holds for the domain's
// life.
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "domain0.h"
#include "domain_control.h"
#include "domain_manager.h"
#include "vcpu_availability.h"
#include "vcpu_threads.h"
#include "pv/log.h"

namespace pv::pvd {
namespace A = pv::admin;

CpuShare DomainManager::cpu_share(const Domain& d) const {
  CpuShare s{d.spec.cpu_weight, d.spec.cap};
  if (d.rec.cpu_weight()) s.weight = d.rec.cpu_weight();
  if (d.rec.cpu_cap_set()) s.cap_percent = d.rec.cpu_cap();
  return s;
}

void DomainManager::place_in_cgroup(Domain& d) {
  if (!cpu_ || !d.proc) return;
  try {
    cpu_->place(d.rec.domid(), d.proc->pid(), cpu_share(d));
  } catch (const std::exception& e) {
    // The domain runs, with the host's default share: said, not hidden.
    log::warning("domain " + std::to_string(d.rec.domid()) + ": CPU share not applied: " + e.what());
  }
}

void DomainManager::leave_cgroup(uint32_t domid) {
  if (cpu_ && !cpu_->remove(domid)) log::warning("cgroup " + cpu_->dir(domid) + " still holds a process; left");
}

A::Reply DomainManager::sched_credit(const A::SchedCreditRequest& r) {
  const bool change = r.weight() != 0 || r.set_cap();
  A::Reply out;
  auto row = [&](uint32_t domid, const std::string& name, const CpuShare& s) {
    auto* e = out.mutable_sched_credit()->add_domains();
    e->set_domid(domid);
    e->set_name(name);
    e->set_weight(s.weight);
    e->set_cap(s.cap_percent);
  };
  if (r.domain().name_or_id().empty()) {
    if (change) return error_reply(A::ERROR_BAD_REQUEST, "name the domain whose weight or cap changes (-d DOMAIN)");
    row(0, "Domain-0", CpuShare{});  // the host's own processes: the kernel's default share
    for (const auto& [id, d] : domains_) row(id, d->rec.name(), cpu_share(*d));
    return out;
  }
  if (is_domain0(r.domain().name_or_id())) {
    if (change) return error_reply(A::ERROR_INVALID_STATE, "Domain-0 is the host itself: pvd does not set its share");
    row(0, "Domain-0", CpuShare{});
    return out;
  }
  Domain* d = find(r.domain().name_or_id());
  if (!d) return error_reply(A::ERROR_NO_SUCH_DOMAIN, "no domain named '" + r.domain().name_or_id() + "'");
  if (change) {
    CpuShare s = cpu_share(*d);
    if (r.weight()) s.weight = r.weight();
    if (r.set_cap()) s.cap_percent = r.cap();
    if (std::string why = check_cpu_share(s, d->spec.maxvcpus); !why.empty())
      return error_reply(A::ERROR_BAD_REQUEST, why);
    if (!cpu_) return error_reply(A::ERROR_INTERNAL, "CPU shares cannot be set on this host: " + cpu_why_);
    if (d->proc) {
      try {
        cpu_->apply(d->rec.domid(), s);
      } catch (const std::exception& e) {
        return error_reply(A::ERROR_INTERNAL, std::string("cannot set the domain's CPU share: ") + e.what());
      }
    }
    d->rec.set_cpu_weight(s.weight);
    d->rec.set_cpu_cap_set(true);
    d->rec.set_cpu_cap(s.cap_percent);
    save(*d);
  }
  row(d->rec.domid(), d->rec.name(), cpu_share(*d));
  return out;
}

namespace {

int host_cpus() { return static_cast<int>(::sysconf(_SC_NPROCESSORS_CONF)); }

// Which vCPUs are up, from pv-hv (VCPUOP_is_up); every one when pv-hv
// cannot say (an older pv-hv, or one that is going away).
uint64_t vcpus_up(const std::string& control_socket) {
  try {
    const ctl::Reply r = call_domain_control(control_socket, ctl::Op::kQueryVcpus);
    if (r.status == 0 && r.vcpus) return r.vcpus_up;
  } catch (const std::exception& e) {
    log::warning(std::string("vcpu-list: which vCPUs are up is unknown: ") + e.what());
  }
  return ~uint64_t{0};
}

void add_vcpu_rows(A::VcpuList& out, uint32_t domid, const std::string& name, const DomainProcess* proc,
                   const std::string& control_socket) {
  if (!proc) return;  // shut down and preserved: no vCPU runs
  const auto threads = vcpu_threads(proc->pid());
  const uint64_t up = threads.empty() ? 0 : vcpus_up(control_socket);
  for (const VcpuThread& v : threads) {
    auto* r = out.add_vcpus();
    r->set_offline(v.vcpu < 64 && !(up >> v.vcpu & 1));
    r->set_domid(domid);
    r->set_name(name);
    r->set_vcpu(v.vcpu);
    r->set_cpu(v.cpu);
    r->set_state(std::string(1, v.state));
    r->set_cpu_time_s(v.cpu_seconds);
    r->set_affinity(format_cpu_list(v.affinity, host_cpus()));
  }
}

}  // namespace

A::Reply DomainManager::vcpu_list(const A::DomainRef& ref) {
  A::Reply out;
  if (ref.name_or_id().empty()) {
    for (const auto& [id, d] : domains_)
      add_vcpu_rows(*out.mutable_vcpus(), id, d->rec.name(), d->proc.get(), registry_.control_socket(id));
    return out;
  }
  if (is_domain0(ref.name_or_id()))
    return error_reply(A::ERROR_INVALID_STATE, "Domain-0 is the host itself: its CPUs are not vCPUs pvd runs");
  Domain* d = find(ref.name_or_id());
  if (!d) return error_reply(A::ERROR_NO_SUCH_DOMAIN, "no domain named '" + ref.name_or_id() + "'");
  add_vcpu_rows(*out.mutable_vcpus(), d->rec.domid(), d->rec.name(), d->proc.get(),
                registry_.control_socket(d->rec.domid()));
  return out;
}

A::Reply DomainManager::vcpu_pin(const A::VcpuPinRequest& r) {
  if (is_domain0(r.domain().name_or_id()))
    return error_reply(A::ERROR_INVALID_STATE, "Domain-0 is the host itself: pvd does not pin its CPUs");
  Domain* d = find(r.domain().name_or_id());
  if (!d) return error_reply(A::ERROR_NO_SUCH_DOMAIN, "no domain named '" + r.domain().name_or_id() + "'");
  if (!d->proc) return error_reply(A::ERROR_INVALID_STATE, "domain '" + d->rec.name() + "' is not running");
  std::string why;
  const auto cpus = parse_cpu_list(r.cpus(), host_cpus(), &why);
  if (!cpus) return error_reply(A::ERROR_BAD_REQUEST, "CPU list: " + why);
  const auto threads = vcpu_threads(d->proc->pid());
  bool all = r.vcpu() == "all", found = false;
  for (const VcpuThread& v : threads) {
    if (!all && r.vcpu() != std::to_string(v.vcpu)) continue;
    found = true;
    if (const int err = pin_thread(v.tid, *cpus))
      return error_reply(A::ERROR_INTERNAL, "cannot pin vCPU " + std::to_string(v.vcpu) + ": " + std::strerror(err));
  }
  if (!found)
    return error_reply(A::ERROR_BAD_REQUEST, "domain '" + d->rec.name() + "' has no vCPU '" + r.vcpu() + "' (it has " +
                                                 std::to_string(threads.size()) + ": 0-" +
                                                 std::to_string(threads.empty() ? 0 : threads.size() - 1) + ", or all)");
  return vcpu_list(r.domain());
}

A::Reply DomainManager::vcpu_set(Domain& d, uint32_t vcpus) {
  if (!d.proc) return error_reply(A::ERROR_INVALID_STATE, "domain '" + d.rec.name() + "' is not running");
  const uint32_t max_vcpus = std::max(d.spec.maxvcpus, d.spec.vcpus);
  if (std::string why = vcpu_set_refusal(d.rec.name(), vcpus, max_vcpus); !why.empty())
    return error_reply(A::ERROR_BAD_REQUEST, why);
  // Every node, as libxl writes them: the guest's watch on cpu/ sees each.
  for (uint32_t v = 0; v < max_vcpus; v++) {
    const std::string path = vcpu_availability_path(d.rec.domid(), v);
    if (!xenstore_.write(path, v < vcpus ? "online" : "offline"))
      return error_reply(A::ERROR_INTERNAL, "cannot write " + path);
  }
  d.rec.set_vcpus_online(vcpus);  // kept, as sched-credit's changes: across pvd restarts and reboots
  save(d);
  A::Reply r;
  *r.mutable_domain() = info(d);
  return r;
}

}  // namespace pv::pvd
