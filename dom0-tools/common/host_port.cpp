#include "host_port.h"

namespace pv::admin {

bool split_host_port(const std::string& s, uint16_t default_port, std::string& host, uint16_t& port) {
  std::string p;
  bool has_port = false;
  if (!s.empty() && s[0] == '[') {
    const size_t close = s.find(']');
    if (close == std::string::npos) return false;
    host = s.substr(1, close - 1);
    if (close + 1 < s.size()) {
      if (s[close + 1] != ':') return false;
      p = s.substr(close + 2);
      has_port = true;
    }
  } else if (const size_t colon = s.rfind(':'); colon != std::string::npos && s.find(':') == colon) {
    host = s.substr(0, colon);
    p = s.substr(colon + 1);
    has_port = true;
  } else {
    host = s;  // a name, an IPv4 address, or a bare IPv6 one
  }
  if (host.empty()) return false;
  port = default_port;
  if (!has_port) return true;
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return false;
  const unsigned long v = std::stoul(p);
  if (v == 0 || v > 65535) return false;
  port = static_cast<uint16_t>(v);
  return true;
}

}  // namespace pv::admin
