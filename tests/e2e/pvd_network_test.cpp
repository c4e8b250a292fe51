// pvd's virtual networks end to end: a real pvd in its own network
// namespace, driven through the real pvctl, checked against the kernel's
// real state (ip, nft) and real traffic between namespaces that play the
// guests and the outside world. Also the parts of pvnet the vif code uses
// (bridge_for, static leases, joining a bridge), and the spec parser.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstring>
#include <regex>

#include "network/network_error.h"
#include "network/network_manager.h"
#include "network/network_spec.h"
#include "network/nft_rules.h"
#include "pv/error.h"
#include "pv/netlink.h"
#include "pvd_net_fixture.h"

namespace {

using namespace pvtest;
namespace N = pv::net;

// --- the spec, no kernel involved ------------------------------------------

N::NetworkSpec spec_of(const std::string& name, const char* mode, const std::string& subnet,
                       std::vector<std::string> forwards = {}, const std::string& bridge = "") {
  return N::make_spec({name, N::parse_mode(mode), subnet, bridge, std::move(forwards)});
}

std::string spec_error(const std::string& name, const char* mode, const std::string& subnet,
                       std::vector<std::string> forwards = {}, const std::string& bridge = "") {
  try {
    spec_of(name, mode, subnet, std::move(forwards), bridge);
  } catch (const N::NetworkError& e) {
    EXPECT_EQ(e.kind(), N::NetworkError::Kind::kBadSpec);
    return e.what();
  }
  return "(accepted)";
}

TEST(NetworkSpec, DefaultsForASlash24) {
  const auto s = spec_of("lab", "nat", "10.0.5.0/24", {"tcp:8080:10.0.5.10:80"});
  EXPECT_EQ(s.bridge, "pvbr-lab");
  EXPECT_EQ(N::ipv4_to_string(s.host), "10.0.5.1");
  EXPECT_EQ(s.dhcp_range(), "10.0.5.100-10.0.5.200");
  ASSERT_EQ(s.forwards.size(), 1u);
  EXPECT_EQ(s.forwards[0].to_string(), "tcp:8080:10.0.5.10:80");
  // A small subnet gets what fits; long names are cut to IFNAMSIZ-1.
  const auto small = spec_of("a-very-long-network-name", "host-only", "192.168.7.16/28");
  EXPECT_EQ(small.bridge, "pvbr-a-very-lon");
  EXPECT_EQ(small.dhcp_range(), "192.168.7.18-192.168.7.30");
  EXPECT_EQ(spec_of("b", "bridge", "", {}, "br0").bridge, "br0");
}

TEST(DnsmasqLeases, TheAddressOfAMacIsItsNewestIpv4Lease) {
  const std::string leases =
      "1700000000 00:16:3e:0d:00:01 10.0.5.101 guest1 01:00:16:3e:0d:00:01\n"
      "1700000100 00:16:3E:0D:00:02 10.0.5.102 * *\n"
      "garbage\n"
      "1700000200 00:16:3e:0d:00:01 10.0.5.120 guest1 *\n"
      "1700000300 00:16:3e:0d:00:03 fd00::3 * *\n";
  EXPECT_EQ(pv::net::lease_for_mac(leases, "00:16:3e:0d:00:01"), "10.0.5.120");
  EXPECT_EQ(pv::net::lease_for_mac(leases, "00:16:3e:0d:00:02"), "10.0.5.102");  // case
  EXPECT_EQ(pv::net::lease_for_mac(leases, "00:16:3e:0d:00:03"), "");  // IPv6 only
  EXPECT_EQ(pv::net::lease_for_mac(leases, "00:16:3e:0d:00:04"), "");
  EXPECT_EQ(pv::net::lease_for_mac("", "00:16:3e:0d:00:01"), "");
}

TEST(NetworkSpec, RefusalsSayWhatIsWrong) {
  EXPECT_NE(spec_error("bad name", "nat", "10.0.5.0/24").find("invalid network name 'bad name'"), std::string::npos);
  EXPECT_NE(spec_error("-x", "nat", "10.0.5.0/24").find("invalid network name"), std::string::npos);
  EXPECT_NE(spec_error("n", "nat", "10.0.5.1/24").find("did you mean 10.0.5.0/24?"), std::string::npos);
  EXPECT_NE(spec_error("n", "nat", "10.0.5.0").find("needs a prefix length"), std::string::npos);
  EXPECT_NE(spec_error("n", "nat", "10.0.300.0/24").find("is not an IPv4 subnet"), std::string::npos);
  EXPECT_NE(spec_error("n", "nat", "10.0.0.0/31").find("between 8 and 30"), std::string::npos);
  EXPECT_NE(spec_error("n", "nat", "127.0.0.0/8").find("not usable"), std::string::npos);
  EXPECT_NE(spec_error("n", "nat", "").find("nat mode needs a subnet"), std::string::npos);
  EXPECT_NE(spec_error("n", "bridge", "").find("bridge mode needs the name of an existing bridge"), std::string::npos);
  EXPECT_NE(spec_error("n", "bridge", "10.0.5.0/24", {}, "br0").find("takes no subnet"), std::string::npos);
  EXPECT_NE(spec_error("n", "host-only", "10.0.5.0/24", {"tcp:1:10.0.5.9:2"}).find("need nat mode"), std::string::npos);
  EXPECT_NE(spec_error("n", "nat", "10.0.5.0/24", {"sctp:1:10.0.5.9:2"}).find("tcp or udp"), std::string::npos);
  EXPECT_NE(spec_error("n", "nat", "10.0.5.0/24", {"tcp:0:10.0.5.9:2"}).find("1 to 65535"), std::string::npos);
  EXPECT_NE(spec_error("n", "nat", "10.0.5.0/24", {"tcp:80:10.0.6.9:2"}).find("a guest's address in 10.0.5.0/24"),
            std::string::npos);
  EXPECT_NE(spec_error("n", "nat", "10.0.5.0/24", {"tcp:80:10.0.5.1:2"}).find("a guest's address"), std::string::npos);
  EXPECT_NE(spec_error("n", "nat", "10.0.5.0/24", {"tcp:80:10.0.5.9:2", "tcp:80:10.0.5.8:3"}).find("forwarded twice"),
            std::string::npos);
  EXPECT_NE(spec_error("n", "nat", "10.0.5.0/24", {}, "bad/name").find("not a valid interface name"),
            std::string::npos);
  try {
    N::make_spec({"n", std::nullopt, "10.0.5.0/24", "", {}});
    ADD_FAILURE() << "no mode accepted";
  } catch (const N::NetworkError& e) {
    EXPECT_NE(std::string(e.what()).find("a mode is needed"), std::string::npos);
  }
}

TEST(NetworkSpec, NatRulesetHasMasqueradeIsolationAndForwards) {
  const std::string r = N::nft_ruleset(spec_of("lab", "nat", "10.0.5.0/24", {"udp:5353:10.0.5.10:53"}));
  EXPECT_NE(r.find("table inet pvnet-lab {"), std::string::npos) << r;
  EXPECT_NE(r.find("ip saddr 10.0.5.0/24 ip daddr != 10.0.5.0/24 oifname != \"pvbr-lab\" masquerade"), std::string::npos) << r;
  EXPECT_NE(r.find("ct state established,related accept"), std::string::npos) << r;
  EXPECT_NE(r.find("fib daddr type local udp dport 5353 dnat ip to 10.0.5.10:53"), std::string::npos) << r;
  EXPECT_EQ(N::nft_ruleset(spec_of("b", "bridge", "", {}, "br0")), "");
}

// --- pvd and pvctl -----------------------------------------------------------

using Networks = NetworkFixture;

TEST_F(Networks, HostOnlyLetsHostAndGuestsTalkAndNothingElse) {
  Result c = pvctl({"network", "create", "iso", "--mode", "host-only", "--subnet", "10.0.6.0/24"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.out.find("created network iso (host-only, bridge pvbr-iso, 10.0.6.0/24)"), std::string::npos) << c.out;

  // What the kernel holds: the bridge, up, with the host address; the table.
  EXPECT_TRUE(std::regex_search(links(host_), std::regex(": pvbr-iso: <[^>]*UP"))) << links(host_);
  EXPECT_NE(addrs(host_).find("pvbr-iso    inet 10.0.6.1/24"), std::string::npos) << addrs(host_);
  const std::string rules = ruleset(host_);
  EXPECT_NE(rules.find("table inet pvnet-iso"), std::string::npos) << rules;
  EXPECT_NE(rules.find("iifname \"pvbr-iso\" drop"), std::string::npos) << rules;
  EXPECT_NE(rules.find("oifname \"pvbr-iso\" drop"), std::string::npos) << rules;
  EXPECT_EQ(rules.find("masquerade"), std::string::npos) << rules;
  const pid_t dns = dnsmasq_pid("iso");
  EXPECT_TRUE(process_alive(dns));

  Result l = pvctl({"network", "list"});
  EXPECT_TRUE(std::regex_search(l.out, std::regex("\niso +host-only +pvbr-iso +10\\.0\\.6\\.0/24 +10\\.0\\.6\\.100-10\\.0\\.6\\.200 +[0-9]+")))
      << l.out;

  // A guest on the bridge, and an outside network the host routes to.
  const std::string guest = add_netns("guest"), outside = add_netns("out");
  veth("g", guest, "10.0.6.10/24", "10.0.6.1");
  ip(host_, {"link", "set", "g-h", "master", "pvbr-iso"});
  veth("o", outside, "192.0.2.2/24");
  ip(host_, {"addr", "add", "192.0.2.1/24", "dev", "o-h"});
  ip(outside, {"route", "add", "10.0.6.0/24", "via", "192.0.2.1"});
  // Even with the host routing, the table keeps the network isolated.
  in_netns(host_, [] { return std::ofstream("/proc/sys/net/ipv4/ip_forward") << "1\n" ? 1 : 0; });

  EXPECT_TRUE(eventually([&] { return ping(host_, "10.0.6.10"); }, 5s)) << "the host cannot reach the guest";
  EXPECT_TRUE(ping(guest, "10.0.6.1"));
  EXPECT_TRUE(ping(host_, "192.0.2.2"));  // the outside is there ...
  EXPECT_FALSE(ping(guest, "192.0.2.2"));  // ... but not for the guest
  EXPECT_FALSE(ping(outside, "10.0.6.10"));

  // DHCP from pvd's dnsmasq.
  const std::string dhcp_ns = add_netns("dhcp");
  veth("d", dhcp_ns, "");
  ip(host_, {"link", "set", "d-h", "master", "pvbr-iso"});
  const std::string lease = dhcp_lease(dhcp_ns, "d-p");
  if (lease != "skip") {
    EXPECT_TRUE(std::regex_match(lease, std::regex("10\\.0\\.6\\.(1[0-9][0-9]|200)"))) << lease;
  }

  ip(host_, {"link", "del", "g-h"});
  ip(host_, {"link", "del", "d-h"});
  Result d = pvctl({"network", "destroy", "iso"});
  EXPECT_EQ(d.exit_code, 0) << d.err;
  expect_gone("iso", "pvbr-iso");
  EXPECT_FALSE(process_alive(dns));
}

TEST_F(Networks, NatReachesOutThroughTheHostAndKeepsTheOutsideOut) {
  Result c = pvctl({"network", "create", "lab", "--mode", "nat", "--subnet", "10.0.5.0/24"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  const std::string rules = ruleset(host_);
  EXPECT_NE(rules.find("table inet pvnet-lab"), std::string::npos) << rules;
  EXPECT_NE(rules.find("ip saddr 10.0.5.0/24 ip daddr != 10.0.5.0/24 oifname != \"pvbr-lab\" masquerade"),
            std::string::npos)
      << rules;
  EXPECT_NE(read_text(state_ + "/networks/lab.dnsmasq.conf").find("interface=pvbr-lab"), std::string::npos);
  EXPECT_EQ(exec_in(host_, {"cat", "/proc/sys/net/ipv4/ip_forward"}).out, "1\n");

  const std::string guest = add_netns("guest"), outside = add_netns("out");
  veth("g", guest, "10.0.5.10/24", "10.0.5.1");
  ip(host_, {"link", "set", "g-h", "master", "pvbr-lab"});
  veth("o", outside, "192.0.2.2/24");
  ip(host_, {"addr", "add", "192.0.2.1/24", "dev", "o-h"});
  // The outside even knows the way in: only the rules keep it out.
  ip(outside, {"route", "add", "10.0.5.0/24", "via", "192.0.2.1"});

  EXPECT_TRUE(eventually([&] { return ping(guest, "192.0.2.2"); }, 5s)) << "the guest cannot reach the outside";

  // The outside sees the host's address, and replies find their way back.
  Fd server(socket_in(outside, SOCK_DGRAM, "192.0.2.2", 7777));
  Fd client(socket_in(guest, SOCK_DGRAM, "10.0.5.10", 0));
  ASSERT_TRUE(server && client);
  sockaddr_in to = inet("192.0.2.2", 7777), from{};
  ASSERT_EQ(::sendto(client.get(), "hello", 5, 0, reinterpret_cast<sockaddr*>(&to), sizeof to), 5);
  ASSERT_TRUE(readable(server.get(), 2s));
  char buf[16] = {};
  socklen_t len = sizeof from;
  ASSERT_EQ(::recvfrom(server.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len), 5);
  EXPECT_EQ(ip_of(from), "192.0.2.1");
  ASSERT_EQ(::sendto(server.get(), "back", 4, 0, reinterpret_cast<sockaddr*>(&from), len), 4);
  ASSERT_TRUE(readable(client.get(), 2s));
  EXPECT_EQ(::recv(client.get(), buf, sizeof buf, 0), 4);

  // Nothing new gets in.
  Fd listener(socket_in(guest, SOCK_STREAM, "10.0.5.10", 22));
  ASSERT_TRUE(listener);
  EXPECT_FALSE(ping(outside, "10.0.5.10"));
  EXPECT_FALSE(tcp_connect_from(outside, "10.0.5.10", 22, 1s));

  // A second guest gets its address from pvd's dnsmasq.
  const std::string dhcp_ns = add_netns("dhcp");
  veth("d", dhcp_ns, "");
  ip(host_, {"link", "set", "d-h", "master", "pvbr-lab"});
  const std::string lease = dhcp_lease(dhcp_ns, "d-p");
  if (lease == "skip") {
    std::cerr << "busybox udhcpc missing: DHCP not checked\n";
  } else {
    EXPECT_TRUE(std::regex_match(lease, std::regex("10\\.0\\.5\\.(1[0-9][0-9]|200)"))) << "lease: '" << lease << "'";
  }

  // In use: destroy refuses, and works once the ports are gone.
  Result busy = pvctl({"network", "destroy", "lab"});
  EXPECT_EQ(busy.exit_code, 1);
  EXPECT_NE(busy.err.find("network 'lab' is in use"), std::string::npos) << busy.err;
  EXPECT_NE(busy.err.find("g-h"), std::string::npos) << busy.err;
  ip(host_, {"link", "del", "g-h"});
  ip(host_, {"link", "del", "d-h"});
  Result d = pvctl({"network", "destroy", "lab"});
  EXPECT_EQ(d.exit_code, 0) << d.err;
  expect_gone("lab", "pvbr-lab");
}

TEST_F(Networks, PortForwardsOpenHostPortsToAGuest) {
  Result c = pvctl({"network", "create", "web", "--mode", "nat", "--subnet", "10.0.7.0/24", "--forward",
                    "tcp:8080:10.0.7.10:80", "--forward", "udp:5001:10.0.7.10:5000"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(pvctl({"network", "list"}).out.find("tcp:8080:10.0.7.10:80,udp:5001:10.0.7.10:5000"), std::string::npos);
  EXPECT_NE(ruleset(host_).find("dnat ip to 10.0.7.10:80"), std::string::npos) << ruleset(host_);

  const std::string guest = add_netns("guest"), outside = add_netns("out");
  veth("g", guest, "10.0.7.10/24", "10.0.7.1");
  ip(host_, {"link", "set", "g-h", "master", "pvbr-web"});
  veth("o", outside, "192.0.2.2/24");
  ip(host_, {"addr", "add", "192.0.2.1/24", "dev", "o-h"});
  EXPECT_TRUE(eventually([&] { return ping(host_, "10.0.7.10"); }, 5s));

  Fd web(socket_in(guest, SOCK_STREAM, "10.0.7.10", 80));
  ASSERT_TRUE(web);
  Fd conn = tcp_connect_from(outside, "192.0.2.1", 8080);
  ASSERT_TRUE(conn) << "tcp 192.0.2.1:8080 is not forwarded";
  ASSERT_TRUE(readable(web.get(), 2s));
  sockaddr_in peer{};
  socklen_t len = sizeof peer;
  Fd accepted(::accept4(web.get(), reinterpret_cast<sockaddr*>(&peer), &len, SOCK_CLOEXEC));
  ASSERT_TRUE(accepted);
  EXPECT_EQ(ip_of(peer), "192.0.2.2");
  ASSERT_EQ(::send(accepted.get(), "GET", 3, MSG_NOSIGNAL), 3);
  ASSERT_TRUE(readable(conn.get(), 2s));
  char buf[8] = {};
  EXPECT_EQ(::recv(conn.get(), buf, sizeof buf, 0), 3);
  // Ports that are not forwarded stay closed.
  EXPECT_FALSE(tcp_connect_from(outside, "192.0.2.1", 8081, 1s));

  Fd dgram(socket_in(guest, SOCK_DGRAM, "10.0.7.10", 5000));
  Fd sender(socket_in(outside, SOCK_DGRAM, "192.0.2.2", 0));
  sockaddr_in to = inet("192.0.2.1", 5001);
  ASSERT_EQ(::sendto(sender.get(), "ping", 4, 0, reinterpret_cast<sockaddr*>(&to), sizeof to), 4);
  ASSERT_TRUE(readable(dgram.get(), 2s)) << "udp 192.0.2.1:5001 is not forwarded";

  ip(host_, {"link", "del", "g-h"});
  EXPECT_EQ(pvctl({"network", "destroy", "web"}).exit_code, 0);
  expect_gone("web", "pvbr-web");
}

TEST_F(Networks, BridgeModeRecordsAnExistingBridgeAndLeavesIt) {
  ip(host_, {"link", "add", "br-ext", "type", "bridge"});
  Result c = pvctl({"network", "create", "ext", "--mode", "bridge", "--bridge", "br-ext"});
  ASSERT_EQ(c.exit_code, 0) << c.err;
  EXPECT_NE(c.out.find("created network ext (bridge, bridge br-ext)"), std::string::npos) << c.out;
  EXPECT_TRUE(std::regex_search(pvctl({"network", "list"}).out, std::regex("\next +bridge +br-ext +- +- +-")));
  EXPECT_EQ(ruleset(host_).find("pvnet-ext"), std::string::npos);
  EXPECT_EQ(dnsmasq_pid("ext"), 0);
  // A port attached (as a vif would be) does not keep it from going: the
  // bridge is not pvd's.
  const std::string guest = add_netns("guest");
  veth("g", guest, "");
  ip(host_, {"link", "set", "g-h", "master", "br-ext"});
  EXPECT_EQ(pvctl({"network", "destroy", "ext"}).exit_code, 0);
  EXPECT_NE(links(host_).find(" br-ext:"), std::string::npos) << "pvd removed a bridge it did not create";
  EXPECT_NE(links(host_).find("master br-ext"), std::string::npos);
  EXPECT_FALSE(fs::exists(state_ + "/networks/ext.rec"));
}

TEST_F(Networks, BadRequestsCreateNothing) {
  ASSERT_EQ(pvctl({"network", "create", "dup", "--mode", "host-only", "--subnet", "10.0.8.0/24"}).exit_code, 0);
  ip(host_, {"link", "add", "used0", "type", "veth", "peer", "name", "used1"});
  ip(host_, {"addr", "add", "10.9.0.1/16", "dev", "used0"});
  ip(host_, {"tuntap", "add", "dev", "notabridge", "mode", "tap"});
  const std::string before_links = links(host_), before_rules = ruleset(host_);
  struct Case {
    std::vector<std::string> args;
    int exit;
    std::string message;
  } cases[] = {
      {{"bad!name", "--mode", "nat", "--subnet", "10.0.5.0/24"}, 1, "invalid network name 'bad!name'"},
      {{"dup", "--mode", "nat", "--subnet", "10.0.5.0/24"}, 1, "network 'dup' already exists"},
      {{"n1", "--mode", "nat", "--subnet", "10.0.5.7/24"}, 1, "did you mean 10.0.5.0/24?"},
      {{"n1", "--mode", "nat", "--subnet", "banana"}, 1, "needs a prefix length"},
      {{"n1", "--mode", "nat", "--subnet", "10.0.8.128/25"}, 1, "overlaps network 'dup' (10.0.8.0/24)"},
      {{"n1", "--mode", "nat", "--subnet", "10.9.5.0/24"}, 1, "overlaps 10.9.0.1/16 on used0"},
      {{"n1", "--mode", "nat", "--subnet", "10.0.5.0/24", "--bridge", "pvbr-dup"}, 1, "already belongs to network 'dup'"},
      {{"n1", "--mode", "nat", "--subnet", "10.0.5.0/24", "--bridge", "used1"}, 1, "used1 already exists"},
      {{"n1", "--mode", "nat", "--subnet", "10.0.5.0/24", "--forward", "tcp:80:10.0.99.1:80"}, 1, "a guest's address"},
      {{"n1", "--mode", "nat", "--subnet", "10.0.5.0/24", "--forward", "tcp:80"}, 1, "proto:host-port:guest-ip:guest-port"},
      {{"n1", "--mode", "wormhole"}, 2, "unknown mode 'wormhole' (host-only, nat or bridge)"},
      {{"n1", "--subnet", "10.0.5.0/24"}, 2, "needs --mode"},
      {{"n1", "--mode", "bridge"}, 1, "bridge mode needs the name of an existing bridge"},
      {{"n1", "--mode", "bridge", "--bridge", "nosuchbr"}, 1, "there is no bridge named nosuchbr"},
      {{"n1", "--mode", "bridge", "--bridge", "notabridge"}, 1, "notabridge is a tun link, not a bridge"},
      {{"n1", "--mode", "host-only"}, 1, "host-only mode needs a subnet"},
  };
  for (const auto& k : cases) {
    std::vector<std::string> args{"network", "create"};
    args.insert(args.end(), k.args.begin(), k.args.end());
    Result r = pvctl(args);
    EXPECT_EQ(r.exit_code, k.exit) << k.message;
    EXPECT_NE(r.err.find(k.message), std::string::npos) << "expected '" << k.message << "' in: " << r.err;
  }
  EXPECT_EQ(links(host_), before_links);
  EXPECT_EQ(ruleset(host_), before_rules);
  EXPECT_FALSE(fs::exists(state_ + "/networks/n1.rec"));
  Result unknown = pvctl({"network", "destroy", "nosuch"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("no network named 'nosuch'"), std::string::npos) << unknown.err;
  EXPECT_EQ(pvctl({"network", "frobnicate"}).exit_code, 2);
  EXPECT_EQ(pvctl({"network", "destroy", "dup"}).exit_code, 0);
}

TEST_F(Networks, AFailureHalfWayIsUndone) {
  // Port 53 taken on every address of pvd's namespace: dnsmasq cannot start.
  Fd dns(socket_in(host_, SOCK_DGRAM, "0.0.0.0", 53));
  ASSERT_TRUE(dns);
  const std::string before_links = links(host_);
  Result c = pvctl({"network", "create", "half", "--mode", "nat", "--subnet", "10.0.9.0/24"});
  EXPECT_EQ(c.exit_code, 1);
  EXPECT_NE(c.err.find("network 'half': dnsmasq exited at once"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("Address already in use"), std::string::npos) << c.err;
  EXPECT_EQ(links(host_), before_links);
  EXPECT_EQ(ruleset(host_).find("pvnet-half"), std::string::npos);
  EXPECT_FALSE(fs::exists(state_ + "/networks/half.rec"));
  EXPECT_FALSE(fs::exists(state_ + "/networks/half.dnsmasq.conf"));
  EXPECT_FALSE(fs::exists(state_ + "/networks/half.hosts"));
  EXPECT_EQ(pvctl({"network", "list", "--json"}).out, "[]\n");
}

TEST_F(Networks, NetworksOutliveAPvdRestart) {
  ASSERT_EQ(pvctl({"network", "create", "keep", "--mode", "nat", "--subnet", "10.0.10.0/24"}).exit_code, 0);
  ASSERT_EQ(pvctl({"network", "create", "iso", "--mode", "host-only", "--subnet", "10.0.11.0/24"}).exit_code, 0);
  const pid_t keep_dns = dnsmasq_pid("keep"), iso_dns = dnsmasq_pid("iso");
  ASSERT_TRUE(process_alive(keep_dns) && process_alive(iso_dns));

  pvd_.reset();  // SIGKILL: the networks stay as they are
  EXPECT_TRUE(process_alive(keep_dns));
  // While pvd is away one dnsmasq dies and a bridge goes.
  ::kill(iso_dns, SIGKILL);
  ip(host_, {"link", "del", "pvbr-iso"});
  start_pvd();

  EXPECT_EQ(dnsmasq_pid("keep"), keep_dns) << "the running dnsmasq was not adopted";
  const pid_t iso_again = dnsmasq_pid("iso");
  EXPECT_NE(iso_again, 0);
  EXPECT_NE(iso_again, iso_dns);
  EXPECT_TRUE(process_alive(iso_again));
  EXPECT_NE(addrs(host_).find("pvbr-iso    inet 10.0.11.1/24"), std::string::npos) << addrs(host_);
  EXPECT_NE(ruleset(host_).find("pvnet-iso"), std::string::npos);
  const std::string list = pvctl({"network", "list"}).out;
  EXPECT_NE(list.find("\nkeep "), std::string::npos) << list;
  EXPECT_NE(list.find("\niso "), std::string::npos) << list;

  // A gracefully stopped pvd leaves them too.
  pvd_->signal(SIGTERM);
  pvd_->wait(5s);
  EXPECT_TRUE(process_alive(keep_dns));
  start_pvd();
  EXPECT_EQ(dnsmasq_pid("keep"), keep_dns);

  EXPECT_EQ(pvctl({"network", "destroy", "keep"}).exit_code, 0);
  EXPECT_EQ(pvctl({"network", "destroy", "iso"}).exit_code, 0);
  expect_gone("keep", "pvbr-keep");
  expect_gone("iso", "pvbr-iso");
  EXPECT_FALSE(process_alive(keep_dns));
}

TEST_F(Networks, ADeadDnsmasqIsRestarted) {
  ASSERT_EQ(pvctl({"network", "create", "sup", "--mode", "host-only", "--subnet", "10.0.12.0/24"}).exit_code, 0);
  const pid_t first = dnsmasq_pid("sup");
  ASSERT_TRUE(process_alive(first));
  ::kill(first, SIGKILL);
  pid_t second = 0;
  EXPECT_TRUE(eventually([&] {
    second = dnsmasq_pid("sup");
    return second != 0 && second != first && process_alive(second);
  }, 10s));
  EXPECT_EQ(pvctl({"network", "destroy", "sup"}).exit_code, 0);
  EXPECT_FALSE(process_alive(second));
}

// --- what the vif code uses -----------------------------------------------

// NetworkManager in this process, on a thread inside its own namespace.
TEST_F(Networks, VifBridgeResolutionStaticLeasesAndJoiningABridge) {
  const std::string lib = add_netns("lib"), guest = add_netns("guest");
  const std::string mac = "00:16:3e:00:00:42";
  ip(lib, {"link", "add", "br-ext", "type", "bridge"});
  ip(lib, {"link", "add", "vif1-h", "type", "veth", "peer", "name", "vif1-p", "netns", guest});
  ip(guest, {"link", "set", "vif1-p", "address", mac, "up"});
  ip(lib, {"tuntap", "add", "dev", "tap0", "mode", "tap"});
  in_netns(lib, [&] {
    boost::asio::io_context io;
    N::NetworkManager nets(io, dir_ + "/libstate");
    nets.create({"ext", N::Mode::kBridge, "", "br-ext", {}});
    nets.create({"def", N::Mode::kNat, "10.0.13.0/24", "", {}});
    EXPECT_EQ(nets.bridge_for("ext"), "br-ext");
    EXPECT_EQ(nets.bridge_for("def"), "pvbr-def");
    EXPECT_EQ(nets.bridge_for("br-ext"), "br-ext");  // a bridge by its own name
    EXPECT_THROW(nets.bridge_for(""), N::NetworkError);  // no network "default"
    try {
      nets.bridge_for("nosuch");
      ADD_FAILURE() << "nosuch resolved";
    } catch (const N::NetworkError& e) {
      EXPECT_NE(std::string(e.what()).find("neither a pvd network nor an existing bridge"), std::string::npos);
    }
    EXPECT_THROW(nets.bridge_for("tap0"), N::NetworkError);  // not a bridge

    // A vif joins the bridge its bridge= names.
    N::Netlink nl;
    nl.set_master("tap0", nets.bridge_for("ext"));
    nl.set_master("vif1-h", nets.bridge_for("def"));
    nl.set_up("vif1-h", true);
    EXPECT_EQ(nl.find_link("tap0")->master, nl.ifindex("br-ext"));

    // ip= becomes a fixed address from the network's dnsmasq.
    nets.add_static_lease("def", mac, "10.0.13.42");
    EXPECT_NE(read_text(dir_ + "/libstate/networks/def.hosts").find(mac + ",10.0.13.42"), std::string::npos);
    EXPECT_THROW(nets.add_static_lease("def", "00:16:3e:00:00:43", "10.0.13.42"), N::NetworkError);  // taken
    EXPECT_THROW(nets.add_static_lease("def", mac, "10.0.14.2"), N::NetworkError);  // not in the subnet
    EXPECT_THROW(nets.add_static_lease("ext", mac, "10.0.13.43"), N::NetworkError);  // no DHCP in bridge mode
    const std::string lease = dhcp_lease(guest, "vif1-p");
    if (lease != "skip") {
      EXPECT_EQ(lease, "10.0.13.42");
    }
    nets.remove_static_lease("pvbr-def", mac);  // by bridge name too
    EXPECT_EQ(read_text(dir_ + "/libstate/networks/def.hosts"), "");

    nl.set_master("vif1-h", "");
    nets.destroy("def");
    nets.destroy("ext");
    EXPECT_FALSE(nl.link_exists("pvbr-def"));
    EXPECT_TRUE(nl.link_exists("br-ext"));
    try {
      nl.create_bridge("br-ext");
      ADD_FAILURE() << "a second br-ext";
    } catch (const pv::SystemError& e) {  // rtnetlink's own error (pv/netlink.h)
      EXPECT_NE(std::string(e.what()).find("cannot create bridge br-ext: File exists"), std::string::npos) << e.what();
    }
    return 0;
  });
}

}  // namespace
