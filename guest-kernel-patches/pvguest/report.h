// pvguest: PASS/FAIL/SKIP result lines and counters for selftest/hostile.
#pragma once
#include <stdarg.h>

#include "console.h"
#include "lib.h"

struct Report {
  const char* prefix;  // "" or "hostile "
  unsigned passed = 0, failed = 0;

  void pass(const char* name) {
    passed++;
    con::printf("PASS %s%s\n", prefix, name);
  }
  void fail(const char* name, const char* fmt, ...) __attribute__((format(printf, 3, 4))) {
    va_list ap;
    va_start(ap, fmt);
    vfail(name, fmt, ap);
    va_end(ap);
  }
  void skip(const char* name, const char* why) { con::printf("SKIP %s%s: %s\n", prefix, name, why); }
  // cond ? PASS : FAIL with the formatted detail.
  void check(bool cond, const char* name, const char* fmt, ...) __attribute__((format(printf, 4, 5))) {
    if (cond) return pass(name);
    va_list ap;
    va_start(ap, fmt);
    vfail(name, fmt, ap);
    va_end(ap);
  }

 private:
  void vfail(const char* name, const char* fmt, va_list ap) {
    char buf[256];
    lib::vsnprintf(buf, sizeof buf, fmt, ap);
    failed++;
    con::printf("FAIL %s%s: %s\n", prefix, name, buf);
  }
};
