#include "netback/tx_path.h"

#include <cstring>

#include "common/domain_link.h"
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

// What the slots of one packet say, gathered while they are copied off
// the ring (chain_[0, n)): slot 0 the first request, slots 1..extras its
// extra-info slots, then one request per further fragment.
struct TxPath::Packet {
  uint32_t n = 0;           // slots taken
  uint32_t extras = 0;      // extra-info slots among them
  uint32_t data_slots = 1;  // the first request and every fragment
  bool incomplete = false;  // the chain goes past the published requests
  const char* bad = nullptr;  // the first malformed extra-info slot's fault
  bool mcast = false;       // a multicast control request, not a frame
  bool have_gso = false;
  nif::netif_extra_info gso{};
  uint32_t total = 0, head = 0;  // the frame's length; the first slot's share
};

const nif::netif_tx_request& TxPath::take(Packet& pk) {
  std::memcpy(&chain_[pk.n], const_cast<const nif::netif_tx_request*>(&ring_.slot(ring_.req_cons + pk.n).req),
              sizeof(nif::netif_tx_request));
  return chain_[pk.n++];
}

// 1a. The extra-info slots after the first request, chained by
// XEN_NETIF_EXTRA_FLAG_MORE: at most one of each type.
void TxPath::take_extras(Packet& pk, uint32_t avail) {
  auto fault = [&](const char* why) {
    if (!pk.bad) pk.bad = why;
  };
  for (;;) {
    if (pk.n >= avail) {
      pk.incomplete = true;
      return;
    }
    const nif::netif_extra_info e = as_extra(take(pk));
    pk.extras++;
    if (e.type == nif::XEN_NETIF_EXTRA_TYPE_NONE || e.type >= nif::XEN_NETIF_EXTRA_TYPE_MAX) {
      fault("unknown extra-info type");
    } else if (e.type == nif::XEN_NETIF_EXTRA_TYPE_GSO) {
      if (e.u.gso.size == 0) fault("GSO size 0");
      else if (e.u.gso.type != nif::XEN_NETIF_GSO_TYPE_TCPV4 && e.u.gso.type != nif::XEN_NETIF_GSO_TYPE_TCPV6)
        fault("unknown GSO type");
      pk.have_gso = true;
      pk.gso = e;
    } else if (e.type == nif::XEN_NETIF_EXTRA_TYPE_MCAST_ADD || e.type == nif::XEN_NETIF_EXTRA_TYPE_MCAST_DEL) {
      pk.mcast = true;  // multicast control, which we do not offer: ignored
    }
    if (!(e.flags & nif::XEN_NETIF_EXTRA_FLAG_MORE)) return;
    if (pk.extras >= kMaxExtras) {
      fault("too many extra-info slots");
      return;
    }
  }
}

// 1b. One request per further fragment while NETTXF_more_data is set.
void TxPath::take_fragments(Packet& pk, uint32_t avail, uint16_t first_flags) {
  uint16_t flags = first_flags;
  while (!pk.incomplete && (flags & nif::NETTXF_more_data)) {
    if (pk.n >= avail) {
      pk.incomplete = true;
      return;
    }
    flags = take(pk).flags;
    pk.data_slots++;
  }
}

// 2. Sizes and offsets: the first slot's own size is what the others leave
// of the total. Null, or why the packet is malformed.
const char* TxPath::check_sizes(Packet& pk) const {
  const nif::netif_tx_request& first = chain_[0];
  uint32_t rest = 0;
  for (uint32_t i = 1 + pk.extras; i < pk.n; i++) {
    const auto& r = chain_[i];
    if (r.size == 0) return "empty fragment";
    if (uint32_t(r.offset) + r.size > xen::kPageSize) return "fragment crosses its page";
    rest += r.size;
  }
  if (rest > first.size) return "fragments larger than the packet";
  pk.total = first.size;
  pk.head = first.size - rest;
  if (pk.head < 14) return "first slot shorter than an Ethernet header";
  if (uint32_t(first.offset) + pk.head > xen::kPageSize) return "first slot crosses its page";
  return nullptr;
}

// 3. Copies the data slots out of the granted pages (read access) into
// `frame`; false if a grant is not usable.
bool TxPath::copy_frame(const Packet& pk, uint8_t* frame) {
  uint32_t pos = 0;
  for (uint32_t i = 0; i < pk.n; i++) {
    if (i >= 1 && i <= pk.extras) continue;
    const auto& r = chain_[i];
    const uint32_t size = i == 0 ? pk.head : r.size;
    MappedGrant g = map_granted_page(grants_, r.gref, false);
    if (!g) return false;
    std::memcpy(frame + pos, g.data() + r.offset, size);
    pos += size;
  }
  return true;
}

// 4. The checksum and segmentation offloads into the virtio_net_hdr. Null,
// or why the frame cannot carry them.
const char* TxPath::offloads(const Packet& pk, uint8_t* frame, VnetHdr& vh) const {
  if (!(chain_[0].flags & nif::NETTXF_csum_blank) && !pk.have_gso) return nullptr;
  const auto l4 = find_l4(frame, pk.total);
  if (!l4) return "csum_blank/GSO frame without TCP/UDP headers";
  vh.flags = kVnetNeedsCsum;
  vh.csum_start = l4->csum_start;
  vh.csum_offset = l4->csum_offset;
  if (!pk.have_gso) return nullptr;
  const bool v6 = pk.gso.u.gso.type == nif::XEN_NETIF_GSO_TYPE_TCPV6;
  if (!l4->tcp || l4->ipv6 != v6) return "GSO type does not match the headers";
  vh.gso_type = v6 ? kVnetGsoTcpv6 : kVnetGsoTcpv4;
  vh.gso_size = pk.gso.u.gso.size;
  vh.hdr_len = l4->header_len;
  set_pseudo_header_sum(frame, pk.total, *l4);
  return nullptr;
}

TxPath::Step TxPath::next(uint8_t* buf, size_t& len) {
  last_error_.clear();
  if (ring_.overflowed()) return Step::kBroken;
  const uint32_t avail = ring_.unconsumed_requests();
  if (avail == 0) return Step::kIdle;

  // 1. Copy the packet's slots out of the ring, following its chain.
  Packet pk;
  const uint16_t first_flags = take(pk).flags;
  if (first_flags & nif::NETTXF_extra_info) take_extras(pk, avail);
  take_fragments(pk, avail, first_flags);
  if (pk.incomplete) return refuse(pk.n, pk.extras, "packet continues past the published requests");
  if (pk.bad) return refuse(pk.n, pk.extras, pk.bad);
  if (pk.data_slots > nif::XEN_NETIF_NR_SLOTS_MIN) return refuse(pk.n, pk.extras, "more than 18 slots");
  if (pk.mcast) {  // a control request, not a frame
    answer(pk.n, pk.extras, nif::XEN_NETIF_RSP_OKAY);
    return Step::kConsumed;
  }
  if (const char* why = check_sizes(pk)) return refuse(pk.n, pk.extras, why);

  uint8_t* frame = buf + kVnetHdrLen;
  if (!copy_frame(pk, frame))
    return refuse(pk.n, pk.extras, "slot grant not usable (bad ref, not granted to dom0, or outside RAM)");
  VnetHdr vh{};
  if (const char* why = offloads(pk, frame, vh)) return refuse(pk.n, pk.extras, why);

  // 5. Anti-spoofing, on the copy.
  if (check_frame(frame, pk.total, policy_) != SpoofVerdict::kAllow) {
    answer(pk.n, pk.extras, nif::XEN_NETIF_RSP_OKAY);
    VifStats::add(stats_.tx_spoofed);
    return Step::kConsumed;
  }

  std::memcpy(buf, &vh, sizeof vh);
  len = kVnetHdrLen + pk.total;
  answer(pk.n, pk.extras, nif::XEN_NETIF_RSP_OKAY);
  VifStats::add(stats_.tx_packets);
  VifStats::add(stats_.tx_bytes, pk.total);
  return Step::kPacket;
}

}  // namespace pv::netback
