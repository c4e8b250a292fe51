#include "device_nodes.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <set>

#include "config/disk_spec.h"
#include "config/vif_spec.h"

namespace pv::pvd {
namespace {

struct DeviceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

void check_disk(const config::DiskSpec& d) {
  const std::string who = "disk " + d.vdev + ": ";
  if (!d.backend.empty() && d.backend != "0" && d.backend != "Domain-0")
    throw DeviceError(who + "back-end domain '" + d.backend + "' is not supported (dom0 serves every disk)");
  if (d.format != "raw" && !(d.format == "empty" && d.devtype == config::DiskDevType::Cdrom))
    throw DeviceError(who + "format '" + d.format + "' is not supported (raw images and block devices only)");
  if (!d.script.empty()) throw DeviceError(who + "block scripts are not supported");
  if (d.target.empty()) {
    if (d.devtype == config::DiskDevType::Cdrom) return;  // an empty drive
    throw DeviceError(who + "no target= (image file or block device)");
  }
  struct stat st{};
  if (::stat(d.target.c_str(), &st) != 0) throw DeviceError(who + "target " + d.target + " does not exist");
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
    throw DeviceError(who + "target " + d.target + " is neither a file nor a block device");
  if (::access(d.target.c_str(), d.readonly() ? R_OK : R_OK | W_OK) != 0)
    throw DeviceError(who + "target " + d.target + " is not " + (d.readonly() ? "readable" : "readable and writable"));
}

}  // namespace

std::string default_mac(const std::string& uuid, uint32_t index) {
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : uuid) h = (h ^ c) * 16777619u;
  h = (h ^ index) * 16777619u;
  char buf[32];
  std::snprintf(buf, sizeof buf, "00:16:3e:%02x:%02x:%02x", (h >> 16) & 0x7f, (h >> 8) & 0xff, h & 0xff);
  return buf;
}

std::vector<std::string> backend_dirs(uint32_t domid) {
  const std::string id = std::to_string(domid);
  return {"/local/domain/0/backend/vbd/" + id, "/local/domain/0/backend/vif/" + id};
}

std::vector<NodeWrite> device_nodes(uint32_t domid, const std::string& uuid, const config::DomainConfig& cfg,
                                    const std::function<std::string(const std::string&)>& resolve_bridge,
                                    std::vector<VifAddress>* addresses) {
  std::vector<NodeWrite> out;
  const std::string id = std::to_string(domid);
  const std::vector<std::string> be_perms{"n0", "r" + id}, fe_perms{"n" + id, "r0"};
  auto dir = [&](const std::string& path, const std::vector<std::string>& perms) {
    out.push_back({path, "", perms, true});
  };
  auto key = [&](const std::string& path, const std::string& value) { out.push_back({path, value, {}, false}); };

  std::set<uint32_t> devids;
  for (const auto& d : cfg.disks) {
    try {
      check_disk(d);
    } catch (const DeviceError& e) {
      throw std::runtime_error(e.what());
    }
    const auto devid = config::vdev_to_devid(d.vdev);
    if (!devid) throw std::runtime_error("disk " + d.vdev + ": not a virtual device name");
    if (!devids.insert(*devid).second) throw std::runtime_error("disk " + d.vdev + ": device used twice");
    const std::string dev = std::to_string(*devid);
    const std::string be = "/local/domain/0/backend/vbd/" + id + "/" + dev;
    const std::string fe = "/local/domain/" + id + "/device/vbd/" + dev;
    const bool cdrom = d.devtype == config::DiskDevType::Cdrom;
    dir(be, be_perms);
    key(be + "/frontend", fe);
    key(be + "/frontend-id", id);
    key(be + "/online", "1");
    key(be + "/removable", cdrom ? "1" : "0");
    key(be + "/bootable", "1");
    key(be + "/dev", d.vdev);
    key(be + "/type", "phy");
    key(be + "/params", d.target);
    key(be + "/mode", d.readonly() || cdrom ? "r" : "w");
    key(be + "/device-type", cdrom ? "cdrom" : "disk");
    key(be + "/discard-enable", d.discard && !d.readonly() ? "1" : "0");
    key(be + "/state", "1");
    dir(fe, fe_perms);
    key(fe + "/backend", be);
    key(fe + "/backend-id", "0");
    key(fe + "/virtual-device", dev);
    key(fe + "/device-type", cdrom ? "cdrom" : "disk");
    key(fe + "/state", "1");
  }

  for (uint32_t i = 0; i < cfg.vifs.size(); i++) {
    const auto& v = cfg.vifs[i];
    const uint32_t devid = v.devid.value_or(i);
    const std::string who = "vif " + std::to_string(devid) + ": ";
    if (!v.backend.empty() && v.backend != "0" && v.backend != "Domain-0")
      throw std::runtime_error(who + "back-end domain '" + v.backend + "' is not supported");
    if (!v.script.empty()) throw std::runtime_error(who + "vif scripts are not supported (pvd attaches the tap)");
    const std::string mac = v.mac ? config::to_string(*v.mac) : default_mac(uuid, devid);
    std::string bridge;
    try {
      bridge = resolve_bridge(v.bridge);
    } catch (const std::exception& e) {
      throw std::runtime_error(who + e.what());
    }
    const std::string dev = std::to_string(devid);
    const std::string be = "/local/domain/0/backend/vif/" + id + "/" + dev;
    const std::string fe = "/local/domain/" + id + "/device/vif/" + dev;
    dir(be, be_perms);
    key(be + "/frontend", fe);
    key(be + "/frontend-id", id);
    key(be + "/online", "1");
    key(be + "/mac", mac);
    key(be + "/bridge", bridge);
    key(be + "/handle", dev);
    key(be + "/type", "vif");
    if (!v.ips.empty()) {
      std::string ips;
      for (const auto& ip : v.ips) ips += (ips.empty() ? "" : " ") + ip;
      key(be + "/ip", ips);
      if (addresses && v.ips.front().find(':') == std::string::npos) addresses->push_back({bridge, mac, v.ips.front()});
    }
    if (v.mtu) key(be + "/mtu", std::to_string(*v.mtu));
    key(be + "/state", "1");
    dir(fe, fe_perms);
    key(fe + "/backend", be);
    key(fe + "/backend-id", "0");
    key(fe + "/handle", dev);
    key(fe + "/mac", mac);
    key(fe + "/state", "1");
  }
  return out;
}

}  // namespace pv::pvd
