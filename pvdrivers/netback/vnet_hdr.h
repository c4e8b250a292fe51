// The header a tap with IFF_VNET_HDR puts before every frame (Linux's
// legacy struct virtio_net_hdr, native byte order). <linux/virtio_net.h>
// cannot be included from C++ (a member named `class`), so its layout and
// the flag values are restated here and pinned.
#pragma once
#include <cstddef>
#include <cstdint>

namespace pv::netback {

struct VnetHdr {
  uint8_t flags;     // kVnetNeedsCsum, kVnetDataValid
  uint8_t gso_type;  // kVnetGso*
  uint16_t hdr_len;  // Ethernet + IP + TCP/UDP headers (a hint)
  uint16_t gso_size;
  uint16_t csum_start;
  uint16_t csum_offset;
};
static_assert(sizeof(VnetHdr) == 10 && offsetof(VnetHdr, csum_offset) == 8);

inline constexpr uint8_t kVnetNeedsCsum = 1;  // VIRTIO_NET_HDR_F_NEEDS_CSUM
inline constexpr uint8_t kVnetDataValid = 2;  // VIRTIO_NET_HDR_F_DATA_VALID
inline constexpr uint8_t kVnetGsoNone = 0;    // VIRTIO_NET_HDR_GSO_*
inline constexpr uint8_t kVnetGsoTcpv4 = 1;
inline constexpr uint8_t kVnetGsoTcpv6 = 4;
inline constexpr uint8_t kVnetGsoEcn = 0x80;

}  // namespace pv::netback
