// `pvctl top`: every domain's counters in one reply. CPU time and memory
// come from pvd's own view of the domain; I/O from the statistics pv-backd
// publishes under each device's back-end directory in xenstore (read here
// from pvd's own store, no round trip).
#include <unistd.h>

#include <charconv>

#include "config/disk_spec.h"
#include "domain_manager.h"

namespace pv::pvd {
namespace A = pv::admin;

namespace {

uint64_t counter(XenstoreHost& xs, const std::string& dir, const char* key) {
  const auto v = xs.read(dir + "/statistics/" + key);
  uint64_t n = 0;
  if (v) std::from_chars(v->data(), v->data() + v->size(), n);
  return n;
}

}  // namespace

A::Reply DomainManager::top() {
  A::Reply out;
  A::DomainStatsList* l = out.mutable_stats();
  l->set_host_memory_mib(uint64_t(::sysconf(_SC_PHYS_PAGES)) * uint64_t(::sysconf(_SC_PAGESIZE)) >> 20);
  l->set_host_cpus(uint32_t(::sysconf(_SC_NPROCESSORS_ONLN)));
  for (const auto& [domid, d] : domains_) {
    A::DomainStats* s = l->add_domains();
    *s->mutable_domain() = info(*d);
    s->set_maxmem_mib(d->ceiling_mib());
    const std::string id = std::to_string(domid);
    for (const auto& disk : d->spec.disks) {
      const auto devid = config::vdev_to_devid(disk.vdev);
      if (!devid) continue;
      const std::string be = "/local/domain/0/backend/vbd/" + id + "/" + std::to_string(*devid);
      s->set_vbds(s->vbds() + 1);
      s->set_vbd_reads(s->vbd_reads() + counter(xenstore_, be, "reads"));
      s->set_vbd_writes(s->vbd_writes() + counter(xenstore_, be, "writes"));
      s->set_vbd_sectors_read(s->vbd_sectors_read() + counter(xenstore_, be, "sectors_read"));
      s->set_vbd_sectors_written(s->vbd_sectors_written() + counter(xenstore_, be, "sectors_written"));
      s->set_vbd_errors(s->vbd_errors() + counter(xenstore_, be, "errors"));
      s->set_vbd_throttled(s->vbd_throttled() + counter(xenstore_, be, "throttled"));
      if (disk.limits.any()) s->set_vbds_limited(s->vbds_limited() + 1);
    }
    for (size_t i = 0; i < d->spec.vifs.size(); i++) {
      const uint32_t devid = d->spec.vifs[i].devid.value_or(uint32_t(i));
      const std::string be = "/local/domain/0/backend/vif/" + id + "/" + std::to_string(devid);
      s->set_vifs(s->vifs() + 1);
      s->set_net_tx_bytes(s->net_tx_bytes() + counter(xenstore_, be, "tx-bytes"));
      s->set_net_rx_bytes(s->net_rx_bytes() + counter(xenstore_, be, "rx-bytes"));
      s->set_net_tx_packets(s->net_tx_packets() + counter(xenstore_, be, "tx-packets"));
      s->set_net_rx_packets(s->net_rx_packets() + counter(xenstore_, be, "rx-packets"));
    }
  }
  return out;
}

}  // namespace pv::pvd
