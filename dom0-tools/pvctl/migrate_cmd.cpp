#include "migrate_cmd.h"

#include <cstdio>
#include <cstdlib>
#include <memory>

#include "host_port.h"
#include "pvd_call.h"

namespace pv::pvctl {
namespace A = pv::admin;

namespace {
int usage(const std::string& why) {
  std::fprintf(stderr, "pvctl: %s\n", why.c_str());
  return 2;
}

}  // namespace

int migrate_verb(const std::vector<std::string>& args, const Context& ctx) {
  bool offline = false;
  unsigned long timeout_s = 0;
  std::string error;
  const auto words = parse_options(
      args, {{"offline", no_argument, nullptr, 'o'}, {"timeout", required_argument, nullptr, 't'}},
      [&](int o, const char* v) {
        if (o == 'o') return void(offline = true);
        parse_timeout_seconds(v, timeout_s, error);
      },
      error);
  if (!error.empty()) return usage("migrate: " + error);
  if (words.size() != 2 || words[0].empty()) return usage("migrate --offline [--timeout S] DOMAIN HOST[:PORT]");
  if (!offline)
    return usage("migrate: live migration (memory copied while the guest runs) is not built; "
                 "--offline moves the domain with it held for the copy");
  std::string host;
  uint16_t port = 0;
  if (!admin::split_host_port(words[1], 0, host, port)) return usage("migrate: '" + words[1] + "' is not HOST[:PORT]");
  A::Request req;
  auto* m = req.mutable_migrate();
  m->mutable_domain()->set_name_or_id(words[0]);
  m->set_host(host);
  m->set_port(static_cast<uint32_t>(port));
  m->set_timeout_ms(static_cast<uint32_t>(timeout_s * 1000));
  std::printf("migrating domain %s to %s (offline: held for the copy)\n", words[0].c_str(), words[1].c_str());
  std::fflush(stdout);
  A::Reply reply;
  std::unique_ptr<A::AdminClient> client;
  if (const int rc = call_pvd(ctx.socket, req, client, reply)) return rc;
  const auto& r = reply.migrated();
  std::printf("migrated domain %s to %s: %.1f MiB in %.3f s, downtime %.3f s (held from the suspend request "
              "to the target's restore)\n",
              words[0].c_str(), r.target().c_str(), static_cast<double>(r.bytes()) / (1 << 20),
              static_cast<double>(r.total_ms()) / 1000, static_cast<double>(r.held_ms()) / 1000);
  return 0;
}

}  // namespace pv::pvctl
