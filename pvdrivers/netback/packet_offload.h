// Checksum and segmentation offload between netif flags and the tap's
// virtio-net header (pure code on frames, no system calls).
//
// A frame with a partial checksum (netif NETTXF_csum_blank, virtio
// VIRTIO_NET_HDR_F_NEEDS_CSUM) carries the TCP/UDP pseudo-header sum in its
// checksum field; the full sum over [csum_start, end) goes to
// csum_start + csum_offset. netif does not carry those offsets, so the
// back-end finds them in the headers, as Linux netback's
// skb_checksum_setup() does: Ethernet (up to two VLAN tags), IPv4 (not a
// fragment) or IPv6 (hop-by-hop, routing and destination options headers
// skipped; not a fragment), then TCP or UDP.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>

namespace pv::netback {

struct L4Location {
  uint16_t l3_start = 0;     // the IPv4/IPv6 header
  uint16_t csum_start = 0;   // from the start of the frame: the L4 header
  uint16_t csum_offset = 0;  // from csum_start: the checksum field
  uint16_t header_len = 0;   // csum_start + the L4 header (TCP: data offset)
  bool ipv6 = false;
  bool tcp = false;
};

// Where the TCP/UDP checksum of `frame` is; nullopt for anything else or
// headers cut short.
std::optional<L4Location> find_l4(const uint8_t* frame, size_t len);

// Writes the pseudo-header sum (with the L4 length of this frame) into the
// checksum field, as Linux netback does for GSO frames whose front-end may
// not have (recalculate_partial_csum).
void set_pseudo_header_sum(uint8_t* frame, size_t len, const L4Location& l4);

// Completes a partial checksum in software: the ones' complement sum of
// [csum_start, len) folded into the field at csum_start + csum_offset.
// False if the offsets do not fit the frame.
bool complete_checksum(uint8_t* frame, size_t len, uint16_t csum_start, uint16_t csum_offset);

}  // namespace pv::netback
