// A domain's devices in its registry record once hot-plug changed them
// (registry.proto devices_changed, disks, vifs): canonical xl specs that
// replace the configuration's disk= and vif= lists, so a restarted pvd
// and a reboot of the domain keep the devices as they are now (as xl
// does). Every vif is kept with its devid= so that its number, and the
// MAC derived from it, stay the same whatever was detached before it.
#pragma once
#include <string>

#include "config/domain_config.h"
#include "registry.pb.h"

namespace pv::pvd {

// Gives every vif of `cfg` its devid (its index when it had none), as
// device_nodes() numbers them.
void number_vifs(config::DomainConfig& cfg);

// Writes cfg's disks and vifs into `rec` (devices_changed set).
void store_devices(registry::DomainRecord& rec, config::DomainConfig& cfg);

// The record's devices into `cfg`, when it has any; "" or what is wrong
// (then `cfg` keeps its own).
std::string apply_recorded_devices(const registry::DomainRecord& rec, config::DomainConfig& cfg);

}  // namespace pv::pvd
