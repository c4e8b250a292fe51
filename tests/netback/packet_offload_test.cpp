// Finding TCP/UDP checksums in frames, pseudo-header sums and software
// completion (pvdrivers/netback/packet_offload.*), and the vif's xenstore
// keys (vif_config.*).
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <vector>

#include "netback/packet_offload.h"
#include "netback/vif_config.h"
#include "pv/error.h"

namespace {
using namespace pv::netback;

// Reference: RFC 1071 over big-endian words.
uint16_t rfc1071(const std::vector<uint8_t>& b, size_t from, uint32_t sum = 0) {
  for (size_t i = from; i < b.size(); i += 2) sum += uint32_t(b[i] << 8 | (i + 1 < b.size() ? b[i + 1] : 0));
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}

std::vector<uint8_t> frame(uint16_t ethertype, std::vector<uint8_t> l3, size_t vlan_tags = 0) {
  std::vector<uint8_t> f(12 + 4 * vlan_tags + 2 + l3.size(), 0x11);
  size_t at = 12;
  for (size_t i = 0; i < vlan_tags; i++, at += 4) f[at] = 0x81, f[at + 1] = 0x00, f[at + 2] = 0x00, f[at + 3] = 0x05;
  f[at] = uint8_t(ethertype >> 8);
  f[at + 1] = uint8_t(ethertype);
  std::copy(l3.begin(), l3.end(), f.begin() + long(at + 2));
  return f;
}

std::vector<uint8_t> ipv4(uint8_t proto, size_t l4_len, uint16_t frag = 0, uint8_t ihl = 5) {
  std::vector<uint8_t> h(ihl * 4 + l4_len, 0);
  h[0] = uint8_t(0x40 | ihl);
  h[2] = uint8_t(h.size() >> 8), h[3] = uint8_t(h.size());
  h[6] = uint8_t(frag >> 8), h[7] = uint8_t(frag);
  h[8] = 64, h[9] = proto;
  const uint8_t src[4] = {10, 0, 0, 2}, dst[4] = {10, 0, 0, 1};
  std::memcpy(&h[12], src, 4);
  std::memcpy(&h[16], dst, 4);
  if (proto == 6) h[ihl * 4 + 12] = 0x50;  // data offset 5 words
  for (size_t i = ihl * 4 + 20; i < h.size(); i++) h[i] = uint8_t(i * 13);
  return h;
}

std::vector<uint8_t> ipv6(uint8_t next, std::vector<uint8_t> rest) {
  std::vector<uint8_t> h(40, 0);
  h[0] = 0x60;
  h[4] = uint8_t(rest.size() >> 8), h[5] = uint8_t(rest.size());
  h[6] = next;
  h[8] = 0x20, h[9] = 0x01, h[23] = 2;
  h[24] = 0x20, h[25] = 0x01, h[39] = 1;
  h.insert(h.end(), rest.begin(), rest.end());
  return h;
}

TEST(PacketOffload, FindsTcpAndUdpOverIpv4) {
  auto udp = frame(0x0800, ipv4(17, 8 + 100));
  auto l = find_l4(udp.data(), udp.size());
  ASSERT_TRUE(l);
  EXPECT_EQ(l->l3_start, 14);
  EXPECT_EQ(l->csum_start, 34);
  EXPECT_EQ(l->csum_offset, 6);
  EXPECT_EQ(l->header_len, 42);
  EXPECT_FALSE(l->tcp);
  auto tcp = frame(0x0800, ipv4(6, 20 + 100, 0, 6), 1);  // IP options, one VLAN tag
  l = find_l4(tcp.data(), tcp.size());
  ASSERT_TRUE(l);
  EXPECT_EQ(l->csum_start, 18 + 24);
  EXPECT_EQ(l->csum_offset, 16);
  EXPECT_EQ(l->header_len, 18 + 24 + 20);
  EXPECT_TRUE(l->tcp);
}

TEST(PacketOffload, RefusesWhatHasNoTransportChecksum) {
  auto icmp = frame(0x0800, ipv4(1, 64));
  EXPECT_FALSE(find_l4(icmp.data(), icmp.size()));
  auto frag = frame(0x0800, ipv4(17, 108, 0x2000));  // more fragments
  EXPECT_FALSE(find_l4(frag.data(), frag.size()));
  auto later = frame(0x0800, ipv4(17, 108, 0x0010));  // not the first fragment
  EXPECT_FALSE(find_l4(later.data(), later.size()));
  auto arp = frame(0x0806, std::vector<uint8_t>(28));
  EXPECT_FALSE(find_l4(arp.data(), arp.size()));
  auto cut = frame(0x0800, ipv4(6, 20));
  cut.resize(cut.size() - 5);  // TCP header cut short
  EXPECT_FALSE(find_l4(cut.data(), cut.size()));
  std::vector<uint8_t> runt(10);
  EXPECT_FALSE(find_l4(runt.data(), runt.size()));
}

TEST(PacketOffload, StepsOverIpv6ExtensionHeaders) {
  std::vector<uint8_t> hop = {17, 0, 0, 0, 0, 0, 0, 0};  // hop-by-hop, next: UDP
  std::vector<uint8_t> udp(8 + 20, 0);
  hop.insert(hop.end(), udp.begin(), udp.end());
  auto f = frame(0x86dd, ipv6(0, hop));
  auto l = find_l4(f.data(), f.size());
  ASSERT_TRUE(l);
  EXPECT_TRUE(l->ipv6);
  EXPECT_EQ(l->csum_start, 14 + 40 + 8);
  std::vector<uint8_t> fragment = {17, 0, 0, 0, 0, 0, 0, 0};
  auto g = frame(0x86dd, ipv6(44, fragment));
  EXPECT_FALSE(find_l4(g.data(), g.size()));
}

TEST(PacketOffload, PartialChecksumCompletesToTheFullOne) {
  for (size_t payload : {0, 1, 63, 1000, 1473}) {
    auto f = frame(0x0800, ipv4(17, 8 + payload));
    const auto l = find_l4(f.data(), f.size());
    ASSERT_TRUE(l);
    // What a sender with offload leaves: the pseudo-header sum in the field.
    set_pseudo_header_sum(f.data(), f.size(), *l);
    ASSERT_TRUE(complete_checksum(f.data(), f.size(), l->csum_start, l->csum_offset));
    // A receiver's check: the sum over pseudo header + UDP is 0xffff.
    uint32_t pseudo = 0x0a00 + 0x0002 + 0x0a00 + 0x0001 + 17 + uint32_t(8 + payload);
    EXPECT_EQ(rfc1071(f, l->csum_start, pseudo), 0xffff) << payload;
  }
  auto t = frame(0x86dd, ipv6(6, std::vector<uint8_t>(20 + 77, 0x5a)));
  t[14 + 40 + 12] = 0x50;
  const auto l = find_l4(t.data(), t.size());
  ASSERT_TRUE(l);
  set_pseudo_header_sum(t.data(), t.size(), *l);
  ASSERT_TRUE(complete_checksum(t.data(), t.size(), l->csum_start, l->csum_offset));
  uint32_t pseudo = 0x2001 + 2 + 0x2001 + 1 + 6 + 97;
  EXPECT_EQ(rfc1071(t, l->csum_start, pseudo), 0xffff);
  std::vector<uint8_t> small(20);
  EXPECT_FALSE(complete_checksum(small.data(), small.size(), 14, 6));
}

// ---- vif keys ----
KeyReader keys(std::map<std::string, std::string> m) {
  return [m](const std::string& k) -> std::optional<std::string> {
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}

TEST(VifConfig, BackendKeys) {
  auto c = read_backend_config(keys({{"mac", "00:16:3e:00:00:01"}, {"bridge", "pvbr0"}, {"ip", "10.0.0.2 10.0.0.3"},
                                     {"mtu", "9000"}}));
  EXPECT_EQ(c.policy.mac[5], 1);
  EXPECT_EQ(c.policy.ips.size(), 2u);
  EXPECT_EQ(c.bridge, "pvbr0");
  EXPECT_EQ(c.mtu, 9000u);
  auto d = read_backend_config(keys({{"mac", "00:16:3e:00:00:01"}}));
  EXPECT_TRUE(d.policy.ips.empty());
  EXPECT_EQ(d.bridge, "");
  EXPECT_EQ(d.mtu, 0u);
  EXPECT_THROW(read_backend_config(keys({})), pv::UserError);
  EXPECT_THROW(read_backend_config(keys({{"mac", "zz"}})), pv::UserError);
  EXPECT_THROW(read_backend_config(keys({{"mac", "00:16:3e:00:00:01"}, {"ip", "nope"}})), pv::UserError);
  EXPECT_THROW(read_backend_config(keys({{"mac", "00:16:3e:00:00:01"}, {"mtu", "20"}})), pv::UserError);
}

TEST(VifConfig, FrontendKeysOneQueue) {
  auto c = read_frontend_config(keys({{"tx-ring-ref", "8"}, {"rx-ring-ref", "9"}, {"event-channel", "5"},
                                      {"request-rx-copy", "1"}, {"feature-rx-notify", "1"}, {"feature-sg", "1"},
                                      {"feature-gso-tcpv4", "1"}}),
                                2);
  ASSERT_EQ(c.queues.size(), 1u);
  EXPECT_EQ(c.queues[0].tx_ring_ref, 8u);
  EXPECT_EQ(c.queues[0].rx_ring_ref, 9u);
  EXPECT_EQ(c.queues[0].tx_port, 5u);
  EXPECT_EQ(c.queues[0].rx_port, 5u);
  EXPECT_FALSE(c.queues[0].split);
  EXPECT_TRUE(c.rx_notify);
  EXPECT_TRUE(c.rx.sg);
  EXPECT_TRUE(c.rx.gso_tcpv4);
  EXPECT_FALSE(c.rx.gso_tcpv6);
  EXPECT_TRUE(c.rx.csum_v4);
  EXPECT_FALSE(c.rx.csum_v6);
  // multi-queue-num-queues=1 keeps the keys at the top (as xen-netfront).
  auto s = read_frontend_config(keys({{"tx-ring-ref", "8"}, {"rx-ring-ref", "9"}, {"event-channel-tx", "5"},
                                      {"event-channel-rx", "6"}, {"request-rx-copy", "1"},
                                      {"multi-queue-num-queues", "1"}, {"feature-no-csum-offload", "1"}}),
                                2);
  ASSERT_EQ(s.queues.size(), 1u);
  EXPECT_TRUE(s.queues[0].split);
  EXPECT_EQ(s.queues[0].rx_port, 6u);
  EXPECT_FALSE(s.rx.csum_v4);
}

TEST(VifConfig, FrontendKeysSeveralQueues) {
  auto c = read_frontend_config(keys({{"multi-queue-num-queues", "2"}, {"request-rx-copy", "1"},
                                      {"queue-0/tx-ring-ref", "10"}, {"queue-0/rx-ring-ref", "11"},
                                      {"queue-0/event-channel", "3"}, {"queue-1/tx-ring-ref", "12"},
                                      {"queue-1/rx-ring-ref", "13"}, {"queue-1/event-channel-tx", "4"},
                                      {"queue-1/event-channel-rx", "7"}}),
                                2);
  ASSERT_EQ(c.queues.size(), 2u);
  EXPECT_EQ(c.queues[1].tx_ring_ref, 12u);
  EXPECT_TRUE(c.queues[1].split);
  EXPECT_EQ(c.queues[1].rx_port, 7u);
}

TEST(VifConfig, BadFrontendKeysAreUserErrors) {
  const std::map<std::string, std::string> good = {
      {"tx-ring-ref", "8"}, {"rx-ring-ref", "9"}, {"event-channel", "5"}, {"request-rx-copy", "1"}};
  auto without = [&](const std::string& k) {
    auto m = good;
    m.erase(k);
    return keys(m);
  };
  auto with = [&](const std::string& k, const std::string& v) {
    auto m = good;
    m[k] = v;
    return keys(m);
  };
  EXPECT_NO_THROW(read_frontend_config(keys(good), 2));
  EXPECT_THROW(read_frontend_config(without("request-rx-copy"), 2), pv::UserError);
  EXPECT_THROW(read_frontend_config(with("request-rx-copy", "0"), 2), pv::UserError);
  EXPECT_THROW(read_frontend_config(without("tx-ring-ref"), 2), pv::UserError);
  EXPECT_THROW(read_frontend_config(with("rx-ring-ref", "-1"), 2), pv::UserError);
  EXPECT_THROW(read_frontend_config(without("event-channel"), 2), pv::UserError);
  EXPECT_THROW(read_frontend_config(with("event-channel-tx", "4"), 2), pv::UserError);  // rx missing
  EXPECT_THROW(read_frontend_config(with("multi-queue-num-queues", "3"), 2), pv::UserError);
  EXPECT_THROW(read_frontend_config(with("multi-queue-num-queues", "0"), 2), pv::UserError);
  EXPECT_THROW(read_frontend_config(with("multi-queue-num-queues", "2"), 2), pv::UserError);  // no queue-N/
  EXPECT_THROW(read_frontend_config(with("feature-sg", "yes"), 2), pv::UserError);
}

}  // namespace
