// pvguest: `nethostile`: malformed and forged tx requests straight on the
// ring, then a valid ping that must still work. One line per check:
//   NETHOSTILE <check> sent status=<okay|error|dropped|null|none> slots=N answered=M link=<up|down>
// and `NETHOSTILE ping ok|FAILED ...`, `NETHOSTILE summary ...`.
//
// What a back-end should do, after Linux's netback: a bad or foreign grant,
// size 0 and 19 slots are answered XEN_NETIF_RSP_ERROR; a slot crossing the
// page end, slot sizes beyond the packet size (> 65535 in all) and a chain
// that never ends are malformed (Linux takes the vif down for them; a
// back-end may also just answer ERROR). Frames from a MAC or IPv4 address
// that is not ours are well-formed requests (answered OKAY) that must never
// reach the host's network: the host side checks for
// kSpoofMac / kSpoofIp on the tap or bridge.
#include "console.h"
#include "grant.h"
#include "kernel.h"
#include "mm.h"
#include "net_stack.h"
#include "netfront.h"
#include "pvtime.h"

namespace net {
namespace {
namespace nif = xen::netif;
constexpr uint64_t kSecond = 1000000000ull;
constexpr uint8_t kSpoofMac[6] = {0x02, 0x00, 0xde, 0xad, 0xbe, 0xef};
constexpr uint32_t kSpoofIp = htonl(0xc0000242u);  // 192.0.2.66 (TEST-NET-1)
constexpr xen::domid_t kStrangerDomid = 0x7fef;    // neither us nor the back-end
constexpr unsigned kMaxSlots = 20;

unsigned checks = 0, answered_checks = 0, link_lost = 0;

const char* status_name(int16_t s) {
  switch (s) {
    case nif::XEN_NETIF_RSP_OKAY: return "okay";
    case nif::XEN_NETIF_RSP_ERROR: return "error";
    case nif::XEN_NETIF_RSP_DROPPED: return "dropped";
    case nif::XEN_NETIF_RSP_NULL: return "null";
    case netfront::kNoResponse: return "none";
    default: return "invalid";
  }
}

// A valid ICMP echo request to `dst` in `page` (frame at 0); returns its length.
uint16_t build_echo(uint8_t* page, const uint8_t* dst_mac, uint32_t src, uint32_t dst, uint16_t seq) {
  constexpr uint16_t kPayload = 32;
  auto* ic = reinterpret_cast<IcmpHdr*>(build_ip(page, dst_mac, src, dst, IPPROTO_ICMP, kIcmpHdr + kPayload));
  ic->type = 8;
  ic->code = 0;
  ic->check = 0;
  ic->id = htons(0x6e68);  // "nh": never matched by ping replies
  ic->seq = htons(seq);
  zero(ic + 1, kPayload);
  ic->check = csum(ic, kIcmpHdr + kPayload);
  return kEthHdr + kIpHdr + kIcmpHdr + kPayload;
}

// Posts the requests, waits up to `wait_ns` for every response, prints the
// line. The status shown is the first slot's.
void run_check(const char* name, nif::netif_tx_request* reqs, unsigned n, uint64_t wait_ns = 2 * kSecond) {
  checks++;
  const uint32_t gen = netfront::link_generation();
  if (!netfront::raw_tx(reqs, n)) {
    con::printf("NETHOSTILE %s not sent (link down or ring full)\n", name);
    return;
  }
  const uint64_t deadline = pvclock::now() + wait_ns;
  unsigned answered = 0;
  for (;;) {
    answered = 0;
    for (unsigned i = 0; i < n; i++) answered += netfront::raw_status(reqs[i].id) != netfront::kNoResponse;
    if (answered == n || netfront::link_generation() != gen || pvclock::now() >= deadline) break;
    netfront::wait(deadline);
  }
  if (answered) answered_checks++;
  const bool up = netfront::connected() && netfront::link_generation() == gen;
  if (!up) link_lost++;
  con::printf("NETHOSTILE %s sent status=%s slots=%u answered=%u link=%s\n", name,
              status_name(netfront::raw_status(reqs[0].id)), n, answered, up ? "up" : "down");
}

// Waits for the link to be back (after a check the back-end punished).
bool wait_link(uint64_t timeout_ns) {
  const uint64_t deadline = pvclock::now() + timeout_ns;
  while (!netfront::connected() && pvclock::now() < deadline) netfront::wait(deadline);
  return netfront::connected();
}

nif::netif_tx_request req(xen::grant_ref_t g, uint16_t off, uint16_t flags, uint16_t size) {
  return nif::netif_tx_request{g, off, flags, 0, size};
}
// Malformed requests: bad references, bad offsets and sizes, too many slots.
void malformed_checks(nif::netif_tx_request* r, xen::grant_ref_t g, xen::grant_ref_t g_none,
                      xen::grant_ref_t g_foreign, uint16_t flen) {
  r[0] = req(0x00fffff0u, 0, 0, flen);
  run_check("bad_gref", r, 1);
  wait_link(5 * kSecond);
  r[0] = req(g_none, 0, 0, flen);
  run_check("revoked_gref", r, 1);
  wait_link(5 * kSecond);
  r[0] = req(g_foreign, 0, 0, flen);
  run_check("foreign_grant", r, 1);
  wait_link(5 * kSecond);
  r[0] = req(g, 4000, 0, 200);
  run_check("cross_page", r, 1);
  wait_link(5 * kSecond);
  r[0] = req(g, 0, 0, 0);
  run_check("size_zero", r, 1);
  wait_link(5 * kSecond);
  // 17 slots of 4096 bytes (69632 in all) under a first size of 65535.
  r[0] = req(g, 0, nif::NETTXF_more_data, 0xffff);
  for (unsigned i = 1; i < 17; i++) r[i] = req(g, 0, i < 16 ? nif::NETTXF_more_data : 0, 4096);
  run_check("oversize", r, 17);
  wait_link(5 * kSecond);
  // 19 slots (XEN_NETIF_NR_SLOTS_MIN is 18) of 60 bytes each.
  constexpr unsigned kTooMany = nif::XEN_NETIF_NR_SLOTS_MIN + 1;
  r[0] = req(g, 0, nif::NETTXF_more_data, uint16_t(60 * kTooMany));
  for (unsigned i = 1; i < kTooMany; i++) r[i] = req(g, 0, i + 1 < kTooMany ? nif::NETTXF_more_data : 0, 60);
  run_check("too_many_slots", r, kTooMany);
  wait_link(5 * kSecond);
}

// A chain whose last slot still says more_data: nothing follows.
void endless_chain_check(nif::netif_tx_request* r, xen::grant_ref_t g) {
  r[0] = req(g, 0, nif::NETTXF_more_data, 180);
  r[1] = req(g, 0, nif::NETTXF_more_data, 60);
  const uint32_t gen = netfront::link_generation();
  run_check("endless_chain", r, 2);
  if (netfront::connected() && netfront::link_generation() == gen &&
      netfront::raw_status(r[0].id) == netfront::kNoResponse) {
    // The back-end is still waiting for the rest: end the chain with a slot
    // that overruns the announced size, so the packet is bad as a whole and
    // the next frame does not join it.
    r[2] = req(g, 0, 0, 120);
    run_check("endless_chain_terminator", &r[2], 1);
  }
  wait_link(10 * kSecond);
}

// After the checks a valid ping must succeed (up to 3 tries); then the summary.
void ping_and_summary(uint32_t target, uint64_t reconnects0) {
  uint64_t rtt = 0;
  bool ping_ok = false;
  for (uint16_t seq = 1; seq <= 3 && !ping_ok; seq++) {
    wait_link(5 * kSecond);
    ping_ok = ping_once(target, uint16_t(900 + seq), 56, kSecond, rtt, true);
  }
  char b[16];
  if (ping_ok) con::printf("NETHOSTILE ping ok dst=%s rtt_us=%lu\n", ip_str(target, b), rtt / 1000);
  else con::printf("NETHOSTILE ping FAILED dst=%s\n", ip_str(target, b));
  con::printf("NETHOSTILE summary checks=%u answered=%u link_lost=%u reconnects=%lu ping=%s\n", checks,
              answered_checks, link_lost, netfront::stats.reconnects - reconnects0, ping_ok ? "ok" : "FAILED");
}
}  // namespace

void run_hostile(uint32_t target) {
  const xen::domid_t be = netfront::backend_domid();
  uint8_t mac[6];
  const uint32_t hop = target ? next_hop(target) : 0;
  if (!hop || !resolve(hop, mac, 3 * kSecond)) {
    char b[16];
    if (!target) con::printf("NETHOSTILE no target (give nethostile=IP: no gateway, no DHCP server): not run\n");
    else con::printf("NETHOSTILE no ARP reply from %s: not run\n", ip_str(hop, b));
    return;
  }
  const uint64_t reconnects0 = netfront::stats.reconnects;
  // One page with a valid frame, granted read-only to the back-end; one
  // granted to a stranger; one reference with no access at all.
  uint8_t* page = netfront::page_alloc();
  uint8_t* page2 = netfront::page_alloc();
  if (!page || !page2) {
    con::printf("NETHOSTILE no buffer pages: not run\n");
    return;
  }
  const uint16_t flen = build_echo(page, mac, cfg.ip, target, 1);
  net::copy(page2, page, flen);
  const xen::grant_ref_t g = grant::gnttab_grant_access(be, mm::gfn(page), true);
  const xen::grant_ref_t g_foreign = grant::gnttab_grant_access(kStrangerDomid, mm::gfn(page2), true);
  const xen::grant_ref_t g_none = grant::gnttab_alloc_ref();
  if (g == grant::kInvalidRef || g_foreign == grant::kInvalidRef || g_none == grant::kInvalidRef) {
    con::printf("NETHOSTILE grant table full: not run\n");
    return;
  }
  nif::netif_tx_request r[kMaxSlots];

  malformed_checks(r, g, g_none, g_foreign, flen);

  // Spoofed source MAC, then spoofed source IPv4 address: well-formed.
  grant::gnttab_end_access(g_foreign);  // reuse page2 for the forged frames
  uint16_t l2 = build_echo(page2, mac, cfg.ip, target, 2);
  copy6(page2 + 6, kSpoofMac);
  const xen::grant_ref_t g_mac = grant::gnttab_grant_access(be, mm::gfn(page2), true);
  r[0] = req(g_mac, 0, 0, l2);
  run_check("spoof_mac", r, 1);
  wait_link(5 * kSecond);
  uint8_t* page3 = netfront::page_alloc();
  xen::grant_ref_t g_ip = grant::kInvalidRef;
  if (page3) {
    uint16_t l3 = build_echo(page3, mac, kSpoofIp, target, 3);
    g_ip = grant::gnttab_grant_access(be, mm::gfn(page3), true);
    r[0] = req(g_ip, 0, 0, l3);
    run_check("spoof_ip", r, 1);
    wait_link(5 * kSecond);
  }

  endless_chain_check(r, g);

  ping_and_summary(target, reconnects0);

  // A page whose grant the back-end still holds is leaked; once revoked,
  // an unanswered request can no longer reach it.
  bool leak = false;
  const xen::grant_ref_t grants[] = {g, g_mac, g_ip};
  for (auto x : grants)
    if (x != grant::kInvalidRef && !grant::gnttab_end_access(x)) leak = true;
  grant::gnttab_free_ref(g_none);
  if (!leak) {
    netfront::page_free(page);
    netfront::page_free(page2);
    if (page3) netfront::page_free(page3);
  }
}

}  // namespace net
