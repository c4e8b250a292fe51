#include "xenstore_host.h"

#include <cstring>
#include <filesystem>

#include "pv/log.h"
#include "xenstore/wire.h"

namespace pv::pvd {
namespace X = pv::xenstore;

XenstoreHost::XenstoreHost(boost::asio::io_context& io, const std::string& dom0_socket, const std::string& state_dir)
    : io_(io),
      server_(X::Quotas{}, this, [](std::string_view line) { pv::log::info("xenstored: " + std::string(line)); }),
      dom0_socket_(io, server_, dom0_socket),
      self_(server_.connect(0, "pvd")),
      state_dir_(state_dir) {
  server_.make_durable(state_dir);  // before any guest ring connects
}

XenstoreHost::~XenstoreHost() {
  // The domains keep running: their connections closing with pvd must not
  // take their watches out of the saved state.
  server_.stop_journal();
  links_.clear();
  server_.disconnect(*self_);
}

bool XenstoreHost::request(X::MsgType type, const std::string& payload) { return ask(type, payload).has_value(); }

std::optional<std::string> XenstoreHost::ask(X::MsgType type, const std::string& payload) {
  X::Message m;
  m.type = static_cast<uint32_t>(type);
  m.req_id = next_req_++;
  m.payload = payload;
  server_.receive(*self_, X::encode(m));
  // The reply is the connection's only output (pvd sets no watches).
  const std::string out = self_->take_output();
  X::WireHeader h{};
  if (out.size() >= sizeof(h)) std::memcpy(&h, out.data(), sizeof(h));
  if (h.type == static_cast<uint32_t>(X::MsgType::kError)) {
    // The payload is the errno name, NUL-terminated. ENOENT is an answer
    // (an absent node, a domain never introduced), not a fault.
    std::string err = out.substr(sizeof(h));
    err = err.substr(0, err.find('\0'));
    if (err != "ENOENT") {
      std::string path = payload.substr(0, payload.find('\0'));
      pv::log::warning("xenstore request " + std::to_string(static_cast<uint32_t>(type)) + " on '" + path +
                       "' failed: " + err);
    }
    return std::nullopt;
  }
  if (out.size() < sizeof(h)) return std::nullopt;
  return out.substr(sizeof(h), h.len);
}

std::optional<std::string> XenstoreHost::read(const std::string& path) {
  X::Message m;
  m.type = static_cast<uint32_t>(X::MsgType::kRead);
  m.req_id = next_req_++;
  m.payload = path + '\0';
  server_.receive(*self_, X::encode(m));
  const std::string out = self_->take_output();
  X::WireHeader h{};
  if (out.size() < sizeof(h)) return std::nullopt;
  std::memcpy(&h, out.data(), sizeof(h));
  if (h.type != static_cast<uint32_t>(X::MsgType::kRead)) return std::nullopt;  // ENOENT, EACCES ...
  return out.substr(sizeof(h));
}

bool XenstoreHost::write(const std::string& path, const std::string& value) {
  return request(X::MsgType::kWrite, path + '\0' + value);
}

bool XenstoreHost::remove(const std::string& path) { return request(X::MsgType::kRm, path + '\0'); }

void XenstoreHost::create_nodes(uint32_t domid, const std::string& name, const std::string& uuid) {
  // As Xen's toolstack lays out a new domain: the guest owns its directory
  // and what it may write; name and domid are dom0's, readable by it.
  const std::string id = std::to_string(domid), dir = "/local/domain/" + id;
  auto perms = [&](const std::string& path, const std::string& p) {
    request(X::MsgType::kSetPerms, path + '\0' + p + '\0');
  };
  request(X::MsgType::kMkdir, dir + '\0');
  perms(dir, "n" + id);
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"name", name}, {"domid", id}}) {
    write(dir + "/" + key, value);
    perms(dir + "/" + key, std::string("n0") + '\0' + "r" + id);
  }
  for (const char* sub : {"control", "data", "device"}) {
    request(X::MsgType::kMkdir, dir + "/" + sub + '\0');
    perms(dir + "/" + sub, "n" + id);
  }
  write(dir + "/control/shutdown", "");
  perms(dir + "/control/shutdown", "n" + id);
  // /vm/<uuid>: the domain's identity, dom0's, readable by the domain.
  const std::string vm = "/vm/" + uuid;
  for (const auto& [key, value] : {std::pair<std::string, std::string>{"name", name}, {"uuid", uuid}}) {
    write(vm + "/" + key, value);
    perms(vm + "/" + key, std::string("n0") + '\0' + "r" + id);
  }
  perms(vm, std::string("n0") + '\0' + "r" + id);
  write(dir + "/vm", vm);
  perms(dir + "/vm", std::string("n0") + '\0' + "r" + id);
  vm_paths_[domid] = vm;
}

void XenstoreHost::write_devices(const std::vector<NodeWrite>& nodes) {
  for (const auto& n : nodes) {
    if (n.mkdir_only) request(X::MsgType::kMkdir, n.path + '\0');
    else write(n.path, n.value);
    if (!n.perms.empty()) {
      std::string p = n.path + '\0';
      for (const auto& perm : n.perms) p += perm + '\0';
      request(X::MsgType::kSetPerms, p);
    }
  }
}

void XenstoreHost::add_domain(uint32_t domid, const std::string& name, const std::string& uuid,
                              const std::string& link_socket, std::vector<NodeWrite> devices) {
  links_.erase(domid);
  links_[domid] = std::make_unique<GuestRingLink>(
      io_, server_, domid, link_socket, partial_request_path(domid),
      [this, domid, name, uuid, devices = std::move(devices)](const xslink::LinkHello& hello) {
        if (server_.is_introduced(static_cast<X::DomId>(domid))) {
          // pvd restarted or pv-hv reconnected: reattach the ring only.
          links_[domid]->attach();
          return;
        }
        create_nodes(domid, name, uuid);
        write_devices(devices);
        request(X::MsgType::kIntroduce,
                std::to_string(domid) + '\0' + std::to_string(hello.ring_gfn) + '\0' + std::to_string(hello.evtchn) + '\0');
      });
}

std::string XenstoreHost::partial_request_path(uint32_t domid) const {
  return state_dir_ + "/partial-request-" + std::to_string(domid);
}

void XenstoreHost::remove_domain(uint32_t domid) {
  std::error_code ec;
  std::filesystem::remove(partial_request_path(domid), ec);
  // After a restart only the store knows the domain's /vm path.
  if (!vm_paths_.contains(domid))
    if (auto vm = ask(X::MsgType::kRead, "/local/domain/" + std::to_string(domid) + "/vm" + '\0'); vm && vm->starts_with("/vm/"))
      vm_paths_[domid] = *vm;
  if (server_.is_introduced(static_cast<X::DomId>(domid))) request(X::MsgType::kRelease, std::to_string(domid) + '\0');
  request(X::MsgType::kRm, "/local/domain/" + std::to_string(domid) + '\0');
  for (const auto& be : backend_dirs(domid)) request(X::MsgType::kRm, be + '\0');
  if (auto vm = vm_paths_.find(domid); vm != vm_paths_.end()) {
    request(X::MsgType::kRm, vm->second + '\0');
    vm_paths_.erase(vm);
  }
  links_.erase(domid);
}

void XenstoreHost::forget_domains_except(const std::set<uint32_t>& known) {
  for (X::DomId domid : server_.introduced_domains()) {
    if (known.contains(domid)) continue;
    pv::log::warning("xenstore: domain " + std::to_string(domid) + " is in the restored store but not in pvd's registry; removed");
    remove_domain(domid);
  }
}

int XenstoreHost::introduce(X::DomId domid, uint64_t gfn, uint32_t) {
  auto it = links_.find(domid);
  if (it == links_.end() || !it->second->ready()) return ENOENT;
  (void)gfn;
  // Attach once the server has registered the domain (after this returns).
  boost::asio::post(io_, [this, domid] {
    auto l = links_.find(domid);
    if (l != links_.end()) l->second->attach();
  });
  return 0;
}

void XenstoreHost::release(X::DomId domid) { links_.erase(domid); }

}  // namespace pv::pvd
