// The xenstore nodes of a domain's split devices, laid out as Xen's
// toolstack (libxl) writes them before the guest boots: for each device a
// back-end directory that pv-backd serves, owned by dom0 and readable by
// the guest, and a front-end directory that the guest owns and dom0 reads.
//
//   /local/domain/0/backend/vbd/<domid>/<devid>/
//       frontend frontend-id online state=1 params type mode dev
//       device-type removable bootable discard-enable
//   /local/domain/<domid>/device/vbd/<devid>/
//       backend backend-id state=1 virtual-device device-type
//   /local/domain/0/backend/vif/<domid>/<devid>/
//       frontend frontend-id online state=1 mac bridge handle type [ip]
//   /local/domain/<domid>/device/vif/<devid>/
//       backend backend-id state=1 handle mac
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "config/domain_config.h"

namespace pv::pvd {

struct NodeWrite {
  std::string path;
  std::string value;   // empty with mkdir_only: a directory
  std::vector<std::string> perms;  // empty: inherit
  bool mkdir_only = false;
};

// A vif with ip=: its address, for the DHCP server of its network.
struct VifAddress {
  std::string bridge, mac, ip;
};

// Checks every disk and vif of `cfg` and returns the nodes to write, in
// order; throws UserError naming the device when one cannot be served
// (missing image, unsupported format, bridge that does not exist ...).
// `resolve_bridge` turns a vif's bridge= into a host bridge name.
std::vector<NodeWrite> device_nodes(uint32_t domid, const std::string& uuid, const config::DomainConfig& cfg,
                                    const std::function<std::string(const std::string&)>& resolve_bridge,
                                    std::vector<VifAddress>* addresses = nullptr);

// A vbd's I/O limits as pv-backd reads them (qos-iops, qos-bps-rd, ...;
// blkback/blk_backend.h), every key (0: no limit).
std::vector<std::pair<std::string, std::string>> vbd_qos_keys(const config::DiskIoLimits& l);

// The back-end directories of a domain (removed when it goes away).
std::vector<std::string> backend_dirs(uint32_t domid);

// One device's directories: /local/domain/0/backend/<type>/<domid>/<devid>
// and /local/domain/<domid>/device/<type>/<devid> (type "vbd" or "vif").
std::string backend_dir(uint32_t domid, const std::string& type, uint32_t devid);
std::string frontend_dir(uint32_t domid, const std::string& type, uint32_t devid);

// The nodes of one disk or one vif, checked as device_nodes() checks them
// (hot-plug: block-attach, network-attach). A vif's devid is `devid`.
std::vector<NodeWrite> disk_nodes(uint32_t domid, const config::DiskSpec& disk);
std::vector<NodeWrite> vif_nodes(uint32_t domid, const std::string& uuid, const config::VifSpec& vif, uint32_t devid,
                                 const std::function<std::string(const std::string&)>& resolve_bridge,
                                 std::vector<VifAddress>* addresses = nullptr);

// The MAC a vif without mac= gets: Xen's OUI 00:16:3e and three bytes
// derived from the domain's uuid and the vif's index, so it stays the same
// across reboots of the domain.
std::string default_mac(const std::string& uuid, uint32_t index);

}  // namespace pv::pvd
