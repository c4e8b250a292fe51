#include "network/network_manager.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <functional>

#include "config/vif_spec.h"
#include "pv/log.h"
#include "network/network_error.h"
#include "network/nft_rules.h"
#include "pv/error.h"
#include "pv/netlink.h"
#include "pv/files.h"
#include "pv/unique_fd.h"

namespace pv::net {
namespace {

using Kind = NetworkError::Kind;

constexpr const char* kIpForward = "/proc/sys/net/ipv4/ip_forward";
constexpr const char* kDefaultNetwork = "default";

// Runs `fn`, putting "network '<name>': " before any error that does not
// name the network yet (netlink's own messages do not).
template <typename Fn>
auto in_context(const std::string& name, Fn&& fn) {
  try {
    return fn();
  } catch (const NetworkError& e) {
    const std::string prefix = "network '" + name + "': ";
    if (std::string(e.what()).rfind(prefix, 0) == 0) throw;
    throw NetworkError(e.kind(), prefix + e.what());
  } catch (const SystemError& e) {  // rtnetlink (pv/netlink.h)
    throw NetworkError(NetworkError::Kind::kSystem, "network '" + name + "': " + e.what());
  }
}

// NAT needs the host to route; written through /proc (the value is per
// network namespace), never reset: other users may rely on it.
void enable_ipv4_forwarding(const std::string& network) {
  if (read_file(kIpForward).rfind('1', 0) == 0) return;
  UniqueFd fd(::open(kIpForward, O_WRONLY | O_CLOEXEC));
  const bool ok = fd && ::write(fd.get(), "1\n", 2) == 2;
  const int err = errno;
  if (!ok)
    throw NetworkError(Kind::kSystem, "network '" + network + "': cannot enable IPv4 forwarding (" + kIpForward +
                                          "): " + std::strerror(err));
}

NetworkRequest request_of(const network::NetworkRecord& rec) {
  return {rec.name(), from_proto(rec.mode()), rec.subnet(), rec.bridge(), {rec.forwards().begin(), rec.forwards().end()}};
}

}  // namespace

// What a create has done so far, undone in reverse unless it completes.
class NetworkManager::Undo {
 public:
  ~Undo() {
    for (auto it = steps_.rbegin(); it != steps_.rend(); ++it) {
      try {
        (*it)();
      } catch (const std::exception& e) {
        log::error(std::string("while undoing a failed network create: ") + e.what());
      }
    }
  }
  void add(std::function<void()> step) { steps_.push_back(std::move(step)); }
  void done() { steps_.clear(); }

 private:
  std::vector<std::function<void()>> steps_;
};

NetworkManager::NetworkManager(boost::asio::io_context& io, const std::string& state_dir)
    : io_(io), store_(state_dir) {}

NetworkManager::~NetworkManager() = default;

const NetworkManager::Network* NetworkManager::find(const std::string& name_or_bridge) const {
  if (auto it = networks_.find(name_or_bridge); it != networks_.end()) return it->second.get();
  for (const auto& [name, n] : networks_)
    if (n->spec.bridge == name_or_bridge) return n.get();
  return nullptr;
}

NetworkManager::Network& NetworkManager::get(const std::string& name_or_bridge) {
  if (auto* n = find(name_or_bridge)) return const_cast<Network&>(*n);
  throw NetworkError(Kind::kNotFound, "no network named '" + name_or_bridge + "' (see pvctl network list)");
}

void NetworkManager::check_against_networks(const NetworkSpec& spec) const {
  const std::string me = "network '" + spec.name + "': ";
  if (networks_.count(spec.name)) throw NetworkError(Kind::kExists, "network '" + spec.name + "' already exists");
  for (const auto& [name, n] : networks_) {
    const NetworkSpec& o = n->spec;
    if (o.bridge == spec.bridge)
      throw NetworkError(Kind::kBadSpec, me + "bridge " + spec.bridge + " already belongs to network '" + name + "'");
    if (spec.has_subnet() && o.has_subnet() && o.subnet.overlaps(spec.subnet))
      throw NetworkError(Kind::kBadSpec, me + "subnet " + spec.subnet.to_string() + " overlaps network '" + name +
                                             "' (" + o.subnet.to_string() + ")");
    for (const auto& f : spec.forwards)
      for (const auto& g : o.forwards)
        if (f.proto == g.proto && f.host_port == g.host_port)
          throw NetworkError(Kind::kBadSpec, me + "host port " + f.proto + " " + std::to_string(f.host_port) +
                                                 " is already forwarded by network '" + name + "'");
  }
}

void NetworkManager::check_against_host(const NetworkSpec& spec, Netlink& nl) const {
  const std::string me = "network '" + spec.name + "': ";
  const auto link = nl.find_link(spec.bridge);
  if (spec.mode == Mode::kBridge) {
    if (!link)
      throw NetworkError(Kind::kBadSpec, me + "there is no bridge named " + spec.bridge +
                                             " (bridge mode uses an existing bridge: create it first)");
    if (link->kind != "bridge")
      throw NetworkError(Kind::kBadSpec, me + spec.bridge + " is " +
                                             (link->kind.empty() ? "not a bridge" : "a " + link->kind + " link, not a bridge"));
    return;
  }
  if (link)
    throw NetworkError(Kind::kBadSpec, me + "a network interface named " + spec.bridge +
                                           " already exists (choose another --bridge, or remove it)");
  for (const auto& a : nl.ipv4_addresses()) {
    const Subnet theirs{a.address & Subnet{0, a.prefix}.netmask(), a.prefix};
    if (!theirs.overlaps(spec.subnet)) continue;
    std::string where = "link " + std::to_string(a.index);
    for (const auto& l : nl.links())
      if (l.index == a.index) where = l.name;
    throw NetworkError(Kind::kBadSpec, me + "subnet " + spec.subnet.to_string() + " overlaps " +
                                           ipv4_to_string(a.address) + "/" + std::to_string(a.prefix) + " on " +
                                           where + ", which the host already uses");
  }
}

void NetworkManager::bring_up(Network& n, Netlink& nl, Undo* undo) {
  const NetworkSpec& s = n.spec;
  if (s.mode == Mode::kBridge) return;  // nothing of ours
  in_context(s.name, [&] {
    const auto link = nl.find_link(s.bridge);
    if (link && link->kind != "bridge")
      throw NetworkError(Kind::kSystem, "network '" + s.name + "': " + s.bridge + " exists but is not a bridge");
    if (!link) {
      nl.create_bridge(s.bridge);
      n.rec.set_created_bridge(true);
      if (undo) undo->add([&nl, br = s.bridge] { nl.delete_link(br); });
    }
    nl.add_ipv4(s.bridge, s.host, s.subnet.prefix);
    nl.set_up(s.bridge, true);
    nft_apply(s);
    if (undo) undo->add([name = s.name] { nft_delete(name); });
    if (s.mode == Mode::kNat) enable_ipv4_forwarding(s.name);
    if (!n.dnsmasq) n.dnsmasq = std::make_unique<Dnsmasq>(io_, s, store_.dir());
    if (undo) undo->add([&n] { n.dnsmasq->stop(); });  // also removes its files
    n.dnsmasq->start(leases(n));
  });
}

admin::NetworkInfo NetworkManager::create(const NetworkRequest& req) {
  NetworkSpec spec = make_spec(req);
  check_against_networks(spec);
  Netlink nl;
  in_context(spec.name, [&] { check_against_host(spec, nl); });

  auto n = std::make_unique<Network>();
  n->spec = spec;
  n->rec.set_name(spec.name);
  n->rec.set_mode(to_proto(spec.mode));
  n->rec.set_bridge(spec.bridge);
  if (spec.has_subnet()) n->rec.set_subnet(spec.subnet.to_string());
  for (const auto& f : spec.forwards) n->rec.add_forwards(f.to_string());
  n->rec.set_created_unix_s(static_cast<uint64_t>(std::time(nullptr)));
  {
    Undo undo;
    bring_up(*n, nl, &undo);
    in_context(spec.name, [&] { store_.save(n->rec); });
    undo.done();
  }
  const auto added = networks_.emplace(spec.name, std::move(n)).first;
  return info(*added->second);
}

std::vector<admin::NetworkInfo> NetworkManager::list() const {
  std::vector<admin::NetworkInfo> out;
  for (const auto& [name, n] : networks_) out.push_back(info(*n));
  return out;
}

void NetworkManager::destroy(const std::string& name) {
  auto it = networks_.find(name);
  if (it == networks_.end()) throw NetworkError(Kind::kNotFound, "no network named '" + name + "' (see pvctl network list)");
  Network& n = *it->second;
  Netlink nl;
  if (n.rec.created_bridge()) {
    std::string ports;
    in_context(name, [&] {
      if (const auto br = nl.find_link(n.spec.bridge))
        for (const auto& l : nl.links())
          if (l.master == br->index) ports += (ports.empty() ? "" : ", ") + l.name;
    });
    if (!ports.empty())
      throw NetworkError(Kind::kInUse, "network '" + name + "' is in use: " + ports + " attached to bridge " +
                                           n.spec.bridge + " (destroy the domains using it first)");
  }
  std::vector<std::string> problems;
  auto attempt = [&](const std::function<void()>& step) {
    try {
      step();
    } catch (const std::exception& e) {
      problems.push_back(e.what());
    }
  };
  if (n.dnsmasq) attempt([&] { n.dnsmasq->stop(); });
  if (n.spec.mode != Mode::kBridge) attempt([&] { nft_delete(name); });
  if (n.rec.created_bridge())
    attempt([&] {
      if (nl.link_exists(n.spec.bridge)) nl.delete_link(n.spec.bridge);
    });
  if (!problems.empty()) {
    std::string all;
    for (const auto& p : problems) all += (all.empty() ? "" : "; ") + p;
    throw NetworkError(Kind::kSystem, "network '" + name + "' was not fully destroyed (" + all +
                                          "); it stays listed, try again");
  }
  store_.remove(name);
  networks_.erase(it);
}

void NetworkManager::restore() {
  for (auto& rec : store_.load_all()) {
    std::unique_ptr<Network> n;
    try {
      n = std::make_unique<Network>();
      n->spec = make_spec(request_of(rec));
      n->rec = rec;
    } catch (const std::exception& e) {
      log::warning("ignoring the record of network '" + rec.name() + "': " + e.what());
      continue;
    }
    try {
      Netlink nl;
      if (n->spec.mode == Mode::kBridge && !nl.link_exists(n->spec.bridge))
        log::warning("network '" + rec.name() + "': bridge " + n->spec.bridge + " does not exist (any more)");
      bring_up(*n, nl, nullptr);
    } catch (const std::exception& e) {
      log::error("network '" + rec.name() + "' could not be brought back: " + e.what() +
                 " (pvctl network destroy it and create it again)");
    }
    const std::string name = rec.name();
    networks_.emplace(name, std::move(n));
  }
}

std::string NetworkManager::leased_address(const std::string& network, const std::string& mac) const {
  const Network* n = find(network);
  if (!n || !n->dnsmasq) return "";
  const DnsmasqFiles files(store_.dir(), n->spec.name);
  return lease_for_mac(read_file(files.leases), mac);  // "" before the first lease
}

std::string NetworkManager::bridge_for(const std::string& bridge_or_network) const {
  if (bridge_or_network.empty()) {
    if (auto it = networks_.find(kDefaultNetwork); it != networks_.end()) return it->second->spec.bridge;
    throw NetworkError(Kind::kNotFound, "the vif names no bridge and there is no network named 'default' "
                                        "(create one with pvctl network create default ..., or give bridge=)");
  }
  if (auto it = networks_.find(bridge_or_network); it != networks_.end()) return it->second->spec.bridge;
  Netlink nl;
  const auto link = nl.find_link(bridge_or_network);
  if (!link)
    throw NetworkError(Kind::kNotFound, "bridge=" + bridge_or_network +
                                            " is neither a pvd network nor an existing bridge (see pvctl network list)");
  if (link->kind != "bridge")
    throw NetworkError(Kind::kBadSpec, "bridge=" + bridge_or_network + ": " + bridge_or_network + " is " +
                                           (link->kind.empty() ? "not a bridge" : "a " + link->kind + " link, not a bridge"));
  return bridge_or_network;
}

std::vector<StaticLease> NetworkManager::leases(const Network& n) const {
  std::vector<StaticLease> out;
  for (const auto& l : n.rec.leases())
    if (auto ip = parse_ipv4(l.ip())) out.push_back({l.mac(), *ip});
  return out;
}

void NetworkManager::add_static_lease(const std::string& network, const std::string& mac, const std::string& ip) {
  Network& n = get(network);
  const std::string me = "network '" + n.spec.name + "': ";
  if (!n.dnsmasq) throw NetworkError(Kind::kBadSpec, me + "bridge mode: pvd runs no DHCP server there");
  const auto m = config::parse_mac(mac);
  if (!m || ((*m)[0] & 1) || *m == config::MacAddress{})
    throw NetworkError(Kind::kBadSpec, me + "'" + mac + "' is not a unicast MAC address such as 00:16:3e:12:34:56");
  const auto addr = parse_ipv4(ip);
  const Subnet& s = n.spec.subnet;
  if (!addr || !s.contains(*addr) || *addr == s.network || *addr == s.broadcast() || *addr == n.spec.host)
    throw NetworkError(Kind::kBadSpec, me + "'" + ip + "' is not a guest address in " + s.to_string());
  const std::string canonical = config::to_string(*m), shown = ipv4_to_string(*addr);
  network::NetworkRecord rec = n.rec;
  auto* list = rec.mutable_leases();
  for (int i = list->size() - 1; i >= 0; i--) {
    if (list->Get(i).mac() == canonical) list->DeleteSubrange(i, 1);
    else if (list->Get(i).ip() == shown)
      throw NetworkError(Kind::kExists, me + shown + " is already given to " + list->Get(i).mac());
  }
  auto* lease = rec.add_leases();
  lease->set_mac(canonical);
  lease->set_ip(shown);
  in_context(n.spec.name, [&] { store_.save(rec); });
  n.rec = std::move(rec);
  in_context(n.spec.name, [&] { n.dnsmasq->set_leases(leases(n)); });
}

void NetworkManager::remove_static_lease(const std::string& network, const std::string& mac) {
  Network& n = get(network);
  const auto m = config::parse_mac(mac);
  if (!m || !n.dnsmasq) return;
  const std::string canonical = config::to_string(*m);
  auto* list = n.rec.mutable_leases();
  const auto before = list->size();
  for (int i = list->size() - 1; i >= 0; i--)
    if (list->Get(i).mac() == canonical) list->DeleteSubrange(i, 1);
  if (list->size() == before) return;
  in_context(n.spec.name, [&] {
    store_.save(n.rec);
    n.dnsmasq->set_leases(leases(n));
  });
}

admin::NetworkInfo NetworkManager::info(const Network& n) const {
  admin::NetworkInfo i;
  i.set_name(n.spec.name);
  i.set_mode(to_proto(n.spec.mode));
  i.set_bridge(n.spec.bridge);
  if (n.spec.has_subnet()) {
    i.set_subnet(n.spec.subnet.to_string());
    i.set_host_address(ipv4_to_string(n.spec.host));
    i.set_dhcp_range(n.spec.dhcp_range());
  }
  i.set_dnsmasq_pid(n.dnsmasq ? static_cast<uint32_t>(n.dnsmasq->pid()) : 0);
  for (const auto& f : n.spec.forwards) i.add_forwards(f.to_string());
  return i;
}

}  // namespace pv::net
