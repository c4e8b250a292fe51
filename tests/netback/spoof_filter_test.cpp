// The anti-spoofing rules (pvdrivers/netback/spoof_filter.*), frame by frame.
#include <arpa/inet.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "netback/spoof_filter.h"

namespace {
using namespace pv::netback;

const MacAddr kMac = {0x00, 0x16, 0x3e, 0xaa, 0xbb, 0xcc};
const MacAddr kOther = {0x00, 0x16, 0x3e, 0xaa, 0xbb, 0xcd};

std::vector<uint8_t> eth(const MacAddr& src, uint16_t type, size_t payload) {
  std::vector<uint8_t> f(14 + payload);
  std::memset(f.data(), 0xff, 6);
  std::memcpy(f.data() + 6, src.data(), 6);
  f[12] = uint8_t(type >> 8);
  f[13] = uint8_t(type);
  return f;
}

std::vector<uint8_t> ipv4(const MacAddr& src, const char* ip, uint8_t proto = 1, uint16_t sport = 0, uint16_t dport = 0) {
  auto f = eth(src, 0x0800, 28);
  uint8_t* h = f.data() + 14;
  h[0] = 0x45;
  h[9] = proto;
  unsigned a, b, c, d;
  std::sscanf(ip, "%u.%u.%u.%u", &a, &b, &c, &d);
  h[12] = uint8_t(a), h[13] = uint8_t(b), h[14] = uint8_t(c), h[15] = uint8_t(d);
  h[20] = uint8_t(sport >> 8), h[21] = uint8_t(sport), h[22] = uint8_t(dport >> 8), h[23] = uint8_t(dport);
  return f;
}

std::vector<uint8_t> arp(const MacAddr& eth_src, const MacAddr& sha, const char* spa) {
  auto f = eth(eth_src, 0x0806, 28);
  uint8_t* a = f.data() + 14;
  a[1] = 1, a[2] = 0x08, a[3] = 0x00, a[4] = 6, a[5] = 4, a[7] = 1;
  std::memcpy(a + 8, sha.data(), 6);
  unsigned w, x, y, z;
  std::sscanf(spa, "%u.%u.%u.%u", &w, &x, &y, &z);
  a[14] = uint8_t(w), a[15] = uint8_t(x), a[16] = uint8_t(y), a[17] = uint8_t(z);
  return f;
}

std::vector<uint8_t> ipv6(const MacAddr& src, const char* addr) {
  auto f = eth(src, 0x86dd, 40);
  f[14] = 0x60;
  inet_pton(AF_INET6, addr, f.data() + 14 + 8);
  return f;
}

SpoofVerdict check(const std::vector<uint8_t>& f, const SpoofPolicy& p) { return check_frame(f.data(), f.size(), p); }

SpoofPolicy with_ips(const char* list) {
  SpoofPolicy p{kMac, {}};
  auto ips = parse_ip_list(list);
  EXPECT_TRUE(ips.has_value()) << list;
  if (ips) p.ips = *ips;
  return p;
}

TEST(SpoofFilter, SourceMacMustBeTheVifs) {
  const SpoofPolicy p{kMac, {}};
  EXPECT_EQ(check(ipv4(kMac, "10.0.0.2"), p), SpoofVerdict::kAllow);
  EXPECT_EQ(check(ipv4(kOther, "10.0.0.2"), p), SpoofVerdict::kBadSourceMac);
  EXPECT_EQ(check(eth(kOther, 0x88cc, 10), p), SpoofVerdict::kBadSourceMac);
  // Without ip= any protocol and address goes, from our MAC.
  EXPECT_EQ(check(eth(kMac, 0x88cc, 10), p), SpoofVerdict::kAllow);
  EXPECT_EQ(check(ipv4(kMac, "192.0.2.66"), p), SpoofVerdict::kAllow);
  EXPECT_EQ(check(ipv6(kMac, "2001:db8::66"), p), SpoofVerdict::kAllow);
}

TEST(SpoofFilter, ShortFramesAreRefused) {
  const SpoofPolicy p{kMac, {}};
  std::vector<uint8_t> f(13, 0);
  EXPECT_EQ(check(f, p), SpoofVerdict::kShortFrame);
  auto cut = ipv4(kMac, "10.0.0.2");
  cut.resize(14 + 10);
  EXPECT_EQ(check(cut, with_ips("10.0.0.2")), SpoofVerdict::kShortFrame);
}

TEST(SpoofFilter, ArpSenderMustBeTheVifs) {
  const SpoofPolicy p{kMac, {}};
  EXPECT_EQ(check(arp(kMac, kMac, "10.0.0.2"), p), SpoofVerdict::kAllow);
  EXPECT_EQ(check(arp(kMac, kOther, "10.0.0.2"), p), SpoofVerdict::kBadArpSender);
  EXPECT_EQ(check(arp(kOther, kMac, "10.0.0.2"), p), SpoofVerdict::kBadSourceMac);
  const SpoofPolicy r = with_ips("10.0.0.2");
  EXPECT_EQ(check(arp(kMac, kMac, "10.0.0.2"), r), SpoofVerdict::kAllow);
  EXPECT_EQ(check(arp(kMac, kMac, "10.0.0.3"), r), SpoofVerdict::kBadArpSender);
  EXPECT_EQ(check(arp(kMac, kMac, "0.0.0.0"), r), SpoofVerdict::kAllow);  // RFC 5227 probe
}

TEST(SpoofFilter, Ipv4SourceMustBeListed) {
  const SpoofPolicy r = with_ips("10.0.0.2 10.0.1.0/24");
  EXPECT_EQ(check(ipv4(kMac, "10.0.0.2"), r), SpoofVerdict::kAllow);
  EXPECT_EQ(check(ipv4(kMac, "10.0.1.77"), r), SpoofVerdict::kAllow);
  EXPECT_EQ(check(ipv4(kMac, "10.0.0.3"), r), SpoofVerdict::kBadSourceIp);
  EXPECT_EQ(check(ipv4(kMac, "10.0.2.1"), r), SpoofVerdict::kBadSourceIp);
  EXPECT_EQ(check(ipv4(kMac, "192.0.2.66"), r), SpoofVerdict::kBadSourceIp);
}

TEST(SpoofFilter, DhcpClientWithoutAddressIsAllowed) {
  const SpoofPolicy r = with_ips("10.0.0.2");
  EXPECT_EQ(check(ipv4(kMac, "0.0.0.0", 17, 68, 67), r), SpoofVerdict::kAllow);
  EXPECT_EQ(check(ipv4(kMac, "0.0.0.0", 17, 68, 53), r), SpoofVerdict::kBadSourceIp);
  EXPECT_EQ(check(ipv4(kMac, "0.0.0.0", 6, 68, 67), r), SpoofVerdict::kBadSourceIp);
  EXPECT_EQ(check(ipv4(kMac, "0.0.0.0", 1), r), SpoofVerdict::kBadSourceIp);
}

TEST(SpoofFilter, Ipv6AndOtherProtocolsUnderIpRestriction) {
  const SpoofPolicy v4only = with_ips("10.0.0.2");
  EXPECT_EQ(check(ipv6(kMac, "2001:db8::2"), v4only), SpoofVerdict::kBadSourceIp);
  EXPECT_EQ(check(ipv6(kMac, "::"), v4only), SpoofVerdict::kAllow);  // DAD
  const SpoofPolicy both = with_ips("10.0.0.2 2001:db8::/64");
  EXPECT_EQ(check(ipv6(kMac, "2001:db8::2"), both), SpoofVerdict::kAllow);
  EXPECT_EQ(check(ipv6(kMac, "2001:db9::2"), both), SpoofVerdict::kBadSourceIp);
  EXPECT_EQ(check(eth(kMac, 0x8100, 30), v4only), SpoofVerdict::kUncheckable);  // VLAN tag
  EXPECT_EQ(check(eth(kMac, 0x88cc, 30), v4only), SpoofVerdict::kUncheckable);
}

TEST(SpoofFilter, ParsesTheBackendKeys) {
  EXPECT_EQ(parse_mac("00:16:3E:aa:bb:cc"), std::optional<MacAddr>(kMac));
  EXPECT_FALSE(parse_mac("00:16:3e:aa:bb"));
  EXPECT_FALSE(parse_mac("00-16-3e-aa-bb-cc"));
  EXPECT_FALSE(parse_mac("00:16:3e:aa:bb:cg"));
  auto l = parse_ip_list("  10.0.0.2   fd00::1/64 192.168.0.0/16 ");
  ASSERT_TRUE(l);
  ASSERT_EQ(l->size(), 3u);
  EXPECT_EQ((*l)[0].prefix, 32u);
  EXPECT_TRUE((*l)[1].v6);
  EXPECT_EQ((*l)[1].prefix, 64u);
  EXPECT_EQ((*l)[2].prefix, 16u);
  EXPECT_TRUE(parse_ip_list("")->empty());
  EXPECT_FALSE(parse_ip_list("10.0.0.300"));
  EXPECT_FALSE(parse_ip_list("10.0.0.1/33"));
  EXPECT_FALSE(parse_ip_list("10.0.0.1/"));
  EXPECT_FALSE(parse_ip_list("10.0.0.1/x"));
  EXPECT_FALSE(parse_ip_list("fd00::1/129"));
  EXPECT_FALSE(parse_ip_list("host.example"));
}

}  // namespace
