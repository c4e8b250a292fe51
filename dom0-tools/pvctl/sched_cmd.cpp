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

}  // namespace pv::pvctl
