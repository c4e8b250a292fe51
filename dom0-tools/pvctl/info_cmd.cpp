#include "info_cmd.h"

#include <cstdio>
#include <ctime>
#include <iterator>
#include <memory>
#include <utility>

#include "identity_cmd.h"
#include "json.h"
#include "pvd_call.h"
#include "verbs.h"

namespace pv::pvctl {
namespace A = pv::admin;

namespace {

bool runs(const A::DomainInfo& d) { return d.state() == A::STATE_RUNNING || d.state() == A::STATE_PAUSED; }

// Seconds since it was created, for a domain that runs; 0 otherwise.
unsigned long long uptime_s(const A::DomainInfo& d, unsigned long long now) {
  return runs(d) && now > d.created_unix_s() ? now - d.created_unix_s() : 0;
}

std::string disk_line(const A::DiskInfo& k) {
  return "disk " + k.vdev() + ": " + (k.target().empty() ? "(empty drive)" : k.target()) + ", " + k.format() + ", " +
         k.access() + ", " + k.devtype() + ", backend " + xenbus_state_text(k.backend_state()) +
         (k.sectors() ? ", " + std::to_string(k.sectors()) + " sectors" : "") +
         (k.image_error().empty() ? ", " + size_text(k.virtual_bytes()) + " virtual, " + size_text(k.allocated_bytes()) +
                                        " allocated"
                                  : "") +
         (k.io_limits().empty() ? "" : ", limits " + k.io_limits());
}

std::string vif_line(const A::VifInfo& v) {
  std::string ips;
  for (const auto& ip : v.ips()) ips += (ips.empty() ? "" : " ") + ip;
  std::string line = "vif " + std::to_string(v.devid()) + ": " + v.mac() + ", bridge " + v.bridge();
  if (!ips.empty()) line += ", ip " + ips;
  if (!v.leased_ip().empty()) line += " (DHCP lease " + v.leased_ip() + " from pvd's network)";
  if (!v.dhcp_address().empty()) line += ", address " + v.dhcp_address() + " (dnsmasq's lease)";
  return line + ", backend " + xenbus_state_text(v.backend_state());
}

}  // namespace

std::string state_flags(A::DomainState s) {
  switch (s) {
    case A::STATE_RUNNING: return "r-----";
    case A::STATE_PAUSED: return "--p---";
    case A::STATE_SHUTDOWN: return "---s--";
    case A::STATE_CRASHED: return "----c-";
    case A::STATE_DYING: return "-----d";
    default: return "------";
  }
}

std::string xenbus_state_text(uint32_t state) {
  static const char* const kNames[] = {"none", "Initialising", "InitWait", "Initialised",
                                       "Connected", "Closing", "Closed", "Reconfiguring", "Reconfigured"};
  if (state == 0) return "none";
  const std::string name = state < std::size(kNames) ? kNames[state] : "Unknown";
  return name + " (" + std::to_string(state) + ")";
}

std::string info_text(const A::DomainInfo& d, unsigned long long now) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "name: %s\nid: %u\n", d.name().c_str(), d.domid());
  std::string out = buf;
  if (!d.uuid().empty()) out += "uuid: " + d.uuid() + "\n";
  out += "state: " + state_flags(d.state()) + "\n";
  if (runs(d)) {
    const std::string up = uptime_text(uptime_s(d, now), false);
    out += "uptime: " + up.substr(up.find_first_not_of(' ')) + "\n";
  }
  std::snprintf(buf, sizeof buf, "memory: %llu MiB\nvcpus: %u\n", static_cast<unsigned long long>(d.memory_mib()),
                d.vcpus());
  out += buf;
  if (d.current_kib()) {
    auto mib = [](uint64_t kib) { return static_cast<double>(kib) / 1024; };
    std::snprintf(buf, sizeof buf,
                  "memory current: %.1f MiB\nmemory target: %.1f MiB\nmemory maximum: %.1f MiB\n"
                  "memory ballooned out: %.1f MiB\nmemory host-resident: %.1f MiB (pv-hv RSS %.1f MiB)\n",
                  mib(d.current_kib()), mib(d.target_kib()), mib(d.maximum_kib()), mib(d.ballooned_kib()),
                  mib(d.resident_kib()), mib(d.pv_hv_rss_kib()));
    out += buf;
    if (d.balancer_uncooperative()) {
      out += "memory balancer: uncooperative (it did not follow; left at its own target)\n";
    } else if (d.balancer_target_kib()) {
      std::snprintf(buf, sizeof buf, "memory balancer: %.1f MiB (balanced below its own target of %.1f MiB)\n",
                    mib(d.balancer_target_kib()), mib(d.target_kib()));
      out += buf;
    }
  }
  out += "kernel: " + d.kernel() + "\ncmdline: " + d.cmdline() + "\npid: " + std::to_string(d.pid()) + "\n";
  if (!d.shutdown_reason().empty()) out += "shutdown reason: " + d.shutdown_reason() + "\n";
  std::snprintf(buf, sizeof buf, "cpu time: %.1f s\n", d.cpu_time_s());
  out += buf;
  for (const auto& [key, value] : {std::pair{"on_poweroff", &d.on_poweroff()}, {"on_reboot", &d.on_reboot()},
                                   {"on_watchdog", &d.on_watchdog()}, {"on_crash", &d.on_crash()},
                                   {"on_soft_reset", &d.on_soft_reset()}})
    if (!value->empty()) out += std::string(key) + ": " + *value + "\n";
  for (const auto& k : d.disks()) out += disk_line(k) + "\n";
  for (const auto& v : d.vifs()) out += vif_line(v) + "\n";
  return out;
}

std::string info_json(const A::DomainInfo& d, unsigned long long now) {
  Json disks = Json::array(), vifs = Json::array();
  for (const auto& k : d.disks())
    disks.push_back({{"vdev", k.vdev()}, {"target", k.target()}, {"format", k.format()}, {"access", k.access()},
                     {"devtype", k.devtype()}, {"devid", k.devid()}, {"backend_state", k.backend_state()},
                     {"sectors", k.sectors()}, {"io_limits", k.io_limits()}, {"virtual_bytes", k.virtual_bytes()},
                     {"allocated_bytes", k.allocated_bytes()}, {"image_error", k.image_error()}});
  for (const auto& v : d.vifs()) {
    Json ips = Json::array();
    for (const auto& ip : v.ips()) ips.push_back(ip);
    vifs.push_back({{"devid", v.devid()}, {"mac", v.mac()}, {"bridge", v.bridge()}, {"ips", ips},
                    {"leased_ip", v.leased_ip()}, {"dhcp_address", v.dhcp_address()},
                    {"backend_state", v.backend_state()}});
  }
  Json o = {{"name", d.name()},
            {"id", d.domid()},
            {"uuid", d.uuid()},
            {"state", state_flags(d.state())},
            {"uptime_s", uptime_s(d, now)},
            {"mem", d.memory_mib()},
            {"current_kib", d.current_kib()},
            {"target_kib", d.target_kib()},
            {"maximum_kib", d.maximum_kib()},
            {"ballooned_kib", d.ballooned_kib()},
            {"resident_kib", d.resident_kib()},
            {"pv_hv_rss_kib", d.pv_hv_rss_kib()},
            {"balancer_target_kib", d.balancer_target_kib()},
            {"balancer_uncooperative", d.balancer_uncooperative()},
            {"vcpus", d.vcpus()},
            {"kernel", d.kernel()},
            {"cmdline", d.cmdline()},
            {"pid", d.pid()},
            {"shutdown_reason", d.shutdown_reason()},
            {"time", d.cpu_time_s()},
            {"on_poweroff", d.on_poweroff()},
            {"on_reboot", d.on_reboot()},
            {"on_watchdog", d.on_watchdog()},
            {"on_crash", d.on_crash()},
            {"on_soft_reset", d.on_soft_reset()},
            {"disks", disks},
            {"vifs", vifs}};
  return json_line(o) + "\n";
}

int info_verb(const std::vector<std::string>& args, const Context& ctx) {
  bool json = false;
  std::string error;
  const auto words =
      parse_options(args, {{"json", no_argument, nullptr, 'j'}}, [&](int, const char*) { json = true; }, error);
  if (!error.empty() || words.size() != 1 || words[0].empty()) {
    std::fprintf(stderr, "pvctl: info: %s\n", error.empty() ? "takes one DOMAIN (a name or id)" : error.c_str());
    return 2;
  }
  A::Request req;
  req.mutable_info()->set_name_or_id(words[0]);
  A::Reply reply;
  if (const int rc = call_pvd_verb(ctx.socket, req, reply)) return rc;
  const auto now = static_cast<unsigned long long>(std::time(nullptr));
  std::fputs((json ? info_json(reply.domain(), now) : info_text(reply.domain(), now)).c_str(), stdout);
  return 0;
}

}  // namespace pv::pvctl
