#include "netback/rx_path.h"

#include <cstring>

#include "common/domain_link.h"
#include "netback/packet_offload.h"
#include "netback/tx_path.h"

namespace pv::netback {
namespace nif = xen::netif;

namespace {
constexpr size_t kPage = xen::kPageSize;

VnetHdr header(const uint8_t* pkt) {
  VnetHdr h;
  std::memcpy(&h, pkt, sizeof h);
  return h;
}
}  // namespace

RxPath::RxPath(nif::RxBackRing ring, GrantAccess& grants, RxFeatures features, VifStats& stats)
    : ring_(ring), grants_(grants), features_(features), stats_(stats) {}

unsigned RxPath::slots_needed(uint8_t* pkt, size_t len) {
  if (len < kVnetHdrLen + 14) return 0;
  VnetHdr h = header(pkt);
  uint8_t* frame = pkt + kVnetHdrLen;
  const size_t flen = len - kVnetHdrLen;
  const uint8_t gso_type = h.gso_type & ~kVnetGsoEcn;
  unsigned extra = 0;
  if (gso_type != kVnetGsoNone) {
    const bool ok = (gso_type == kVnetGsoTcpv4 && features_.gso_tcpv4) ||
                    (gso_type == kVnetGsoTcpv6 && features_.gso_tcpv6);
    if (!ok || h.gso_size == 0) return 0;
    extra = 1;
  }
  if (h.flags & kVnetNeedsCsum) {
    // A front-end that cannot take this family's partial checksum gets it
    // completed here (the frame then counts as validated).
    const auto l4 = find_l4(frame, flen);
    const bool can = l4 ? (l4->ipv6 ? features_.csum_v6 : features_.csum_v4) : false;
    if (!can) {
      if (extra) return 0;  // GSO needs the partial checksum
      if (!complete_checksum(frame, flen, h.csum_start, h.csum_offset)) return 0;
      h.flags = kVnetDataValid;
      std::memcpy(pkt, &h, sizeof h);
    }
  }
  const unsigned data = unsigned((flen + kPage - 1) / kPage);
  if (data > 1 && !features_.sg) return 0;
  return data + extra;
}

RxPath::Result RxPath::deliver(uint8_t* pkt, size_t len) {
  const unsigned need = slots_needed(pkt, len);
  if (need == 0) {
    VifStats::add(stats_.rx_dropped_too_big);
    return Result::kDropped;
  }
  if (ring_.unconsumed_requests() < need) return Result::kNoRoom;

  const VnetHdr h = header(pkt);
  const uint8_t* frame = pkt + kVnetHdrLen;
  const size_t flen = len - kVnetHdrLen;
  const uint8_t gso_type = h.gso_type & ~kVnetGsoEcn;
  const bool gso = gso_type != kVnetGsoNone;
  uint16_t first_flags = 0;
  if (h.flags & kVnetNeedsCsum) first_flags |= nif::NETRXF_csum_blank | nif::NETRXF_data_validated;
  else if (h.flags & kVnetDataValid) first_flags |= nif::NETRXF_data_validated;
  if (gso) first_flags |= nif::NETRXF_extra_info;

  bool ok = true;
  size_t pos = 0;
  for (unsigned slot = 0; pos < flen; slot++) {
    const nif::netif_rx_request req = ring_.take_request();
    const size_t chunk = flen - pos < kPage ? flen - pos : kPage;
    nif::netif_rx_response& rsp = ring_.next_response();
    rsp.id = req.id;
    rsp.offset = 0;
    rsp.flags = uint16_t((slot == 0 ? first_flags : 0) | (pos + chunk < flen ? nif::NETRXF_more_data : 0));
    MappedGrant g = map_granted_page(grants_, req.gref, true);
    if (g) {
      std::memcpy(g.data(), frame + pos, chunk);
      rsp.status = int16_t(chunk);
    } else {
      rsp.status = nif::XEN_NETIF_RSP_ERROR;
      ok = false;
    }
    ring_.rsp_prod_pvt++;
    pos += chunk;
    if (slot == 0 && gso) {
      // The GSO slot goes right after the first data slot.
      (void)ring_.take_request();
      nif::netif_extra_info e{};
      e.type = nif::XEN_NETIF_EXTRA_TYPE_GSO;
      e.flags = 0;
      e.u.gso.size = h.gso_size;
      e.u.gso.type = gso_type == kVnetGsoTcpv6 ? nif::XEN_NETIF_GSO_TYPE_TCPV6 : nif::XEN_NETIF_GSO_TYPE_TCPV4;
      static_assert(sizeof e == sizeof(nif::netif_rx_response));
      std::memcpy(&ring_.next_response(), &e, sizeof e);
      ring_.rsp_prod_pvt++;
    }
  }
  if (!ok) {
    VifStats::add(stats_.rx_bad_requests);
    return Result::kDropped;
  }
  VifStats::add(stats_.rx_packets);
  VifStats::add(stats_.rx_bytes, flen);
  return Result::kDelivered;
}

}  // namespace pv::netback
