// The guest's transmit ring -> tap frames (one queue's tx side).
//
// next() takes one packet off the tx ring, checks every slot, copies the
// data out of the granted pages into a buffer laid out as the tap wants it
// (a virtio_net_hdr, then the frame) and answers every slot it consumed:
//
//   slot layout    first request (size = whole packet), its netif_extra_info
//                  slots if NETTXF_extra_info (chained by
//                  XEN_NETIF_EXTRA_FLAG_MORE), then one request per further
//                  fragment while NETTXF_more_data is set;
//   checks         the chain ends within the requests the front-end
//                  published; at most XEN_NETIF_NR_SLOTS_MIN data slots;
//                  every slot: size > 0 and offset + size within its page,
//                  a grant that allows reading; the first slot holds at
//                  least the Ethernet header (its own size = total - the
//                  others, as Linux netback computes it); extra-info types
//                  known, GSO with a TCPv4/v6 type and a non-zero size;
//                  csum_blank/GSO frames must have TCP/UDP headers we can
//                  find (for csum_start/csum_offset);
//   answers        XEN_NETIF_RSP_OKAY per data slot (ERROR for every slot of
//                  a malformed packet), XEN_NETIF_RSP_NULL for extra-info
//                  slots; a frame the anti-spoofing filter refuses is
//                  answered OKAY and dropped (as Linux netback drops after
//                  accepting), and counted.
//
// Every decision is made on copies of the slots (the guest can rewrite the
// shared ring at any time). Responses become visible with push_responses().
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <xen/io/netif.h>

#include "pv/grant_access.h"
#include "netback/spoof_filter.h"
#include "netback/vnet_hdr.h"
#include "netback/vif_stats.h"

namespace pv::netback {

inline constexpr size_t kVnetHdrLen = sizeof(VnetHdr);
// A tap packet buffer: the virtio_net_hdr and the largest netif frame (or
// the largest frame a tap with TSO hands us, plus a VLAN tag).
inline constexpr size_t kPacketBufBytes = 68 * 1024;
static_assert(kPacketBufBytes >= kVnetHdrLen + xen::netif::XEN_NETIF_MAX_TX_SIZE + 4);

class TxPath {
 public:
  enum class Step {
    kIdle,      // no request waiting
    kPacket,    // `len` bytes in buf (virtio_net_hdr + frame) for the tap
    kConsumed,  // requests answered, nothing to send (malformed, spoofed)
    kBroken,    // the front-end overran the ring: the device must disconnect
  };

  TxPath(xen::netif::TxBackRing ring, GrantAccess& grants, SpoofPolicy policy, VifStats& stats);

  // `buf` holds kPacketBufBytes.
  Step next(uint8_t* buf, size_t& len);
  // RING_PUSH_RESPONSES_AND_CHECK_NOTIFY: true if the guest wants an event.
  bool push_responses() { return ring_.push_responses(); }
  // Arms req_event before sleeping; true if requests arrived meanwhile.
  bool final_check() { return ring_.final_check_for_requests(); }
  // Why the packet of the last next() was refused as malformed ("" if it
  // was not).
  const std::string& last_error() const { return last_error_; }

 private:
  struct Packet;
  // The phases of next(), in order (tx_path.cpp).
  const xen::netif::netif_tx_request& take(Packet& pk);
  void take_extras(Packet& pk, uint32_t avail);
  void take_fragments(Packet& pk, uint32_t avail, uint16_t first_flags);
  const char* check_sizes(Packet& pk) const;
  bool copy_frame(const Packet& pk, uint8_t* frame);
  const char* offloads(const Packet& pk, uint8_t* frame, VnetHdr& vh) const;
  void answer(uint32_t n, uint32_t extras, int16_t status);
  Step refuse(uint32_t n, uint32_t extras, const char* why);

  xen::netif::TxBackRing ring_;
  GrantAccess& grants_;
  SpoofPolicy policy_;
  VifStats& stats_;
  std::vector<xen::netif::netif_tx_request> chain_;  // copies of one packet's slots
  std::string last_error_;
};

}  // namespace pv::netback
