// pvguest: helpers for the network path: byte order, word-wise copy and
// fill, and the Internet checksum.
//
// Every guest supervisor instruction is emulated on the project's machines
// (~0.6 us each), so payload loops are what a packet costs. Measured there:
// `rep movsq` moves 8 bytes per emulated step (1500 bytes ~170 us), a C loop
// of 64-bit loads/stores is ~5x slower and a byte loop (lib's memcpy) ~8x.
// The checksum adds eight 64-bit words per loop turn with the carry chained
// through `adc` (11 instructions per 64 bytes).
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace net {

inline constexpr uint16_t bswap16(uint16_t v) { return uint16_t((v >> 8) | (v << 8)); }
inline constexpr uint32_t bswap32(uint32_t v) {
  return (v >> 24) | ((v >> 8) & 0xff00) | ((v << 8) & 0xff0000) | (v << 24);
}
inline constexpr uint16_t htons(uint16_t v) { return bswap16(v); }
inline constexpr uint16_t ntohs(uint16_t v) { return bswap16(v); }
inline constexpr uint32_t htonl(uint32_t v) { return bswap32(v); }
inline constexpr uint32_t ntohl(uint32_t v) { return bswap32(v); }

// Unaligned loads/stores of wire fields (the compiler emits one mov).
inline uint16_t ld16(const void* p) { uint16_t v; __builtin_memcpy(&v, p, 2); return v; }
inline uint32_t ld32(const void* p) { uint32_t v; __builtin_memcpy(&v, p, 4); return v; }
inline void st16(void* p, uint16_t v) { __builtin_memcpy(p, &v, 2); }
inline void st32(void* p, uint32_t v) { __builtin_memcpy(p, &v, 4); }
inline uint16_t ld_be16(const void* p) { return ntohs(ld16(p)); }
inline uint32_t ld_be32(const void* p) { return ntohl(ld32(p)); }
inline void st_be16(void* p, uint16_t v) { st16(p, htons(v)); }
inline void st_be32(void* p, uint32_t v) { st32(p, htonl(v)); }

// Copy / zero: `rep movsq` / `rep stosq` for the words, then the tail.
void copy(void* dst, const void* src, size_t n);
void zero(void* dst, size_t n);
inline void copy6(void* d, const void* s) {  // a MAC address
  st32(d, ld32(s));
  st16(static_cast<uint8_t*>(d) + 4, ld16(static_cast<const uint8_t*>(s) + 4));
}

// Ones' complement sum of n bytes starting at p, added to `sum` (not
// folded). Summing native little-endian words gives the checksum in memory
// (network) order once folded, whatever the alignment of p.
uint64_t csum_add(const void* p, size_t n, uint64_t sum = 0);
inline uint16_t csum_fold(uint64_t sum) {
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffffffffu) + (sum >> 32);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return uint16_t(sum);
}
// The value to store in a checksum field (already in network order).
inline uint16_t csum_finish(uint64_t sum) { return uint16_t(~csum_fold(sum)); }
inline uint16_t csum(const void* p, size_t n) { return csum_finish(csum_add(p, n)); }
// Pseudo-header of UDP/TCP over IPv4: addresses as stored (network order).
inline uint64_t csum_pseudo(uint32_t src_n, uint32_t dst_n, uint8_t proto, uint16_t len) {
  return uint64_t(src_n) + dst_n + htons(proto) + htons(len);
}
// RFC 1624 incremental update: field `old_n` became `new_n` (both as stored).
inline uint16_t csum_update16(uint16_t check_n, uint16_t old_n, uint16_t new_n) {
  uint64_t s = uint16_t(~check_n) + uint64_t(uint16_t(~old_n)) + new_n;
  return uint16_t(~csum_fold(s));
}

// Dotted quad (network order) <-> text.
bool parse_ip(const char* s, size_t len, uint32_t& ip_n);
// "a.b.c.d" into buf (>= 16 bytes); returns buf.
const char* ip_str(uint32_t ip_n, char* buf);
// "aa:bb:cc:dd:ee:ff" into buf (>= 18 bytes); returns buf.
const char* mac_str(const uint8_t* mac, char* buf);
bool parse_mac(const char* s, uint8_t* mac);

}  // namespace net
