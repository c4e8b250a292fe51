// JSON output of pvctl's --json listings: one string escaper for them all.
#pragma once
#include <cstdio>
#include <string>

namespace pv::pvctl {

// `s` with quotes, backslashes and control characters escaped (no quotes
// around it).
inline std::string json_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    if (c == '"' || c == '\\') o += '\\', o += c;
    else if (static_cast<unsigned char>(c) < 0x20) {
      char b[8];
      std::snprintf(b, sizeof b, "\\u%04x", c);
      o += b;
    } else o += c;
  }
  return o;
}

}  // namespace pv::pvctl
