#include "backd/device_types.h"

#include "blkback/blk_backend.h"
#include "netback/net_backend.h"

namespace pv::backd {

void register_device_types(DeviceManager& m) {
  // One line per device type:  m.register_type("vbd", ...);
  m.register_type("vbd", [](BackendContext& c, DeviceId id) { return std::make_shared<blkback::BlkBackend>(c, std::move(id)); });
  m.register_type("vif", netback::make_net_backend);
}

}  // namespace pv::backd
