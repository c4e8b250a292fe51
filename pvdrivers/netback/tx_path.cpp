#include "netback/tx_path.h"

#include <cstring>

#include "netback/grant_map.h"
#include "netback/packet_offload.h"

namespace pv::netback {
namespace nif = xen::netif;

namespace {
constexpr uint32_t kMaxExtras = nif::XEN_NETIF_EXTRA_TYPE_MAX - 1;  // one of each type

nif::netif_extra_info as_extra(const nif::netif_tx_request& r) {
  nif::netif_extra_info e;
  static_assert(sizeof e <= sizeof r);
  std::memcpy(&e, &r, sizeof e);
  return e;
}
}  // namespace

TxPath::TxPath(nif::TxBackRing ring, GrantAccess& grants, SpoofPolicy policy, VifStats& stats)
    : ring_(ring), grants_(grants), policy_(std::move(policy)), stats_(stats) {
  chain_.resize(ring_.size());
}

// Answers the n slots of one packet (slots 1..extras are extra-info slots)
// and consumes them.
void TxPath::answer(uint32_t n, uint32_t extras, int16_t status) {
  for (uint32_t i = 0; i < n; i++) {
    nif::netif_tx_response& rsp = ring_.next_response();
    rsp.id = chain_[i].id;
    rsp.status = (i >= 1 && i <= extras) ? nif::XEN_NETIF_RSP_NULL : status;
    ring_.rsp_prod_pvt++;
  }
  ring_.req_cons += n;
}

TxPath::Step TxPath::refuse(uint32_t n, uint32_t extras, const char* why) {
  answer(n, extras, nif::XEN_NETIF_RSP_ERROR);
  VifStats::add(stats_.tx_malformed);
  last_error_ = why;
  return Step::kConsumed;
}

TxPath::Step TxPath::next(uint8_t* buf, size_t& len) {
  last_error_.clear();
  if (ring_.overflowed()) return Step::kBroken;
  const uint32_t avail = ring_.unconsumed_requests();
  if (avail == 0) return Step::kIdle;

  // 1. Copy the packet's slots out of the ring, following its chain.
  uint32_t n = 0;
  auto take = [&] {
    std::memcpy(&chain_[n], const_cast<const nif::netif_tx_request*>(&ring_.slot(ring_.req_cons + n).req),
                sizeof(nif::netif_tx_request));
    return chain_[n++];
  };
  const nif::netif_tx_request first = take();
  const char* bad = nullptr;
  bool incomplete = false;
  uint32_t extras = 0;
  bool have_gso = false, mcast = false;
  nif::netif_extra_info gso{};
  if (first.flags & nif::NETTXF_extra_info) {
    for (;;) {
      if (n >= avail) {
        incomplete = true;
        break;
      }
      const nif::netif_extra_info e = as_extra(take());
      extras++;
      if (e.type == nif::XEN_NETIF_EXTRA_TYPE_NONE || e.type >= nif::XEN_NETIF_EXTRA_TYPE_MAX) {
        bad = bad ? bad : "unknown extra-info type";
      } else if (e.type == nif::XEN_NETIF_EXTRA_TYPE_GSO) {
        if (e.u.gso.size == 0) bad = bad ? bad : "GSO size 0";
        else if (e.u.gso.type != nif::XEN_NETIF_GSO_TYPE_TCPV4 && e.u.gso.type != nif::XEN_NETIF_GSO_TYPE_TCPV6)
          bad = bad ? bad : "unknown GSO type";
        have_gso = true;
        gso = e;
      } else if (e.type == nif::XEN_NETIF_EXTRA_TYPE_MCAST_ADD || e.type == nif::XEN_NETIF_EXTRA_TYPE_MCAST_DEL) {
        mcast = true;  // multicast control, which we do not offer: ignored
      }
      if (!(e.flags & nif::XEN_NETIF_EXTRA_FLAG_MORE)) break;
      if (extras >= kMaxExtras) {
        bad = bad ? bad : "too many extra-info slots";
        break;
      }
    }
  }
  uint32_t data_slots = 1;
  uint16_t flags = first.flags;
  while (!incomplete && (flags & nif::NETTXF_more_data)) {
    if (n >= avail) {
      incomplete = true;
      break;
    }
    flags = take().flags;
    data_slots++;
  }
  if (incomplete) return refuse(n, extras, "packet continues past the published requests");
  if (bad) return refuse(n, extras, bad);
  if (data_slots > nif::XEN_NETIF_NR_SLOTS_MIN) return refuse(n, extras, "more than 18 slots");
  if (mcast) {  // a control request, not a frame
    answer(n, extras, nif::XEN_NETIF_RSP_OKAY);
    return Step::kConsumed;
  }

  // 2. Sizes and offsets: the first slot's own size is what the others
  // leave of the total.
  uint32_t rest = 0;
  for (uint32_t i = 1 + extras; i < n; i++) {
    const auto& r = chain_[i];
    if (r.size == 0) return refuse(n, extras, "empty fragment");
    if (uint32_t(r.offset) + r.size > xen::kPageSize) return refuse(n, extras, "fragment crosses its page");
    rest += r.size;
  }
  if (rest > first.size) return refuse(n, extras, "fragments larger than the packet");
  const uint32_t total = first.size, head = first.size - rest;
  if (head < 14) return refuse(n, extras, "first slot shorter than an Ethernet header");
  if (uint32_t(first.offset) + head > xen::kPageSize) return refuse(n, extras, "first slot crosses its page");

  // 3. Copy out of the granted pages (read access).
  uint8_t* frame = buf + kVnetHdrLen;
  uint32_t pos = 0;
  for (uint32_t i = 0; i < n; i++) {
    if (i >= 1 && i <= extras) continue;
    const auto& r = chain_[i];
    const uint32_t size = i == 0 ? head : r.size;
    MappedGrant g = map_granted_page(grants_, r.gref, false);
    if (!g) return refuse(n, extras, "slot grant not usable (bad ref, not granted to dom0, or outside RAM)");
    std::memcpy(frame + pos, g.data() + r.offset, size);
    pos += size;
  }

  // 4. Offloads into the virtio_net_hdr.
  VnetHdr vh{};
  if ((first.flags & nif::NETTXF_csum_blank) || have_gso) {
    const auto l4 = find_l4(frame, total);
    if (!l4) return refuse(n, extras, "csum_blank/GSO frame without TCP/UDP headers");
    vh.flags = kVnetNeedsCsum;
    vh.csum_start = l4->csum_start;
    vh.csum_offset = l4->csum_offset;
    if (have_gso) {
      const bool v6 = gso.u.gso.type == nif::XEN_NETIF_GSO_TYPE_TCPV6;
      if (!l4->tcp || l4->ipv6 != v6) return refuse(n, extras, "GSO type does not match the headers");
      vh.gso_type = v6 ? kVnetGsoTcpv6 : kVnetGsoTcpv4;
      vh.gso_size = gso.u.gso.size;
      vh.hdr_len = l4->header_len;
      set_pseudo_header_sum(frame, total, *l4);
    }
  }

  // 5. Anti-spoofing, on the copy.
  if (check_frame(frame, total, policy_) != SpoofVerdict::kAllow) {
    answer(n, extras, nif::XEN_NETIF_RSP_OKAY);
    VifStats::add(stats_.tx_spoofed);
    return Step::kConsumed;
  }

  std::memcpy(buf, &vh, sizeof vh);
  len = kVnetHdrLen + total;
  answer(n, extras, nif::XEN_NETIF_RSP_OKAY);
  VifStats::add(stats_.tx_packets);
  VifStats::add(stats_.tx_bytes, total);
  return Step::kPacket;
}

}  // namespace pv::netback
