#include "network/network_spec.h"

#include <charconv>

#include "network/network_error.h"

namespace pv::net {
namespace {

constexpr size_t kMaxNameLength = 32;
constexpr size_t kIfNameMax = 15;  // IFNAMSIZ - 1

[[noreturn]] void bad(const std::string& network, const std::string& what) {
  throw NetworkError(NetworkError::Kind::kBadSpec, "network '" + network + "': " + what);
}

std::optional<unsigned> parse_decimal(std::string_view s, unsigned max) {
  if (s.empty() || s.size() > 5) return std::nullopt;
  unsigned v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v > max) return std::nullopt;
  return v;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (size_t start = 0;;) {
    const size_t at = s.find(sep, start);
    out.push_back(s.substr(start, at == std::string_view::npos ? std::string_view::npos : at - start));
    if (at == std::string_view::npos) return out;
    start = at + 1;
  }
}

Subnet parse_subnet(const std::string& network, std::string_view text) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos)
    bad(network, "subnet '" + std::string(text) + "' needs a prefix length, as in 10.0.5.0/24");
  const auto addr = parse_ipv4(text.substr(0, slash));
  const auto prefix = parse_decimal(text.substr(slash + 1), 32);
  if (!addr || !prefix) bad(network, "subnet '" + std::string(text) + "' is not an IPv4 subnet such as 10.0.5.0/24");
  if (*prefix < 8 || *prefix > 30)
    bad(network, "subnet '" + std::string(text) + "': the prefix length must be between 8 and 30");
  Subnet s{*addr, *prefix};
  if ((*addr & s.netmask()) != *addr) {
    Subnet fixed{*addr & s.netmask(), *prefix};
    bad(network, "subnet '" + std::string(text) + "' is not a network address (did you mean " + fixed.to_string() +
                     "?)");
  }
  const uint32_t first = *addr >> 24;
  if (first == 0 || first == 127 || first >= 224)
    bad(network, "subnet '" + std::string(text) + "' is not usable (zero, loopback, multicast or reserved addresses)");
  return s;
}

}  // namespace

std::optional<uint32_t> parse_ipv4(std::string_view text) {
  const auto parts = split(text, '.');
  if (parts.size() != 4) return std::nullopt;
  uint32_t v = 0;
  for (auto p : parts) {
    if (p.size() > 3 || (p.size() > 1 && p[0] == '0')) return std::nullopt;
    const auto octet = parse_decimal(p, 255);
    if (!octet) return std::nullopt;
    v = (v << 8) | *octet;
  }
  return v;
}

std::string ipv4_to_string(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 0xff) + "." + std::to_string((a >> 8) & 0xff) +
         "." + std::to_string(a & 0xff);
}

bool Subnet::overlaps(const Subnet& o) const {
  const unsigned p = prefix < o.prefix ? prefix : o.prefix;
  const uint32_t mask = p == 0 ? 0 : ~uint32_t{0} << (32 - p);
  return (network & mask) == (o.network & mask);
}

std::string Subnet::to_string() const { return ipv4_to_string(network) + "/" + std::to_string(prefix); }

std::optional<Mode> parse_mode(std::string_view text) {
  if (text == "host-only") return Mode::kHostOnly;
  if (text == "nat") return Mode::kNat;
  if (text == "bridge") return Mode::kBridge;
  return std::nullopt;
}

const char* mode_name(Mode mode) {
  switch (mode) {
    case Mode::kHostOnly: return "host-only";
    case Mode::kNat: return "nat";
    case Mode::kBridge: return "bridge";
  }
  return "?";
}

std::string PortForward::to_string() const {
  return proto + ":" + std::to_string(host_port) + ":" + ipv4_to_string(guest) + ":" + std::to_string(guest_port);
}

std::string NetworkSpec::dhcp_range() const {
  return has_subnet() ? ipv4_to_string(dhcp_first) + "-" + ipv4_to_string(dhcp_last) : "";
}

bool valid_network_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (size_t i = 0; i < name.size(); i++) {
    const char c = name[i];
    const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '-' && c != '_'))) return false;
  }
  return true;
}

bool valid_interface_name(std::string_view name) {
  if (name.empty() || name.size() > kIfNameMax || name == "." || name == "..") return false;
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                    c == '_' || c == '.';
    if (!ok) return false;
  }
  return true;
}

std::string default_bridge_name(const std::string& network) { return ("pvbr-" + network).substr(0, kIfNameMax); }

PortForward parse_forward(const std::string& network, std::string_view text, const NetworkSpec& spec) {
  const std::string shown = "port forward '" + std::string(text) + "'";
  const auto parts = split(text, ':');
  if (parts.size() != 4) bad(network, shown + " is not proto:host-port:guest-ip:guest-port (e.g. tcp:8080:10.0.5.10:80)");
  PortForward f;
  f.proto = std::string(parts[0]);
  if (f.proto != "tcp" && f.proto != "udp") bad(network, shown + ": the protocol must be tcp or udp");
  const auto host_port = parse_decimal(parts[1], 65535), guest_port = parse_decimal(parts[3], 65535);
  if (!host_port || *host_port == 0 || !guest_port || *guest_port == 0)
    bad(network, shown + ": ports are numbers from 1 to 65535");
  const auto guest = parse_ipv4(parts[2]);
  if (!guest) bad(network, shown + ": '" + std::string(parts[2]) + "' is not an IPv4 address");
  if (!spec.subnet.contains(*guest) || *guest == spec.subnet.network || *guest == spec.subnet.broadcast() ||
      *guest == spec.host)
    bad(network, shown + ": the guest address must be a guest's address in " + spec.subnet.to_string());
  f.host_port = static_cast<uint16_t>(*host_port);
  f.guest = *guest;
  f.guest_port = static_cast<uint16_t>(*guest_port);
  return f;
}

NetworkSpec make_spec(const NetworkRequest& req) {
  const std::string& name = req.name;
  if (!valid_network_name(name))
    throw NetworkError(NetworkError::Kind::kBadSpec,
                       "invalid network name '" + name +
                           "': use 1 to 32 letters, digits, '-' or '_', starting with a letter or digit");
  if (!req.mode) bad(name, "a mode is needed: host-only, nat or bridge");
  NetworkSpec spec;
  spec.name = name;
  spec.mode = *req.mode;
  if (spec.mode == Mode::kBridge) {
    if (req.bridge.empty()) bad(name, "bridge mode needs the name of an existing bridge (--bridge NAME)");
    if (!req.subnet.empty()) bad(name, "bridge mode takes no subnet: addresses come from the bridge's own network");
    if (!req.forwards.empty()) bad(name, "port forwards need nat mode");
  } else {
    if (req.subnet.empty()) bad(name, std::string(mode_name(spec.mode)) + " mode needs a subnet (--subnet 10.0.5.0/24)");
    spec.subnet = parse_subnet(name, req.subnet);
    const uint32_t size = spec.subnet.broadcast() - spec.subnet.network + 1;
    spec.host = spec.subnet.network + 1;
    if (size >= 256) {
      spec.dhcp_first = spec.subnet.network + 100;
      spec.dhcp_last = spec.subnet.network + 200;
    } else {
      spec.dhcp_first = spec.subnet.network + 2;
      spec.dhcp_last = spec.subnet.broadcast() - 1;
    }
    if (spec.mode != Mode::kNat && !req.forwards.empty()) bad(name, "port forwards need nat mode");
    for (const auto& text : req.forwards) {
      PortForward f = parse_forward(name, text, spec);
      for (const auto& other : spec.forwards)
        if (other.proto == f.proto && other.host_port == f.host_port)
          bad(name, "host port " + f.proto + " " + std::to_string(f.host_port) + " is forwarded twice");
      spec.forwards.push_back(std::move(f));
    }
  }
  spec.bridge = req.bridge.empty() ? default_bridge_name(name) : req.bridge;
  if (!valid_interface_name(spec.bridge))
    bad(name, "bridge name '" + spec.bridge + "' is not a valid interface name (1 to 15 of A-Z a-z 0-9 - _ .)");
  return spec;
}

}  // namespace pv::net
