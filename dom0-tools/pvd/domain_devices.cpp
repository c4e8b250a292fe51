// Hot-plug, as xl's block-attach / block-detach / block-list and
// network-attach / network-detach / network-list, on a running domain,
// through the xenbus state machines:
//
// attach   the device is checked as create checks it (the image, its
//          format, one writer per disk, the bridge), then its back-end and
//          front-end directories are written (device_nodes.h); pv-backd
//          picks the back-end up (InitWait), the guest's front-end sees the
//          new device/<type>/<devid> and connects.
// detach   as libxl does: the back-end's `online` = 0 and `state` = 5
//          (Closing); the front-end closes, pv-backd follows it to Closed;
//          once both are Closed (6) the directories are removed, which ends
//          the device in pv-backd. A front-end that does not release it
//          within the timeout fails the detach (ERROR_TIMEOUT, the device
//          is left as it was), unless forced: then it is removed anyway.
//
// The domain's devices as they are then are kept in its record
// (device_record.h), for a restarted pvd and the domain's reboots.
#include <chrono>

#include "config/disk_spec.h"
#include "config/vif_spec.h"
#include "device_record.h"
#include "domain_manager.h"
#include "pv/log.h"

namespace pv::pvd {
namespace A = pv::admin;
using namespace std::chrono_literals;

namespace {
constexpr uint32_t kDefaultDetachTimeoutS = 10;
constexpr auto kDetachPoll = 100ms;
constexpr const char* kClosed = "6";
constexpr const char* kClosing = "5";

// A number a guest (or pv-backd) wrote, or -1: absent or not a number.
int64_t node_number(const std::optional<std::string>& v) {
  if (!v || v->empty() || v->size() > 10 || v->find_first_not_of("0123456789") != std::string::npos) return -1;
  return std::stoll(*v);
}

std::string mac_of(const config::VifSpec& v, const std::string& uuid, uint32_t devid) {
  return v.mac ? config::to_string(*v.mac) : default_mac(uuid, devid);
}

std::string state_text(const std::optional<std::string>& s) {
  static const char* const kNames[] = {"Unknown",   "Initialising", "InitWait", "Initialised", "Connected",
                                       "Closing",   "Closed",       "Reconfiguring", "Reconfigured"};
  const int64_t n = node_number(s);
  if (n < 0) return "absent";
  return (n < 9 ? std::string(kNames[n]) : "Unknown") + " (" + std::to_string(n) + ")";
}

std::string not_running(const std::string& name) {
  return "domain '" + name + "' is not running: devices are attached to and detached from a running domain";
}
}  // namespace

struct DomainManager::Detach {
  Detach(boost::asio::io_context& io, ReplyFn fn) : timer(io), reply(std::move(fn)) {}
  void answer(A::Reply r) {
    if (auto fn = std::exchange(reply, nullptr)) fn(std::move(r));
  }
  uint32_t domid = 0, devid = 0, timeout_s = 0;
  pid_t pid = 0;
  std::string type, key, what;   // "vbd", "vbd/51728", "disk xvdb of domain 'web'"
  std::string old_state;         // the back-end's, restored when the detach fails ...
  std::optional<std::string> old_fe_state;  // ... and the front-end did nothing meanwhile
  bool force = false;
  std::chrono::steady_clock::time_point deadline;
  boost::asio::steady_timer timer;
  ReplyFn reply;
};

void DomainManager::record_devices(Domain& d) {
  store_devices(d.rec, d.spec);
  save(d);
}

A::Reply DomainManager::block_attach(Domain& d, const std::string& spec) {
  const uint32_t domid = d.rec.domid();
  if (!d.proc || d.building) return error_reply(A::ERROR_INVALID_STATE, not_running(d.rec.name()));
  auto parsed = config::parse_disk_spec(spec);
  if (!parsed.disk) return error_reply(A::ERROR_BAD_REQUEST, "block-attach: bad disk spec '" + spec + "': " + parsed.error);
  const config::DiskSpec disk = *parsed.disk;
  if (!disk.target.empty() && disk.target.front() != '/')
    return error_reply(A::ERROR_BAD_REQUEST, "disk " + disk.vdev + ": target " + disk.target +
                                                 " is a relative path, and pvd has no directory to take it from " +
                                                 "(pvctl makes it absolute, from its working directory)");
  const auto devid = config::vdev_to_devid(disk.vdev);
  if (!devid) return error_reply(A::ERROR_BAD_REQUEST, "disk " + disk.vdev + ": not a virtual device name");
  for (const auto& other : d.spec.disks)
    if (config::vdev_to_devid(other.vdev) == devid)
      return error_reply(A::ERROR_IN_USE, "disk " + disk.vdev + ": domain '" + d.rec.name() + "' already has " +
                                              other.vdev + " (device " + std::to_string(*devid) + ", " +
                                              (other.target.empty() ? "an empty drive" : other.target) +
                                              "); detach it first or choose another vdev");
  const std::string be = backend_dir(domid, "vbd", *devid);
  if (d.detaching.contains("vbd/" + std::to_string(*devid)) || xenstore_.read(be + "/state"))
    return error_reply(A::ERROR_IN_USE, "disk " + disk.vdev + ": device " + std::to_string(*devid) +
                                            " of domain '" + d.rec.name() + "' is still being detached (" + be +
                                            " exists)");
  config::DomainConfig with = d.spec;
  with.disks.push_back(disk);
  if (auto why = disk_sharing_conflict(d.rec.name(), with, disks_in_use(domid)); !why.empty())
    return error_reply(A::ERROR_IN_USE, why);
  std::vector<NodeWrite> nodes;
  try {
    nodes = disk_nodes(domid, disk);
  } catch (const std::exception& e) {
    return error_reply(A::ERROR_BAD_CONFIG, e.what());
  }
  xenstore_.write_devices(nodes);
  d.spec.disks.push_back(disk);
  record_devices(d);
  log::info("domain " + std::to_string(domid) + " (" + d.rec.name() + "): disk " + disk.vdev + " attached (" +
            disk.target + ")");
  A::Reply r;
  *r.mutable_devices()->add_devices() = device_entry(d, "vbd", *devid);
  for (const auto& w : parsed.warnings) r.set_message(r.message() + (r.message().empty() ? "" : "\n") + w);
  return r;
}

A::Reply DomainManager::network_attach(Domain& d, const std::string& spec) {
  const uint32_t domid = d.rec.domid();
  if (!d.proc || d.building) return error_reply(A::ERROR_INVALID_STATE, not_running(d.rec.name()));
  auto parsed = config::parse_vif_spec(spec);
  if (!parsed.vif) return error_reply(A::ERROR_BAD_REQUEST, "network-attach: bad vif spec '" + spec + "': " + parsed.error);
  config::VifSpec vif = *parsed.vif;
  number_vifs(d.spec);
  uint32_t devid = 0;
  if (vif.devid) {
    devid = *vif.devid;
  } else {
    for (const auto& v : d.spec.vifs) devid = std::max(devid, *v.devid + 1);  // as libxl: after the highest
  }
  const std::string mac = mac_of(vif, d.rec.uuid(), devid);
  for (const auto& v : d.spec.vifs) {
    if (*v.devid == devid)
      return error_reply(A::ERROR_IN_USE, "vif " + std::to_string(devid) + ": domain '" + d.rec.name() +
                                              "' already has it (" + mac_of(v, d.rec.uuid(), *v.devid) + ")");
    if (mac_of(v, d.rec.uuid(), *v.devid) == mac)
      return error_reply(A::ERROR_IN_USE, "vif " + std::to_string(devid) + ": MAC " + mac + " is vif " +
                                              std::to_string(*v.devid) + "'s of domain '" + d.rec.name() + "'");
  }
  const std::string be = backend_dir(domid, "vif", devid);
  if (d.detaching.contains("vif/" + std::to_string(devid)) || xenstore_.read(be + "/state"))
    return error_reply(A::ERROR_IN_USE, "vif " + std::to_string(devid) + " of domain '" + d.rec.name() +
                                            "' is still being detached (" + be + " exists)");
  std::vector<VifAddress> addresses;
  std::vector<NodeWrite> nodes;
  try {
    nodes = vif_nodes(domid, d.rec.uuid(), vif, devid, resolve_bridge_, &addresses);
  } catch (const std::exception& e) {
    return error_reply(A::ERROR_BAD_CONFIG, e.what());
  }
  for (const auto& a : addresses) {
    try {
      if (add_lease_) add_lease_(a.bridge, a.mac, a.ip);
      d.leases.push_back(a);
    } catch (const std::exception&) {
      // Not a network pvd serves DHCP on: as in start().
    }
  }
  xenstore_.write_devices(nodes);
  vif.devid = devid;
  d.spec.vifs.push_back(vif);
  record_devices(d);
  log::info("domain " + std::to_string(domid) + " (" + d.rec.name() + "): vif " + std::to_string(devid) +
            " attached (" + mac + ")");
  A::Reply r;
  *r.mutable_devices()->add_devices() = device_entry(d, "vif", devid);
  for (const auto& w : parsed.warnings) r.set_message(r.message() + (r.message().empty() ? "" : "\n") + w);
  return r;
}

void DomainManager::detach(Domain& d, const std::string& type, const A::DeviceDetachRequest& req, ReplyFn reply) {
  const uint32_t domid = d.rec.domid();
  if (!d.proc || d.building) return reply(error_reply(A::ERROR_INVALID_STATE, not_running(d.rec.name())));
  const std::string& dev = req.device();
  std::optional<uint32_t> devid;
  std::string what, known;
  if (type == "vbd") {
    const auto want = config::vdev_to_devid(dev);
    for (const auto& k : d.spec.disks) {
      known += (known.empty() ? "" : ", ") + k.vdev;
      if (want && config::vdev_to_devid(k.vdev) == want) devid = want, what = "disk " + k.vdev;
    }
  } else {
    number_vifs(d.spec);
    const auto mac = config::parse_mac(dev);
    for (const auto& v : d.spec.vifs) {
      const std::string m = mac_of(v, d.rec.uuid(), *v.devid);
      known += (known.empty() ? "" : ", ") + std::to_string(*v.devid) + " (" + m + ")";
      if (std::to_string(*v.devid) == dev || (mac && config::to_string(*mac) == m))
        devid = *v.devid, what = "vif " + std::to_string(*v.devid);
    }
  }
  if (!devid)
    return reply(error_reply(A::ERROR_NO_SUCH_DEVICE, "domain '" + d.rec.name() + "' has no " +
                                                          (type == "vbd" ? "disk '" : "vif '") + dev + "' (it has " +
                                                          (known.empty() ? std::string("none") : known) + ")"));
  auto w = std::make_shared<Detach>(io_, std::move(reply));
  w->domid = domid;
  w->devid = *devid;
  w->pid = d.proc->pid();
  w->type = type;
  w->key = type + "/" + std::to_string(*devid);
  w->what = what + " of domain '" + d.rec.name() + "'";
  w->force = req.force();
  w->timeout_s = req.timeout_s() ? req.timeout_s() : kDefaultDetachTimeoutS;
  w->deadline = std::chrono::steady_clock::now() + std::chrono::seconds(w->timeout_s);
  if (d.detaching.contains(w->key))
    return w->answer(error_reply(A::ERROR_INVALID_STATE, "a detach of " + w->what + " is already under way"));
  const std::string be = backend_dir(domid, type, *devid);
  w->old_state = xenstore_.read(be + "/state").value_or("");
  w->old_fe_state = xenstore_.read(frontend_dir(domid, type, *devid) + "/state");
  // As libxl__initiate_device_generic_remove: the back-end goes offline
  // and Closing; the front-end follows it.
  if (!xenstore_.write(be + "/online", "0") || !xenstore_.write(be + "/state", kClosing))
    return w->answer(error_reply(A::ERROR_INTERNAL, "cannot write " + be + ": " + w->what + " not detached"));
  d.detaching.insert(w->key);
  log::info("detaching " + w->what);
  poll_detach(w);
}

void DomainManager::poll_detach(const std::shared_ptr<Detach>& w) {
  auto it = domains_.find(w->domid);
  Domain* d = it == domains_.end() ? nullptr : it->second.get();
  if (!d || !d->proc || d->proc->pid() != w->pid) {
    if (d) d->detaching.erase(w->key);
    return w->answer(error_reply(A::ERROR_INVALID_STATE, "the domain ended while " + w->what + " was detached"));
  }
  const std::string be = backend_dir(w->domid, w->type, w->devid), fe = frontend_dir(w->domid, w->type, w->devid);
  const auto fe_state = xenstore_.read(fe + "/state"), be_state = xenstore_.read(be + "/state");
  const bool released = be_state == kClosed && (!fe_state || fe_state == kClosed);
  if (released || (w->force && std::chrono::steady_clock::now() >= w->deadline)) {
    finish_detach(*d, *w);
    A::Reply r;
    if (!released)
      r.set_message("forced: " + w->what + " removed although its front-end did not release it (front-end " +
                    state_text(fe_state) + ", back-end " + state_text(be_state) + ")");
    return w->answer(std::move(r));
  }
  if (std::chrono::steady_clock::now() >= w->deadline) {
    // Left as it was: online again, and, when the front-end did not move
    // (pv-backd then did not either), the back-end's state as pv-backd
    // wrote it. A front-end that began to close is left closing.
    xenstore_.write(be + "/online", "1");
    if (be_state == kClosing && fe_state == w->old_fe_state && !w->old_state.empty())
      xenstore_.write(be + "/state", w->old_state);
    d->detaching.erase(w->key);
    log::warning("detach of " + w->what + " timed out");
    return w->answer(error_reply(
        A::ERROR_TIMEOUT, "the guest did not release " + w->what + " within " + std::to_string(w->timeout_s) +
                              " s (front-end " + state_text(fe_state) + ", back-end " + state_text(be_state) +
                              "); it stays attached. --force removes it anyway (the guest may still use it)"));
  }
  w->timer.expires_after(kDetachPoll);
  w->timer.async_wait([this, w](const boost::system::error_code& ec) {
    if (!ec) poll_detach(w);
  });
}

void DomainManager::finish_detach(Domain& d, const Detach& w) {
  xenstore_.remove(backend_dir(w.domid, w.type, w.devid));
  xenstore_.remove(frontend_dir(w.domid, w.type, w.devid));
  if (w.type == "vbd") {
    std::erase_if(d.spec.disks, [&](const config::DiskSpec& k) { return config::vdev_to_devid(k.vdev) == w.devid; });
  } else {
    number_vifs(d.spec);
    for (const auto& v : d.spec.vifs) {
      if (*v.devid != w.devid) continue;
      const std::string mac = mac_of(v, d.rec.uuid(), w.devid);
      for (const auto& a : d.leases) {
        if (a.mac != mac) continue;
        try {
          if (remove_lease_) remove_lease_(a.bridge, a.mac);
        } catch (const std::exception&) {
        }
      }
      std::erase_if(d.leases, [&](const VifAddress& a) { return a.mac == mac; });
    }
    std::erase_if(d.spec.vifs, [&](const config::VifSpec& v) { return *v.devid == w.devid; });
  }
  d.detaching.erase(w.key);
  record_devices(d);
  log::info(w.what + " detached");
}

A::DeviceEntry DomainManager::device_entry(const Domain& d, const std::string& type, uint32_t devid) const {
  const uint32_t domid = d.rec.domid();
  const std::string fe = frontend_dir(domid, type, devid), be = backend_dir(domid, type, devid);
  auto number = [&](const std::string& path) { return node_number(xenstore_.read(path)); };
  auto first = [&](std::initializer_list<std::string> keys) {
    for (const auto& k : keys)
      if (const int64_t n = number(fe + "/" + k); n >= 0) return n;
    return int64_t{-1};
  };
  A::DeviceEntry e;
  e.set_devid(devid);
  e.set_backend_id(static_cast<uint32_t>(std::max<int64_t>(0, number(fe + "/backend-id"))));
  e.set_frontend_state(static_cast<uint32_t>(std::max<int64_t>(0, number(fe + "/state"))));
  e.set_backend_state(static_cast<uint32_t>(std::max<int64_t>(0, number(be + "/state"))));
  e.set_backend_path(be);
  e.set_detaching(d.detaching.contains(type + "/" + std::to_string(devid)));
  if (type == "vbd") {
    e.set_evtchn(first({"event-channel", "queue-0/event-channel"}));
    e.set_ring_ref(first({"ring-ref", "ring-ref0", "queue-0/ring-ref", "queue-0/ring-ref0"}));
    e.set_tx_ring_ref(-1);
    e.set_rx_ring_ref(-1);
    for (const auto& k : d.spec.disks)
      if (config::vdev_to_devid(k.vdev) == devid) e.set_vdev(k.vdev), e.set_target(k.target);
  } else {
    e.set_evtchn(first({"event-channel", "event-channel-tx", "queue-0/event-channel", "queue-0/event-channel-tx"}));
    e.set_ring_ref(-1);
    e.set_tx_ring_ref(first({"tx-ring-ref", "queue-0/tx-ring-ref"}));
    e.set_rx_ring_ref(first({"rx-ring-ref", "queue-0/rx-ring-ref"}));
    for (uint32_t n = 0; n < d.spec.vifs.size(); n++)
      if (d.spec.vifs[n].devid.value_or(n) == devid) e.set_mac(mac_of(d.spec.vifs[n], d.rec.uuid(), devid));
  }
  return e;
}

A::Reply DomainManager::device_list(const Domain& d, const std::string& type) const {
  A::Reply r;
  auto* l = r.mutable_devices();
  if (type == "vbd") {
    for (const auto& k : d.spec.disks)
      if (auto devid = config::vdev_to_devid(k.vdev)) *l->add_devices() = device_entry(d, type, *devid);
  } else {
    for (uint32_t n = 0; n < d.spec.vifs.size(); n++)
      *l->add_devices() = device_entry(d, type, d.spec.vifs[n].devid.value_or(n));
  }
  return r;
}

}  // namespace pv::pvd
