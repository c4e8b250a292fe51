// pvd's virtual networks (docs/networks.md): create, list and destroy
// host-only, NAT and bridge networks; find them again after a pvd restart;
// and, for the vif code, resolve a vif's bridge= and hand out fixed
// addresses through the network's DHCP server.
//
// Every operation acts in the network namespace of the calling thread.
// Errors are NetworkError, with messages that name the network.
#pragma once
#include <utility>  // Boost 1.74's Asio needs it before <boost/asio.hpp> in C++20

#include <boost/asio.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "admin.pb.h"
#include "network.pb.h"
#include "network/dnsmasq.h"
#include "network/network_spec.h"
#include "network/network_store.h"

namespace pv::net {

class Netlink;

class NetworkManager {
 public:
  NetworkManager(boost::asio::io_context& io, const std::string& state_dir);
  ~NetworkManager();  // the networks (bridges, tables, dnsmasq) stay for the next pvd

  // At pvd start: re-adopts every recorded network, re-creating what is
  // missing (bridge, address, nftables table, dnsmasq). Problems are
  // logged; a network that could not be brought back is still listed.
  void restore();

  // Validates everything first (a bad request creates nothing), then
  // builds the network; a failure half-way undoes what was done.
  admin::NetworkInfo create(const NetworkRequest& req);
  std::vector<admin::NetworkInfo> list() const;
  // Refuses while links other than pvd's are ports of a bridge pvd created
  // (kInUse). Removes dnsmasq, the nftables table, the bridge (if pvd
  // created it) and the record.
  void destroy(const std::string& name);

  // A vif's bridge= value: a network name gives its bridge; anything else
  // must be an existing bridge and is returned as is. Empty means the
  // network named "default".
  std::string bridge_for(const std::string& bridge_or_network) const;
  // A fixed address for `mac` from the DHCP server of `network` (a network
  // name or its bridge name): written to its dhcp-hostsfile, dnsmasq
  // re-reads it (SIGHUP). Re-adding a MAC replaces its address.
  void add_static_lease(const std::string& network, const std::string& mac, const std::string& ip);
  void remove_static_lease(const std::string& network, const std::string& mac);  // absent: no-op
  // The address dnsmasq has leased to `mac` on `network` (a network name
  // or its bridge name), from its leases file; "" when it holds none (or
  // the network is not pvd's, or runs no DHCP server).
  std::string leased_address(const std::string& network, const std::string& mac) const;

  size_t size() const { return networks_.size(); }

 private:
  struct Network {
    NetworkSpec spec;
    network::NetworkRecord rec;
    std::unique_ptr<Dnsmasq> dnsmasq;  // host-only and nat
  };
  class Undo;

  Network& get(const std::string& name_or_bridge);
  const Network* find(const std::string& name_or_bridge) const;
  void check_against_networks(const NetworkSpec& spec) const;
  void check_against_host(const NetworkSpec& spec, Netlink& nl) const;
  void bring_up(Network& n, Netlink& nl, Undo* undo);
  std::vector<StaticLease> leases(const Network& n) const;
  admin::NetworkInfo info(const Network& n) const;

  boost::asio::io_context& io_;
  NetworkStore store_;
  std::map<std::string, std::unique_ptr<Network>> networks_;
};

}  // namespace pv::net
