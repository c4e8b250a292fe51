#include "hotplug_cmd.h"

#include <cstdio>
#include <filesystem>
#include <memory>

#include "config/disk_spec.h"
#include "pvd_call.h"

namespace pv::pvctl {
namespace A = pv::admin;
using Args = std::vector<std::string>;

namespace {

int send(const Context& ctx, const A::Request& req, A::Reply& reply) {
  return call_pvd_verb(ctx.socket, req, reply);
}

int attach(const std::string& verb, const Args& args, const Context& ctx, A::DeviceAttachRequest* (A::Request::*field)(),
           const std::string& spec_name) {
  if (args.size() != 2 || args[0].empty())
    return usage_error(verb + ": expected DOMAIN " + spec_name + " (see pvctl help " + verb + ")");
  A::Request req;
  (req.*field)()->mutable_domain()->set_name_or_id(args[0]);
  std::string spec = args[1];
  if (verb == "block-attach") {
    std::error_code ec;
    spec = absolute_disk_spec(spec, std::filesystem::current_path(ec).string());
  }
  (req.*field)()->set_spec(spec);
  A::Reply reply;
  return send(ctx, req, reply);
}

int detach(const std::string& verb, const Args& args, const Context& ctx, A::DeviceDetachRequest* (A::Request::*field)(),
           const std::string& device_name) {
  // Options before or after the words (xl takes -f before them, the
  // usage shows them after): --force / -f, --timeout S / --timeout=S.
  bool force = false;
  uint32_t timeout_s = 0;
  Args words;
  for (size_t i = 0; i < args.size(); i++) {
    const std::string& w = args[i];
    if (w == "--force" || w == "-f") {
      force = true;
    } else if (w == "--timeout" || w.starts_with("--timeout=")) {
      std::string v;
      if (w == "--timeout") {
        if (i + 1 == args.size()) return usage_error(verb + ": --timeout needs a value");
        v = args[++i];
      } else {
        v = w.substr(10);
      }
      if (v.empty() || v.size() > 6 || v.find_first_not_of("0123456789") != std::string::npos || std::stoul(v) == 0)
        return usage_error(verb + ": --timeout takes whole seconds (1 or more), not '" + v + "'");
      timeout_s = static_cast<uint32_t>(std::stoul(v));
    } else if (w.size() > 1 && w[0] == '-') {
      return usage_error(verb + ": unknown option '" + w.substr(0, w.find('=')) + "'");
    } else {
      words.push_back(w);
    }
  }
  if (words.size() != 2 || words[0].empty() || words[1].empty())
    return usage_error(verb + ": expected DOMAIN " + device_name + " (see pvctl help " + verb + ")");
  A::Request req;
  auto* r = (req.*field)();
  r->mutable_domain()->set_name_or_id(words[0]);
  r->set_device(words[1]);
  r->set_force(force);
  r->set_timeout_s(timeout_s);
  A::Reply reply;
  return send(ctx, req, reply);
}

int list(const std::string& verb, const Args& args, const Context& ctx, A::DomainRef* (A::Request::*field)(),
         std::string (*text)(const A::DeviceList&)) {
  if (args.size() != 1 || args[0].empty()) return usage_error(verb + " takes one DOMAIN (a name or id)");
  A::Request req;
  (req.*field)()->set_name_or_id(args[0]);
  A::Reply reply;
  if (const int rc = send(ctx, req, reply)) return rc;
  std::fputs(text(reply.devices()).c_str(), stdout);
  return 0;
}

long long shown(int64_t v) { return static_cast<long long>(v); }

}  // namespace

std::string absolute_disk_spec(const std::string& spec, const std::string& cwd) {
  auto parsed = config::parse_disk_spec(spec);
  if (!parsed.disk) return spec;
  config::DiskSpec d = *parsed.disk;
  if (!d.target.empty() && d.target.front() != '/' && !cwd.empty())
    d.target = (std::filesystem::path(cwd) / d.target).lexically_normal().string();
  return config::to_spec(d);
}

// As xl block-list (tools/xl/xl_block.c): its "handle" column is the
// front-end's domain.
std::string block_list_text(const A::DeviceList& l) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "%-5s %-3s %-6s %-5s %-6s %-8s %-30s\n", "Vdev", "BE", "handle", "state", "evt-ch",
                "ring-ref", "BE-path");
  std::string out = buf;
  for (const auto& e : l.devices()) {
    const std::string& be = e.backend_path();
    // /local/domain/0/backend/vbd/<domid>/<devid>: the front-end's domain.
    const std::string domid = be.substr(0, be.rfind('/')).substr(be.substr(0, be.rfind('/')).rfind('/') + 1);
    std::snprintf(buf, sizeof buf, "%-5u %-3u %-6s %-5u %-6lld %-8lld %-30s\n", e.devid(), e.backend_id(),
                  domid.c_str(), e.frontend_state(), shown(e.evtchn()), shown(e.ring_ref()), be.c_str());
    out += buf;
  }
  return out;
}

// As xl network-list (tools/xl/xl_nic.c).
std::string network_list_text(const A::DeviceList& l) {
  char buf[512];
  std::snprintf(buf, sizeof buf, "%-3s %-2s %-17s %-6s %-5s %-6s %5s/%-5s %-30s\n", "Idx", "BE", "Mac Addr.", "handle",
                "state", "evt-ch", "tx-", "rx-ring-ref", "BE-path");
  std::string out = buf;
  for (const auto& e : l.devices()) {
    std::snprintf(buf, sizeof buf, "%-3u %-2u %-17s %-6u %-5u %-6lld %5lld/%-11lld %-30s\n", e.devid(), e.backend_id(),
                  e.mac().c_str(), e.devid(), e.frontend_state(), shown(e.evtchn()), shown(e.tx_ring_ref()),
                  shown(e.rx_ring_ref()), e.backend_path().c_str());
    out += buf;
  }
  return out;
}

int block_attach_verb(const Args& a, const Context& c) {
  return attach("block-attach", a, c, &A::Request::mutable_block_attach, "DISKSPEC");
}
int network_attach_verb(const Args& a, const Context& c) {
  return attach("network-attach", a, c, &A::Request::mutable_vif_attach, "VIFSPEC");
}
int block_detach_verb(const Args& a, const Context& c) {
  return detach("block-detach", a, c, &A::Request::mutable_block_detach, "VDEV");
}
int network_detach_verb(const Args& a, const Context& c) {
  return detach("network-detach", a, c, &A::Request::mutable_vif_detach, "DEVID|MAC");
}
int block_list_verb(const Args& a, const Context& c) {
  return list("block-list", a, c, &A::Request::mutable_block_list, block_list_text);
}
int network_list_verb(const Args& a, const Context& c) {
  return list("network-list", a, c, &A::Request::mutable_vif_list, network_list_text);
}

}  // namespace pv::pvctl
