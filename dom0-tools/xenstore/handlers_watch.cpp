// WATCH, UNWATCH, RESET_WATCHES.
#include <algorithm>
#include <cerrno>

#include "xenstore/errors.h"
#include "xenstore/path.h"
#include "xenstore/request_args.h"
#include "xenstore/server.h"

namespace pv::xenstore {

namespace {
const std::string kOk = std::string("OK") + '\0';
}

// "<wpath>|<token>|?": replies OK, then fires the watch once straight away
// with the path as given.
std::string XenstoreServer::do_watch(Request& req) {
  auto args = string_args(req.msg.payload, 2);
  Watch watch{canonical_watch_path(args[0], req.conn.domid()), std::string(args[1]), is_relative(args[0])};
  auto& watches = req.conn.watches();
  for (const Watch& w : watches)
    if (w.path == watch.path && w.token == watch.token) throw RequestError(EEXIST, "watch already set");
  const size_t limit = req.caller.privileged() ? quotas_.dom0_watches_per_connection
                                               : quotas_.watches_per_connection;
  if (watches.size() >= limit)
    throw RequestError(E2BIG, "watch quota of " + std::to_string(limit) + " per connection reached");
  watches.push_back(watch);
  journal_guest(JournalOp::Kind::kWatchAdd, req.conn, &watch);
  initial_events_.push_back({connections_.at(req.conn.id()), std::string(args[0]), watch.token});
  return kOk;
}

std::string XenstoreServer::do_unwatch(Request& req) {
  auto args = string_args(req.msg.payload, 2);
  std::string path = canonical_watch_path(args[0], req.conn.domid());
  auto& watches = req.conn.watches();
  auto it = std::find_if(watches.begin(), watches.end(),
                         [&](const Watch& w) { return w.path == path && w.token == args[1]; });
  if (it == watches.end()) throw RequestError(ENOENT, "no such watch");
  journal_guest(JournalOp::Kind::kWatchRemove, req.conn, &*it);
  watches.erase(it);
  return kOk;
}

// Drops all watches and transactions of the caller.
std::string XenstoreServer::do_reset_watches(Request& req) {
  req.conn.watches().clear();
  req.conn.transactions().clear();
  req.conn.lost_transactions().clear();
  journal_guest(JournalOp::Kind::kWatchesReset, req.conn);
  return kOk;
}

}  // namespace pv::xenstore
