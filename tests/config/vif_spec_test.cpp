#include "config/vif_spec.h"

#include <gtest/gtest.h>

using namespace pv::config;

namespace {

VifSpec good(std::string_view spec) {
  auto r = parse_vif_spec(spec);
  EXPECT_TRUE(r.vif) << spec << ": " << r.error;
  return r.vif.value_or(VifSpec{});
}

std::string bad(std::string_view spec) {
  auto r = parse_vif_spec(spec);
  EXPECT_FALSE(r.vif) << spec;
  return r.error;
}

}  // namespace

TEST(VifSpec, XlDocExamples) {
  VifSpec v = good("mac=00:16:3E:74:3d:76,model=rtl8139,bridge=xenbr0");
  EXPECT_EQ(to_string(*v.mac), "00:16:3e:74:3d:76");
  EXPECT_EQ(v.model, "rtl8139");
  EXPECT_EQ(v.bridge, "xenbr0");
  EXPECT_EQ(good("mac=00:16:3E:74:34:32").bridge, "");
  VifSpec empty = good("");  // "The empty string": all defaults
  EXPECT_FALSE(empty.mac);
  EXPECT_EQ(empty, VifSpec{});
}

TEST(VifSpec, AllKeys) {
  VifSpec v = good(" mac=02:00:00:00:00:01, bridge=br0, ip=10.0.0.2, model=e1000, script=vif-nat, "
                   "vifname=web0, rate=10Mb/s@20ms, backend=drv, type=vif, gatewaydev=eth0, mtu=9000, devid=3, "
                   "vlan=10, untrusted");
  EXPECT_EQ(v.script, "vif-nat");
  EXPECT_EQ(v.vifname, "web0");
  EXPECT_EQ(v.backend, "drv");
  EXPECT_EQ(v.type, "vif");
  EXPECT_EQ(v.gatewaydev, "eth0");
  EXPECT_EQ(v.mtu, 9000u);
  EXPECT_EQ(v.devid, 3u);
  EXPECT_EQ(v.vlan, "10");
  EXPECT_FALSE(v.trusted);
  ASSERT_TRUE(v.rate_limit);
  EXPECT_EQ(v.rate_limit->interval_usecs, 20000u);
  EXPECT_EQ(v.rate_limit->bytes_per_interval, 25000u);  // 10 Mbit/s = 1.25 MB/s, * 20 ms
}

TEST(VifSpec, MultipleIps) {
  VifSpec v = good("ip=10.0.0.2 10.0.0.3  fd00::5 192.168.1.0/24");
  EXPECT_EQ(v.ips, (std::vector<std::string>{"10.0.0.2", "10.0.0.3", "fd00::5", "192.168.1.0/24"}));
  EXPECT_NE(bad("ip=10.0.0.256").find("invalid ip '10.0.0.256'"), std::string::npos);
  EXPECT_NE(bad("ip=10.0.0.1 nothost").find("invalid ip 'nothost'"), std::string::npos);
  EXPECT_NE(bad("ip=10.0.0.0/33").find("invalid ip"), std::string::npos);
  EXPECT_NE(bad("ip=").find("at least one"), std::string::npos);
}

TEST(VifSpec, MacValidation) {
  EXPECT_TRUE(parse_mac("00:16:3e:00:00:00"));
  EXPECT_TRUE(parse_mac("AA:BB:CC:DD:EE:FF"));
  EXPECT_FALSE(parse_mac("00:16:3e:00:00"));
  EXPECT_FALSE(parse_mac("00:16:3e:00:00:00:00"));
  EXPECT_FALSE(parse_mac("0:16:3e:00:00:00:0"));
  EXPECT_FALSE(parse_mac("00-16-3e-00-00-00"));
  EXPECT_FALSE(parse_mac("00:16:3g:00:00:00"));
  EXPECT_NE(bad("mac=01:00:5e:00:00:01").find("multicast"), std::string::npos);
  EXPECT_NE(bad("mac=00:00:00:00:00:00").find("all-zero"), std::string::npos);
  EXPECT_NE(bad("mac=00:16:3e").find("invalid mac"), std::string::npos);
  EXPECT_EQ(kXenOui[2], 0x3e);
}

TEST(VifSpec, Rates) {
  auto r = parse_vif_rate("250KB/s");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->interval_usecs, 50000u);  // xl default 50 ms
  EXPECT_EQ(r->bytes_per_interval, 12500u);
  r = parse_vif_rate("1MB/s@20ms");  // the xl doc: 20,000 bytes every 20,000 us
  ASSERT_TRUE(r);
  EXPECT_EQ(r->bytes_per_interval, 20000u);
  EXPECT_EQ(r->interval_usecs, 20000u);
  EXPECT_EQ(parse_vif_rate("1MB/s@1")->interval_usecs, 1000000u);  // bare number = seconds
  EXPECT_EQ(parse_vif_rate("1MB/s@500us")->interval_usecs, 500u);
  EXPECT_FALSE(parse_vif_rate("fast"));
  EXPECT_FALSE(parse_vif_rate("10Mb"));
  EXPECT_FALSE(parse_vif_rate("0MB/s"));
  EXPECT_FALSE(parse_vif_rate("1MB/s@"));
  EXPECT_FALSE(parse_vif_rate("1MB/s@0ms"));
  EXPECT_FALSE(parse_vif_rate("1MB/s@10h"));
  EXPECT_FALSE(parse_vif_rate("99999999999B/s"));
  EXPECT_NE(bad("rate=fast").find("invalid rate"), std::string::npos);
}

TEST(VifSpec, Errors) {
  EXPECT_NE(bad("bridge=br0,colour=blue").find("unrecognized argument 'colour'"), std::string::npos);
  EXPECT_NE(bad("bridge").find("unrecognized argument 'bridge'"), std::string::npos);
  EXPECT_NE(bad("type=virtio").find("invalid type"), std::string::npos);
  EXPECT_NE(bad("mtu=20").find("invalid mtu"), std::string::npos);
  EXPECT_NE(bad("devid=-1").find("invalid devid"), std::string::npos);
  EXPECT_NE(bad("colo_sock_mirror_id=1").find("not supported"), std::string::npos);
}

TEST(VifSpec, DeprecatedAndIgnored) {
  auto r = parse_vif_spec("netdev=eth1");
  ASSERT_TRUE(r.vif);
  EXPECT_EQ(r.vif->gatewaydev, "eth1");
  EXPECT_EQ(r.warnings.size(), 1u);
  EXPECT_EQ(parse_vif_spec("bridge=a,,").vif->bridge, "a");  // empty items vanish, as xl's strtok
}

TEST(VifSpec, ToSpecRoundTrips) {
  for (const char* s : {"", "mac=00:16:3e:01:02:03", "bridge=br0, ip=10.0.0.1 fd00::1, rate=1MB/s@20ms, untrusted",
                        "vifname=v, model=m, script=s, backend=b, type=ioemu, gatewaydev=g, mtu=1400, devid=2, vlan=1p"}) {
    VifSpec v = good(s);
    auto again = parse_vif_spec(to_spec(v));
    ASSERT_TRUE(again.vif) << to_spec(v);
    EXPECT_EQ(*again.vif, v) << to_spec(v);
  }
}
