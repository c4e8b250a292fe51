#include "device_record.h"

#include "config/disk_spec.h"
#include "config/vif_spec.h"

namespace pv::pvd {

void number_vifs(config::DomainConfig& cfg) {
  for (uint32_t i = 0; i < cfg.vifs.size(); i++)
    if (!cfg.vifs[i].devid) cfg.vifs[i].devid = i;
}

void store_devices(registry::DomainRecord& rec, config::DomainConfig& cfg) {
  number_vifs(cfg);
  rec.set_devices_changed(true);
  rec.clear_disks();
  rec.clear_vifs();
  for (const auto& d : cfg.disks) rec.add_disks(config::to_spec(d));
  for (const auto& v : cfg.vifs) rec.add_vifs(config::to_spec(v));
}

std::string apply_recorded_devices(const registry::DomainRecord& rec, config::DomainConfig& cfg) {
  if (!rec.devices_changed()) return "";
  std::vector<config::DiskSpec> disks;
  std::vector<config::VifSpec> vifs;
  for (const auto& spec : rec.disks()) {
    auto r = config::parse_disk_spec(spec);
    if (!r.disk) return "disk '" + spec + "': " + r.error;
    disks.push_back(*r.disk);
  }
  for (const auto& spec : rec.vifs()) {
    auto r = config::parse_vif_spec(spec);
    if (!r.vif) return "vif '" + spec + "': " + r.error;
    vifs.push_back(*r.vif);
  }
  cfg.disks = std::move(disks);
  cfg.vifs = std::move(vifs);
  return "";
}

}  // namespace pv::pvd
