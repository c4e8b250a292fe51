// Anti-spoofing for frames a guest transmits, as Xen's vif scripts do
// (vif-common.sh's antispoof rules), decided on the frame alone:
//
//  - the Ethernet source must be the vif's MAC (always);
//  - ARP: the sender hardware address must be the vif's MAC;
//  - when the vif has ip= addresses: an IPv4 source must be one of them
//    (an address or a prefix), or 0.0.0.0 for a DHCP client's
//    DISCOVER/REQUEST (UDP 68 -> 67); an ARP sender address likewise (or
//    0.0.0.0, an RFC 5227 probe); an IPv6 source must be one of the IPv6
//    entries, or :: (duplicate address detection); frames of any other
//    EtherType (VLAN tags included) cannot be checked and are refused.
//
// Pure code: no state, no system calls (unit-tested on its own).
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pv::netback {

using MacAddr = std::array<uint8_t, 6>;

// One ip= entry: an address (prefix = full length) or a prefix.
struct IpPrefix {
  bool v6 = false;
  std::array<uint8_t, 16> addr{};  // network order; IPv4 in the first 4 bytes
  unsigned prefix = 0;             // bits that must match
  bool contains(const uint8_t* a, bool is_v6) const;
};

struct SpoofPolicy {
  MacAddr mac{};
  std::vector<IpPrefix> ips;  // empty: any IP address (MAC checks only)
};

enum class SpoofVerdict {
  kAllow,
  kShortFrame,      // too short for the headers it claims
  kBadSourceMac,    // Ethernet source is not the vif's
  kBadArpSender,    // ARP sender MAC or IP is not the vif's
  kBadSourceIp,     // IPv4/IPv6 source not allowed by ip=
  kUncheckable,     // an EtherType we cannot check while ip= restricts
};

SpoofVerdict check_frame(const uint8_t* frame, size_t len, const SpoofPolicy& p);

// "aa:bb:cc:dd:ee:ff" (any case).
std::optional<MacAddr> parse_mac(const std::string& s);
// The back-end's ip key: space-separated addresses, each optionally with
// /prefix (as pvd writes it from the xl vif's ip=). nullopt if malformed.
std::optional<std::vector<IpPrefix>> parse_ip_list(const std::string& s);

}  // namespace pv::netback
