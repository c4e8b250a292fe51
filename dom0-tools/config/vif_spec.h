// One entry of `vif = [ ... ]`: xl's vifspec (docs/man/xl-network-configuration,
// tools/xl/xl_parse.c parse_nic_config, tools/libs/util/libxlu_vif.c), a
// comma-separated list of key=value pairs and flags, all optional:
//     'mac=00:16:3e:74:3d:76, bridge=xenbr0, ip=10.0.0.2 10.0.0.3'
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pv::config {

using MacAddress = std::array<std::uint8_t, 6>;

// The OUI xl generates MACs in (the rest is chosen when the vif is created).
inline constexpr std::array<std::uint8_t, 3> kXenOui{0x00, 0x16, 0x3e};

struct VifRate {
  std::uint64_t bytes_per_interval = 0;  // as libxl: bytes/s * interval / 1e6
  std::uint32_t interval_usecs = 50000;  // xl default: 50 ms
  bool operator==(const VifRate&) const = default;
};

struct VifSpec {
  std::optional<MacAddress> mac;  // unset: generated later in kXenOui
  std::string bridge;             // empty: the platform's default network
  std::vector<std::string> ips;   // ip= takes one or more addresses, space-separated
  std::string model;
  std::string script;
  std::string vifname;            // backend (host) interface name
  std::string rate;               // as written, e.g. "10Mb/s@20ms"; parsed into rate_limit
  std::optional<VifRate> rate_limit;
  std::string backend;            // backend domain name; empty = dom0
  std::string type;               // "vif" or "ioemu" (xl's set); empty = default
  std::string gatewaydev;         // gatewaydev= (netdev= is xl's deprecated alias)
  std::optional<std::uint32_t> mtu;
  std::optional<std::uint32_t> devid;
  std::string vlan;
  bool trusted = true;

  bool operator==(const VifSpec&) const = default;
};

struct VifParseResult {
  std::optional<VifSpec> vif;
  std::string error;
  std::vector<std::string> warnings;
};

VifParseResult parse_vif_spec(std::string_view spec);

// Canonical form; parse_vif_spec(to_spec(v)).vif == v.
std::string to_spec(const VifSpec& v);

// "00:16:3e:74:3d:76": six pairs of hex digits separated by ':' (either case).
// Multicast and all-zero addresses are refused: no guest NIC can use them.
std::optional<MacAddress> parse_mac(std::string_view s);
std::string to_string(const MacAddress& mac);

// xl's rate syntax: RATE[@INTERVAL], RATE = N{GB,MB,KB,B,Gb,Mb,Kb,b}/s,
// INTERVAL = N{s,ms,us} (a bare N is seconds). nullopt and a reason if invalid.
std::optional<VifRate> parse_vif_rate(std::string_view s, std::string* why = nullptr);

}  // namespace pv::config
