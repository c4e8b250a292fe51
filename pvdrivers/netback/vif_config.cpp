#include "netback/vif_config.h"

#include "pv/error.h"

namespace pv::netback {
namespace {

std::optional<uint64_t> parse_uint(const std::optional<std::string>& v) {
  if (!v || v->empty() || v->size() > 10 || v->find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  return std::stoull(*v);
}

uint32_t need_uint(const KeyReader& r, const std::string& key, uint64_t max = UINT32_MAX) {
  const auto v = r(key);
  if (!v) throw UserError(key + " is missing");
  const auto n = parse_uint(v);
  if (!n || *n > max) throw UserError(key + ": '" + *v + "' is not a valid number");
  return uint32_t(*n);
}

bool flag(const KeyReader& r, const std::string& key, bool fallback = false) {
  const auto v = r(key);
  if (!v) return fallback;
  const auto n = parse_uint(v);
  if (!n) throw UserError(key + ": '" + *v + "' is not 0 or 1");
  return *n != 0;
}

}  // namespace

BackendConfig read_backend_config(const KeyReader& be) {
  BackendConfig c;
  const auto mac = be("mac");
  if (!mac) throw UserError("back-end key mac is missing");
  const auto m = parse_mac(*mac);
  if (!m) throw UserError("back-end key mac: '" + *mac + "' is not a MAC address");
  c.policy.mac = *m;
  if (const auto ip = be("ip")) {
    const auto ips = parse_ip_list(*ip);
    if (!ips) throw UserError("back-end key ip: '" + *ip + "' is not a list of addresses");
    c.policy.ips = *ips;
  }
  c.bridge = be("bridge").value_or("");
  if (be("mtu")) {
    c.mtu = need_uint(be, "mtu", 65535);
    if (c.mtu < 68) throw UserError("back-end key mtu: " + std::to_string(c.mtu) + " is below 68");
  }
  return c;
}

FrontendConfig read_frontend_config(const KeyReader& fe, unsigned max_queues) {
  FrontendConfig c;
  if (!flag(fe, "request-rx-copy"))
    throw UserError("the front-end must set request-rx-copy=1 (page flipping is not supported)");
  c.rx_notify = flag(fe, "feature-rx-notify");
  c.rx.sg = flag(fe, "feature-sg");
  c.rx.gso_tcpv4 = flag(fe, "feature-gso-tcpv4");
  c.rx.gso_tcpv6 = flag(fe, "feature-gso-tcpv6");
  c.rx.csum_v4 = !flag(fe, "feature-no-csum-offload");
  c.rx.csum_v6 = flag(fe, "feature-ipv6-csum-offload");
  unsigned n = 1;
  if (fe("multi-queue-num-queues")) {
    n = need_uint(fe, "multi-queue-num-queues");
    if (n == 0 || n > max_queues)
      throw UserError("multi-queue-num-queues=" + std::to_string(n) + " (this back-end offers 1.." +
                      std::to_string(max_queues) + ")");
  }
  for (unsigned q = 0; q < n; q++) {
    const std::string dir = n == 1 ? "" : "queue-" + std::to_string(q) + "/";
    QueueKeys k;
    k.tx_ring_ref = need_uint(fe, dir + "tx-ring-ref");
    k.rx_ring_ref = need_uint(fe, dir + "rx-ring-ref");
    if (fe(dir + "event-channel-tx") || fe(dir + "event-channel-rx")) {
      k.split = true;
      k.tx_port = need_uint(fe, dir + "event-channel-tx");
      k.rx_port = need_uint(fe, dir + "event-channel-rx");
    } else {
      k.tx_port = k.rx_port = need_uint(fe, dir + "event-channel");
    }
    c.queues.push_back(k);
  }
  return c;
}

}  // namespace pv::netback
