#include "save_cmd.h"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>

#include "pvd_call.h"

namespace pv::pvctl {
namespace A = pv::admin;

namespace {
// pvd runs elsewhere (its own working directory): paths go absolute.
std::string absolute(const std::string& path) { return std::filesystem::absolute(path).lexically_normal().string(); }
}  // namespace

int save_verb(const std::vector<std::string>& args, const Context& ctx) {
  bool checkpoint = false;
  unsigned long timeout_s = 0;
  std::string error;
  const auto words = parse_options(
      args, {{"checkpoint", no_argument, nullptr, 'c'}, {"timeout", required_argument, nullptr, 't'}},
      [&](int o, const char* v) {
        if (o == 'c') return void(checkpoint = true);
        parse_timeout_seconds(v, timeout_s, error);
      },
      error, "c");
  if (!error.empty()) return usage_error("save: " + error);
  if (words.size() != 2) return usage_error("save [-c|--checkpoint] [--timeout S] DOMAIN FILE");
  A::Request req;
  auto* s = req.mutable_save();
  s->mutable_domain()->set_name_or_id(words[0]);
  s->set_path(absolute(words[1]));
  s->set_checkpoint(checkpoint);
  s->set_timeout_ms(static_cast<uint32_t>(timeout_s * 1000));
  A::Reply reply;
  std::unique_ptr<A::AdminClient> client;
  if (const int rc = call_pvd(ctx.socket, req, client, reply)) return rc;
  std::printf("%s domain %s to %s\n", checkpoint ? "checkpointed" : "saved", words[0].c_str(), s->path().c_str());
  return 0;
}

int restore_verb(const std::vector<std::string>& args, const Context& ctx) {
  if (args.empty() || args.size() > 2 || args[0].empty() || args[0][0] == '-') return usage_error("restore FILE [NAME]");
  A::Request req;
  auto* r = req.mutable_restore();
  r->set_path(absolute(args[0]));
  if (args.size() == 2) r->set_name(args[1]);
  A::Reply reply;
  if (const int rc = call_pvd_verb(ctx.socket, req, reply)) return rc;
  std::printf("restored domain %s (id %u) from %s\n", reply.domain().name().c_str(), reply.domain().domid(),
              r->path().c_str());
  return 0;
}

}  // namespace pv::pvctl
