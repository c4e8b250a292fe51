// pvguest: DHCP client (RFC 2131): DISCOVER -> OFFER -> REQUEST -> ACK,
// broadcast replies asked for (we have no address to receive unicast on),
// options subnet mask, router, DNS server, lease time. Renewal at T1 (half
// the lease) by a broadcast REQUEST with ciaddr set.
#include "console.h"
#include "net_stack.h"
#include "netfront.h"
#include "pvtime.h"

namespace net {
namespace {
constexpr uint16_t kClientPort = 68, kServerPort = 67;
constexpr uint32_t kMagicCookie = 0x63825363;
constexpr uint64_t kSecond = 1000000000ull;
constexpr uint64_t kMaxRetryNs = 4 * kSecond;
constexpr uint16_t kMsgSize = 300;  // BOOTP minimum, padded

enum : uint8_t { kDiscover = 1, kOffer = 2, kRequest = 3, kDecline = 4, kAck = 5, kNak = 6 };
enum : uint8_t {
  kOptPad = 0, kOptMask = 1, kOptRouter = 3, kOptDns = 6, kOptHostname = 12, kOptReqIp = 50, kOptLease = 51,
  kOptType = 53, kOptServer = 54, kOptParams = 55, kOptMaxSize = 57, kOptClientId = 61, kOptEnd = 255
};

struct [[gnu::packed]] Bootp {
  uint8_t op, htype, hlen, hops;
  uint32_t xid;
  uint16_t secs, flags;
  uint32_t ciaddr, yiaddr, siaddr, giaddr;
  uint8_t chaddr[16];
  uint8_t sname[64];
  uint8_t file[128];
  uint32_t magic;
};
static_assert(sizeof(Bootp) == 240);

struct Reply {
  bool got;
  uint8_t type;
  uint32_t yiaddr, server, mask, router, dns, lease_s;
};
Reply last;
uint32_t xid = 0;

bool dhcp_rx(const UdpPacket& p) {
  if (p.len < sizeof(Bootp) + 3 || ntohs(p.udp->sport) != kServerPort) return false;
  auto* b = reinterpret_cast<const Bootp*>(p.data);
  if (b->op != 2 || b->xid != xid || b->magic != htonl(kMagicCookie) ||
      ld32(b->chaddr) != ld32(our_mac) || ld16(b->chaddr + 4) != ld16(our_mac + 4))
    return false;
  Reply r{};
  r.yiaddr = b->yiaddr;
  const uint8_t* o = p.data + sizeof(Bootp);
  size_t n = p.len - sizeof(Bootp), i = 0;
  while (i < n) {
    uint8_t code = o[i++];
    if (code == kOptPad) continue;
    if (code == kOptEnd || i >= n) break;
    uint8_t len = o[i++];
    if (i + len > n) break;
    const uint8_t* v = o + i;
    switch (code) {
      case kOptType: if (len >= 1) r.type = v[0]; break;
      case kOptServer: if (len >= 4) r.server = ld32(v); break;
      case kOptMask: if (len >= 4) r.mask = ld32(v); break;
      case kOptRouter: if (len >= 4) r.router = ld32(v); break;
      case kOptDns: if (len >= 4) r.dns = ld32(v); break;
      case kOptLease: if (len >= 4) r.lease_s = ld_be32(v); break;
      default: break;
    }
    i += len;
  }
  if (!r.type) return false;
  r.got = true;
  last = r;
  return false;
}

// One DHCP message from 0.0.0.0 (or ciaddr when renewing) to broadcast.
void send_msg(uint8_t type, uint32_t ciaddr, uint32_t req_ip, uint32_t server) {
  alignas(8) uint8_t buf[kMsgSize];
  zero(buf, sizeof buf);
  auto* b = reinterpret_cast<Bootp*>(buf);
  b->op = 1;
  b->htype = 1;
  b->hlen = 6;
  b->xid = xid;
  b->flags = ciaddr ? 0 : htons(0x8000);  // broadcast replies until we have an address
  b->ciaddr = ciaddr;
  copy6(b->chaddr, our_mac);
  b->magic = htonl(kMagicCookie);
  uint8_t* o = buf + sizeof(Bootp);
  *o++ = kOptType, *o++ = 1, *o++ = type;
  *o++ = kOptClientId, *o++ = 7, *o++ = 1;
  copy6(o, our_mac), o += 6;
  if (req_ip) *o++ = kOptReqIp, *o++ = 4, st32(o, req_ip), o += 4;
  if (server) *o++ = kOptServer, *o++ = 4, st32(o, server), o += 4;
  *o++ = kOptMaxSize, *o++ = 2, st_be16(o, 1500), o += 2;
  *o++ = kOptParams, *o++ = 4, *o++ = kOptMask, *o++ = kOptRouter, *o++ = kOptDns, *o++ = kOptLease;
  *o++ = kOptHostname, *o++ = 7;
  copy(o, "pvguest", 7), o += 7;
  *o++ = kOptEnd;
  static constexpr uint8_t bcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  udp_send_mac(bcast, ciaddr, 0xffffffffu, kClientPort, kServerPort, buf, kMsgSize, true);
}

void bind_lease(const Reply& r, uint64_t now) {
  cfg.up = true;
  cfg.dhcp = true;
  cfg.ip = r.yiaddr;
  cfg.mask = r.mask ? r.mask : htonl(0xffffff00u);
  cfg.gw = r.router;
  cfg.dns = r.dns;
  cfg.server = r.server;
  cfg.lease_s = r.lease_s;
  cfg.renew_at_ns = r.lease_s && r.lease_s != 0xffffffffu ? now + uint64_t(r.lease_s) * kSecond / 2 : 0;
}
}  // namespace

bool dhcp_configure(uint64_t timeout_ns) {
  udp_bind(kClientPort, dhcp_rx);
  uint64_t now = pvclock::now();
  const uint64_t deadline = now + timeout_ns;
  xid = ld32(our_mac + 2) ^ uint32_t(now) ^ 0x5047u;
  cfg = Config{};
  Reply offer{};
  bool requesting = false;
  unsigned tries = 0;
  uint64_t interval = kSecond;
  while (now < deadline) {
    last.got = false;
    if (requesting) send_msg(kRequest, 0, offer.yiaddr, offer.server);
    else send_msg(kDiscover, 0, 0, 0);
    const uint64_t until = now + interval < deadline ? now + interval : deadline;
    bool moved = false;
    while (now < until && !moved) {
      netfront::wait(until);
      now = pvclock::now();
      if (!last.got) continue;
      Reply r = last;
      last.got = false;
      if (!requesting && r.type == kOffer && r.yiaddr) {
        offer = r, requesting = true, tries = 0, moved = true;
      } else if (requesting && r.type == kAck && r.yiaddr == offer.yiaddr) {
        bind_lease(r, now);
        return true;
      } else if (requesting && r.type == kNak) {
        con::printf("NET dhcp: NAK from the server, starting over\n");
        requesting = false, moved = true;
      }
    }
    if (moved) {
      interval = kSecond;
      continue;
    }
    interval = interval * 2 < kMaxRetryNs ? interval * 2 : kMaxRetryNs;
    if (requesting && ++tries >= 3) requesting = false;  // the offer went stale
  }
  con::printf("NET dhcp failed: no lease in %lu s\n", timeout_ns / kSecond);
  return false;
}

void dhcp_tick(uint64_t now) {
  if (!cfg.dhcp || !cfg.up) return;
  if (last.got) {
    Reply r = last;
    last.got = false;
    if (r.type == kAck && r.yiaddr == cfg.ip) {
      bind_lease(r, now);
      con::printf("NET dhcp renewed lease=%u s\n", r.lease_s);
    }
  }
  if (cfg.renew_at_ns && now >= cfg.renew_at_ns) {
    send_msg(kRequest, cfg.ip, 0, 0);
    cfg.renew_at_ns = now + 30 * kSecond;  // until an ACK moves it to T1
  }
}

}  // namespace net
