#include "network_cmd.h"

#include <cstdio>
#include <memory>

#include "admin_client.h"
#include "json.h"
#include "pvd_call.h"

namespace pv::pvctl {
namespace {

namespace A = pv::admin;
using Args = std::vector<std::string>;

int network_usage(const std::string& m) { return usage_error("network " + m + " (see pvctl network --help)"); }

const char* mode_word(A::NetworkMode m) {
  switch (m) {
    case A::HOST_ONLY: return "host-only";
    case A::NAT: return "nat";
    case A::BRIDGE: return "bridge";
    default: return "?";
  }
}

std::string joined(const google::protobuf::RepeatedPtrField<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

void print_list(const A::NetworkList& l, bool json) {
  if (json) {
    std::vector<Json> rows;
    for (const auto& n : l.networks())
      rows.push_back({{"name", n.name()},
                      {"mode", mode_word(n.mode())},
                      {"bridge", n.bridge()},
                      {"subnet", n.subnet()},
                      {"host_address", n.host_address()},
                      {"dhcp_range", n.dhcp_range()},
                      {"dnsmasq_pid", n.dnsmasq_pid()},
                      {"forwards", Json(std::vector<std::string>(n.forwards().begin(), n.forwards().end()))}});
    std::fputs(json_list(rows).c_str(), stdout);
    return;
  }
  std::printf("%-20s %-9s %-15s %-18s %-27s %7s  %s\n", "Name", "Mode", "Bridge", "Subnet", "DHCP", "dnsmasq",
              "Forwards");
  for (const auto& n : l.networks()) {
    const std::string pid = n.dnsmasq_pid() ? std::to_string(n.dnsmasq_pid()) : "-";
    std::printf("%-20s %-9s %-15s %-18s %-27s %7s  %s\n", n.name().c_str(), mode_word(n.mode()), n.bridge().c_str(),
                n.subnet().empty() ? "-" : n.subnet().c_str(), n.dhcp_range().empty() ? "-" : n.dhcp_range().c_str(),
                pid.c_str(), joined(n.forwards(), ",").c_str());
  }
}

// Fills `req` from the words after "create"; "" or a usage error.
std::string parse_create(const Args& args, A::NetworkCreateRequest* req) {
  if (args.empty() || args[0].rfind("--", 0) == 0) return "create takes a NAME first";
  req->set_name(args[0]);
  enum { kMode = 'm', kSubnet = 's', kBridge = 'b', kForward = 'f' };
  std::string mode_error;
  bool mode_given = false;
  auto on_option = [&](int opt, const char* value) {
    if (opt == kSubnet) return req->set_subnet(value);
    if (opt == kBridge) return req->set_bridge(value);
    if (opt == kForward) return req->add_forwards(value);
    const std::string mode = value;
    if (mode == "host-only") req->set_mode(A::HOST_ONLY);
    else if (mode == "nat") req->set_mode(A::NAT);
    else if (mode == "bridge") req->set_mode(A::BRIDGE);
    else if (mode_error.empty()) mode_error = "create: unknown mode '" + mode + "' (host-only, nat or bridge)";
    mode_given = true;
  };
  std::string error;
  const Args rest = parse_options({args.begin() + 1, args.end()},
                                  {{"mode", required_argument, nullptr, kMode},
                                   {"subnet", required_argument, nullptr, kSubnet},
                                   {"bridge", required_argument, nullptr, kBridge},
                                   {"forward", required_argument, nullptr, kForward}},
                                  on_option, error);
  if (!mode_error.empty()) return mode_error;
  if (!error.empty()) return "create: " + error;
  if (!rest.empty()) return "create: unexpected argument '" + rest[0] + "'";
  if (!mode_given) return "create needs --mode host-only, nat or bridge";
  return "";
}

int call(const Context& ctx, const A::Request& req, A::Reply& reply) {
  std::unique_ptr<A::AdminClient> client;
  return call_pvd(ctx.socket, req, client, reply);
}

int create(const Args& args, const Context& ctx) {
  A::Request req;
  if (std::string err = parse_create(args, req.mutable_network_create()); !err.empty()) return network_usage(err);
  A::Reply reply;
  if (const int rc = call(ctx, req, reply)) return rc;
  const auto& n = reply.network();
  std::printf("created network %s (%s, bridge %s%s%s)\n", n.name().c_str(), mode_word(n.mode()), n.bridge().c_str(),
              n.subnet().empty() ? "" : ", ", n.subnet().c_str());
  return 0;
}

int list(const Args& args, const Context& ctx) {
  bool json = false;
  if (!parse_json_flag(args, json)) return network_usage("list takes only --json");
  A::Request req;
  req.mutable_network_list();
  A::Reply reply;
  if (const int rc = call(ctx, req, reply)) return rc;
  print_list(reply.networks(), json);
  return 0;
}

int destroy(const Args& args, const Context& ctx) {
  if (args.size() != 1) return network_usage("destroy takes one NAME");
  A::Request req;
  req.mutable_network_destroy()->set_name(args[0]);
  A::Reply reply;
  return call(ctx, req, reply);
}

constexpr Verb kVerbs[] = {
    {"create", create,
     "create NAME --mode host-only|nat|bridge [--subnet CIDR] [--bridge NAME]\n"
     "              [--forward PROTO:HOSTPORT:GUESTIP:GUESTPORT]...",
     "host-only, nat: a new bridge (default pvbr-NAME) with the subnet's\n"
     "first address, DHCP and DNS; nat also reaches out through the host,\n"
     "and --forward (tcp or udp) opens a host port to a guest.\n"
     "bridge: an existing bridge (--bridge), only recorded."},
    {"list", list, "list [--json]", "the networks"},
    {"destroy", destroy, "destroy NAME", "remove a network and everything pvd made for it"},
};

}  // namespace

const VerbSet kNetworkVerbs = {"network", kVerbs, ""};

}  // namespace pv::pvctl
