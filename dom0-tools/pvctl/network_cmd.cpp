#include "network_cmd.h"

#include <cstdio>
#include <iostream>
#include <memory>

#include "admin_client.h"
#include "json.h"
#include "pvd_call.h"

namespace pv::pvctl {
namespace {

namespace A = pv::admin;

constexpr const char* kUsage =
    "usage: pvctl network VERB [ARGS]\n"
    "  create NAME --mode host-only|nat|bridge [--subnet CIDR] [--bridge NAME]\n"
    "              [--forward PROTO:HOSTPORT:GUESTIP:GUESTPORT]...\n"
    "                     host-only, nat: a new bridge (default pvbr-NAME) with the subnet's\n"
    "                     first address, DHCP and DNS; nat also reaches out through the host,\n"
    "                     and --forward (tcp or udp) opens a host port to a guest.\n"
    "                     bridge: an existing bridge (--bridge), only recorded.\n"
    "  list [--json]      the networks\n"
    "  destroy NAME       remove a network and everything pvd made for it\n";

int usage_error(const std::string& message) {
  std::cerr << "pvctl: network " << message << " (see pvctl network --help)\n";
  return 2;
}

const char* mode_word(A::NetworkMode m) {
  switch (m) {
    case A::HOST_ONLY: return "host-only";
    case A::NAT: return "nat";
    case A::BRIDGE: return "bridge";
    default: return "?";
  }
}

std::string json_string(const std::string& s) { return "\"" + pv::pvctl::json_escape(s) + "\""; }

std::string joined(const google::protobuf::RepeatedPtrField<std::string>& items, const char* sep) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : sep) + i;
  return out;
}

void print_list(const A::NetworkList& l, bool json) {
  if (json) {
    std::cout << "[";
    for (int i = 0; i < l.networks_size(); i++) {
      const auto& n = l.networks(i);
      std::string forwards;
      for (const auto& f : n.forwards()) forwards += (forwards.empty() ? "" : ", ") + json_string(f);
      std::cout << (i ? ",\n " : "\n ") << "{\"name\": " << json_string(n.name()) << ", \"mode\": \""
                << mode_word(n.mode()) << "\", \"bridge\": " << json_string(n.bridge())
                << ", \"subnet\": " << json_string(n.subnet()) << ", \"host_address\": "
                << json_string(n.host_address()) << ", \"dhcp_range\": " << json_string(n.dhcp_range())
                << ", \"dnsmasq_pid\": " << n.dnsmasq_pid() << ", \"forwards\": [" << forwards << "]}";
    }
    std::cout << (l.networks_size() ? "\n]\n" : "]\n");
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
std::string parse_create(const std::vector<std::string>& args, A::NetworkCreateRequest* req) {
  if (args.size() < 2 || args[1].rfind("--", 0) == 0) return "create takes a NAME first";
  req->set_name(args[1]);
  bool mode_given = false;
  for (size_t i = 2; i < args.size(); i++) {
    const std::string& opt = args[i];
    if (opt != "--mode" && opt != "--subnet" && opt != "--bridge" && opt != "--forward")
      return "create: unknown option '" + opt + "'";
    if (i + 1 >= args.size()) return "create: " + opt + " needs a value";
    const std::string& value = args[++i];
    if (opt == "--mode") {
      if (value == "host-only") req->set_mode(A::HOST_ONLY);
      else if (value == "nat") req->set_mode(A::NAT);
      else if (value == "bridge") req->set_mode(A::BRIDGE);
      else return "create: unknown mode '" + value + "' (host-only, nat or bridge)";
      mode_given = true;
    } else if (opt == "--subnet") req->set_subnet(value);
    else if (opt == "--bridge") req->set_bridge(value);
    else req->add_forwards(value);
  }
  if (!mode_given) return "create needs --mode host-only, nat or bridge";
  return "";
}

}  // namespace

int run_network(const std::vector<std::string>& args, const std::string& socket) {
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const std::string& verb = args[0];
  A::Request req;
  bool json = false;
  if (verb == "create") {
    if (std::string err = parse_create(args, req.mutable_network_create()); !err.empty()) return usage_error(err);
  } else if (verb == "list") {
    if (args.size() > 2 || (args.size() == 2 && args[1] != "--json")) return usage_error("list takes only --json");
    json = args.size() == 2;
    req.mutable_network_list();
  } else if (verb == "destroy") {
    if (args.size() != 2) return usage_error("destroy takes one NAME");
    req.mutable_network_destroy()->set_name(args[1]);
  } else {
    return usage_error("has no verb '" + verb + "'");
  }

  A::Reply reply;
  std::unique_ptr<A::AdminClient> client;
  if (const int rc = pv::pvctl::call_pvd(socket, req, client, reply)) return rc;
  if (verb == "list") print_list(reply.networks(), json);
  else if (verb == "create") {
    const auto& n = reply.network();
    std::printf("created network %s (%s, bridge %s%s%s)\n", n.name().c_str(), mode_word(n.mode()), n.bridge().c_str(),
                n.subnet().empty() ? "" : ", ", n.subnet().c_str());
  }
  return 0;
}

}  // namespace pv::pvctl
