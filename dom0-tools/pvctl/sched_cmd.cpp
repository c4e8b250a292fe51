#include "sched_cmd.h"

#include <getopt.h>

#include <cstdio>
#include <memory>

#include "pvd_call.h"

namespace pv::pvctl {
namespace A = pv::admin;

namespace {

// A whole number in [lo, hi], or false.
bool parse_number(const char* text, unsigned long lo, unsigned long hi, uint32_t& out) {
  if (!text || !*text || *text == '-' || *text == '+') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long v = std::strtoul(text, &end, 10);
  if (errno || *end || v < lo || v > hi) return false;
  out = static_cast<uint32_t>(v);
  return true;
}

}  // namespace

// As xl sched-credit: "Name ID Weight Cap" rows.
int sched_credit_verb(const std::vector<std::string>& args, const Context& ctx) {
  A::Request req;
  A::SchedCreditRequest* sc = req.mutable_sched_credit();
  std::string error;
  const auto words = parse_options(
      args,
      {{"domain", required_argument, nullptr, 'd'},
       {"weight", required_argument, nullptr, 'w'},
       {"cap", required_argument, nullptr, 'c'}},
      [&](int opt, const char* value) {
        uint32_t n = 0;
        if (opt == 'd') sc->mutable_domain()->set_name_or_id(value);
        else if (opt == 'w') {
          if (!parse_number(value, 1, 65535, n)) error = "-w/--weight takes a weight from 1 to 65535, not '" + std::string(value) + "'";
          else sc->set_weight(n);
        } else if (opt == 'c') {
          if (!parse_number(value, 0, 100u * 128, n)) error = "-c/--cap takes a percentage of one CPU (0 for none), not '" + std::string(value) + "'";
          else {
            sc->set_set_cap(true);
            sc->set_cap(n);
          }
        }
      },
      error, "d:w:c:");
  if (error.empty() && !words.empty()) error = "unexpected '" + words.front() + "' (name the domain with -d)";
  if (!error.empty()) return std::fprintf(stderr, "pvctl: sched-credit: %s\n", error.c_str()), 2;
  if ((sc->weight() || sc->set_cap()) && sc->domain().name_or_id().empty())
    return std::fprintf(stderr, "pvctl: sched-credit: -w and -c need the domain (-d DOMAIN)\n"), 2;
  A::Reply reply;
  std::unique_ptr<A::AdminClient> client;
  if (const int rc = call_pvd(ctx.socket, req, client, reply)) return rc;
  std::printf("%-33s %4s %6s %4s\n", "Name", "ID", "Weight", "Cap");
  for (const auto& d : reply.sched_credit().domains())
    std::printf("%-33s %4u %6u %4u\n", d.name().c_str(), d.domid(), d.weight(), d.cap());
  return 0;
}

namespace {

// As xl vcpu-list: "Name ID VCPU CPU State Time(s) Affinity (Hard / Soft)".
void print_vcpus(const A::VcpuList& l) {
  std::printf("%-33s %4s %4s %4s %5s %9s %s\n", "Name", "ID", "VCPU", "CPU", "State", "Time(s)", "Affinity (Hard / Soft)");
  for (const auto& v : l.vcpus()) {
    // An offline vCPU is "--p" with no CPU, as xl prints one.
    const std::string state = v.offline() ? "--p" : v.state() == "r" ? "r--" : v.state() == "p" ? "--p" : "-b-";
    const std::string cpu = v.offline() ? "-" : std::to_string(v.cpu());
    std::printf("%-33s %4u %4u %4s %5s %9.1f %s / all\n", v.name().c_str(), v.domid(), v.vcpu(), cpu.c_str(),
                state.c_str(), v.cpu_time_s(), v.affinity().c_str());
  }
}

}  // namespace

int vcpu_list_verb(const std::vector<std::string>& args, const Context& ctx) {
  if (args.size() > 1 || (args.size() == 1 && (args[0].empty() || args[0][0] == '-')))
    return std::fprintf(stderr, "pvctl: vcpu-list takes at most one DOMAIN\n"), 2;
  A::Request req;
  req.mutable_vcpu_list()->set_name_or_id(args.empty() ? "" : args[0]);
  A::Reply reply;
  std::unique_ptr<A::AdminClient> client;
  if (const int rc = call_pvd(ctx.socket, req, client, reply)) return rc;
  print_vcpus(reply.vcpus());
  return 0;
}

int vcpu_pin_verb(const std::vector<std::string>& args, const Context& ctx) {
  if (args.size() != 3 || args[0].empty() || args[0][0] == '-')
    return std::fprintf(stderr, "pvctl: vcpu-pin takes DOMAIN VCPU|all CPUS\n"), 2;
  A::Request req;
  A::VcpuPinRequest* p = req.mutable_vcpu_pin();
  p->mutable_domain()->set_name_or_id(args[0]);
  p->set_vcpu(args[1]);
  p->set_cpus(args[2]);
  A::Reply reply;
  std::unique_ptr<A::AdminClient> client;
  if (const int rc = call_pvd(ctx.socket, req, client, reply)) return rc;
  print_vcpus(reply.vcpus());
  return 0;
}

int vcpu_set_verb(const std::vector<std::string>& args, const Context& ctx) {
  uint32_t n = 0;  // 0 and too many are pvd's to refuse, with the domain's maxvcpus
  if (args.size() != 2 || args[0].empty() || args[0][0] == '-' || !parse_number(args[1].c_str(), 0, 1u << 20, n))
    return std::fprintf(stderr, "pvctl: vcpu-set takes DOMAIN N (the number of vCPUs to have online)\n"), 2;
  A::Request req;
  A::VcpuSetRequest* s = req.mutable_vcpu_set();
  s->mutable_domain()->set_name_or_id(args[0]);
  s->set_vcpus(n);
  A::Reply reply;
  std::unique_ptr<A::AdminClient> client;
  return call_pvd(ctx.socket, req, client, reply);
}

}  // namespace pv::pvctl
