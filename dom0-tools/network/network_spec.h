// What a virtual network is: its name, mode, bridge, IPv4 subnet (host
// address, DHCP range) and NAT port forwards, parsed from the user's text
// and checked before anything touches the kernel. Pure logic, no I/O.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pv::net {

// IPv4 addresses are held in host byte order.
std::optional<uint32_t> parse_ipv4(std::string_view text);
std::string ipv4_to_string(uint32_t addr);

struct Subnet {
  uint32_t network = 0;
  unsigned prefix = 0;

  uint32_t netmask() const { return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix); }
  uint32_t broadcast() const { return network | ~netmask(); }
  bool contains(uint32_t addr) const { return (addr & netmask()) == network; }
  bool overlaps(const Subnet& o) const;
  std::string to_string() const;  // "10.0.5.0/24"
};

enum class Mode { kHostOnly, kNat, kBridge };
std::optional<Mode> parse_mode(std::string_view text);  // "host-only", "nat", "bridge"
const char* mode_name(Mode mode);

struct PortForward {
  std::string proto;  // "tcp" or "udp"
  uint16_t host_port = 0;
  uint32_t guest = 0;
  uint16_t guest_port = 0;
  std::string to_string() const;  // "tcp:8080:10.0.5.10:80"
};

struct NetworkSpec {
  std::string name;
  Mode mode = Mode::kHostOnly;
  std::string bridge;
  // host-only and nat only:
  Subnet subnet;
  uint32_t host = 0;  // the bridge's address: the subnet's first address
  uint32_t dhcp_first = 0, dhcp_last = 0;
  std::vector<PortForward> forwards;  // nat only

  bool has_subnet() const { return mode != Mode::kBridge; }
  std::string dhcp_range() const;  // "10.0.5.100-10.0.5.200", or "" in bridge mode
};

// The user's words for a network (pvctl network create, or a record).
struct NetworkRequest {
  std::string name;
  std::optional<Mode> mode;
  std::string subnet;
  std::string bridge;
  std::vector<std::string> forwards;
};

// Checks everything that can be checked without the kernel and fills in
// the defaults: bridge pvbr-<name> (cut to 15 characters), host address
// .1, DHCP range .100-.200 (or what fits a smaller subnet). Throws
// NetworkError(kBadSpec) with a message that names the network.
NetworkSpec make_spec(const NetworkRequest& req);

// Network names: 1 to 32 of [A-Za-z0-9_-], starting with a letter or digit
// (they appear in file names, interface names and nftables table names).
bool valid_network_name(std::string_view name);
// Interface names pvd accepts: 1 to 15 of [A-Za-z0-9_.-].
bool valid_interface_name(std::string_view name);
std::string default_bridge_name(const std::string& network);

// "tcp:8080:10.0.5.10:80"; throws NetworkError(kBadSpec) naming the network.
PortForward parse_forward(const std::string& network, std::string_view text, const NetworkSpec& spec);

}  // namespace pv::net
