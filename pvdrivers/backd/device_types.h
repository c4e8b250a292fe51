// The device types pv-backd serves; each back-end registers itself here.
#pragma once
#include "backd/device_manager.h"

namespace pv::backd {
void register_device_types(DeviceManager& m);
}
