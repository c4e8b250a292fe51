#include "netback/spoof_filter.h"

#include <arpa/inet.h>

#include <cstring>

namespace pv::netback {
namespace {

constexpr uint16_t kEthIpv4 = 0x0800, kEthArp = 0x0806, kEthIpv6 = 0x86dd;
constexpr size_t kEth = 14;

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

bool allowed(const SpoofPolicy& p, const uint8_t* addr, bool v6) {
  for (const auto& ip : p.ips)
    if (ip.contains(addr, v6)) return true;
  return false;
}

bool all_zero(const uint8_t* a, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (a[i]) return false;
  return true;
}

SpoofVerdict check_arp(const uint8_t* arp, size_t len, const SpoofPolicy& p) {
  // Ethernet/IPv4 ARP: htype 1, ptype 0x0800, hlen 6, plen 4.
  if (len < 28 || be16(arp) != 1 || be16(arp + 2) != kEthIpv4 || arp[4] != 6 || arp[5] != 4) {
    if (len < 8) return SpoofVerdict::kShortFrame;
    return p.ips.empty() ? SpoofVerdict::kAllow : SpoofVerdict::kUncheckable;
  }
  if (std::memcmp(arp + 8, p.mac.data(), 6) != 0) return SpoofVerdict::kBadArpSender;
  if (p.ips.empty()) return SpoofVerdict::kAllow;
  const uint8_t* spa = arp + 14;
  if (all_zero(spa, 4) || allowed(p, spa, false)) return SpoofVerdict::kAllow;
  return SpoofVerdict::kBadArpSender;
}

SpoofVerdict check_ipv4(const uint8_t* ip, size_t len, const SpoofPolicy& p) {
  if (len < 20 || (ip[0] >> 4) != 4 || (ip[0] & 15) < 5 || len < size_t(ip[0] & 15) * 4)
    return SpoofVerdict::kShortFrame;
  const uint8_t* src = ip + 12;
  if (allowed(p, src, false)) return SpoofVerdict::kAllow;
  if (all_zero(src, 4)) {
    // A DHCP client before it has an address: UDP 68 -> 67, first fragment.
    const size_t ihl = size_t(ip[0] & 15) * 4;
    const bool first_fragment = (be16(ip + 6) & 0x1fff) == 0;
    if (ip[9] == 17 && first_fragment && len >= ihl + 8 && be16(ip + ihl) == 68 && be16(ip + ihl + 2) == 67)
      return SpoofVerdict::kAllow;
  }
  return SpoofVerdict::kBadSourceIp;
}

SpoofVerdict check_ipv6(const uint8_t* ip, size_t len, const SpoofPolicy& p) {
  if (len < 40 || (ip[0] >> 4) != 6) return SpoofVerdict::kShortFrame;
  const uint8_t* src = ip + 8;
  if (all_zero(src, 16) || allowed(p, src, true)) return SpoofVerdict::kAllow;
  return SpoofVerdict::kBadSourceIp;
}

}  // namespace

bool IpPrefix::contains(const uint8_t* a, bool is_v6) const {
  if (is_v6 != v6) return false;
  unsigned bits = prefix;
  for (size_t i = 0; bits; i++) {
    const unsigned take = bits < 8 ? bits : 8;
    const uint8_t mask = uint8_t(0xff00 >> take);
    if ((a[i] & mask) != (addr[i] & mask)) return false;
    bits -= take;
  }
  return true;
}

SpoofVerdict check_frame(const uint8_t* f, size_t len, const SpoofPolicy& p) {
  if (len < kEth) return SpoofVerdict::kShortFrame;
  if (std::memcmp(f + 6, p.mac.data(), 6) != 0) return SpoofVerdict::kBadSourceMac;
  const uint16_t type = be16(f + 12);
  if (type == kEthArp) return check_arp(f + kEth, len - kEth, p);
  if (p.ips.empty()) return SpoofVerdict::kAllow;
  if (type == kEthIpv4) return check_ipv4(f + kEth, len - kEth, p);
  if (type == kEthIpv6) return check_ipv6(f + kEth, len - kEth, p);
  return SpoofVerdict::kUncheckable;
}

std::optional<MacAddr> parse_mac(const std::string& s) {
  MacAddr m{};
  if (s.size() != 17) return std::nullopt;
  auto hex = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < 6; i++) {
    const int hi = hex(s[i * 3]), lo = hex(s[i * 3 + 1]);
    if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':')) return std::nullopt;
    m[i] = uint8_t(hi * 16 + lo);
  }
  return m;
}

std::optional<std::vector<IpPrefix>> parse_ip_list(const std::string& s) {
  std::vector<IpPrefix> out;
  size_t i = 0;
  while (i < s.size()) {
    if (s[i] == ' ' || s[i] == '\t') {
      i++;
      continue;
    }
    const size_t end = s.find_first_of(" \t", i);
    std::string one = s.substr(i, end == std::string::npos ? std::string::npos : end - i);
    i = end == std::string::npos ? s.size() : end;
    IpPrefix ip;
    std::string len_text;
    const size_t slash = one.find('/');
    if (slash != std::string::npos) {
      len_text = one.substr(slash + 1);
      one.resize(slash);
    }
    if (::inet_pton(AF_INET, one.c_str(), ip.addr.data()) == 1) ip.v6 = false;
    else if (::inet_pton(AF_INET6, one.c_str(), ip.addr.data()) == 1) ip.v6 = true;
    else return std::nullopt;
    const unsigned max = ip.v6 ? 128 : 32;
    ip.prefix = max;
    if (slash != std::string::npos) {
      if (len_text.empty() || len_text.size() > 3 || len_text.find_first_not_of("0123456789") != std::string::npos)
        return std::nullopt;
      ip.prefix = unsigned(std::stoul(len_text));
      if (ip.prefix > max) return std::nullopt;
    }
    out.push_back(ip);
  }
  return out;
}

}  // namespace pv::netback
