// Real tap devices (pvdrivers/netback/tap_device.*) and the data path over
// one, each test in a private network namespace of its own thread (root
// only): the host's own network is never touched.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>

#include <thread>

#include "fake_net_guest.h"
#include "netback/tap_device.h"
#include "pv/netlink.h"
#include "pv/error.h"
#include "pv/unique_fd.h"

namespace {
using namespace nettest;

// Runs `fn` on a thread in a fresh network namespace (threads it starts
// inherit it); skips when that is not allowed.
void in_private_netns(const std::function<void()>& fn) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, /dev/net/tun)";
  bool skipped = false;
  std::thread t([&] {
    if (::unshare(CLONE_NEWNET) != 0) {
      skipped = true;
      return;
    }
    fn();
  });
  t.join();
  if (skipped) GTEST_SKIP() << "unshare(CLONE_NEWNET) failed";
}

pv::UniqueFd packet_socket(const std::string& ifname) {
  pv::UniqueFd s(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL)));
  if (!s) return s;
  sockaddr_ll a{};
  a.sll_family = AF_PACKET;
  a.sll_protocol = htons(ETH_P_ALL);
  a.sll_ifindex = int(::if_nametoindex(ifname.c_str()));
  if (::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) s.reset();
  return s;
}

TEST(TapDevice, LivesAsLongAsTheObjectAndJoinsTheBridge) {
  in_private_netns([] {
    pv::net::Netlink nl;
    {
      TapDevice tap("vif7.0", 1);
      auto l = nl.find_link("vif7.0");
      ASSERT_TRUE(l);
      EXPECT_EQ(l->kind, "tun");
      EXPECT_EQ(tap.queues(), 1u);
      tap.set_mtu(1400);
      ifreq r{};
      std::strcpy(r.ifr_name, "vif7.0");
      const pv::UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
      ASSERT_EQ(::ioctl(s.get(), SIOCGIFMTU, &r), 0);
      EXPECT_EQ(r.ifr_mtu, 1400);
      ASSERT_EQ(::ioctl(s.get(), SIOCGIFHWADDR, &r), 0);  // Xen's fe:ff:ff:ff:ff:ff
      EXPECT_EQ(uint8_t(r.ifr_hwaddr.sa_data[0]), 0xfe);
      EXPECT_EQ(uint8_t(r.ifr_hwaddr.sa_data[5]), 0xff);
      EXPECT_THROW(tap.up("nosuchbr"), pv::UserError);
      nl.create_bridge("pvtestbr");
      tap.up("pvtestbr");
      l = nl.find_link("vif7.0");
      ASSERT_TRUE(l);
      EXPECT_EQ(l->master, nl.ifindex("pvtestbr"));
      EXPECT_TRUE(l->flags & IFF_UP);
      // The name is taken while it lives.
      EXPECT_THROW(TapDevice("vif7.0", 1), std::exception);
    }
    EXPECT_FALSE(nl.find_link("vif7.0"));
    TapDevice mq("vif7.1", 2);
    EXPECT_EQ(mq.queues(), 2u);
    EXPECT_NE(mq.fd(0), mq.fd(1));
  });
}

TEST(TapDevice, FramesCrossARealTapBothWays) {
  in_private_netns([] {
    FakeNetGuest g;
    TapDevice tap("vif8.0", 1);
    tap.set_offload(0);
    tap.up("");
    g.start({}, {kMac, {}}, true, [&](QueueParams& p) { p.packet_fd = tap.fd(0); });
    const pv::UniqueFd ps = packet_socket("vif8.0");
    ASSERT_GE(ps.get(), 0);
    // Guest -> tap: the host's stack receives the frame on vif8.0.
    const auto out = udp_frame(kMac, ipv4(10, 0, 0, 2), ipv4(10, 0, 0, 1), 300);
    g.send_frame(0, out, 1);
    g.push_tx();
    ASSERT_EQ(g.tx_responses(1).size(), 1u);
    std::vector<uint8_t> buf(4096);
    bool seen = false;
    for (int i = 0; i < 20 && !seen; i++) {
      pollfd p{ps.get(), POLLIN, 0};
      if (::poll(&p, 1, 200) != 1) continue;
      sockaddr_ll from{};
      socklen_t fl = sizeof from;
      const ssize_t n = ::recvfrom(ps.get(), buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &fl);
      if (n == ssize_t(out.size()) && from.sll_pkttype != PACKET_OUTGOING &&
          std::equal(out.begin(), out.end(), buf.begin()))
        seen = true;
    }
    EXPECT_TRUE(seen);
    // Host -> guest: a frame sent out of vif8.0 lands in the guest's rx ring.
    g.post_rx(32);
    auto in = udp_frame({2, 0, 0, 0, 0, 9}, ipv4(10, 0, 0, 1), ipv4(10, 0, 0, 2), 100);
    std::memcpy(in.data(), kMac.data(), 6);
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = int(::if_nametoindex("vif8.0"));
    to.sll_halen = 6;
    std::memcpy(to.sll_addr, kMac.data(), 6);
    ASSERT_EQ(::sendto(ps.get(), in.data(), in.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to), ssize_t(in.size()));
    // The host's stack may send its own frames (IPv6 MLD) out of the tap.
    bool arrived = false;
    for (int i = 0; i < 8 && !arrived; i++) {
      auto s = g.rx_slots(1, std::chrono::milliseconds(500));
      arrived = !s.empty() && s[0].data == in;
    }
    EXPECT_TRUE(arrived);
    g.stop();
  });
}

}  // namespace
