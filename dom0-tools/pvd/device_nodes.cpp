#include "device_nodes.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <set>

#include "config/disk_spec.h"
#include "config/vif_spec.h"
#include "disk/format_probe.h"
#include "pv/error.h"

namespace pv::pvd {

std::vector<std::pair<std::string, std::string>> vbd_qos_keys(const config::DiskIoLimits& l) {
  return {{"qos-iops", std::to_string(l.iops)},     {"qos-iops-rd", std::to_string(l.iops_rd)},
          {"qos-iops-wr", std::to_string(l.iops_wr)}, {"qos-bps", std::to_string(l.bps)},
          {"qos-bps-rd", std::to_string(l.bps_rd)},   {"qos-bps-wr", std::to_string(l.bps_wr)},
          {"qos-burst-ms", std::to_string(l.burst_ms ? l.burst_ms : 100)}};
}

namespace {

// A device's two directories, written in libxl's order: the back-end one
// (dom0 owns it, the guest reads it), then the front-end one (the guest
// owns it, dom0 reads it).
class DeviceDirs {
 public:
  DeviceDirs(std::vector<NodeWrite>& out, uint32_t domid, const char* type, uint32_t devid)
      : out_(out), id_(std::to_string(domid)), dev_(std::to_string(devid)),
        be_("/local/domain/0/backend/" + std::string(type) + "/" + id_ + "/" + dev_),
        fe_("/local/domain/" + id_ + "/device/" + type + "/" + dev_) {}

  const std::string& dev() const { return dev_; }

  // The back-end directory with the keys every device has first.
  void begin_backend() {
    out_.push_back({be_, "", {"n0", "r" + id_}, true});
    be("frontend", fe_);
    be("frontend-id", id_);
    be("online", "1");
  }
  void be(const std::string& key, const std::string& value) { out_.push_back({be_ + "/" + key, value, {}, false}); }

  // Ends the back-end directory (state Initialising) and opens the
  // front-end one with the keys every device has first.
  void begin_frontend() {
    be("state", "1");
    out_.push_back({fe_, "", {"n" + id_, "r0"}, true});
    fe("backend", be_);
    fe("backend-id", "0");
  }
  void fe(const std::string& key, const std::string& value) { out_.push_back({fe_ + "/" + key, value, {}, false}); }
  void end() { fe("state", "1"); }

 private:
  std::vector<NodeWrite>& out_;
  const std::string id_, dev_, be_, fe_;
};

bool served_by_dom0(const std::string& backend) { return backend.empty() || backend == "0" || backend == "Domain-0"; }

// The image's first bytes against its configured format (disk/format_probe.h):
// a qcow2 image is never served as raw by mistake (format= forgotten, or a
// header the guest wrote into its raw disk), unless force-raw says so.
void check_format(const config::DiskSpec& d, const std::string& who) {
  std::string_view probed;
  try {
    probed = disk::probe_format(d.target);
  } catch (const std::exception& e) {
    throw UserError(who + e.what());
  }
  if (d.format == "raw" && probed == "qcow2" && !d.force_raw)
    throw UserError(who + "target " + d.target + " is a qcow2 image (it starts with qcow2's magic) but the disk is " +
                    "raw (format=raw, or no format=): use format=qcow2; to serve its bytes as a raw disk anyway, " +
                    "add force-raw to the disk spec");
  if (d.format == "qcow2" && probed != "qcow2")
    throw UserError(who + "target " + d.target + " is not a qcow2 image (it does not start with qcow2's magic); " +
                    "use format=raw for a raw image");
}

void check_disk(const config::DiskSpec& d) {
  const std::string who = "disk " + d.vdev + ": ";
  if (!served_by_dom0(d.backend))
    throw UserError(who + "back-end domain '" + d.backend + "' is not supported (dom0 serves every disk)");
  if (d.format != "raw" && d.format != "qcow2" && !(d.format == "empty" && d.devtype == config::DiskDevType::kCdrom))
    throw UserError(who + "format '" + d.format + "' is not supported (raw and qcow2 only)");
  if (!d.script.empty()) throw UserError(who + "block scripts are not supported");
  if (d.target.empty()) {
    if (d.devtype == config::DiskDevType::kCdrom) return;  // an empty drive
    throw UserError(who + "no target= (image file or block device)");
  }
  struct stat st{};
  if (::stat(d.target.c_str(), &st) != 0) throw UserError(who + "target " + d.target + " does not exist");
  if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
    throw UserError(who + "target " + d.target + " is neither a file nor a block device");
  if (d.format == "qcow2" && !S_ISREG(st.st_mode))
    throw UserError(who + "target " + d.target + " is a block device: qcow2 images are served from regular files only");
  if (::access(d.target.c_str(), d.readonly() ? R_OK : R_OK | W_OK) != 0)
    throw UserError(who + "target " + d.target + " is not " + (d.readonly() ? "readable" : "readable and writable"));
  check_format(d, who);
}

// The vbd half: one disk's back-end and front-end directories.
void add_vbd_nodes(std::vector<NodeWrite>& out, uint32_t domid, const config::DiskSpec& d, std::set<uint32_t>& devids) {
  check_disk(d);
  const auto devid = config::vdev_to_devid(d.vdev);
  if (!devid) throw UserError("disk " + d.vdev + ": not a virtual device name");
  if (!devids.insert(*devid).second) throw UserError("disk " + d.vdev + ": device used twice");
  const bool cdrom = d.devtype == config::DiskDevType::kCdrom;
  DeviceDirs dirs(out, domid, "vbd", *devid);
  dirs.begin_backend();
  dirs.be("removable", cdrom ? "1" : "0");
  dirs.be("bootable", "1");
  dirs.be("dev", d.vdev);
  dirs.be("type", "phy");
  dirs.be("params", d.target);
  dirs.be("format", d.format);  // raw, qcow2, or empty (a cdrom with no target)
  if (d.force_raw) dirs.be("force-raw", "1");
  dirs.be("mode", d.readonly() || cdrom ? "r" : "w");
  dirs.be("device-type", cdrom ? "cdrom" : "disk");
  dirs.be("discard-enable", d.discard && !d.readonly() ? "1" : "0");
  if (d.limits.any() || d.limits.burst_ms)
    for (const auto& [key, value] : vbd_qos_keys(d.limits)) dirs.be(key, value);
  dirs.begin_frontend();
  dirs.fe("virtual-device", dirs.dev());
  dirs.fe("device-type", cdrom ? "cdrom" : "disk");
  dirs.end();
}

// The vif half: one vif's directories; its ip= (IPv4) goes to `addresses`.
void add_vif_nodes(std::vector<NodeWrite>& out, uint32_t domid, const std::string& uuid, const config::VifSpec& v,
                   uint32_t index, const std::function<std::string(const std::string&)>& resolve_bridge,
                   std::vector<VifAddress>* addresses) {
  const uint32_t devid = v.devid.value_or(index);
  const std::string who = "vif " + std::to_string(devid) + ": ";
  if (!served_by_dom0(v.backend)) throw UserError(who + "back-end domain '" + v.backend + "' is not supported");
  if (!v.script.empty()) throw UserError(who + "vif scripts are not supported (pvd attaches the tap)");
  const std::string mac = v.mac ? config::to_string(*v.mac) : default_mac(uuid, devid);
  std::string bridge;
  try {
    bridge = resolve_bridge(v.bridge);
  } catch (const std::exception& e) {
    throw UserError(who + e.what());
  }
  DeviceDirs dirs(out, domid, "vif", devid);
  dirs.begin_backend();
  dirs.be("mac", mac);
  dirs.be("bridge", bridge);
  dirs.be("handle", dirs.dev());
  dirs.be("type", "vif");
  if (!v.ips.empty()) {
    std::string ips;
    for (const auto& ip : v.ips) ips += (ips.empty() ? "" : " ") + ip;
    dirs.be("ip", ips);
    if (addresses && v.ips.front().find(':') == std::string::npos) addresses->push_back({bridge, mac, v.ips.front()});
  }
  if (v.mtu) dirs.be("mtu", std::to_string(*v.mtu));
  dirs.begin_frontend();
  dirs.fe("handle", dirs.dev());
  dirs.fe("mac", mac);
  dirs.end();
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

std::string backend_dir(uint32_t domid, const std::string& type, uint32_t devid) {
  return "/local/domain/0/backend/" + type + "/" + std::to_string(domid) + "/" + std::to_string(devid);
}

std::string frontend_dir(uint32_t domid, const std::string& type, uint32_t devid) {
  return "/local/domain/" + std::to_string(domid) + "/device/" + type + "/" + std::to_string(devid);
}

std::vector<NodeWrite> disk_nodes(uint32_t domid, const config::DiskSpec& disk) {
  std::vector<NodeWrite> out;
  std::set<uint32_t> devids;
  add_vbd_nodes(out, domid, disk, devids);
  return out;
}

std::vector<NodeWrite> vif_nodes(uint32_t domid, const std::string& uuid, const config::VifSpec& vif, uint32_t devid,
                                 const std::function<std::string(const std::string&)>& resolve_bridge,
                                 std::vector<VifAddress>* addresses) {
  std::vector<NodeWrite> out;
  config::VifSpec v = vif;
  v.devid = devid;
  add_vif_nodes(out, domid, uuid, v, devid, resolve_bridge, addresses);
  return out;
}

std::vector<std::string> backend_dirs(uint32_t domid) {
  const std::string id = std::to_string(domid);
  return {"/local/domain/0/backend/vbd/" + id, "/local/domain/0/backend/vif/" + id};
}

std::vector<NodeWrite> device_nodes(uint32_t domid, const std::string& uuid, const config::DomainConfig& cfg,
                                    const std::function<std::string(const std::string&)>& resolve_bridge,
                                    std::vector<VifAddress>* addresses) {
  std::vector<NodeWrite> out;
  std::set<uint32_t> devids;
  for (const auto& d : cfg.disks) add_vbd_nodes(out, domid, d, devids);
  for (uint32_t i = 0; i < cfg.vifs.size(); i++) add_vif_nodes(out, domid, uuid, cfg.vifs[i], i, resolve_bridge, addresses);
  return out;
}

}  // namespace pv::pvd
