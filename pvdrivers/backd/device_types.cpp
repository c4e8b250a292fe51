#include "backd/device_types.h"

namespace pv::backd {

void register_device_types(DeviceManager& m) {
  (void)m;
  // One line per device type:  m.register_type("vbd", ...);
}

}  // namespace pv::backd
