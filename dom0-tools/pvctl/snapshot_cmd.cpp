#include "snapshot_cmd.h"

#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <memory>

#include "pvd_call.h"

namespace pv::pvctl {
namespace A = pv::admin;

namespace {
void print(const A::SnapshotInfo& s) {
  char when[32] = "?";
  const std::time_t t = static_cast<std::time_t>(s.created_unix_s());
  if (std::tm tm{}; ::localtime_r(&t, &tm)) std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
  std::printf("%-20s %s  %8.1f MiB memory  %d disk(s)\n", s.name().c_str(), when,
              static_cast<double>(s.state_bytes()) / (1 << 20), s.disks_size());
  for (const auto& k : s.disks()) std::printf("    %s: %s (%s)\n", k.vdev().c_str(), k.image().c_str(), k.format().c_str());
}

// DOMAIN NAME, for create, revert and delete.
bool domain_and_name(const std::vector<std::string>& words, A::SnapshotRequest* r) {
  if (words.size() != 2 || words[0].empty() || words[1].empty()) return false;
  r->mutable_domain()->set_name_or_id(words[0]);
  r->set_name(words[1]);
  return true;
}
}  // namespace

int snapshot_create_verb(const std::vector<std::string>& args, const Context& ctx) {
  unsigned long timeout_s = 0;
  std::string error;
  const auto words = parse_options(
      args, {{"timeout", required_argument, nullptr, 't'}},
      [&](int, const char* v) {
        parse_timeout_seconds(v, timeout_s, error);
      },
      error);
  if (!error.empty()) return usage_error("snapshot-create: " + error);
  A::Request req;
  auto* r = req.mutable_snapshot_create();
  if (!domain_and_name(words, r)) return usage_error("snapshot-create [--timeout S] DOMAIN NAME");
  r->set_timeout_ms(static_cast<uint32_t>(timeout_s * 1000));
  A::Reply reply;
  if (const int rc = call_pvd_verb(ctx.socket, req, reply)) return rc;
  std::printf("snapshot %s of domain %s taken\n", words[1].c_str(), words[0].c_str());
  for (const auto& s : reply.snapshots().snapshots()) print(s);
  return 0;
}

int snapshot_list_verb(const std::vector<std::string>& args, const Context& ctx) {
  if (args.size() != 1 || args[0].empty()) return usage_error("snapshot-list DOMAIN");
  A::Request req;
  req.mutable_snapshot_list()->set_name_or_id(args[0]);
  A::Reply reply;
  if (const int rc = call_pvd_verb(ctx.socket, req, reply)) return rc;
  for (const auto& s : reply.snapshots().snapshots()) print(s);
  return 0;
}

int snapshot_revert_verb(const std::vector<std::string>& args, const Context& ctx) {
  A::Request req;
  if (!domain_and_name(args, req.mutable_snapshot_revert())) return usage_error("snapshot-revert DOMAIN NAME");
  A::Reply reply;
  if (const int rc = call_pvd_verb(ctx.socket, req, reply)) return rc;
  std::printf("domain %s (id %u) reverted to snapshot %s\n", reply.domain().name().c_str(), reply.domain().domid(),
              args[1].c_str());
  return 0;
}

int snapshot_delete_verb(const std::vector<std::string>& args, const Context& ctx) {
  A::Request req;
  if (!domain_and_name(args, req.mutable_snapshot_delete())) return usage_error("snapshot-delete DOMAIN NAME");
  A::Reply reply;
  if (const int rc = call_pvd_verb(ctx.socket, req, reply)) return rc;
  std::printf("snapshot %s of domain %s deleted (its disk images stay)\n", args[1].c_str(), args[0].c_str());
  return 0;
}

}  // namespace pv::pvctl
