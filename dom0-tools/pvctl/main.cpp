// pvctl: the command-line client of pvd, with xl's verbs.
//
//   pvctl [--socket PATH] VERB [ARGS]     (socket also from PV_SOCKET)
//   pvctl help [VERB], pvctl VERB --help
//
// Exit status: 0 done, 1 refused (pvd's message, or pvctl's about a
// configuration it cannot send), 2 usage (also an argument that is not
// UTF-8), 3 pvd unreachable, 4 a shutdown/reboot the guest did not
// acknowledge, 5 acknowledged but not done within shutdown --wait's
// --timeout.
#include <getopt.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "admin_client.h"
#include "admin_utf8.h"
#include "config_text.h"
#include "console.h"
#include "identity_cmd.h"
#include "info_cmd.h"
#include "config/size.h"
#include "disk_cmd.h"
#include "hotplug_cmd.h"
#include "migrate_cmd.h"
#include "save_cmd.h"
#include "snapshot_cmd.h"
#include "sched_cmd.h"
#include "top_cmd.h"
#include "json.h"
#include "network_cmd.h"
#include "pvd_call.h"
#include "verbs.h"

namespace {

namespace A = pv::admin;
using pv::pvctl::Context;
using Args = std::vector<std::string>;

constexpr const char* kDefaultSocket = "/run/pvd/pvd.sock";

using pv::pvctl::usage_error;

// Sends a domain verb's request; pvd's warnings (a message on success)
// are shown too.
int call(const Context& ctx, const A::Request& req, A::Reply& reply, std::unique_ptr<A::AdminClient>& client) {
  return pv::pvctl::call_pvd_verb(ctx.socket, req, client, reply);
}
int call(const Context& ctx, const A::Request& req, A::Reply& reply) {
  return pv::pvctl::call_pvd_verb(ctx.socket, req, reply);
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

// A running domain's current allocation in MiB (rounded), as xl list shows
// it; the configured memory when pv-hv did not say.
unsigned long long list_mib(const A::DomainInfo& d) {
  return d.current_kib() ? (d.current_kib() + 512) / 1024 : d.memory_mib();
}

void print_list(const A::DomainList& l, bool json) {
  if (json) {
    std::vector<pv::pvctl::Json> rows;
    for (const auto& d : l.domains())
      rows.push_back({{"name", d.name()},
                      {"id", d.domid()},
                      {"mem", list_mib(d)},
                      {"vcpus", d.vcpus()},
                      {"state", pv::pvctl::state_flags(d.state())},
                      {"time", d.cpu_time_s()},
                      {"pid", d.pid()},
                      {"shutdown_reason", d.shutdown_reason()}});
    std::fputs(pv::pvctl::json_list(rows).c_str(), stdout);
    return;
  }
  std::printf("%-40s %5s %5s %5s %10s %9s\n", "Name", "ID", "Mem", "VCPUs", "State", "Time(s)");
  for (const auto& d : l.domains())
    std::printf("%-40s %5u %5llu %5u %10s %9.1f\n", d.name().c_str(), d.domid(), list_mib(d), d.vcpus(), pv::pvctl::state_flags(d.state()).c_str(),
                d.cpu_time_s());
}

// list --disks: every domain's disks, virtual against allocated (thin
// provisioning), then the host file systems they are on, overcommit said.
void print_disks(const A::DomainList& l, bool json) {
  using pv::pvctl::size_text;
  if (json) {
    pv::pvctl::Json domains = pv::pvctl::Json::array(), storage = pv::pvctl::Json::array();
    for (const auto& d : l.domains()) {
      pv::pvctl::Json disks = pv::pvctl::Json::array();
      for (const auto& k : d.disks())
        disks.push_back({{"vdev", k.vdev()}, {"target", k.target()}, {"format", k.format()}, {"access", k.access()},
                         {"virtual_bytes", k.virtual_bytes()}, {"allocated_bytes", k.allocated_bytes()},
                         {"image_error", k.image_error()}});
      domains.push_back({{"name", d.name()}, {"id", d.domid()}, {"disks", disks}});
    }
    for (const auto& s : l.storage())
      storage.push_back({{"mount", s.mount()}, {"images", s.images()}, {"virtual_bytes", s.virtual_bytes()},
                         {"allocated_bytes", s.allocated_bytes()}, {"growth_bytes", s.growth_bytes()},
                         {"free_bytes", s.free_bytes()}, {"overcommitted", s.overcommitted()}});
    std::printf("%s\n", pv::pvctl::json_line({{"domains", domains}, {"storage", storage}}).c_str());
    return;
  }
  std::printf("%-24s %5s %-5s %-6s %-3s %10s %10s  %s\n", "Name", "ID", "Vdev", "Format", "RW", "Virtual", "Allocated",
              "Image");
  for (const auto& d : l.domains())
    for (const auto& k : d.disks())
      std::printf("%-24s %5u %-5s %-6s %-3s %10s %10s  %s\n", d.name().c_str(), d.domid(), k.vdev().c_str(),
                  k.format().c_str(), k.access().c_str(),
                  k.image_error().empty() ? size_text(k.virtual_bytes()).c_str() : "-",
                  k.image_error().empty() ? size_text(k.allocated_bytes()).c_str() : "-",
                  k.target().empty() ? "(empty drive)" : k.target().c_str());
  for (const auto& s : l.storage()) std::printf("%s\n", s.summary().c_str());
}

// Attaches pvctl's terminal to the console of `dom` (`console`, `create -c`).
int attach_console(const Context& ctx, const std::string& dom) {
  A::Request req;
  req.mutable_console()->set_name_or_id(dom);
  A::Reply reply;
  std::unique_ptr<A::AdminClient> client;
  if (const int rc = call(ctx, req, reply, client)) return rc;
  return pv::pvctl::run_console(client->fd(), client->take_buffered());
}

// create --template NAME --name VM [key=value...]
int create_from_template(const Args& args, const Context& ctx) {
  std::string tmpl, name, error;
  const Args rest = pv::pvctl::parse_options(
      args, {{"template", required_argument, nullptr, 't'}, {"name", required_argument, nullptr, 'n'}},
      [&](int o, const char* v) { (o == 't' ? tmpl : name) = v; }, error);
  if (!error.empty()) return usage_error("create: " + error);
  if (tmpl.empty() || name.empty()) return usage_error("create --template NAME --name VM [key=value...]");
  A::Request req;
  auto* c = req.mutable_create();
  c->set_template_name(tmpl);
  c->set_name(name);
  for (const auto& o : rest) {
    if (o.find('=') == std::string::npos) return usage_error("create: '" + o + "' is not key=value");
    c->add_overrides(o);
  }
  A::Reply reply;
  if (const int rc = call(ctx, req, reply)) return rc;
  std::printf("created domain %s (id %u) from template %s\n", reply.domain().name().c_str(), reply.domain().domid(),
              tmpl.c_str());
  return 0;
}

int create(const Args& args, const Context& ctx) {
  for (const auto& a : args)
    if (a == "--template" || a.rfind("--template=", 0) == 0) return create_from_template(args, ctx);
  bool attach = false;
  std::string error;
  const Args words = pv::pvctl::parse_options(args, {}, [&](int, const char*) { attach = true; }, error, "c");
  if (!error.empty()) return usage_error("create: " + error);
  if (words.size() != 1) return usage_error("create takes one configuration FILE");
  const std::string& file = words[0];
  std::ifstream f(file, std::ios::binary);
  if (!f) return usage_error("cannot read " + file);
  std::stringstream text;
  text << f.rdbuf();
  const pv::pvctl::PreparedConfig cfg = pv::pvctl::prepare_config(text.str(), file);
  if (!cfg.error.empty()) return std::fprintf(stderr, "pvctl: %s\n", cfg.error.c_str()), 1;
  A::Request req;
  req.mutable_create()->set_config_text(cfg.text);
  req.mutable_create()->set_config_path(file);
  A::Reply reply;
  if (const int rc = call(ctx, req, reply)) {
    // What pvd looked for, when a path it names came from a relative one.
    for (const auto& r : cfg.resolved) std::fprintf(stderr, "pvctl: (relative to the file: %s)\n", r.c_str());
    return rc;
  }
  std::printf("created domain %s (id %u)\n", reply.domain().name().c_str(), reply.domain().domid());
  if (!attach) return 0;
  // The domain is built; pv-hv's console history holds what it printed
  // so far, so the console shows it from the first byte.
  std::fflush(stdout);
  return attach_console(ctx, std::to_string(reply.domain().domid()));
}

int list(const Args& args, const Context& ctx) {
  bool json = false, disks = false;
  std::string error;
  const Args rest = pv::pvctl::parse_options(
      args, {{"json", no_argument, nullptr, 'j'}, {"disks", no_argument, nullptr, 'd'}},
      [&](int o, const char*) { (o == 'j' ? json : disks) = true; }, error);
  if (!error.empty() || !rest.empty()) return usage_error("list takes only --disks and --json");
  A::Request req;
  req.mutable_list()->set_disks(disks);
  A::Reply reply;
  if (const int rc = call(ctx, req, reply)) return rc;
  if (disks) print_disks(reply.list(), json);
  else print_list(reply.list(), json);
  return 0;
}

int console(const Args& args, const Context& ctx) {
  const std::string dom = one_domain("console", args);
  if (dom.empty()) return 2;
  return attach_console(ctx, dom);
}

struct ShutdownOptions {
  bool wait = false, all = false;
  uint32_t timeout_s = 300, ack_timeout_s = 0;  // 0: pvd's default (10 s)
};

// The requests of `shutdown -a`: every running domain but Domain-0.
int running_domains(const Context& ctx, Args& out) {
  A::Request req;
  req.mutable_list();
  A::Reply reply;
  if (const int rc = call(ctx, req, reply)) return rc;
  for (const auto& d : reply.list().domains())
    if (d.domid() != 0 && d.state() == A::STATE_RUNNING) out.push_back(d.name());
  return 0;
}

// Sends every request first (the guests shut down together), then reads
// the replies; the status of the first that failed.
int shutdown_all(const Context& ctx, const Args& domains, const ShutdownOptions& o) {
  auto request = [&](const std::string& dom) {
    A::Request req;
    req.mutable_shutdown()->mutable_domain()->set_name_or_id(dom);
    req.mutable_shutdown()->set_wait(o.wait);
    req.mutable_shutdown()->set_wait_timeout_s(o.timeout_s);
    req.mutable_shutdown()->set_ack_timeout_s(o.ack_timeout_s);
    return req;
  };
  std::vector<std::unique_ptr<A::AdminClient>> clients(domains.size());
  int status = 0;
  auto failed = [&](int rc) { status = status ? status : rc; };
  for (size_t i = 0; i < domains.size(); i++) {
    if (domains.size() > 1) {
      try {
        clients[i] = std::make_unique<A::AdminClient>(ctx.socket);
        clients[i]->send(request(domains[i]));
        continue;
      } catch (const A::AdminError&) {
        clients[i].reset();  // asked the plain way below, which says what went wrong
      }
    }
    std::unique_ptr<A::AdminClient> client;
    A::Reply reply;
    if (const int rc = pv::pvctl::call_pvd(ctx.socket, request(domains[i]), client, reply)) failed(rc);
  }
  for (size_t i = 0; i < domains.size(); i++) {
    if (!clients[i]) continue;
    try {
      const A::Reply reply = clients[i]->receive();
      if (reply.error() == A::ERROR_NONE) continue;
      std::fprintf(stderr, "pvctl: %s\n", reply.message().c_str());
      failed(pv::pvctl::refusal_status(reply));
    } catch (const A::AdminError& e) {
      std::fprintf(stderr, "pvctl: %s: %s\n", domains[i].c_str(), e.what());
      failed(3);
    }
  }
  return status;
}

// Whole seconds for --timeout / --ack-timeout, or nullopt.
std::optional<uint32_t> seconds(const char* text) {
  const std::string s = text ? text : "";
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return static_cast<uint32_t>(std::stoul(s));
}

int shutdown(const Args& args, const Context& ctx) {
  ShutdownOptions o;
  std::string error, bad_value;
  enum { kTimeout = 1000, kAckTimeout };
  const Args rest = pv::pvctl::parse_options(
      args,
      {{"wait", no_argument, nullptr, 'w'}, {"all", no_argument, nullptr, 'a'},
       {"timeout", required_argument, nullptr, kTimeout}, {"ack-timeout", required_argument, nullptr, kAckTimeout}},
      [&](int c, const char* value) {
        if (c == 'w') o.wait = true;
        else if (c == 'a') o.all = true;
        else if (auto v = seconds(value)) (c == kTimeout ? o.timeout_s : o.ack_timeout_s) = *v;
        else bad_value = std::string(c == kTimeout ? "--timeout" : "--ack-timeout") + " takes whole seconds, not '" +
                         (value ? value : "") + "'";
      },
      error, "wa");
  if (!error.empty()) return usage_error("shutdown: " + error);
  if (!bad_value.empty()) return usage_error("shutdown: " + bad_value);
  Args domains;
  if (o.all) {
    if (!rest.empty()) return usage_error("shutdown: -a/--all takes no DOMAIN");
    if (const int rc = running_domains(ctx, domains)) return rc;
    if (domains.empty()) return 0;
  } else {
    const std::string dom = only_domain("shutdown", rest);
    if (dom.empty()) return 2;
    domains.push_back(dom);
  }
  return shutdown_all(ctx, domains, o);
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
// mem-set / mem-max DOMAIN SIZE.
template <A::MemoryRequest* (A::Request::*kField)()>
int memory_verb(const std::string& verb, const Args& args, const Context& ctx) {
  if (args.size() != 2) return usage_error(verb + ": expected DOMAIN SIZE (see pvctl help " + verb + ")");
  const auto mib = pv::config::parse_size_mib(args[1]);
  if (!mib || *mib == 0)
    return usage_error(verb + ": '" + args[1] + "' is not a size (MiB, or a number with b, k, m, g or t)");
  A::Request req;
  (req.*kField)()->mutable_domain()->set_name_or_id(args[0]);
  (req.*kField)()->set_mib(*mib);
  A::Reply reply;
  return call(ctx, req, reply);
}
int mem_set(const Args& a, const Context& c) { return memory_verb<&A::Request::mutable_mem_set>("mem-set", a, c); }
int mem_max(const Args& a, const Context& c) { return memory_verb<&A::Request::mutable_mem_max>("mem-max", a, c); }

int destroy(const Args& a, const Context& c) { return domain_verb<&A::Request::mutable_destroy>("destroy", a, c); }
int pause(const Args& a, const Context& c) { return domain_verb<&A::Request::mutable_pause>("pause", a, c); }
int unpause(const Args& a, const Context& c) { return domain_verb<&A::Request::mutable_unpause>("unpause", a, c); }
int reboot(const Args& a, const Context& c) { return domain_verb<&A::Request::mutable_reboot>("reboot", a, c); }

constexpr pv::pvctl::Verb kVerbs[] = {
    {"create", create, "create [-c] FILE | create --template NAME --name VM [key=value...]",
     "create a domain from an xl.cfg configuration file; relative paths in\n"
     "it (kernel, ramdisk, disk targets) are taken from the file's directory\n"
     "(not the working directory, as xl would); -c: then attach its console,\n"
     "from the first byte the guest printed (as xl create -c).\n"
     "--template: a domain from a template (pvctl template --help) on\n"
     "copy-on-write overlays of its bases; key=value: memory=, maxmem=,\n"
     "vcpus=, extra="},
    {"list", list, "list [--disks] [--json]",
     "list domains (columns as xl list; Domain-0, the host, first); --disks:\n"
     "each disk's virtual and allocated size and the host file systems\n"
     "they are on (thin provisioning; overcommit said)"},
    {"info", pv::pvctl::info_verb, "info [--json] DOMAIN",
     "one domain in full: uuid, state, uptime, memory, vCPUs, disks and vifs\n"
     "(with their back-ends' state), on_* actions"},
    {"destroy", destroy, "destroy DOMAIN", "stop a domain at once and remove it"},
    {"console", console, "console DOMAIN",
     "attach to the guest console: what it printed (the last 1 MiB), then\n"
     "live output (Ctrl-] detaches)"},
    {"pause", pause, "pause DOMAIN", "stop running the domain's vCPUs"},
    {"unpause", unpause, "unpause DOMAIN", "let them run again"},
    {"shutdown", shutdown, "shutdown [-w|--wait [--timeout S]] [--ack-timeout S] -a|--all|DOMAIN",
     "ask the guest to power off through xenstore control/shutdown and\n"
     "wait for it to acknowledge (--ack-timeout, default 10 s; exit 4 if not);\n"
     "-w/--wait: also until its pv-hv has exited (--timeout, default 300 s,\n"
     "0 for ever; exit 5 past it); -a/--all: every running domain"},
    {"reboot", reboot, "reboot DOMAIN",
     "ask the guest to reboot through xenstore control/shutdown\n(exit 4 if it does not acknowledge within 10 s)"},
    {"mem-set", mem_set, "mem-set DOMAIN SIZE",
     "set the domain's balloon target (xenstore memory/target; SIZE in MiB,\n"
     "or with a b, k, m, g suffix), at most its maxmem"},
    {"mem-max", mem_max, "mem-max DOMAIN SIZE",
     "set the most memory the domain may balloon up to (pv-hv enforces it),\n"
     "at most the maxmem it was created with"},
    {"domid", pv::pvctl::domid_verb, "domid NAME", "the ID of a domain (Domain-0 is 0)"},
    {"domname", pv::pvctl::domname_verb, "domname ID", "the name of a domain"},
    {"uptime", pv::pvctl::uptime_verb, "uptime [-s] [DOMAIN...]",
     "how long domains have run (as xl uptime; Domain-0: the host)"},
    {"sched-credit", pv::pvctl::sched_credit_verb, "sched-credit [-d DOMAIN [-w WEIGHT] [-c CAP]]",
     "CPU shares as the Xen credit scheduler's (as xl sched-credit): weight\n"
     "1-65535 (default 256) against other domains, cap in percent of one CPU\n"
     "(0: none); enforced with the kernel's cgroup CPU controller"},
    {"vcpu-list", pv::pvctl::vcpu_list_verb, "vcpu-list [DOMAIN]",
     "each vCPU's host CPU, state (r running, b blocked, p paused or offline),\n"
     "CPU time and affinity (as xl vcpu-list)"},
    {"vcpu-set", pv::pvctl::vcpu_set_verb, "vcpu-set DOMAIN N",
     "have vCPUs 0..N-1 online and the rest offline (as xl vcpu-set): the\n"
     "guest follows cpu/N/availability; N is 1 to the domain's maxvcpus"},
    {"vcpu-pin", pv::pvctl::vcpu_pin_verb, "vcpu-pin DOMAIN VCPU|all CPUS",
     "pin vCPUs to host CPUs: CPUS is all, 3, 0-3,6 or 0-7,^2 (as xl vcpu-pin;\n"
     "until the domain ends)"},
    {"top", pv::pvctl::top_verb, "top [-b|--batch] [-d|--delay S] [-i|--iterations N]",
     "every domain's CPU %, memory, vCPUs and I/O counters, every S seconds\n"
     "(default 3) as xentop; q quits; --batch prints rows for scripts"},
    {"block-attach", pv::pvctl::block_attach_verb, "block-attach DOMAIN DISKSPEC",
     "attach a disk to a running domain (as xl block-attach): DISKSPEC as in\n"
     "disk = [...]; a relative target is taken from the working directory;\n"
     "checked as create checks disks (format, one writer per disk)"},
    {"block-detach", pv::pvctl::block_detach_verb, "block-detach DOMAIN VDEV [--force] [--timeout S]",
     "detach a disk: the guest closes it (default 10 s, exit 5 if it does\n"
     "not; the disk then stays); --force removes it anyway after that"},
    {"block-list", pv::pvctl::block_list_verb, "block-list DOMAIN",
     "the domain's disks as xl block-list: Vdev BE handle state evt-ch ring-ref BE-path"},
    {"network-attach", pv::pvctl::network_attach_verb, "network-attach DOMAIN VIFSPEC",
     "attach a network card to a running domain (as xl network-attach): VIFSPEC\n"
     "as in vif = [...]; its devid is the next free one unless devid= says"},
    {"network-detach", pv::pvctl::network_detach_verb, "network-detach DOMAIN DEVID|MAC [--force] [--timeout S]",
     "detach a network card, as block-detach"},
    {"network-list", pv::pvctl::network_list_verb, "network-list DOMAIN",
     "the domain's vifs as xl network-list: Idx BE Mac Addr. handle state evt-ch tx-/rx-ring-ref BE-path"},
    {"save", pv::pvctl::save_verb, "save [-c|--checkpoint] [--timeout S] DOMAIN FILE",
     "save a running domain to FILE (as xl save): the guest\n"
     "suspends (within S seconds, default 60), then the domain\n"
     "ends; -c: it carries on (xl save -c)"},
    {"restore", pv::pvctl::restore_verb, "restore FILE [NAME]",
     "a new domain from a file pvctl save wrote, with the\n"
     "disks, vifs and on_* actions it was saved with: the\n"
     "guest goes on where it stopped"},
    {"migrate", pv::pvctl::migrate_verb, "migrate --offline [--timeout S] DOMAIN HOST[:PORT]",
     "move a running domain to the pvd at HOST (as xl migrate; port 8002 unless\n"
     "given; that pvd runs with --migrate-listen, both with --migrate-cert/-key/-ca):\n"
     "the guest is held while its memory goes over TLS, goes on there and ends\n"
     "here; on any failure it goes on here. Its disks must be at the same paths\n"
     "there (shared storage). Live migration is not built"},
    {"snapshot-create", pv::pvctl::snapshot_create_verb, "snapshot-create [--timeout S] DOMAIN NAME",
     "the domain's memory and every writable disk of one instant: the guest\n"
     "suspends, its state is written, each disk goes on in an overlay\n"
     "IMAGE.NAME.qcow2 over the image as it was, the guest carries on"},
    {"snapshot-list", pv::pvctl::snapshot_list_verb, "snapshot-list DOMAIN", "the domain's snapshots, oldest first"},
    {"snapshot-revert", pv::pvctl::snapshot_revert_verb, "snapshot-revert DOMAIN NAME",
     "the domain as it was at the snapshot: the running one is destroyed,\n"
     "new overlays go over the snapshot's images, its memory is restored"},
    {"snapshot-delete", pv::pvctl::snapshot_delete_verb, "snapshot-delete DOMAIN NAME",
     "forget a snapshot's memory state (the disk images stay; pvctl disk\n"
     "snapshot-delete merges them)"},
    {"disk", nullptr, "disk create|info|resize ...", "disk images: qcow2 and raw (pvctl disk --help)", &pv::pvctl::kDiskVerbs},
    {"disk-limit", pv::pvctl::disk_limit_verb, "disk-limit DOMAIN VDEV key=value...",
     "a running domain's disk I/O limits: iops, iops_rd, iops_wr (requests/s),\n"
     "bps, bps_rd, bps_wr (bytes/s, k/m/g suffixes), burst_ms; 0 lifts one.\n"
     "pv-backd applies them at once (token buckets; requests wait, none dropped)"},
    {"template", nullptr, "template create|list|delete ...", "domain templates (pvctl template --help)",
     &pv::pvctl::kTemplateVerbs},
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
  // The admin API carries UTF-8 only: a word that is not is refused here.
  for (int i = optind; i < argc; i++)
    if (!pv::admin::is_valid_utf8(argv[i]))
      return usage_error("argument \"" + pv::admin::escape_bytes(argv[i]) +
                         "\" is not valid UTF-8 (names and paths must be UTF-8)");
  return pv::pvctl::dispatch(kPvctl, {argv + optind, argv + argc}, ctx);
}
