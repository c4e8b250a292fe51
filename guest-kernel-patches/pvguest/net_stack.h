// pvguest: a small IPv4 stack over netfront: Ethernet, ARP (answers for our
// address, resolves peers with a small cache and retries), IPv4 (header
// checksum, no fragments: they are dropped, no options sent), ICMP echo
// (answers, and pings with RTT), UDP (echo service, sink, per-port
// handlers), DHCP client and static configuration.
//
// Replies (ARP, ICMP echo, UDP echo) are built in place in the received
// page and sent back: no payload copy. Checksums are verified unless the
// back-end says the data was validated (NETRXF_data_validated) or left
// blank (NETRXF_csum_blank, checksum to be completed: never verified).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "net_util.h"

namespace net {

inline constexpr uint16_t kEthHdr = 14;
inline constexpr uint16_t kIpHdr = 20;
inline constexpr uint16_t kUdpHdr = 8;
inline constexpr uint16_t kIcmpHdr = 8;
inline constexpr uint16_t kMtu = 1500;
inline constexpr uint16_t kMaxUdpPayload = kMtu - kIpHdr - kUdpHdr;  // 1472
inline constexpr uint16_t ETH_P_IP = 0x0800;
inline constexpr uint16_t ETH_P_ARP = 0x0806;
inline constexpr uint8_t IPPROTO_ICMP = 1;
inline constexpr uint8_t IPPROTO_UDP = 17;
inline constexpr uint16_t kEchoPort = 7;     // UDP echo service
inline constexpr uint16_t kDiscardPort = 9;  // UDP sink (counts, prints UDPSINK)

struct [[gnu::packed]] EthHdr {
  uint8_t dst[6], src[6];
  uint16_t type;
};
struct [[gnu::packed]] ArpPkt {
  uint16_t htype, ptype;
  uint8_t hlen, plen;
  uint16_t op;
  uint8_t sha[6];
  uint32_t spa;
  uint8_t tha[6];
  uint32_t tpa;
};
struct [[gnu::packed]] IpHdr {
  uint8_t vihl, tos;
  uint16_t len, id, frag;
  uint8_t ttl, proto;
  uint16_t check;
  uint32_t src, dst;
};
struct [[gnu::packed]] UdpHdr {
  uint16_t sport, dport, len, check;
};
struct [[gnu::packed]] IcmpHdr {
  uint8_t type, code;
  uint16_t check, id, seq;
};
static_assert(sizeof(EthHdr) == 14 && sizeof(ArpPkt) == 28 && sizeof(IpHdr) == 20);
static_assert(sizeof(UdpHdr) == 8 && sizeof(IcmpHdr) == 8);

// Addresses are kept in network order (as on the wire).
struct Config {
  bool up;
  bool dhcp;
  uint32_t ip, mask, gw, dns, server;
  uint32_t lease_s;
  uint64_t renew_at_ns;  // dhcp: when to renew (0 = never)
};
extern Config cfg;
extern uint8_t our_mac[6];

struct Counters {
  uint64_t rx_frames, rx_not_for_us, rx_bad, rx_frag, rx_bad_csum, rx_unknown;
  uint64_t arp_requests_answered, arp_replies_seen;
  uint64_t icmp_echo_answered, icmp_echo_replies;
  uint64_t udp_echo_answered, udp_no_port;
  uint64_t sink_packets, sink_bytes, sink_first_ns, sink_last_ns;
  uint64_t tx_no_buffer;
};
extern Counters counters;

// Installs the rx handler on netfront; call after netfront::start().
void init();
// Prints `NET up mac=.. ip=a.b.c.d/len gw=.. dns=.. via=static|dhcp`.
void announce();
// Static: sets the config (ip/mask/gw in network order).
void configure_static(uint32_t ip, uint32_t mask, uint32_t gw);
unsigned prefix_len(uint32_t mask_n);

// The next hop for dst (dst itself on the subnet or broadcast, else the
// gateway); 0 if none.
uint32_t next_hop(uint32_t dst);
// Resolves an IPv4 address to a MAC: cache, else ARP requests every
// second until the deadline (serving the rings meanwhile).
bool resolve(uint32_t ip, uint8_t* mac, uint64_t timeout_ns);
bool arp_lookup(uint32_t ip, uint8_t* mac);
void send_arp_request(uint32_t target_ip);
void send_gratuitous_arp();

// Fills Ethernet + IPv4 headers in a page (frame at offset 0) and returns
// the L4 header pointer. The IPv4 header checksum is filled in.
uint8_t* build_ip(uint8_t* page, const uint8_t* dst_mac, uint32_t src, uint32_t dst, uint8_t proto,
                  uint16_t l4_len);
// Builds and sends a UDP datagram (copies data); resolves the next hop.
// `csum` false sends checksum 0 (allowed for UDP over IPv4).
bool udp_send(uint32_t dst, uint16_t sport, uint16_t dport, const void* data, uint16_t len, bool csum = true,
              uint64_t resolve_timeout_ns = 3000000000ull);
bool udp_send_mac(const uint8_t* dst_mac, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                  const void* data, uint16_t len, bool csum);

// UDP port handlers: called with the payload; return true if they kept
// the page. `page` may be nullptr (a bounce-buffered frame).
struct UdpPacket {
  uint8_t* page;
  uint8_t* frame;
  uint16_t frame_len;
  uint16_t rx_flags;
  const IpHdr* ip;
  const UdpHdr* udp;
  const uint8_t* data;
  uint16_t len;
};
using UdpFn = bool (*)(const UdpPacket& p);
bool udp_bind(uint16_t port, UdpFn fn);
void udp_unbind(uint16_t port);

// ICMP echo: sends one request (payload `size` bytes, pattern + send time).
bool ping_send(uint32_t dst, const uint8_t* dst_mac, uint16_t id, uint16_t seq, uint16_t size);
// Latest echo reply seen for id: set when one arrives.
struct PingReply {
  bool got;
  uint16_t seq;
  uint8_t ttl;
  uint16_t bytes;
  uint32_t from;
  uint64_t at_ns;
};
extern PingReply ping_reply;
extern uint16_t ping_id;  // the id replies are matched against

// DHCP client (net_dhcp.cpp): DISCOVER/OFFER/REQUEST/ACK. Blocks until
// configured or the deadline; prints failures. Renewal: dhcp_tick().
bool dhcp_configure(uint64_t timeout_ns);
void dhcp_tick(uint64_t now_ns);

// Modes (net_modes.cpp, net_hostile.cpp).
bool parse_option(const char* key, size_t klen, const char* val, size_t vlen);
void run_modes();  // netserve never returns
void run_hostile(uint32_t ping_target);
bool ping_once(uint32_t dst, uint16_t seq, uint16_t size, uint64_t timeout_ns, uint64_t& rtt_ns, bool quiet);

}  // namespace net
