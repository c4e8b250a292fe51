// pvguest: word-wise copy/zero, the Internet checksum, address text.
#include "net_util.h"

namespace net {

void copy(void* dst, const void* src, size_t n) {
  size_t words = n >> 3;
  asm volatile("rep movsq" : "+D"(dst), "+S"(src), "+c"(words) : : "memory");
  auto* d = static_cast<uint8_t*>(dst);
  auto* s = static_cast<const uint8_t*>(src);
  if (n & 4) st32(d, ld32(s)), d += 4, s += 4;
  if (n & 2) st16(d, ld16(s)), d += 2, s += 2;
  if (n & 1) *d = *s;
}

void zero(void* dst, size_t n) {
  size_t words = n >> 3;
  asm volatile("rep stosq" : "+D"(dst), "+c"(words) : "a"(uint64_t(0)) : "memory");
  auto* d = static_cast<uint8_t*>(dst);
  if (n & 4) st32(d, 0), d += 4;
  if (n & 2) st16(d, 0), d += 2;
  if (n & 1) *d = 0;
}

uint64_t csum_add(const void* p, size_t n, uint64_t sum) {
  auto* b = static_cast<const uint8_t*>(p);
  size_t blocks = n >> 6;
  if (blocks) {
    // `lea` and `dec` leave CF alone: one carry chain through the whole loop.
    asm("clc\n"
        "1:\n\t"
        "adcq 0(%[p]), %[s]\n\t"
        "adcq 8(%[p]), %[s]\n\t"
        "adcq 16(%[p]), %[s]\n\t"
        "adcq 24(%[p]), %[s]\n\t"
        "adcq 32(%[p]), %[s]\n\t"
        "adcq 40(%[p]), %[s]\n\t"
        "adcq 48(%[p]), %[s]\n\t"
        "adcq 56(%[p]), %[s]\n\t"
        "leaq 64(%[p]), %[p]\n\t"
        "decq %[c]\n\t"
        "jnz 1b\n\t"
        "adcq $0, %[s]"
        : [s] "+r"(sum), [p] "+r"(b), [c] "+r"(blocks)
        : "m"(*static_cast<const uint8_t(*)[1]>(p))
        : "cc");
  }
  n &= 63;
  while (n >= 8) {
    uint64_t w;
    __builtin_memcpy(&w, b, 8);
    asm("addq %[w], %[s]\n\tadcq $0, %[s]" : [s] "+r"(sum) : [w] "r"(w) : "cc");
    b += 8, n -= 8;
  }
  if (n) {  // up to 7 bytes, each at its own position in a zero word
    uint64_t w = 0;
    if (n & 4) w = ld32(b + (n & 3)) ;
    if (n & 2) w = (w << 16) | ld16(b + (n & 1));
    if (n & 1) w = (w << 8) | b[0];
    asm("addq %[w], %[s]\n\tadcq $0, %[s]" : [s] "+r"(sum) : [w] "r"(w) : "cc");
  }
  return sum;
}

bool parse_ip(const char* s, size_t len, uint32_t& ip_n) {
  uint32_t v = 0;
  unsigned parts = 0, digits = 0, cur = 0;
  for (size_t i = 0; i <= len; i++) {
    if (i == len || s[i] == '.') {
      if (!digits || cur > 255) return false;
      v = (v << 8) | cur;
      parts++, digits = 0, cur = 0;
      if (parts > 4) return false;
    } else if (s[i] >= '0' && s[i] <= '9') {
      cur = cur * 10 + unsigned(s[i] - '0');
      if (++digits > 3) return false;
    } else {
      return false;
    }
  }
  if (parts != 4) return false;
  ip_n = htonl(v);
  return true;
}

namespace {
char* put_dec(char* p, unsigned v) {
  if (v >= 100) *p++ = char('0' + v / 100);
  if (v >= 10) *p++ = char('0' + v / 10 % 10);
  *p++ = char('0' + v % 10);
  return p;
}
int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
}  // namespace

const char* ip_str(uint32_t ip_n, char* buf) {
  auto* b = reinterpret_cast<const uint8_t*>(&ip_n);
  char* p = buf;
  for (int i = 0; i < 4; i++) {
    p = put_dec(p, b[i]);
    if (i < 3) *p++ = '.';
  }
  *p = 0;
  return buf;
}

const char* mac_str(const uint8_t* mac, char* buf) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 6; i++) {
    buf[i * 3] = hex[mac[i] >> 4];
    buf[i * 3 + 1] = hex[mac[i] & 15];
    buf[i * 3 + 2] = i < 5 ? ':' : 0;
  }
  return buf;
}

bool parse_mac(const char* s, uint8_t* mac) {
  for (int i = 0; i < 6; i++) {
    int h = hexval(s[0]), l = h < 0 ? -1 : hexval(s[1]);
    if (h < 0 || l < 0) return false;
    mac[i] = uint8_t(h << 4 | l);
    s += 2;
    if (i < 5 && *s++ != ':') return false;
  }
  return *s == 0;
}

}  // namespace net
