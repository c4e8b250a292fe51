// pvguest: string functions and a small formatter.
#include "lib.h"

extern "C" {
void* memset(void* d, int c, size_t n) {
  auto* p = static_cast<volatile unsigned char*>(d);
  for (size_t i = 0; i < n; i++) p[i] = static_cast<unsigned char>(c);
  return d;
}
void* memcpy(void* d, const void* s, size_t n) {
  auto* dp = static_cast<unsigned char*>(d);
  auto* sp = static_cast<const unsigned char*>(s);
  for (size_t i = 0; i < n; i++) dp[i] = sp[i];
  return d;
}
void* memmove(void* d, const void* s, size_t n) {
  auto* dp = static_cast<unsigned char*>(d);
  auto* sp = static_cast<const unsigned char*>(s);
  if (dp < sp) {
    for (size_t i = 0; i < n; i++) dp[i] = sp[i];
  } else {
    for (size_t i = n; i > 0; i--) dp[i - 1] = sp[i - 1];
  }
  return d;
}
int memcmp(const void* a, const void* b, size_t n) {
  auto* x = static_cast<const unsigned char*>(a);
  auto* y = static_cast<const unsigned char*>(b);
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return x[i] < y[i] ? -1 : 1;
  return 0;
}
size_t strlen(const char* s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}
}

namespace lib {

int strcmp(const char* a, const char* b) {
  while (*a && *a == *b) a++, b++;
  return static_cast<unsigned char>(*a) - static_cast<unsigned char>(*b);
}
size_t strnlen(const char* s, size_t max) {
  size_t n = 0;
  while (n < max && s[n]) n++;
  return n;
}

bool parse_u64(const char* s, size_t len, uint64_t& out) {
  if (len == 0) return false;
  uint64_t v = 0;
  unsigned base = 10;
  size_t i = 0;
  if (len > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) base = 16, i = 2;
  for (; i < len; i++) {
    char c = s[i];
    unsigned d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    if (v > (~0ull - d) / base) return false;
    v = v * base + d;
  }
  out = v;
  return true;
}

namespace {
struct Out {
  char* buf;
  size_t size;
  size_t n = 0;
  void put(char c) {
    if (n + 1 < size) buf[n] = c;
    n++;
  }
};
void put_num(Out& o, uint64_t v, unsigned base, bool upper, int width, bool zero, bool neg) {
  char tmp[24];
  int n = 0;
  const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
  do {
    tmp[n++] = digits[v % base];
    v /= base;
  } while (v);
  int len = n + (neg ? 1 : 0);
  if (neg && zero) o.put('-');
  for (; len < width; len++) o.put(zero ? '0' : ' ');
  if (neg && !zero) o.put('-');
  while (n) o.put(tmp[--n]);
}
}  // namespace

int vsnprintf(char* buf, size_t size, const char* fmt, va_list ap) {
  Out o{buf, size};
  for (; *fmt; fmt++) {
    if (*fmt != '%') {
      o.put(*fmt);
      continue;
    }
    fmt++;
    bool zero = false;
    int width = 0;
    if (*fmt == '0') zero = true, fmt++;
    while (*fmt >= '0' && *fmt <= '9') width = width * 10 + (*fmt++ - '0');
    int lng = 0;
    while (*fmt == 'l' || *fmt == 'z') lng++, fmt++;
    switch (*fmt) {
      case 'd':
      case 'i': {
        int64_t v = lng ? va_arg(ap, int64_t) : va_arg(ap, int);
        put_num(o, v < 0 ? uint64_t(-(v + 1)) + 1 : uint64_t(v), 10, false, width, zero, v < 0);
        break;
      }
      case 'u': put_num(o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 10, false, width, zero, false); break;
      case 'x':
      case 'X':
        put_num(o, lng ? va_arg(ap, uint64_t) : va_arg(ap, unsigned), 16, *fmt == 'X', width, zero, false);
        break;
      case 'p':
        o.put('0'), o.put('x');
        put_num(o, uint64_t(va_arg(ap, void*)), 16, false, width, zero, false);
        break;
      case 's': {
        const char* s = va_arg(ap, const char*);
        if (!s) s = "(null)";
        int len = int(strlen(s));
        for (; len < width; len++) o.put(' ');
        while (*s) o.put(*s++);
        break;
      }
      case 'c': o.put(char(va_arg(ap, int))); break;
      case '%': o.put('%'); break;
      case 0: fmt--; break;
      default: o.put('%'), o.put(*fmt); break;
    }
  }
  if (size) buf[o.n < size ? o.n : size - 1] = 0;
  return int(o.n);
}

int snprintf(char* buf, size_t size, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, size, fmt, ap);
  va_end(ap);
  return n;
}

}  // namespace lib
