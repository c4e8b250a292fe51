// netback's data path end to end without a VM: a fake guest's rings and
// grants on one side, a datagram socket standing in for the tap on the
// other (pvdrivers/netback/net_queue.*, tx_path.*, rx_path.*).
#include <gtest/gtest.h>

#include "fake_net_guest.h"

namespace {
using namespace nettest;

const uint32_t kGuestIp = ipv4(10, 0, 0, 2), kHostIp = ipv4(10, 0, 0, 1);

N::netif_extra_info gso_extra(uint16_t mss, uint8_t type = N::XEN_NETIF_GSO_TYPE_TCPV4) {
  N::netif_extra_info e{};
  e.type = N::XEN_NETIF_EXTRA_TYPE_GSO;
  e.u.gso.size = mss;
  e.u.gso.type = type;
  return e;
}

// A TCP/IPv4 frame of `payload` bytes from the guest.
std::vector<uint8_t> tcp_frame(size_t payload) {
  auto f = udp_frame(kMac, kGuestIp, kHostIp, 12 + payload);  // UDP header + 12 = a TCP header
  uint8_t* ip = f.data() + 14;
  ip[9] = 6;
  uint8_t* tcp = ip + 20;
  std::memset(tcp, 0, 20);
  tcp[12] = 0x50;
  return f;
}

TEST(NetQueueTx, OneSlotFrameReachesTheTap) {
  FakeNetGuest g;
  g.start();
  const auto f = udp_frame(kMac, kGuestIp, kHostIp, 100);
  g.send_frame(0, f, 7);
  g.push_tx();
  auto rs = g.tx_responses(1);
  ASSERT_EQ(rs.size(), 1u);
  EXPECT_EQ(rs[0].id, 7);
  EXPECT_EQ(rs[0].status, N::XEN_NETIF_RSP_OKAY);
  auto pk = g.tap_packets(1);
  ASSERT_EQ(pk.size(), 1u);
  EXPECT_EQ(pk[0].frame, f);
  EXPECT_EQ(pk[0].hdr.flags, 0);
  EXPECT_EQ(pk[0].hdr.gso_type, kVnetGsoNone);
  EXPECT_FALSE(g.in_use(kTxDataGfn));  // the grant was released after the copy
  EXPECT_TRUE(eventually([&] { return g.stats.tx_packets == 1; }));
  EXPECT_EQ(g.stats.tx_bytes, f.size());
  EXPECT_EQ(g.stats.tx_malformed, 0u);
}

TEST(NetQueueTx, FragmentsAreJoinedInOrder) {
  FakeNetGuest g;
  g.start();
  const auto f = udp_frame(kMac, kGuestIp, kHostIp, 3000 - 42);
  ASSERT_EQ(f.size(), 3000u);
  // 1000 bytes at 100 in page 0, 1500 at 0 in page 1, 500 at the very end of page 2.
  g.tx_page(0, f.data(), 1000, 100);
  g.tx_page(1, f.data() + 1000, 1500, 0);
  g.tx_page(2, f.data() + 2500, 500, 3596);
  g.queue_tx({kTxDataGfn, 100, N::NETTXF_more_data, 1, 3000});
  g.queue_tx({kTxDataGfn + 1, 0, N::NETTXF_more_data, 2, 1500});
  g.queue_tx({kTxDataGfn + 2, 3596, 0, 3, 500});
  g.push_tx();
  auto rs = g.tx_responses(3);
  ASSERT_EQ(rs.size(), 3u);
  for (unsigned i = 0; i < 3; i++) {
    EXPECT_EQ(rs[i].id, i + 1);
    EXPECT_EQ(rs[i].status, N::XEN_NETIF_RSP_OKAY);
  }
  auto pk = g.tap_packets(1);
  ASSERT_EQ(pk.size(), 1u);
  EXPECT_EQ(pk[0].frame, f);
}

TEST(NetQueueTx, CsumBlankBecomesAPartialChecksumForTheTap) {
  FakeNetGuest g;
  g.start();
  const auto f = udp_frame(kMac, kGuestIp, kHostIp, 200);
  g.send_frame(0, f, 1, N::NETTXF_csum_blank | N::NETTXF_data_validated);
  g.push_tx();
  auto pk = g.tap_packets(1);
  ASSERT_EQ(pk.size(), 1u);
  EXPECT_EQ(pk[0].hdr.flags, kVnetNeedsCsum);
  EXPECT_EQ(pk[0].hdr.csum_start, 34);
  EXPECT_EQ(pk[0].hdr.csum_offset, 6);
  EXPECT_EQ(pk[0].frame, f);  // the frame itself is untouched
}

TEST(NetQueueTx, GsoExtraInfoBecomesTcpSegmentation) {
  FakeNetGuest g;
  g.start();
  const auto f = tcp_frame(5000);  // 5054 bytes: two slots
  g.tx_page(0, f.data(), 4000);
  g.tx_page(1, f.data() + 4000, f.size() - 4000);
  g.queue_tx({kTxDataGfn, 0, N::NETTXF_csum_blank | N::NETTXF_more_data | N::NETTXF_extra_info, 1,
              uint16_t(f.size())});
  g.queue_extra(gso_extra(1448));
  g.queue_tx({kTxDataGfn + 1, 0, 0, 2, uint16_t(f.size() - 4000)});
  g.push_tx();
  auto rs = g.tx_responses(3);
  ASSERT_EQ(rs.size(), 3u);
  EXPECT_EQ(rs[0].id, 1);
  EXPECT_EQ(rs[0].status, N::XEN_NETIF_RSP_OKAY);
  EXPECT_EQ(rs[1].status, N::XEN_NETIF_RSP_NULL);  // the extra-info slot
  EXPECT_EQ(rs[2].id, 2);
  EXPECT_EQ(rs[2].status, N::XEN_NETIF_RSP_OKAY);
  auto pk = g.tap_packets(1);
  ASSERT_EQ(pk.size(), 1u);
  EXPECT_EQ(pk[0].hdr.flags, kVnetNeedsCsum);
  EXPECT_EQ(pk[0].hdr.gso_type, kVnetGsoTcpv4);
  EXPECT_EQ(pk[0].hdr.gso_size, 1448);
  EXPECT_EQ(pk[0].hdr.hdr_len, 54);
  EXPECT_EQ(pk[0].hdr.csum_start, 34);
  EXPECT_EQ(pk[0].hdr.csum_offset, 16);
  ASSERT_EQ(pk[0].frame.size(), f.size());
  // Everything but the TCP checksum field (the pseudo-header sum) as sent.
  EXPECT_TRUE(std::equal(f.begin(), f.begin() + 50, pk[0].frame.begin()));
  EXPECT_TRUE(std::equal(f.begin() + 52, f.end(), pk[0].frame.begin() + 52));
  const uint32_t pseudo = 0x0a00 + 2 + 0x0a00 + 1 + 6 + uint32_t(f.size() - 34);
  EXPECT_EQ(pk[0].frame[50] << 8 | pk[0].frame[51], (pseudo & 0xffff) + (pseudo >> 16));
}

struct Malformed {
  const char* name;
  std::function<void(FakeNetGuest&)> post;  // queues the requests
  unsigned slots;
};

TEST(NetQueueTx, MalformedPacketsAreAnsweredErrorAndCounted) {
  const auto f = udp_frame(kMac, kGuestIp, kHostIp, 100);
  const uint16_t n = uint16_t(f.size());
  std::vector<Malformed> cases = {
      {"bad gref", [&](FakeNetGuest& g) { g.queue_tx({0x00fffff0u, 0, 0, 1, n}); }, 1},
      {"ref never granted", [&](FakeNetGuest& g) { g.queue_tx({400, 0, 0, 1, n}); }, 1},
      {"granted to another domain",
       [&](FakeNetGuest& g) {
         g.tx_page(3, f.data(), f.size());
         g.grant(kTxDataGfn + 3, kTxDataGfn + 3, true, 5);
         g.queue_tx({kTxDataGfn + 3, 0, 0, 1, n});
       },
       1},
      {"crosses the page", [&](FakeNetGuest& g) { g.queue_tx({g.tx_page(0, f.data(), n), 4000, 0, 1, 200}); }, 1},
      {"size zero", [&](FakeNetGuest& g) { g.queue_tx({g.tx_page(0, f.data(), n), 0, 0, 1, 0}); }, 1},
      {"shorter than Ethernet", [&](FakeNetGuest& g) { g.queue_tx({g.tx_page(0, f.data(), n), 0, 0, 1, 13}); }, 1},
      {"empty fragment",
       [&](FakeNetGuest& g) {
         g.queue_tx({g.tx_page(0, f.data(), n), 0, N::NETTXF_more_data, 1, n});
         g.queue_tx({g.tx_page(1, f.data(), n), 0, 0, 2, 0});
       },
       2},
      {"fragments larger than the packet",
       [&](FakeNetGuest& g) {
         g.queue_tx({g.tx_page(0, f.data(), n), 0, N::NETTXF_more_data, 1, 0xffff});
         for (uint16_t i = 1; i < 17; i++)
           g.queue_tx({g.tx_page(1, f.data(), n), 0, uint16_t(i < 16 ? N::NETTXF_more_data : 0), i, 4096});
       },
       17},
      {"19 slots",
       [&](FakeNetGuest& g) {
         g.queue_tx({g.tx_page(0, f.data(), n), 0, N::NETTXF_more_data, 0, 60 * 19});
         for (uint16_t i = 1; i < 19; i++)
           g.queue_tx({g.tx_page(1, f.data(), n), 0, uint16_t(i < 18 ? N::NETTXF_more_data : 0), i, 60});
       },
       19},
      {"chain that never ends",
       [&](FakeNetGuest& g) {
         g.queue_tx({g.tx_page(0, f.data(), n), 0, N::NETTXF_more_data, 1, 180});
         g.queue_tx({g.tx_page(1, f.data(), n), 0, N::NETTXF_more_data, 2, 60});
       },
       2},
      {"unknown extra type",
       [&](FakeNetGuest& g) {
         g.queue_tx({g.tx_page(0, f.data(), n), 0, N::NETTXF_extra_info, 1, n});
         N::netif_extra_info e{};
         e.type = 9;
         g.queue_extra(e);
       },
       2},
      {"GSO size 0",
       [&](FakeNetGuest& g) {
         g.queue_tx({g.tx_page(0, f.data(), n), 0, N::NETTXF_extra_info | N::NETTXF_csum_blank, 1, n});
         g.queue_extra(gso_extra(0));
       },
       2},
      {"GSO on UDP",
       [&](FakeNetGuest& g) {
         g.queue_tx({g.tx_page(0, f.data(), n), 0, N::NETTXF_extra_info | N::NETTXF_csum_blank, 1, n});
         g.queue_extra(gso_extra(1000));
       },
       2},
      {"csum_blank on ICMP",
       [&](FakeNetGuest& g) {
         auto icmp = f;
         icmp[14 + 9] = 1;
         g.queue_tx({g.tx_page(0, icmp.data(), n), 0, N::NETTXF_csum_blank, 1, n});
       },
       1},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    FakeNetGuest g;
    g.start();
    c.post(g);
    g.push_tx();
    auto rs = g.tx_responses(c.slots);
    ASSERT_EQ(rs.size(), c.slots);
    for (unsigned i = 0; i < c.slots; i++)
      if (rs[i].status != N::XEN_NETIF_RSP_NULL) {
        EXPECT_EQ(rs[i].status, N::XEN_NETIF_RSP_ERROR) << i;
      }
    EXPECT_TRUE(eventually([&] { return g.stats.tx_malformed == 1; }));
    // Nothing reached the tap, no grant is left in use, and the queue still works.
    for (unsigned p = 0; p < 4; p++) EXPECT_FALSE(g.in_use(kTxDataGfn + p));
    g.send_frame(5, f, 99);
    g.push_tx();
    auto ok = g.tx_responses(1);
    ASSERT_EQ(ok.size(), 1u);
    EXPECT_EQ(ok[0].status, N::XEN_NETIF_RSP_OKAY);
    auto pk = g.tap_packets(1);
    ASSERT_EQ(pk.size(), 1u);
    EXPECT_EQ(pk[0].frame, f);
    EXPECT_TRUE(g.fatal().empty());
  }
}

TEST(NetQueueTx, SpoofedFramesAreAnsweredOkayAndDropped) {
  FakeNetGuest g;
  SpoofPolicy p{kMac, *parse_ip_list("10.0.0.2")};
  g.start({}, p);
  const MacAddr other = {0x02, 0, 0xde, 0xad, 0xbe, 0xef};
  g.send_frame(0, udp_frame(other, kGuestIp, kHostIp, 50), 1);           // foreign MAC
  g.send_frame(1, udp_frame(kMac, ipv4(192, 0, 2, 66), kHostIp, 50), 2);  // foreign IP
  auto dhcp = udp_frame(kMac, 0, 0xffffffff, 250, 68, 67);                // DHCPDISCOVER
  g.send_frame(2, dhcp, 3);
  const auto good = udp_frame(kMac, kGuestIp, kHostIp, 50);
  g.send_frame(3, good, 4);
  g.push_tx();
  auto rs = g.tx_responses(4);
  ASSERT_EQ(rs.size(), 4u);
  for (auto& r : rs) EXPECT_EQ(r.status, N::XEN_NETIF_RSP_OKAY);
  auto pk = g.tap_packets(3, std::chrono::milliseconds(500));
  ASSERT_EQ(pk.size(), 2u);
  EXPECT_EQ(pk[0].frame, dhcp);
  EXPECT_EQ(pk[1].frame, good);
  EXPECT_TRUE(eventually([&] { return g.stats.tx_spoofed == 2; }));
  EXPECT_EQ(g.stats.tx_malformed, 0u);
}

TEST(NetQueueTx, ABatchIsOneKickAndFewNotifications) {
  FakeNetGuest g;
  g.start();
  std::vector<std::vector<uint8_t>> frames;
  for (unsigned i = 0; i < 100; i++) {
    frames.push_back(udp_frame(kMac, kGuestIp, kHostIp, 60 + i));
    g.send_frame(i % 64, frames.back(), uint16_t(i));
    if (i % 64 == 63) {  // pages are reused: let the back-end copy them first
      g.push_tx();
      ASSERT_EQ(g.tx_responses(64).size(), 64u);
    }
  }
  g.push_tx();
  ASSERT_EQ(g.tx_responses(36).size(), 36u);
  auto pk = g.tap_packets(100);
  ASSERT_EQ(pk.size(), 100u);
  for (unsigned i = 0; i < 100; i++) EXPECT_EQ(pk[i].frame, frames[i]) << i;  // in order
  EXPECT_LE(g.kicks_sent, 2u);
  EXPECT_LE(g.irqs(), 4u);
}

TEST(NetQueueTx, RingOverflowDisconnects) {
  FakeNetGuest g;
  g.start();
  g.overflow_tx_ring();
  EXPECT_TRUE(eventually([&] { return !g.fatal().empty(); }));
  EXPECT_NE(g.fatal()[0].find("overflow"), std::string::npos);
}

TEST(NetQueueRx, FrameLandsInAPostedBuffer) {
  FakeNetGuest g;
  g.start();
  g.post_rx(4);
  const auto f = udp_frame({2, 0, 0, 0, 0, 9}, kHostIp, kGuestIp, 200);
  g.host_send(f);
  auto s = g.rx_slots(1);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].rsp.id, 0);
  EXPECT_EQ(s[0].rsp.offset, 0);
  EXPECT_EQ(s[0].rsp.flags, 0);
  EXPECT_EQ(s[0].rsp.status, int16_t(f.size()));
  EXPECT_EQ(s[0].data, f);
  EXPECT_FALSE(g.in_use(kRxDataGfn));
  EXPECT_TRUE(eventually([&] { return g.stats.rx_packets == 1; }));
  EXPECT_EQ(g.stats.rx_bytes, f.size());
}

TEST(NetQueueRx, ChecksumFlagsFollowTheVnetHeader) {
  FakeNetGuest g;
  g.start();
  g.post_rx(8);
  const auto f = udp_frame({2, 0, 0, 0, 0, 9}, kHostIp, kGuestIp, 100);
  g.host_send(f, VnetHdr{kVnetNeedsCsum, 0, 0, 0, 34, 6});
  g.host_send(f, VnetHdr{kVnetDataValid, 0, 0, 0, 0, 0});
  g.host_send(f);
  auto s = g.rx_slots(3);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].rsp.flags, N::NETRXF_csum_blank | N::NETRXF_data_validated);
  EXPECT_EQ(s[1].rsp.flags, N::NETRXF_data_validated);
  EXPECT_EQ(s[2].rsp.flags, 0);
}

TEST(NetQueueRx, FrontendWithoutChecksumOffloadGetsCompleteChecksums) {
  FakeNetGuest g;
  RxFeatures rx;
  rx.csum_v4 = false;
  g.start(rx);
  g.post_rx(2);
  auto f = udp_frame({2, 0, 0, 0, 0, 9}, kHostIp, kGuestIp, 100);
  const uint32_t pseudo = 0x0a00 + 1 + 0x0a00 + 2 + 17 + 108;
  f[40] = uint8_t(pseudo >> 8), f[41] = uint8_t(pseudo);
  g.host_send(f, VnetHdr{kVnetNeedsCsum, 0, 0, 0, 34, 6});
  auto s = g.rx_slots(1);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].rsp.flags, N::NETRXF_data_validated);
  // Pseudo header + UDP header + data sum to 0xffff.
  uint32_t sum = 0x0a00 + 1 + 0x0a00 + 2 + 17 + 108;
  for (size_t i = 34; i < s[0].data.size(); i += 2) sum += uint32_t(s[0].data[i] << 8 | s[0].data[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  EXPECT_EQ(sum, 0xffffu);
}

TEST(NetQueueRx, LargeFrameUsesSeveralSlotsWithSg) {
  FakeNetGuest g;
  RxFeatures rx;
  rx.sg = true;
  g.start(rx);
  g.post_rx(8);
  const auto f = udp_frame({2, 0, 0, 0, 0, 9}, kHostIp, kGuestIp, 9000 - 42);
  g.host_send(f);
  auto s = g.rx_slots(3);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].rsp.status, 4096);
  EXPECT_EQ(s[0].rsp.flags, N::NETRXF_more_data);
  EXPECT_EQ(s[1].rsp.status, 4096);
  EXPECT_EQ(s[1].rsp.flags, N::NETRXF_more_data);
  EXPECT_EQ(s[2].rsp.status, 9000 - 8192);
  EXPECT_EQ(s[2].rsp.flags, 0);
  std::vector<uint8_t> joined;
  for (auto& x : s) joined.insert(joined.end(), x.data.begin(), x.data.end());
  EXPECT_EQ(joined, f);
}

TEST(NetQueueRx, LargeFrameWithoutSgIsDroppedAndCounted) {
  FakeNetGuest g;
  g.start();
  g.post_rx(8);
  g.host_send(udp_frame({2, 0, 0, 0, 0, 9}, kHostIp, kGuestIp, 9000 - 42));
  const auto small = udp_frame({2, 0, 0, 0, 0, 9}, kHostIp, kGuestIp, 10);
  g.host_send(small);
  auto s = g.rx_slots(1);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].data, small);
  EXPECT_EQ(g.stats.rx_dropped_too_big, 1u);
}

TEST(NetQueueRx, GsoFrameGetsItsExtraSlotAfterTheFirst) {
  FakeNetGuest g;
  RxFeatures rx;
  rx.sg = rx.gso_tcpv4 = true;
  g.start(rx);
  g.post_rx(8);
  const auto f = tcp_frame(6000);
  g.host_send(f, VnetHdr{kVnetNeedsCsum, kVnetGsoTcpv4, 54, 1448, 34, 16});
  auto s = g.rx_slots(3);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0].rsp.flags,
            N::NETRXF_csum_blank | N::NETRXF_data_validated | N::NETRXF_more_data | N::NETRXF_extra_info);
  EXPECT_EQ(s[0].rsp.status, 4096);
  ASSERT_TRUE(s[1].is_extra);
  EXPECT_EQ(s[1].extra.type, N::XEN_NETIF_EXTRA_TYPE_GSO);
  EXPECT_EQ(s[1].extra.u.gso.size, 1448);
  EXPECT_EQ(s[1].extra.u.gso.type, N::XEN_NETIF_GSO_TYPE_TCPV4);
  EXPECT_EQ(s[2].rsp.status, int16_t(f.size() - 4096));
  EXPECT_EQ(s[2].rsp.flags, 0);
  std::vector<uint8_t> joined(s[0].data);
  joined.insert(joined.end(), s[2].data.begin(), s[2].data.end());
  EXPECT_EQ(joined, f);
}

TEST(NetQueueRx, GsoTheFrontendDidNotEnableIsDropped) {
  FakeNetGuest g;
  RxFeatures rx;
  rx.sg = true;
  g.start(rx);
  g.post_rx(8);
  g.host_send(tcp_frame(6000), VnetHdr{kVnetNeedsCsum, kVnetGsoTcpv4, 54, 1448, 34, 16});
  EXPECT_TRUE(eventually([&] { return g.stats.rx_dropped_too_big == 1; }));
  EXPECT_TRUE(g.rx_idle_for(std::chrono::milliseconds(50)));
}

TEST(NetQueueRx, FramesWaitForBuffersAndArriveInOrder) {
  FakeNetGuest g;
  g.start();
  std::vector<std::vector<uint8_t>> frames;
  for (unsigned i = 0; i < 3; i++) {
    frames.push_back(udp_frame({2, 0, 0, 0, 0, 9}, kHostIp, kGuestIp, 20 + i));
    g.host_send(frames.back());
  }
  EXPECT_TRUE(g.rx_idle_for(std::chrono::milliseconds(100)));
  g.post_rx(1);  // one buffer: one frame
  auto s = g.rx_slots(1);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].data, frames[0]);
  g.post_rx(8);
  s = g.rx_slots(2);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].data, frames[1]);
  EXPECT_EQ(s[1].data, frames[2]);
  EXPECT_EQ(g.stats.rx_dropped_no_buffer, 0u);
}

TEST(NetQueueRx, TheWaitingQueueIsBounded) {
  FakeNetGuest g;
  g.start({}, {kMac, {}}, true, [](QueueParams& p) { p.rx_queue_limit = 4; });
  for (unsigned i = 0; i < 10; i++) g.host_send(udp_frame({2, 0, 0, 0, 0, 9}, kHostIp, kGuestIp, 20 + i));
  EXPECT_TRUE(eventually([&] { return g.stats.rx_dropped_no_buffer == 6; }));
  g.post_rx(16);
  auto s = g.rx_slots(4);
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].data.size(), 14u + 20 + 8 + 20);  // the oldest four were kept
  EXPECT_EQ(s[3].data.size(), 14u + 20 + 8 + 23);
  EXPECT_TRUE(g.rx_idle_for(std::chrono::milliseconds(50)));
}

TEST(NetQueueRx, FramesHeldTooLongAreDropped) {
  FakeNetGuest g;
  g.start({}, {kMac, {}}, true, [](QueueParams& p) { p.rx_hold = std::chrono::milliseconds(100); });
  g.host_send(udp_frame({2, 0, 0, 0, 0, 9}, kHostIp, kGuestIp, 20));
  g.host_send(udp_frame({2, 0, 0, 0, 0, 9}, kHostIp, kGuestIp, 21));
  EXPECT_TRUE(eventually([&] { return g.stats.rx_dropped_no_buffer == 2; }));
  g.post_rx(4);
  EXPECT_TRUE(g.rx_idle_for(std::chrono::milliseconds(100)));
  const auto f = udp_frame({2, 0, 0, 0, 0, 9}, kHostIp, kGuestIp, 22);
  g.host_send(f);
  auto s = g.rx_slots(1);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].data, f);
}

TEST(NetQueueRx, ReadOnlyBufferIsAnErrorSlot) {
  FakeNetGuest g;
  g.start();
  g.post_rx(1, /*readonly=*/true);
  g.host_send(udp_frame({2, 0, 0, 0, 0, 9}, kHostIp, kGuestIp, 20));
  auto s = g.rx_slots(1);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].rsp.status, N::XEN_NETIF_RSP_ERROR);
  EXPECT_TRUE(eventually([&] { return g.stats.rx_bad_requests == 1; }));
  EXPECT_EQ(g.stats.rx_packets, 0u);
}

TEST(NetQueue, OneEventChannelForBothRings) {
  FakeNetGuest g;
  g.start({}, {kMac, {}}, /*split=*/false);
  g.post_rx(4);
  const auto in = udp_frame({2, 0, 0, 0, 0, 9}, kHostIp, kGuestIp, 20);
  g.host_send(in);
  auto s = g.rx_slots(1);
  ASSERT_EQ(s.size(), 1u);
  EXPECT_EQ(s[0].data, in);
  const auto out = udp_frame(kMac, kGuestIp, kHostIp, 30);
  g.send_frame(0, out, 3);
  g.push_tx();
  ASSERT_EQ(g.tx_responses(1).size(), 1u);
  auto pk = g.tap_packets(1);
  ASSERT_EQ(pk.size(), 1u);
  EXPECT_EQ(pk[0].frame, out);
}

TEST(NetQueue, StopsWithReadsInFlight) {
  for (int i = 0; i < 20; i++) {
    FakeNetGuest g;
    g.start();
    g.post_rx(2);
    g.host_send(udp_frame({2, 0, 0, 0, 0, 9}, kHostIp, kGuestIp, 20));
    g.stop();  // must not hang or touch freed buffers
  }
}

}  // namespace
