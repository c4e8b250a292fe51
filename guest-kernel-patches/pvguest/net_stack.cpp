// pvguest: Ethernet, ARP, IPv4, ICMP and UDP over netfront.
//
// Per-frame work is kept to header fields: a reply is the received page
// with addresses swapped and the checksums updated, sent back as it is.
#include "net_stack.h"

#include "console.h"
#include "netfront.h"
#include "pvtime.h"

namespace net {

Config cfg;
uint8_t our_mac[6];
Counters counters;
PingReply ping_reply;
uint16_t ping_id = 0x7067;

namespace {
namespace nif = xen::netif;

constexpr uint8_t kBroadcastMac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
constexpr uint64_t kArpRetryNs = 1000000000ull;
constexpr uint16_t kRxCsumTrusted = nif::NETRXF_data_validated | nif::NETRXF_csum_blank;

struct ArpEntry {
  uint32_t ip;
  uint8_t mac[6];
  bool valid;
};
constexpr unsigned kArpEntries = 16;
ArpEntry arp_cache[kArpEntries];
unsigned arp_victim = 0;

struct Bind {
  uint16_t port;  // network order; 0 = free
  UdpFn fn;
};
constexpr unsigned kBinds = 8;
Bind binds[kBinds];
uint16_t next_ip_id = 1;

alignas(8) uint8_t ping_pattern[kMaxUdpPayload];
bool pattern_ready = false;

inline bool mac_eq(const uint8_t* a, const uint8_t* b) { return ld32(a) == ld32(b) && ld16(a + 4) == ld16(b + 4); }
inline bool mac_is_bcast(const uint8_t* a) { return ld32(a) == 0xffffffffu && ld16(a + 4) == 0xffff; }

uint32_t subnet_bcast() { return (cfg.ip & cfg.mask) | ~cfg.mask; }

// Sends a frame that lives in `page`; false (page still ours) if it could not.
bool xmit(uint8_t* page, uint8_t* frame, uint16_t len) {
  return netfront::send(page, uint16_t(frame - page), len);
}

void arp_learn(uint32_t ip, const uint8_t* mac, bool create) {
  if (!ip) return;
  ArpEntry* free_e = nullptr;
  for (auto& e : arp_cache) {
    if (e.valid && e.ip == ip) {
      copy6(e.mac, mac);
      return;
    }
    if (!e.valid && !free_e) free_e = &e;
  }
  if (!create) return;
  if (!free_e) free_e = &arp_cache[arp_victim++ % kArpEntries];
  free_e->ip = ip;
  copy6(free_e->mac, mac);
  free_e->valid = true;
}

void fill_arp(uint8_t* page, uint16_t op, const uint8_t* eth_dst, const uint8_t* tha, uint32_t spa, uint32_t tpa) {
  auto* eh = reinterpret_cast<EthHdr*>(page);
  copy6(eh->dst, eth_dst);
  copy6(eh->src, our_mac);
  eh->type = htons(ETH_P_ARP);
  auto* a = reinterpret_cast<ArpPkt*>(page + kEthHdr);
  a->htype = htons(1);
  a->ptype = htons(ETH_P_IP);
  a->hlen = 6;
  a->plen = 4;
  a->op = htons(op);
  copy6(a->sha, our_mac);
  a->spa = spa;
  copy6(a->tha, tha);
  a->tpa = tpa;
}

bool arp_rx(uint8_t* page, uint8_t* f, uint16_t len) {
  if (len < kEthHdr + sizeof(ArpPkt)) return counters.rx_bad++, false;
  auto* a = reinterpret_cast<ArpPkt*>(f + kEthHdr);
  if (a->htype != htons(1) || a->ptype != htons(ETH_P_IP) || a->hlen != 6 || a->plen != 4)
    return counters.rx_unknown++, false;
  const bool for_us = cfg.up && a->tpa == cfg.ip;
  arp_learn(a->spa, a->sha, for_us);  // RFC 826: merge, add if it asked us
  if (a->op == htons(2)) {
    counters.arp_replies_seen++;
    arp_learn(a->spa, a->sha, true);  // a reply to our request
    return false;
  }
  if (a->op != htons(1) || !for_us || !page) return false;
  // Answer in place: the asker becomes the target.
  auto* eh = reinterpret_cast<EthHdr*>(f);
  copy6(eh->dst, a->sha);
  copy6(eh->src, our_mac);
  copy6(a->tha, a->sha);
  copy6(a->sha, our_mac);
  a->tpa = a->spa;
  a->spa = cfg.ip;
  a->op = htons(2);
  if (!xmit(page, f, kEthHdr + sizeof(ArpPkt))) return false;
  counters.arp_requests_answered++;
  return true;
}

// Turns the received IPv4 packet around: Ethernet and IP addresses swapped,
// fresh TTL and header checksum. The caller fixes the L4 header.
void turn_around(uint8_t* f, IpHdr* ip) {
  auto* eh = reinterpret_cast<EthHdr*>(f);
  copy6(eh->dst, eh->src);
  copy6(eh->src, our_mac);
  ip->dst = ip->src;
  ip->src = cfg.ip;
  ip->ttl = 64;
  ip->frag = htons(0x4000);
  ip->check = 0;
  ip->check = csum(ip, kIpHdr);
}

bool icmp_rx(uint8_t* page, uint8_t* f, IpHdr* ip, uint16_t hl, uint16_t tot, uint16_t flags) {
  uint16_t ilen = uint16_t(tot - hl);
  if (ilen < kIcmpHdr) return counters.rx_bad++, false;
  auto* ic = reinterpret_cast<IcmpHdr*>(reinterpret_cast<uint8_t*>(ip) + hl);
  if (!(flags & kRxCsumTrusted) && csum_fold(csum_add(ic, ilen)) != 0xffff) return counters.rx_bad_csum++, false;
  if (ic->type == 8 && ic->code == 0) {  // echo request
    if (!cfg.up || ip->dst != cfg.ip || hl != kIpHdr || !page) return false;
    uint16_t old = ld16(ic);
    ic->type = 0;
    ic->check = csum_update16(ic->check, old, ld16(ic));
    turn_around(f, ip);
    if (!xmit(page, f, uint16_t(kEthHdr + tot))) return false;
    counters.icmp_echo_answered++;
    return true;
  }
  if (ic->type == 0 && ic->id == htons(ping_id)) {  // a reply to our ping
    counters.icmp_echo_replies++;
    ping_reply.got = true;
    ping_reply.seq = ntohs(ic->seq);
    ping_reply.ttl = ip->ttl;
    ping_reply.bytes = ilen;
    ping_reply.from = ip->src;
    ping_reply.at_ns = pvclock::now();
  }
  return false;
}

bool udp_echo(const UdpPacket& p) {
  auto* ip = const_cast<IpHdr*>(p.ip);
  auto* u = const_cast<UdpHdr*>(p.udp);
  if (!p.page || ip->dst != cfg.ip || (ip->vihl & 15) != 5) return false;
  uint16_t sport = u->sport;
  u->sport = u->dport;
  u->dport = sport;
  turn_around(p.frame, ip);
  // Swapping addresses and ports keeps a complete checksum valid; one the
  // sender left to offload (csum_blank) is completed here.
  if (p.rx_flags & nif::NETRXF_csum_blank) {
    u->check = 0;
    uint16_t c = csum_finish(csum_add(u, ntohs(u->len), csum_pseudo(ip->src, ip->dst, IPPROTO_UDP, ntohs(u->len))));
    u->check = c ? c : 0xffff;
  }
  if (!xmit(p.page, p.frame, uint16_t(kEthHdr + ntohs(ip->len)))) return false;
  counters.udp_echo_answered++;
  return true;
}

bool udp_sink(const UdpPacket& p) {
  counters.sink_packets++;
  counters.sink_bytes += p.len;
  return false;
}

bool udp_rx(uint8_t* page, uint8_t* f, uint16_t flen, IpHdr* ip, uint16_t hl, uint16_t tot, uint16_t flags) {
  auto* u = reinterpret_cast<UdpHdr*>(reinterpret_cast<uint8_t*>(ip) + hl);
  if (tot - hl < kUdpHdr) return counters.rx_bad++, false;
  uint16_t ulen = ntohs(u->len);
  if (ulen < kUdpHdr || ulen > tot - hl) return counters.rx_bad++, false;
  if (u->check && !(flags & kRxCsumTrusted) &&
      csum_fold(csum_add(u, ulen, csum_pseudo(ip->src, ip->dst, IPPROTO_UDP, ulen))) != 0xffff)
    return counters.rx_bad_csum++, false;
  for (auto& b : binds)
    if (b.port == u->dport && b.fn) {
      UdpPacket p{page, f, flen, flags, ip, u, reinterpret_cast<uint8_t*>(u) + kUdpHdr, uint16_t(ulen - kUdpHdr)};
      return b.fn(p);
    }
  counters.udp_no_port++;
  return false;
}

bool ip_rx(uint8_t* page, uint8_t* f, uint16_t len, uint16_t flags) {
  if (len < kEthHdr + kIpHdr) return counters.rx_bad++, false;
  auto* ip = reinterpret_cast<IpHdr*>(f + kEthHdr);
  uint16_t hl = uint16_t((ip->vihl & 15) * 4);
  uint16_t tot = ntohs(ip->len);
  if ((ip->vihl >> 4) != 4 || hl < kIpHdr || tot < hl || tot > len - kEthHdr) return counters.rx_bad++, false;
  if (csum_fold(csum_add(ip, hl)) != 0xffff) return counters.rx_bad_csum++, false;
  if (ip->frag & htons(0x3fff)) return counters.rx_frag++, false;  // MF or an offset: no reassembly
  // Before configuration (DHCP) anything sent to our MAC is ours.
  if (cfg.up && ip->dst != cfg.ip && ip->dst != 0xffffffffu && ip->dst != subnet_bcast())
    return counters.rx_not_for_us++, false;
  if (ip->proto == IPPROTO_ICMP) return icmp_rx(page, f, ip, hl, tot, flags);
  if (ip->proto == IPPROTO_UDP) return udp_rx(page, f, len, ip, hl, tot, flags);
  counters.rx_unknown++;
  return false;
}

bool rx(uint8_t* page, uint8_t* f, uint16_t len, uint16_t flags) {
  counters.rx_frames++;
  if (len < kEthHdr) return counters.rx_bad++, false;
  auto* eh = reinterpret_cast<EthHdr*>(f);
  if (!mac_eq(eh->dst, our_mac) && !mac_is_bcast(eh->dst)) return counters.rx_not_for_us++, false;
  if (eh->type == htons(ETH_P_IP)) return ip_rx(page, f, len, flags);
  if (eh->type == htons(ETH_P_ARP)) return arp_rx(page, f, len);
  counters.rx_unknown++;
  return false;
}
}  // namespace

void init() {
  copy6(our_mac, netfront::mac());
  netfront::set_rx_handler(rx);
  udp_bind(kEchoPort, udp_echo);
  udp_bind(kDiscardPort, udp_sink);
}

unsigned prefix_len(uint32_t mask_n) {
  uint32_t m = ntohl(mask_n);
  unsigned n = 0;
  while (m & 0x80000000u) n++, m <<= 1;
  return n;
}

void announce() {
  char m[18], a[16], g[16], d[16];
  con::printf("NET up mac=%s ip=%s/%u gw=%s dns=%s via=%s\n", mac_str(our_mac, m), ip_str(cfg.ip, a),
              prefix_len(cfg.mask), ip_str(cfg.gw, g), ip_str(cfg.dns, d), cfg.dhcp ? "dhcp" : "static");
}

void configure_static(uint32_t ip, uint32_t mask, uint32_t gw) {
  cfg = Config{};
  cfg.ip = ip;
  cfg.mask = mask;
  cfg.gw = gw;
  cfg.up = true;
}

uint32_t next_hop(uint32_t dst) {
  if (dst == 0xffffffffu || ((dst ^ cfg.ip) & cfg.mask) == 0) return dst;
  return cfg.gw;
}

bool arp_lookup(uint32_t ip, uint8_t* mac) {
  if (ip == 0xffffffffu || (cfg.up && ip == subnet_bcast())) {
    copy6(mac, kBroadcastMac);
    return true;
  }
  for (auto& e : arp_cache)
    if (e.valid && e.ip == ip) {
      copy6(mac, e.mac);
      return true;
    }
  return false;
}

void send_arp_request(uint32_t target_ip) {
  uint8_t* page = netfront::page_alloc();
  if (!page) return void(counters.tx_no_buffer++);
  static constexpr uint8_t zero_mac[6] = {};
  fill_arp(page, 1, kBroadcastMac, zero_mac, cfg.ip, target_ip);
  if (!netfront::send(page, 0, kEthHdr + sizeof(ArpPkt))) netfront::page_free(page);
}

void send_gratuitous_arp() {
  uint8_t* page = netfront::page_alloc();
  if (!page) return void(counters.tx_no_buffer++);
  static constexpr uint8_t zero_mac[6] = {};
  fill_arp(page, 1, kBroadcastMac, zero_mac, cfg.ip, cfg.ip);
  if (!netfront::send(page, 0, kEthHdr + sizeof(ArpPkt))) netfront::page_free(page);
}

bool resolve(uint32_t ip, uint8_t* mac, uint64_t timeout_ns) {
  if (arp_lookup(ip, mac)) return true;
  uint64_t now = pvclock::now(), deadline = now + timeout_ns;
  while (now < deadline) {
    send_arp_request(ip);
    uint64_t retry = now + kArpRetryNs < deadline ? now + kArpRetryNs : deadline;
    while (now < retry) {
      netfront::wait(retry);
      if (arp_lookup(ip, mac)) return true;
      now = pvclock::now();
    }
  }
  return false;
}

uint8_t* build_ip(uint8_t* page, const uint8_t* dst_mac, uint32_t src, uint32_t dst, uint8_t proto,
                  uint16_t l4_len) {
  auto* eh = reinterpret_cast<EthHdr*>(page);
  copy6(eh->dst, dst_mac);
  copy6(eh->src, our_mac);
  eh->type = htons(ETH_P_IP);
  auto* ip = reinterpret_cast<IpHdr*>(page + kEthHdr);
  ip->vihl = 0x45;
  ip->tos = 0;
  ip->len = htons(uint16_t(kIpHdr + l4_len));
  ip->id = htons(next_ip_id++);
  ip->frag = htons(0x4000);  // DF: we never fragment
  ip->ttl = 64;
  ip->proto = proto;
  ip->check = 0;
  ip->src = src;
  ip->dst = dst;
  ip->check = csum(ip, kIpHdr);
  return page + kEthHdr + kIpHdr;
}

bool udp_send_mac(const uint8_t* dst_mac, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                  const void* data, uint16_t len, bool with_csum) {
  if (len > kMaxUdpPayload) return false;
  uint8_t* page = netfront::page_alloc();
  if (!page) return counters.tx_no_buffer++, false;
  uint16_t ulen = uint16_t(kUdpHdr + len);
  auto* u = reinterpret_cast<UdpHdr*>(build_ip(page, dst_mac, src, dst, IPPROTO_UDP, ulen));
  u->sport = htons(sport);
  u->dport = htons(dport);
  u->len = htons(ulen);
  u->check = 0;
  copy(u + 1, data, len);
  if (with_csum) {
    uint16_t c = csum_finish(csum_add(u, ulen, csum_pseudo(src, dst, IPPROTO_UDP, ulen)));
    u->check = c ? c : 0xffff;
  }
  if (netfront::send(page, 0, uint16_t(kEthHdr + kIpHdr + ulen))) return true;
  netfront::page_free(page);
  return false;
}

bool udp_send(uint32_t dst, uint16_t sport, uint16_t dport, const void* data, uint16_t len, bool with_csum,
              uint64_t resolve_timeout_ns) {
  uint8_t mac[6];
  uint32_t hop = next_hop(dst);
  if (!hop || !resolve(hop, mac, resolve_timeout_ns)) return false;
  return udp_send_mac(mac, cfg.ip, dst, sport, dport, data, len, with_csum);
}

bool udp_bind(uint16_t port, UdpFn fn) {
  udp_unbind(port);
  for (auto& b : binds)
    if (!b.port) {
      b.port = htons(port);
      b.fn = fn;
      return true;
    }
  return false;
}

void udp_unbind(uint16_t port) {
  for (auto& b : binds)
    if (b.port == htons(port)) b.port = 0, b.fn = nullptr;
}

bool ping_send(uint32_t dst, const uint8_t* dst_mac, uint16_t id, uint16_t seq, uint16_t size) {
  if (size > kMtu - kIpHdr - kIcmpHdr) return false;
  if (!pattern_ready) {
    for (unsigned i = 0; i < sizeof ping_pattern; i++) ping_pattern[i] = uint8_t(i);
    pattern_ready = true;
  }
  uint8_t* page = netfront::page_alloc();
  if (!page) return counters.tx_no_buffer++, false;
  uint16_t ilen = uint16_t(kIcmpHdr + size);
  auto* ic = reinterpret_cast<IcmpHdr*>(build_ip(page, dst_mac, cfg.ip, dst, IPPROTO_ICMP, ilen));
  ic->type = 8;
  ic->code = 0;
  ic->check = 0;
  ic->id = htons(id);
  ic->seq = htons(seq);
  copy(ic + 1, ping_pattern, size);
  ic->check = csum(ic, ilen);
  if (netfront::send(page, 0, uint16_t(kEthHdr + kIpHdr + ilen))) return true;
  netfront::page_free(page);
  return false;
}

}  // namespace net
