// pvctl: the command-line client of pvd, with xl's verbs.
//
//   pvctl [--socket PATH] VERB [ARGS]     (socket also from PV_SOCKET)
//
// Exit status: 0 done, 1 pvd refused (its message on stderr), 2 usage,
// 3 pvd unreachable.
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "admin_client.h"
#include "console.h"
#include "json.h"
#include "pvd_call.h"
#include "network_cmd.h"

namespace {

namespace A = pv::admin;

constexpr const char* kDefaultSocket = "/run/pvd/pvd.sock";

void usage(std::FILE* out) {
  std::fputs(
      "usage: pvctl [--socket PATH] VERB [ARGS]\n"
      "  create FILE        create a domain from an xl.cfg configuration file\n"
      "  list [--json]      list domains (columns as xl list)\n"
      "  info DOMAIN        details of one domain\n"
      "  destroy DOMAIN     stop a domain at once and remove it\n"
      "  console DOMAIN     attach to the guest console (Ctrl-] detaches)\n"
      "  pause DOMAIN       stop running the domain's vCPUs\n"
      "  unpause DOMAIN     let them run again\n"
      "  shutdown [--wait] DOMAIN, reboot DOMAIN\n"
      "                     ask the guest through xenstore control/shutdown\n"
      "  network create|list|destroy ...\n"
      "                     virtual networks (pvctl network --help)\n"
      "DOMAIN is a name or a numeric id. The socket is --socket, else PV_SOCKET,\n"
      "else /run/pvd/pvd.sock.\n",
      out);
}

// xl's state flags: r running, b blocked, p paused, s shutdown, c crashed, d dying.
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

void print_list(const A::DomainList& l, bool json) {
  if (json) {
    std::cout << "[";
    for (int i = 0; i < l.domains_size(); i++) {
      const auto& d = l.domains(i);
      std::cout << (i ? ",\n " : "\n ") << "{\"name\": \"" << pv::pvctl::json_escape(d.name()) << "\", \"id\": " << d.domid()
                << ", \"mem\": " << d.memory_mib() << ", \"vcpus\": " << d.vcpus() << ", \"state\": \""
                << state_flags(d.state()) << "\", \"time\": " << d.cpu_time_s() << ", \"pid\": " << d.pid()
                << ", \"shutdown_reason\": \"" << pv::pvctl::json_escape(d.shutdown_reason()) << "\"}";
    }
    std::cout << (l.domains_size() ? "\n]\n" : "]\n");
    return;
  }
  std::printf("%-40s %5s %5s %5s %10s %9s\n", "Name", "ID", "Mem", "VCPUs", "State", "Time(s)");
  for (const auto& d : l.domains())
    std::printf("%-40s %5u %5llu %5u %10s %9.1f\n", d.name().c_str(), d.domid(),
                static_cast<unsigned long long>(d.memory_mib()), d.vcpus(), state_flags(d.state()).c_str(),
                d.cpu_time_s());
}

void print_info(const A::DomainInfo& d) {
  std::printf("name: %s\nid: %u\nstate: %s\nmemory: %llu MiB\nvcpus: %u\nkernel: %s\ncmdline: %s\npid: %u\n",
              d.name().c_str(), d.domid(), state_flags(d.state()).c_str(),
              static_cast<unsigned long long>(d.memory_mib()), d.vcpus(), d.kernel().c_str(), d.cmdline().c_str(),
              d.pid());
  if (!d.shutdown_reason().empty()) std::printf("shutdown reason: %s\n", d.shutdown_reason().c_str());
  std::printf("cpu time: %.1f s\n", d.cpu_time_s());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string socket = std::getenv("PV_SOCKET") ? std::getenv("PV_SOCKET") : kDefaultSocket;
  if (args.size() >= 2 && args[0] == "--socket") {
    socket = args[1];
    args.erase(args.begin(), args.begin() + 2);
  }
  if (args.empty() || args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
    usage(args.empty() ? stderr : stdout);
    return args.empty() ? 2 : 0;
  }
  const std::string verb = args[0];
  args.erase(args.begin());
  if (verb == "network") return pv::pvctl::run_network(args, socket);

  A::Request req;
  bool json = false;
  auto need_domain = [&](A::DomainRef* ref) {
    if (args.size() != 1) {
      std::cerr << "pvctl: " << verb << " takes one DOMAIN (a name or id)\n";
      std::exit(2);
    }
    ref->set_name_or_id(args[0]);
  };
  if (verb == "create") {
    if (args.size() != 1) {
      std::cerr << "pvctl: create takes one configuration FILE\n";
      return 2;
    }
    std::ifstream f(args[0]);
    if (!f) {
      std::cerr << "pvctl: cannot read " << args[0] << "\n";
      return 2;
    }
    std::stringstream text;
    text << f.rdbuf();
    req.mutable_create()->set_config_text(text.str());
    req.mutable_create()->set_config_path(args[0]);
  } else if (verb == "list") {
    if (args.size() > 1 || (args.size() == 1 && args[0] != "--json")) {
      std::cerr << "pvctl: list takes only --json\n";
      return 2;
    }
    json = !args.empty();
    req.mutable_list();
  } else if (verb == "info") {
    need_domain(req.mutable_info());
  } else if (verb == "destroy") {
    need_domain(req.mutable_destroy());
  } else if (verb == "console") {
    need_domain(req.mutable_console());
  } else if (verb == "pause") {
    need_domain(req.mutable_pause());
  } else if (verb == "unpause") {
    need_domain(req.mutable_unpause());
  } else if (verb == "reboot") {
    need_domain(req.mutable_reboot());
  } else if (verb == "shutdown") {
    bool wait = !args.empty() && args[0] == "--wait";
    if (wait) args.erase(args.begin());
    need_domain(req.mutable_shutdown()->mutable_domain());
    req.mutable_shutdown()->set_wait(wait);
  } else {
    std::cerr << "pvctl: unknown verb '" << verb << "' (see pvctl --help)\n";
    return 2;
  }

  A::Reply reply;
  std::unique_ptr<A::AdminClient> client;
  if (const int rc = pv::pvctl::call_pvd(socket, req, client, reply)) return rc;
  if (!reply.message().empty()) std::cerr << "pvctl: " << reply.message() << "\n";  // warnings
  if (verb == "console") return pv::pvctl::run_console(client->fd(), client->take_buffered());
  if (reply.has_list()) print_list(reply.list(), json);
  else if (verb == "info") print_info(reply.domain());
  else if (verb == "create")
    std::printf("created domain %s (id %u)\n", reply.domain().name().c_str(), reply.domain().domid());
  return 0;
}
