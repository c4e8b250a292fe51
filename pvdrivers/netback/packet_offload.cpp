#include "netback/packet_offload.h"

namespace pv::netback {
namespace {

constexpr uint16_t kIpv4 = 0x0800, kIpv6 = 0x86dd, kVlan = 0x8100, kQinQ = 0x88a8;
constexpr uint8_t kTcp = 6, kUdp = 17;

uint16_t be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }

// Ones' complement sum of big-endian 16-bit words (odd tail padded).
uint32_t sum16(const uint8_t* p, size_t n, uint32_t sum = 0) {
  uint64_t s = sum;
  size_t i = 0;
  for (; i + 1 < n; i += 2) s += uint32_t(p[i] << 8 | p[i + 1]);
  if (i < n) s += uint32_t(p[i] << 8);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint32_t(s);
}

uint16_t fold(uint32_t s) {
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return uint16_t(s);
}

}  // namespace

std::optional<L4Location> find_l4(const uint8_t* f, size_t len) {
  size_t off = 12;
  if (len < 14) return std::nullopt;
  uint16_t type = be16(f + off);
  for (int tags = 0; (type == kVlan || type == kQinQ) && tags < 2; tags++) {
    off += 4;
    if (len < off + 2) return std::nullopt;
    type = be16(f + off);
  }
  off += 2;  // the network header
  L4Location l;
  l.l3_start = uint16_t(off);
  uint8_t proto = 0;
  if (type == kIpv4) {
    if (len < off + 20 || (f[off] >> 4) != 4) return std::nullopt;
    const size_t ihl = size_t(f[off] & 15) * 4;
    if (ihl < 20 || len < off + ihl) return std::nullopt;
    if (be16(f + off + 6) & 0x3fff) return std::nullopt;  // MF or fragment offset
    proto = f[off + 9];
    off += ihl;
  } else if (type == kIpv6) {
    if (len < off + 40 || (f[off] >> 4) != 6) return std::nullopt;
    l.ipv6 = true;
    proto = f[off + 6];
    off += 40;
    // Extension headers we can step over (RFC 8200 order), a few at most.
    for (int n = 0; n < 8 && (proto == 0 || proto == 43 || proto == 60); n++) {
      if (len < off + 8) return std::nullopt;
      const uint8_t next = f[off];
      off += (size_t(f[off + 1]) + 1) * 8;
      proto = next;
    }
  } else {
    return std::nullopt;
  }
  if (proto == kTcp) {
    if (len < off + 20) return std::nullopt;
    const size_t doff = size_t(f[off + 12] >> 4) * 4;
    if (doff < 20 || len < off + doff) return std::nullopt;
    l.tcp = true;
    l.csum_offset = 16;
    l.header_len = uint16_t(off + doff);
  } else if (proto == kUdp) {
    if (len < off + 8) return std::nullopt;
    l.csum_offset = 6;
    l.header_len = uint16_t(off + 8);
  } else {
    return std::nullopt;
  }
  if (off > 0xffff) return std::nullopt;
  l.csum_start = uint16_t(off);
  return l;
}

void set_pseudo_header_sum(uint8_t* f, size_t len, const L4Location& l4) {
  const size_t l4_len = len - l4.csum_start;
  // Source and destination addresses of the IP header.
  uint32_t s = l4.ipv6 ? sum16(f + l4.l3_start + 8, 32) : sum16(f + l4.l3_start + 12, 8);
  s += l4.tcp ? kTcp : kUdp;
  s += uint32_t(l4_len & 0xffff) + uint32_t(l4_len >> 16);
  const uint16_t v = fold(s);
  f[l4.csum_start + l4.csum_offset] = uint8_t(v >> 8);
  f[l4.csum_start + l4.csum_offset + 1] = uint8_t(v);
}

bool complete_checksum(uint8_t* f, size_t len, uint16_t start, uint16_t offset) {
  if (size_t(start) + offset + 2 > len) return false;
  uint16_t v = uint16_t(~fold(sum16(f + start, len - start)));
  if (v == 0 && offset == 6) v = 0xffff;  // UDP: 0 means "no checksum"
  f[start + offset] = uint8_t(v >> 8);
  f[start + offset + 1] = uint8_t(v);
  return true;
}

}  // namespace pv::netback
