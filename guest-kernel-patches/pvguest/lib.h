// pvguest: a tiny libc subset (strings, formatting, number parsing).
#pragma once
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

extern "C" {
void* memset(void* d, int c, size_t n);
void* memcpy(void* d, const void* s, size_t n);
void* memmove(void* d, const void* s, size_t n);
int memcmp(const void* a, const void* b, size_t n);
size_t strlen(const char* s);
}

namespace lib {
int strcmp(const char* a, const char* b);
size_t strnlen(const char* s, size_t max);
// Parses a decimal (or 0x hex) unsigned number; returns false on junk.
bool parse_u64(const char* s, size_t len, uint64_t& out);
// printf subset: %d %i %u %x %X %p %s %c %%, length modifiers l/ll/z,
// width and zero padding. Always NUL-terminates; returns chars written.
int vsnprintf(char* buf, size_t size, const char* fmt, va_list ap);
int snprintf(char* buf, size_t size, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
}  // namespace lib
