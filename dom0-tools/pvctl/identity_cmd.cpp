#include "identity_cmd.h"

#include <cstdio>
#include <ctime>
#include <memory>

#include "pvd_call.h"

namespace pv::pvctl {
namespace A = pv::admin;

namespace {

// pvd's listing, or pvctl's exit status.
int fetch_list(const Context& ctx, A::DomainList& out) {
  A::Request req;
  req.mutable_list();
  A::Reply reply;
  std::unique_ptr<A::AdminClient> client;
  if (const int rc = call_pvd(ctx.socket, req, client, reply)) return rc;
  out = reply.list();
  return 0;
}

const A::DomainInfo* find(const A::DomainList& l, const std::string& name_or_id) {
  for (const auto& d : l.domains())
    if (d.name() == name_or_id || std::to_string(d.domid()) == name_or_id) return &d;
  return nullptr;
}

int one_word(const std::string& verb, const std::vector<std::string>& args, const char* what) {
  if (args.size() == 1 && !args[0].empty() && args[0][0] != '-') return 0;
  std::fprintf(stderr, "pvctl: %s takes one %s\n", verb.c_str(), what);
  return 2;
}

}  // namespace

std::string uptime_text(unsigned long long seconds, bool short_form) {
  const unsigned long long sec = seconds % 60, min = seconds / 60 % 60, hour = seconds / 3600 % 24,
                           day = seconds / 86400;
  char buf[64];
  const std::string days = day > 1 ? std::to_string(day) + " days, " : day == 1 ? "1 day, " : "";
  if (short_form) std::snprintf(buf, sizeof buf, "%2llu:%02llu", hour, min);
  else std::snprintf(buf, sizeof buf, "%2llu:%02llu:%02llu", hour, min, sec);
  return days + buf;
}

int domid_verb(const std::vector<std::string>& args, const Context& ctx) {
  if (const int rc = one_word("domid", args, "domain NAME")) return rc;
  A::DomainList l;
  if (const int rc = fetch_list(ctx, l)) return rc;
  for (const auto& d : l.domains())
    if (d.name() == args[0]) return std::printf("%u\n", d.domid()), 0;
  std::fprintf(stderr, "pvctl: no domain named '%s'\n", args[0].c_str());
  return 1;
}

int domname_verb(const std::vector<std::string>& args, const Context& ctx) {
  if (const int rc = one_word("domname", args, "domain ID")) return rc;
  if (args[0].find_first_not_of("0123456789") != std::string::npos) {
    std::fprintf(stderr, "pvctl: domname: '%s' is not a domain ID\n", args[0].c_str());
    return 2;
  }
  A::DomainList l;
  if (const int rc = fetch_list(ctx, l)) return rc;
  for (const auto& d : l.domains())
    if (std::to_string(d.domid()) == args[0]) return std::printf("%s\n", d.name().c_str()), 0;
  std::fprintf(stderr, "pvctl: no domain with ID %s\n", args[0].c_str());
  return 1;
}

// As xl uptime: "Name ID Uptime" rows, or with -s one line per domain
// (" HH:MM:SS up UPTIME, NAME (ID)").
int uptime_verb(const std::vector<std::string>& args, const Context& ctx) {
  bool short_form = false;
  std::string error;
  const auto words = parse_options(args, {{"short", no_argument, nullptr, 's'}},
                                   [&](int, const char*) { short_form = true; }, error, "s");
  if (!error.empty()) return std::fprintf(stderr, "pvctl: uptime: %s\n", error.c_str()), 2;
  A::DomainList l;
  if (const int rc = fetch_list(ctx, l)) return rc;
  std::vector<const A::DomainInfo*> rows;
  for (const auto& w : words) {
    const A::DomainInfo* d = find(l, w);
    if (!d) return std::fprintf(stderr, "pvctl: no domain named '%s'\n", w.c_str()), 1;
    rows.push_back(d);
  }
  if (words.empty())
    for (const auto& d : l.domains()) rows.push_back(&d);
  const std::time_t now = std::time(nullptr);
  char clock[16];
  std::strftime(clock, sizeof clock, "%H:%M:%S", std::localtime(&now));
  if (!short_form) std::printf("%-33s %4s %s\n", "Name", "ID", "Uptime");
  for (const A::DomainInfo* d : rows) {
    const auto created = static_cast<std::time_t>(d->created_unix_s());
    const unsigned long long up = created && now > created ? static_cast<unsigned long long>(now - created) : 0;
    if (short_form)
      std::printf(" %s up %s, %s (%u)\n", clock, uptime_text(up, true).c_str(), d->name().c_str(), d->domid());
    else std::printf("%-33s %4u %s\n", d->name().c_str(), d->domid(), uptime_text(up, false).c_str());
  }
  return 0;
}

}  // namespace pv::pvctl
