// pvguest: the network modes. Command-line keys (main.cpp hands over every
// key it does not know):
//   net=dhcp | net=static,ip=A.B.C.D/LEN[,gw=A.B.C.D] | ip=A.B.C.D/LEN gw=A.B.C.D
//   vif=N                 use device/vif/N (default: the lowest)
//   ping=IP[,count=N][,size=S][,interval=MS]
//   udpecho-to=IP:PORT[,msg=TEXT]
//   udpsend=IP:PORT[,size=N][,count=M|,duration=S|,duration=Nms][,sport=P]
//   nethostile[=IP]       forged tx requests, then a ping to IP (default: gw,
//                         else the DHCP server)
//   netserve              answer ARP / ICMP echo / UDP echo (7), count UDP
//                         sink (9), until control/shutdown
// They run in that order after the link is configured; any of them without
// net= means net=dhcp.
#include "console.h"
#include "control.h"
#include "kernel.h"
#include "lib.h"
#include "modes.h"
#include "net_stack.h"
#include "netfront.h"
#include "pvtime.h"

namespace net {
namespace {
constexpr uint64_t kSecond = 1000000000ull;
constexpr uint64_t kMs = 1000000ull;
constexpr uint64_t kDhcpTimeoutNs = 30 * kSecond;

struct Options {
  bool any = false;
  bool bad = false;
  enum { kDefault, kDhcp, kStatic, kNone } how = kDefault;
  uint32_t ip = 0, mask = 0, gw = 0;
  int vif = -1;
  bool serve = false;
  bool ping = false;
  uint32_t ping_ip = 0;
  uint64_t ping_count = 4, ping_size = 56, ping_interval_ms = 1000;
  bool udpsend = false;
  uint32_t us_ip = 0;
  uint16_t us_port = 0, us_sport = 40009;
  uint64_t us_size = 1024, us_count = 0, us_duration_ns = 0;
  bool udpecho = false;
  uint32_t ue_ip = 0;
  uint16_t ue_port = 0;
  char ue_msg[128] = "hello";
  bool hostile = false;
  uint32_t hostile_ip = 0;
};
Options opt;

struct Str {
  const char* p;
  size_t n;
  bool is(const char* s) const { return strlen(s) == n && memcmp(p, s, n) == 0; }
};

bool num(Str s, uint64_t& v) { return lib::parse_u64(s.p, s.n, v); }

// "a.b.c.d/len" (len optional: /24)
bool ip_prefix(Str s, uint32_t& ip, uint32_t& mask) {
  size_t slash = 0;
  while (slash < s.n && s.p[slash] != '/') slash++;
  uint64_t len = 24;
  if (slash < s.n && (!lib::parse_u64(s.p + slash + 1, s.n - slash - 1, len) || len > 32)) return false;
  if (!parse_ip(s.p, slash, ip)) return false;
  mask = len ? htonl(uint32_t(0xffffffffull << (32 - len))) : 0;
  return true;
}

// "a.b.c.d:port"
bool ip_port(Str s, uint32_t& ip, uint16_t& port) {
  size_t colon = 0;
  while (colon < s.n && s.p[colon] != ':') colon++;
  uint64_t p;
  if (colon == s.n || !lib::parse_u64(s.p + colon + 1, s.n - colon - 1, p) || p == 0 || p > 65535) return false;
  port = uint16_t(p);
  return parse_ip(s.p, colon, ip);
}

// Splits "first,k=v,k=v" and calls fn(key, value) for each k=v (key "" for
// the first item when it has no '='). `rest_key` takes the rest of the
// string as its value, commas included.
template <class Fn>
bool items(Str s, const char* rest_key, Fn fn) {
  size_t i = 0;
  while (i < s.n) {
    size_t start = i;
    while (i < s.n && s.p[i] != ',' && s.p[i] != '=') i++;
    Str key{s.p + start, i - start};
    Str val{s.p + i, 0};
    if (i < s.n && s.p[i] == '=') {
      i++;
      size_t vs = i;
      if (rest_key && key.is(rest_key)) i = s.n;
      else
        while (i < s.n && s.p[i] != ',') i++;
      val = Str{s.p + vs, i - vs};
    } else {
      val = key, key = Str{"", 0};
    }
    if (!fn(key, val)) return false;
    if (i < s.n) i++;  // the comma
  }
  return true;
}

bool parse_duration(Str v, uint64_t& ns) {
  uint64_t n;
  if (v.n > 2 && v.p[v.n - 2] == 'm' && v.p[v.n - 1] == 's') {
    if (!lib::parse_u64(v.p, v.n - 2, n)) return false;
    ns = n * kMs;
    return true;
  }
  if (v.n > 1 && v.p[v.n - 1] == 's') v.n--;
  if (!lib::parse_u64(v.p, v.n, n)) return false;
  ns = n * kSecond;
  return true;
}

bool parse_net(Str v) {
  return items(v, nullptr, [](Str k, Str val) {
    if (!k.n && val.is("dhcp")) return opt.how = Options::kDhcp, true;
    if (!k.n && val.is("static")) return opt.how = Options::kStatic, true;
    if (!k.n && val.is("none")) return opt.how = Options::kNone, true;
    if (k.is("ip")) return opt.how = Options::kStatic, ip_prefix(val, opt.ip, opt.mask);
    if (k.is("gw")) return parse_ip(val.p, val.n, opt.gw);
    return false;
  });
}

bool parse_ping(Str v) {
  return items(v, nullptr, [](Str k, Str val) {
    if (!k.n) return parse_ip(val.p, val.n, opt.ping_ip);
    if (k.is("count")) return num(val, opt.ping_count) && opt.ping_count > 0;
    if (k.is("size")) return num(val, opt.ping_size) && opt.ping_size <= kMtu - kIpHdr - kIcmpHdr;
    if (k.is("interval")) return num(val, opt.ping_interval_ms);
    return false;
  });
}

bool parse_udpsend(Str v) {
  return items(v, nullptr, [](Str k, Str val) {
    uint64_t n;
    if (!k.n) return ip_port(val, opt.us_ip, opt.us_port);
    if (k.is("size")) return num(val, opt.us_size) && opt.us_size <= kMaxUdpPayload;
    if (k.is("count")) return num(val, opt.us_count);
    if (k.is("duration")) return parse_duration(val, opt.us_duration_ns);
    if (k.is("sport")) return num(val, n) && n && n < 65536 && (opt.us_sport = uint16_t(n), true);
    return false;
  });
}

bool parse_udpecho(Str v) {
  return items(v, "msg", [](Str k, Str val) {
    if (!k.n) return ip_port(val, opt.ue_ip, opt.ue_port);
    if (k.is("msg") && val.n && val.n < sizeof opt.ue_msg) {
      memcpy(opt.ue_msg, val.p, val.n);
      opt.ue_msg[val.n] = 0;
      return true;
    }
    return false;
  });
}

char ipbuf[4][16];
const char* ips(uint32_t ip, unsigned slot = 0) { return ip_str(ip, ipbuf[slot & 3]); }

// ---- ping -----------------------------------------------------------------

void run_ping() {
  const uint32_t dst = opt.ping_ip;
  uint64_t sent = 0, received = 0, sum = 0, mn = ~0ull, mx = 0;
  for (uint64_t seq = 1; seq <= opt.ping_count; seq++) {
    const uint64_t t0 = pvclock::now();
    uint64_t rtt;
    sent++;
    if (ping_once(dst, uint16_t(seq), uint16_t(opt.ping_size), kSecond, rtt, false)) {
      received++;
      sum += rtt;
      if (rtt < mn) mn = rtt;
      if (rtt > mx) mx = rtt;
    }
    if (seq == opt.ping_count) break;
    const uint64_t next = t0 + opt.ping_interval_ms * kMs;
    while (pvclock::now() < next) netfront::wait(next);
  }
  con::printf("PING summary dst=%s sent=%lu received=%lu loss_pct=%lu rtt_min_us=%lu rtt_avg_us=%lu rtt_max_us=%lu\n",
              ips(dst), sent, received, sent ? (sent - received) * 100 / sent : 0, received ? mn / 1000 : 0,
              received ? sum / received / 1000 : 0, mx / 1000);
}

// ---- udpecho-to -------------------------------------------------------------

constexpr uint16_t kEchoClientPort = 40007;
char echo_reply[256];
bool echo_got = false;
uint32_t echo_from = 0;
uint16_t echo_from_port = 0;

bool echo_client_rx(const UdpPacket& p) {
  if (echo_got) return false;
  size_t n = p.len < sizeof echo_reply - 1 ? p.len : sizeof echo_reply - 1;
  for (size_t i = 0; i < n; i++) {
    char c = char(p.data[i]);
    echo_reply[i] = c >= 32 && c < 127 && c != '\'' ? c : '.';
  }
  echo_reply[n] = 0;
  echo_from = p.ip->src;
  echo_from_port = ntohs(p.udp->sport);
  echo_got = true;
  return false;
}

void run_udpecho() {
  udp_bind(kEchoClientPort, echo_client_rx);
  echo_got = false;
  const uint16_t len = uint16_t(strlen(opt.ue_msg));
  for (int attempt = 0; attempt < 3 && !echo_got; attempt++) {
    const uint64_t t0 = pvclock::now();
    if (!udp_send(opt.ue_ip, kEchoClientPort, opt.ue_port, opt.ue_msg, len)) {
      con::printf("UDPECHO no route to %s (no ARP reply)\n", ips(opt.ue_ip));
      break;
    }
    while (!echo_got && pvclock::now() < t0 + kSecond) netfront::wait(t0 + kSecond);
    if (echo_got)
      con::printf("UDPECHO reply '%s' from %s:%u rtt_us=%lu\n", echo_reply, ips(echo_from), echo_from_port,
                  (pvclock::now() - t0) / 1000);
  }
  if (!echo_got) con::printf("UDPECHO timeout\n");
  udp_unbind(kEchoClientPort);
}

// ---- udpsend ----------------------------------------------------------------

// The frames are built once, in pages of our own, and sent as they are: per
// packet only the sequence number in the payload changes (UDP checksum 0,
// "none", as IPv4 allows). A page comes back to the free list when the
// back-end answers its request. Requests are pushed in batches of 8.
constexpr unsigned kBenchPages = netfront::kRingSize + 32;
uint8_t* bench_free[kBenchPages];
unsigned bench_nfree = 0;
void bench_done(uint8_t* page) { bench_free[bench_nfree++] = page; }

void run_udpsend() {
  const netfront::Stats before = netfront::stats;
  uint8_t mac[6];
  const uint32_t hop = next_hop(opt.us_ip);
  if (!hop || !resolve(hop, mac, 3 * kSecond)) {
    con::printf("UDPSEND no route to %s (no ARP reply from %s)\n", ips(opt.us_ip), ips(hop, 1));
    return;
  }
  const uint16_t size = uint16_t(opt.us_size);
  const uint16_t ulen = uint16_t(kUdpHdr + size), flen = uint16_t(kEthHdr + kIpHdr + ulen);
  bench_nfree = 0;
  for (unsigned i = 0; i < kBenchPages; i++) {
    uint8_t* page = netfront::page_alloc();
    if (!page) break;
    auto* u = reinterpret_cast<UdpHdr*>(build_ip(page, mac, cfg.ip, opt.us_ip, IPPROTO_UDP, ulen));
    u->sport = htons(opt.us_sport);
    u->dport = htons(opt.us_port);
    u->len = htons(ulen);
    u->check = 0;
    uint8_t* d = reinterpret_cast<uint8_t*>(u + 1);
    zero(d, size);
    if (size >= 16) copy(d + 8, "pvguest!", 8);
    bench_free[bench_nfree++] = page;
  }
  const uint64_t count = opt.us_count ? opt.us_count : (opt.us_duration_ns ? ~0ull : 1000);
  const uint64_t t0 = pvclock::now();
  const uint64_t end = opt.us_duration_ns ? t0 + opt.us_duration_ns : ~0ull;
  uint64_t sent = 0, now = t0, last_progress = t0;
  bool aborted = false;
  while (sent < count) {
    if ((sent & 63) == 0 || !bench_nfree) {
      now = pvclock::now();
      if (now >= end) break;
      if (now - last_progress > 10 * kSecond) {
        aborted = true;
        break;
      }
    }
    if (!bench_nfree) {
      netfront::wait(now + kSecond < end ? now + kSecond : end);
      continue;
    }
    uint8_t* page = bench_free[--bench_nfree];
    if (size >= 8) {
      uint64_t seq = sent;
      __builtin_memcpy(page + kEthHdr + kIpHdr + kUdpHdr, &seq, 8);
    }
    // Push (and maybe notify) once per 8 frames; poll()/wait() push the rest.
    if (!netfront::send(page, 0, flen, bench_done, (sent & 7) != 7)) {
      bench_free[bench_nfree++] = page;
      now = pvclock::now();
      netfront::wait(now + kSecond < end ? now + kSecond : end);
      continue;
    }
    sent++;
    last_progress = now;
    // Keep the rx side served (ARP, pings) without blocking.
    if ((sent & 15) == 0) netfront::poll();
  }
  netfront::drain_tx(pvclock::now() + 5 * kSecond);
  const uint64_t ns = pvclock::now() - t0;
  const uint64_t bytes = sent * size;
  const uint64_t pps = ns ? sent * kSecond / ns : 0;
  const uint64_t mbps100 = ns ? bytes * uint64_t(800000) / ns : 0;  // Mbit/s x 100 (payload)
  con::printf("UDPSEND packets=%lu bytes=%lu ns=%lu pps=%lu mbps=%lu.%02lu\n", sent, bytes, ns, pps, mbps100 / 100,
              mbps100 % 100);
  const netfront::Stats& s = netfront::stats;
  con::printf("UDPSEND detail dst=%s:%u size=%u frame=%u okay=%lu error=%lu dropped=%lu ring_full=%lu "
              "notifies=%lu polls=%lu unanswered=%u%s\n",
              ips(opt.us_ip), opt.us_port, size, flen, s.tx_okay - before.tx_okay, s.tx_error - before.tx_error,
              s.tx_dropped - before.tx_dropped, s.tx_ring_full - before.tx_ring_full,
              s.notifies_tx - before.notifies_tx, s.polls - before.polls, netfront::tx_inflight(),
              aborted ? " aborted=no-progress" : "");
  // Pages still in flight (a link that never answered) are left to the ring.
  while (bench_nfree) netfront::page_free(bench_free[--bench_nfree]);
}

// ---- netserve ---------------------------------------------------------------

void print_netstat() {
  const netfront::Stats& s = netfront::stats;
  const Counters& c = counters;
  con::printf("NETSTAT rx=%lu tx=%lu arp_answered=%lu icmp_echo_answered=%lu udp_echo_answered=%lu "
              "sink_packets=%lu bad=%lu bad_csum=%lu frags=%lu not_for_us=%lu tx_error=%lu tx_dropped=%lu "
              "reconnects=%lu rx_validated=%lu rx_csum_blank=%lu polls=%lu notifies_tx=%lu notifies_rx=%lu\n",
              s.rx_packets, s.tx_packets, c.arp_requests_answered, c.icmp_echo_answered, c.udp_echo_answered,
              c.sink_packets, c.rx_bad + s.rx_errors, c.rx_bad_csum, c.rx_frag, c.rx_not_for_us, s.tx_error,
              s.tx_dropped, s.reconnects, s.rx_data_validated, s.rx_csum_blank, s.polls, s.notifies_tx,
              s.notifies_rx);
}

[[noreturn]] void run_serve() {
  con::printf("NETSERVE ready ip=%s udp_echo=%u udp_sink=%u\n", ips(cfg.ip), kEchoPort, kDiscardPort);
  uint64_t seen_rx = netfront::stats.rx_packets, rx_changed_at = 0;
  bool stat_pending = false;
  uint64_t sink_seen = counters.sink_packets, sink_bytes_seen = counters.sink_bytes, sink_bytes0 = 0, sink_pkts0 = 0, first_batch = 0;
  uint64_t burst_start = 0, burst_last = 0;
  bool burst = false;
  uint32_t gen = netfront::link_generation();
  uint64_t now = pvclock::now();  // one clock read per wake-up (~40 us each)
  for (;;) {
    netfront::wait(now + kSecond);
    now = pvclock::now();
    dhcp_tick(now);
    if (netfront::link_generation() != gen) {
      gen = netfront::link_generation();
      con::printf("NET link up again (reconnects=%lu)\n", netfront::stats.reconnects);
      send_gratuitous_arp();
    }
    if (counters.sink_packets != sink_seen) {
      if (!burst) {
        burst = true;
        burst_start = now;
        sink_pkts0 = sink_seen;
        sink_bytes0 = sink_bytes_seen;
        first_batch = counters.sink_packets - sink_seen;
      }
      burst_last = now;
      sink_seen = counters.sink_packets;
      sink_bytes_seen = counters.sink_bytes;
    } else if (burst && now - burst_last > kSecond) {
      burst = false;
      const uint64_t pkts = sink_seen - sink_pkts0, ns = burst_last - burst_start;
      const uint64_t rated = pkts - first_batch;  // the first batch arrived before burst_start
      const uint64_t bytes = counters.sink_bytes - sink_bytes0;
      const uint64_t rated_bytes = pkts ? bytes / pkts * rated : 0;
      const uint64_t mbps100 = ns ? rated_bytes * uint64_t(800000) / ns : 0;  // Mbit/s x 100 (payload)
      con::printf("UDPSINK packets=%lu bytes=%lu ns=%lu pps=%lu mbps=%lu.%02lu\n", pkts, bytes, ns,
                  ns ? rated * kSecond / ns : 0, mbps100 / 100, mbps100 % 100);
    }
    if (netfront::stats.rx_packets != seen_rx) {
      seen_rx = netfront::stats.rx_packets;
      rx_changed_at = now;
      stat_pending = true;
    } else if (stat_pending && now - rx_changed_at > kSecond) {
      stat_pending = false;
      print_netstat();
    }
  }
}
}  // namespace

bool ping_once(uint32_t dst, uint16_t seq, uint16_t size, uint64_t timeout_ns, uint64_t& rtt_ns, bool quiet) {
  uint8_t mac[6];
  const uint32_t hop = next_hop(dst);
  if (!hop || !resolve(hop, mac, 2 * kSecond)) {
    if (!quiet) con::printf("PING unreachable seq=%u dst=%s (no ARP reply from %s)\n", seq, ips(dst), ips(hop, 1));
    return false;
  }
  ping_reply.got = false;
  const uint64_t t0 = pvclock::now();
  if (!ping_send(dst, mac, ping_id, seq, size)) {
    if (!quiet) con::printf("PING send failed seq=%u\n", seq);
    return false;
  }
  const uint64_t deadline = t0 + timeout_ns;
  for (;;) {
    if (ping_reply.got && ping_reply.seq == seq && ping_reply.from == dst) break;
    ping_reply.got = false;
    if (pvclock::now() >= deadline) {
      if (!quiet) con::printf("PING timeout seq=%u dst=%s\n", seq, ips(dst));
      return false;
    }
    netfront::wait(deadline);
  }
  rtt_ns = ping_reply.at_ns - t0;
  if (!quiet)
    con::printf("PING reply from %s seq=%u rtt_us=%lu bytes=%u ttl=%u\n", ips(dst), seq, rtt_ns / 1000,
                ping_reply.bytes, ping_reply.ttl);
  return true;
}

bool parse_option(const char* key, size_t klen, const char* val, size_t vlen) {
  Str k{key, klen}, v{val, vlen};
  bool ok;
  if (k.is("net")) ok = parse_net(v);
  else if (k.is("ip")) ok = (opt.how = Options::kStatic, ip_prefix(v, opt.ip, opt.mask));
  else if (k.is("gw")) ok = parse_ip(val, vlen, opt.gw);
  else if (k.is("vif")) {
    uint64_t n;
    ok = num(v, n) && n < 0x10000;
    opt.vif = int(n);
  } else if (k.is("netserve")) ok = opt.serve = true;
  else if (k.is("ping")) ok = opt.ping = parse_ping(v);
  else if (k.is("udpsend")) ok = opt.udpsend = parse_udpsend(v);
  else if (k.is("udpecho-to")) ok = opt.udpecho = parse_udpecho(v);
  else if (k.is("nethostile")) ok = opt.hostile = (vlen == 0 || parse_ip(val, vlen, opt.hostile_ip));
  else return false;
  if (!ok) {
    char t[96];
    size_t n = klen + 1 + vlen < sizeof t - 1 ? klen + 1 + vlen : sizeof t - 1;
    memcpy(t, key, n);  // key=value are contiguous on the command line
    t[n] = 0;
    con::printf("NET bad option '%s'\n", t);
    opt.bad = true;
  }
  opt.any = true;
  return true;
}

void run_modes() {
  if (!opt.any) return;
  if (opt.bad) {
    con::printf("NET not started: bad options\n");
    return;
  }
  if (opt.how == Options::kNone) return;
  if (opt.how == Options::kStatic && !opt.ip) {
    con::printf("NET not started: net=static needs ip=A.B.C.D/LEN\n");
    return;
  }
  if (!netfront::start(opt.vif)) {
    con::printf("NET down: no network device\n");
    return;
  }
  control::start();  // control/shutdown is served while we run
  init();
  if (opt.how == Options::kStatic) {
    configure_static(opt.ip, opt.mask, opt.gw);
  } else if (!dhcp_configure(kDhcpTimeoutNs)) {
    con::printf("NET down: dhcp failed\n");
    return;
  }
  announce();
  send_gratuitous_arp();
  if (opt.ping) run_ping();
  if (opt.udpecho) run_udpecho();
  if (opt.udpsend) run_udpsend();
  if (opt.hostile) run_hostile(opt.hostile_ip ? opt.hostile_ip : cfg.gw ? cfg.gw : cfg.server);
  if (opt.serve) run_serve();
  netfront::drain_tx(pvclock::now() + kSecond);
}

}  // namespace net

bool parse_net_option(const char* key, uint64_t klen, const char* val, uint64_t vlen) {
  return net::parse_option(key, size_t(klen), val, size_t(vlen));
}
void run_net_modes() { net::run_modes(); }
