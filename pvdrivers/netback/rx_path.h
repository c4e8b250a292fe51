// Tap frames -> the guest's receive ring (one queue's rx side).
//
// The front-end posts empty granted pages (rx requests); deliver() copies
// one frame from a tap buffer (virtio_net_hdr, then the frame) into as
// many of them as it needs, each filled from offset 0, and answers them in
// request order:
//
//   first slot   flags: csum_blank + data_validated for a partial checksum
//                (VIRTIO_NET_HDR_F_NEEDS_CSUM), data_validated for a
//                checksum the host verified (F_DATA_VALID); more_data when
//                more slots follow; extra_info when a GSO slot follows;
//   GSO slot     right after the first slot (it uses up one request), a
//                netif_extra_info with the MSS, only for GSO types the
//                front-end enabled (feature-gso-tcpv4/v6);
//   more slots   with feature-sg only (else a frame must fit one page).
//
// A slot whose grant is unusable (not writable, not ours) is answered
// XEN_NETIF_RSP_ERROR (the front-end drops the frame) and counted. A frame
// the front-end cannot take is dropped and counted. When the front-end
// posted too few requests, deliver() consumes nothing: the caller keeps
// the frame and waits (final_check(n) arms the front-end's notification).
#pragma once
#include <cstddef>
#include <cstdint>

#include <xen/io/netif.h>

#include "pv/grant_access.h"
#include "netback/vif_stats.h"

namespace pv::netback {

// What the front-end said it takes on its receive side.
struct RxFeatures {
  bool sg = false;
  bool gso_tcpv4 = false, gso_tcpv6 = false;
  bool csum_v4 = true;   // partial checksums (not feature-no-csum-offload)
  bool csum_v6 = false;  // feature-ipv6-csum-offload
};

class RxPath {
 public:
  enum class Result { kDelivered, kNoRoom, kDropped };

  RxPath(xen::netif::RxBackRing ring, GrantAccess& grants, RxFeatures features, VifStats& stats);

  // Requests the frame in `pkt` (virtio_net_hdr + frame, `len` bytes in
  // all) needs; 0 if the front-end cannot take it. May complete a partial
  // checksum in place (a front-end that cannot take csum_blank).
  unsigned slots_needed(uint8_t* pkt, size_t len);
  Result deliver(uint8_t* pkt, size_t len);
  bool push_responses() { return ring_.push_responses(); }
  // Arms req_event for `n` requests; true if they are there already.
  bool final_check(unsigned n) { return ring_.final_check_for_requests(n); }
  bool broken() const { return ring_.overflowed(); }

 private:
  xen::netif::RxBackRing ring_;
  GrantAccess& grants_;
  RxFeatures features_;
  VifStats& stats_;
};

}  // namespace pv::netback
