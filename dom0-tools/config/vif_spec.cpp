#include "config/vif_spec.h"

#include <arpa/inet.h>

#include <cstdio>

namespace pv::config {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Digits only, no sign, no overflow beyond `max`.
std::optional<std::uint64_t> parse_u64(std::string_view s, std::uint64_t max) {
  if (s.empty()) return std::nullopt;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    if (v > (max - static_cast<std::uint64_t>(c - '0')) / 10) return std::nullopt;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return v;
}

// An IPv4 or IPv6 address, optionally with a /prefix length.
bool valid_ip(std::string_view s) {
  std::string addr(s);
  std::optional<std::uint64_t> prefix;
  if (size_t slash = addr.find('/'); slash != std::string::npos) {
    prefix = parse_u64(std::string_view(addr).substr(slash + 1), 128);
    if (!prefix) return false;
    addr.resize(slash);
  }
  unsigned char buf[16];
  if (inet_pton(AF_INET, addr.c_str(), buf) == 1) return !prefix || *prefix <= 32;
  return inet_pton(AF_INET6, addr.c_str(), buf) == 1;
}

}  // namespace

std::optional<MacAddress> parse_mac(std::string_view s) {
  MacAddress mac{};
  if (s.size() != 17) return std::nullopt;
  for (size_t i = 0; i < 6; i++) {
    int hi = hexval(s[i * 3]), lo = hexval(s[i * 3 + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    if (i < 5 && s[i * 3 + 2] != ':') return std::nullopt;
    mac[i] = static_cast<std::uint8_t>(hi * 16 + lo);
  }
  return mac;
}

std::string to_string(const MacAddress& m) {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
  return buf;
}

std::optional<VifRate> parse_vif_rate(std::string_view s, std::string* why) {
  auto fail = [&](std::string m) -> std::optional<VifRate> {
    if (why) *why = std::move(m);
    return std::nullopt;
  };
  std::string_view rate = s, interval;
  if (size_t at = s.find('@'); at != std::string_view::npos) {
    rate = s.substr(0, at);
    interval = s.substr(at + 1);
  }
  if (rate.empty()) return fail("no rate specified");
  // RATE: [0-9]+[GMK]?[Bb]/s
  size_t n = 0;
  while (n < rate.size() && rate[n] >= '0' && rate[n] <= '9') n++;
  std::string_view unit = rate.substr(n);
  std::uint64_t mult = 1;
  if (!unit.empty() && (unit[0] == 'G' || unit[0] == 'M' || unit[0] == 'K')) {
    mult = unit[0] == 'G' ? 1000000000ull : unit[0] == 'M' ? 1000000ull : 1000ull;
    unit.remove_prefix(1);
  }
  if (n == 0 || (unit != "B/s" && unit != "b/s"))
    return fail("invalid rate '" + std::string(rate) + "' (e.g. 10Mb/s, 250KB/s)");
  auto num = parse_u64(rate.substr(0, n), UINT32_MAX);
  if (!num || *num == 0) return fail("rate overflow or zero in '" + std::string(rate) + "'");
  std::uint64_t bytes_per_sec = *num * mult;
  if (unit[0] == 'b') bytes_per_sec /= 8;

  VifRate r;
  if (!interval.empty() || s.find('@') != std::string_view::npos) {
    // INTERVAL: [0-9]+[mu]?s?  (no suffix or "s" = seconds)
    size_t k = 0;
    while (k < interval.size() && interval[k] >= '0' && interval[k] <= '9') k++;
    std::string_view iu = interval.substr(k);
    std::uint64_t imult;
    if (iu.empty() || iu == "s") imult = 1000000;
    else if (iu == "m" || iu == "ms") imult = 1000;
    else if (iu == "u" || iu == "us") imult = 1;
    else return fail("invalid replenishment interval '" + std::string(interval) + "' (e.g. 20ms, 500us)");
    auto iv = k == 0 ? std::nullopt : parse_u64(interval.substr(0, k), UINT32_MAX);
    if (k == 0) return fail("invalid replenishment interval '" + std::string(interval) + "' (e.g. 20ms)");
    if (!iv || *iv == 0 || *iv * imult > UINT32_MAX)
      return fail("replenishment interval overflow or zero in '" + std::string(interval) + "'");
    r.interval_usecs = static_cast<std::uint32_t>(*iv * imult);
  }
  if (bytes_per_sec > UINT64_MAX / r.interval_usecs) return fail("rate overflow in '" + std::string(s) + "'");
  r.bytes_per_interval = bytes_per_sec * r.interval_usecs / 1000000u;
  return r;
}

VifParseResult parse_vif_spec(std::string_view spec) {
  VifParseResult res;
  VifSpec v;
  auto fail = [&](std::string m) {
    res.error = std::move(m);
    return res;
  };
  size_t i = 0;
  while (i <= spec.size()) {
    size_t comma = spec.find(',', i);
    std::string_view tok = trim(spec.substr(i, comma == std::string_view::npos ? spec.npos : comma - i));
    i = comma == std::string_view::npos ? spec.size() + 1 : comma + 1;
    if (tok.empty()) continue;  // xl splits with strtok: empty items vanish
    if (tok == "trusted") { v.trusted = true; continue; }
    if (tok == "untrusted") { v.trusted = false; continue; }
    size_t eq = tok.find('=');
    if (eq == std::string_view::npos)
      return fail("unrecognized argument '" + std::string(tok) + "' (expected key=value)");
    std::string_view key = tok.substr(0, eq);
    std::string val(tok.substr(eq + 1));
    if (key == "mac") {
      auto mac = parse_mac(val);
      if (!mac) return fail("invalid mac '" + val + "': write six pairs of hex digits separated by ':', "
                            "e.g. mac=00:16:3e:12:34:56");
      if ((*mac)[0] & 1) return fail("invalid mac '" + val + "': it is a multicast address "
                                     "(the lowest bit of the first byte must be 0)");
      if (*mac == MacAddress{}) return fail("invalid mac '" + val + "': the all-zero address");
      v.mac = mac;
    } else if (key == "bridge") v.bridge = val;
    else if (key == "ip") {
      v.ips.clear();
      std::string_view rest = val;
      while (!rest.empty()) {
        rest = trim(rest);
        size_t sp = rest.find_first_of(" \t");
        std::string_view one = rest.substr(0, sp);
        if (one.empty()) break;
        if (!valid_ip(one)) return fail("invalid ip '" + std::string(one) + "' (an IPv4 or IPv6 address; "
                                        "several are separated by spaces)");
        v.ips.emplace_back(one);
        rest = sp == std::string_view::npos ? std::string_view() : rest.substr(sp);
      }
      if (v.ips.empty()) return fail("ip= needs at least one address");
    } else if (key == "model") v.model = val;
    else if (key == "script") v.script = val;
    else if (key == "vifname") v.vifname = val;
    else if (key == "backend") v.backend = val;
    else if (key == "gatewaydev") v.gatewaydev = val;
    else if (key == "netdev") {
      res.warnings.push_back("the netdev parameter is deprecated, use gatewaydev instead");
      v.gatewaydev = val;
    } else if (key == "type") {
      if (val != "vif" && val != "ioemu") return fail("invalid type '" + val + "' (vif or ioemu)");
      v.type = val;
    } else if (key == "rate") {
      std::string why;
      auto r = parse_vif_rate(val, &why);
      if (!r) return fail(why);
      v.rate = val;
      v.rate_limit = r;
    } else if (key == "mtu") {
      auto m = parse_u64(val, 65535);
      if (!m || *m < 68) return fail("invalid mtu '" + val + "' (68 to 65535)");
      v.mtu = static_cast<std::uint32_t>(*m);
    } else if (key == "devid") {
      auto d = parse_u64(val, INT32_MAX);
      if (!d) return fail("invalid devid '" + val + "' (a non-negative number)");
      v.devid = static_cast<std::uint32_t>(*d);
    } else if (key == "vlan") v.vlan = val;
    else if (key == "accel") res.warnings.push_back("the accel parameter is not supported and is ignored");
    else if (key.substr(0, 5) == "colo_" || key == "forwarddev")
      return fail("parameter '" + std::string(key) + "' (COLO) is not supported on this platform");
    else
      return fail("unrecognized argument '" + std::string(key) + "' (known: mac, bridge, ip, model, script, "
                  "vifname, rate, backend, type, gatewaydev, mtu, devid, vlan, trusted, untrusted)");
  }
  res.vif = std::move(v);
  return res;
}

std::string to_spec(const VifSpec& v) {
  std::string s;
  auto add = [&](std::string_view k, const std::string& val) {
    if (val.empty()) return;
    if (!s.empty()) s += ", ";
    s += std::string(k) + "=" + val;
  };
  if (v.mac) add("mac", to_string(*v.mac));
  add("bridge", v.bridge);
  std::string ips;
  for (const auto& ip : v.ips) ips += (ips.empty() ? "" : " ") + ip;
  add("ip", ips);
  add("model", v.model);
  add("script", v.script);
  add("vifname", v.vifname);
  add("rate", v.rate);
  add("backend", v.backend);
  add("type", v.type);
  add("gatewaydev", v.gatewaydev);
  if (v.mtu) add("mtu", std::to_string(*v.mtu));
  if (v.devid) add("devid", std::to_string(*v.devid));
  add("vlan", v.vlan);
  if (!v.trusted) s += s.empty() ? "untrusted" : ", untrusted";
  return s;
}

}  // namespace pv::config
