// pvctl: the command-line client of pvd, with xl's verbs.
//
//   pvctl [--socket PATH] VERB [ARGS]     (socket also from PV_SOCKET)
//   pvctl help [VERB], pvctl VERB --help
//
// Exit status: 0 done, 1 pvd refused (its message on stderr), 2 usage,
// 3 pvd unreachable.
#include <getopt.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "admin_client.h"
#include "console.h"
#include "json.h"
#include "network_cmd.h"
#include "pvd_call.h"
#include "verbs.h"

namespace {

namespace A = pv::admin;
using pv::pvctl::Context;
using Args = std::vector<std::string>;

constexpr const char* kDefaultSocket = "/run/pvd/pvd.sock";

int usage_error(const std::string& message) {
  std::fprintf(stderr, "pvctl: %s\n", message.c_str());
  return 2;
}

// Sends a domain verb's request; pvd's warnings (a message on success)
// are shown too.
int call(const Context& ctx, const A::Request& req, A::Reply& reply, std::unique_ptr<A::AdminClient>& client) {
  if (const int rc = pv::pvctl::call_pvd(ctx.socket, req, client, reply)) return rc;
  if (!reply.message().empty()) std::fprintf(stderr, "pvctl: %s\n", reply.message().c_str());
  return 0;
}
int call(const Context& ctx, const A::Request& req, A::Reply& reply) {
  std::unique_ptr<A::AdminClient> client;
  return call(ctx, req, reply, client);
}

// The one DOMAIN left in `words`, or "" after a usage error.
std::string only_domain(const std::string& verb, const Args& words) {
  if (words.size() == 1 && !words[0].empty()) return words[0];
  std::fprintf(stderr, "pvctl: %s takes one DOMAIN (a name or id)\n", verb.c_str());
  return "";
}

// The DOMAIN of a verb that has no options, or "" after a usage error.
std::string one_domain(const std::string& verb, const Args& args) {
  std::string error;
  const Args words = pv::pvctl::parse_options(args, {}, [](int, const char*) {}, error);
  if (error.empty()) return only_domain(verb, words);
  std::fprintf(stderr, "pvctl: %s: %s\n", verb.c_str(), error.c_str());
  return "";
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
    std::vector<pv::pvctl::Json> rows;
    for (const auto& d : l.domains())
      rows.push_back({{"name", d.name()},
                      {"id", d.domid()},
                      {"mem", d.memory_mib()},
                      {"vcpus", d.vcpus()},
                      {"state", state_flags(d.state())},
                      {"time", d.cpu_time_s()},
                      {"pid", d.pid()},
                      {"shutdown_reason", d.shutdown_reason()}});
    std::fputs(pv::pvctl::json_list(rows).c_str(), stdout);
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

int create(const Args& args, const Context& ctx) {
  if (args.size() != 1) return usage_error("create takes one configuration FILE");
  std::ifstream f(args[0]);
  if (!f) return usage_error("cannot read " + args[0]);
  std::stringstream text;
  text << f.rdbuf();
  A::Request req;
  req.mutable_create()->set_config_text(text.str());
  req.mutable_create()->set_config_path(args[0]);
  A::Reply reply;
  if (const int rc = call(ctx, req, reply)) return rc;
  std::printf("created domain %s (id %u)\n", reply.domain().name().c_str(), reply.domain().domid());
  return 0;
}

int list(const Args& args, const Context& ctx) {
  bool json = false;
  if (!pv::pvctl::parse_json_flag(args, json)) return usage_error("list takes only --json");
  A::Request req;
  req.mutable_list();
  A::Reply reply;
  if (const int rc = call(ctx, req, reply)) return rc;
  print_list(reply.list(), json);
  return 0;
}

int info(const Args& args, const Context& ctx) {
  A::Request req;
  const std::string dom = one_domain("info", args);
  if (dom.empty()) return 2;
  req.mutable_info()->set_name_or_id(dom);
  A::Reply reply;
  if (const int rc = call(ctx, req, reply)) return rc;
  print_info(reply.domain());
  return 0;
}

int console(const Args& args, const Context& ctx) {
  A::Request req;
  const std::string dom = one_domain("console", args);
  if (dom.empty()) return 2;
  req.mutable_console()->set_name_or_id(dom);
  A::Reply reply;
  std::unique_ptr<A::AdminClient> client;
  if (const int rc = call(ctx, req, reply, client)) return rc;
  return pv::pvctl::run_console(client->fd(), client->take_buffered());
}

int shutdown(const Args& args, const Context& ctx) {
  bool wait = false;
  std::string error;
  const Args rest = pv::pvctl::parse_options(args, {{"wait", no_argument, nullptr, 'w'}},
                                             [&](int, const char*) { wait = true; }, error);
  if (!error.empty()) return usage_error("shutdown: " + error);
  const std::string dom = only_domain("shutdown", rest);
  if (dom.empty()) return 2;
  A::Request req;
  req.mutable_shutdown()->mutable_domain()->set_name_or_id(dom);
  req.mutable_shutdown()->set_wait(wait);
  A::Reply reply;
  return call(ctx, req, reply);
}

// The verbs that name one DOMAIN and print nothing but pvd's warnings.
template <A::DomainRef* (A::Request::*kField)()>
int domain_verb(const std::string& verb, const Args& args, const Context& ctx) {
  A::Request req;
  const std::string dom = one_domain(verb, args);
  if (dom.empty()) return 2;
  (req.*kField)()->set_name_or_id(dom);
  A::Reply reply;
  return call(ctx, req, reply);
}
int destroy(const Args& a, const Context& c) { return domain_verb<&A::Request::mutable_destroy>("destroy", a, c); }
int pause(const Args& a, const Context& c) { return domain_verb<&A::Request::mutable_pause>("pause", a, c); }
int unpause(const Args& a, const Context& c) { return domain_verb<&A::Request::mutable_unpause>("unpause", a, c); }
int reboot(const Args& a, const Context& c) { return domain_verb<&A::Request::mutable_reboot>("reboot", a, c); }

constexpr pv::pvctl::Verb kVerbs[] = {
    {"create", create, "create FILE", "create a domain from an xl.cfg configuration file"},
    {"list", list, "list [--json]", "list domains (columns as xl list)"},
    {"info", info, "info DOMAIN", "details of one domain"},
    {"destroy", destroy, "destroy DOMAIN", "stop a domain at once and remove it"},
    {"console", console, "console DOMAIN", "attach to the guest console (Ctrl-] detaches)"},
    {"pause", pause, "pause DOMAIN", "stop running the domain's vCPUs"},
    {"unpause", unpause, "unpause DOMAIN", "let them run again"},
    {"shutdown", shutdown, "shutdown [--wait] DOMAIN",
     "ask the guest to power off through xenstore control/shutdown;\n--wait: until its pv-hv has exited"},
    {"reboot", reboot, "reboot DOMAIN", "ask the guest to reboot through xenstore control/shutdown"},
    {"network", nullptr, "network create|list|destroy ...", "virtual networks (pvctl network --help)",
     &pv::pvctl::kNetworkVerbs},
    {"help", nullptr, "help [VERB]", "this list, or the usage of one verb (also: pvctl VERB --help)"},
};

constexpr pv::pvctl::VerbSet kPvctl = {
    "", kVerbs,
    "DOMAIN is a name or a numeric id. The socket is --socket, else PV_SOCKET,\n"
    "else /run/pvd/pvd.sock.\n"};

}  // namespace

int main(int argc, char** argv) {
  Context ctx;
  ctx.socket = std::getenv("PV_SOCKET") ? std::getenv("PV_SOCKET") : kDefaultSocket;
  // pvctl's own options come before the verb ('+': stop at the verb).
  const option options[] = {{"socket", required_argument, nullptr, 's'}, {"help", no_argument, nullptr, 'h'}, {}};
  opterr = 0;
  for (int c; (c = getopt_long(argc, argv, "+:h", options, nullptr)) != -1;) {
    const std::string word = argv[optind - 1];
    if (c == 's') ctx.socket = optarg;
    else if (c == 'h') return pv::pvctl::dispatch(kPvctl, {"--help"}, ctx);
    else if (c == ':') return usage_error(word.substr(0, word.find('=')) + " needs a value");
    else return usage_error("unknown option '" + word.substr(0, word.find('=')) + "' (see pvctl --help)");
  }
  return pv::pvctl::dispatch(kPvctl, {argv + optind, argv + argc}, ctx);
}
