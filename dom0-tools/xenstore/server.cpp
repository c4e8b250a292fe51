#include "xenstore/server.h"

#include <cerrno>
#include <iostream>
#include <new>

#include "xenstore/errors.h"
#include "xenstore/path.h"

namespace xenstore {

namespace {
// A client that keeps sending while its replies are held back gets cut off
// once this much unhandled input piles up.
constexpr size_t kMaxBufferedInput = 64 * (kHeaderSize + kPayloadMax);
}  // namespace

XenstoreServer::XenstoreServer(Quotas quotas, DomainHooks* hooks, Logger log)
    : quotas_(quotas), hooks_(hooks), log_(std::move(log)), store_(quotas) {
  if (!log_) log_ = [](std::string_view line) { std::cerr << "xenstored: " << line << '\n'; };
}

XenstoreServer::~XenstoreServer() {
  for (auto& [id, conn] : connections_) conn->mark_closed("xenstored is shutting down");
}

std::shared_ptr<Connection> XenstoreServer::connect(DomId domid, std::string label) {
  auto conn = std::make_shared<Connection>(next_connection_id_++, domid, std::move(label));
  connections_.emplace(conn->id(), conn);
  return conn;
}

void XenstoreServer::disconnect(Connection& conn) { close(conn, "disconnected"); }

void XenstoreServer::close(Connection& conn, const std::string& reason) {
  conn.mark_closed(reason);
  connections_.erase(conn.id());  // the transport may still hold it
}

void XenstoreServer::receive(Connection& conn, std::string_view bytes) {
  if (conn.closed()) return;
  conn.reader().append(bytes);
  pump(conn);
  if (!conn.closed() && conn.buffered_input() > kMaxBufferedInput) {
    log_(conn.label() + ": sends requests without reading replies; closing the connection");
    close(conn, "too much unread output");
  }
}

void XenstoreServer::pump(Connection& conn) {
  while (!conn.closed() && conn.pending_replies() < quotas_.max_pending_replies) {
    std::optional<Message> msg;
    try {
      msg = conn.reader().next();
    } catch (const FramingError& e) {
      log_(conn.label() + ": " + e.what() + "; closing the connection");
      close(conn, e.what());
      return;
    }
    if (!msg) return;
    handle(conn, *msg);
  }
}

Caller XenstoreServer::caller_for(DomId domid) const {
  Caller caller{domid, std::nullopt};
  if (auto it = domains_.find(domid); it != domains_.end()) caller.target = it->second.target;
  return caller;
}

void XenstoreServer::require_privileged(const Request& req) const {
  if (!req.caller.privileged())
    throw XsError(EACCES, type_name(req.msg.type) + " is reserved to dom0");
}

std::string XenstoreServer::canonical(const Request& req, std::string_view path) const {
  return canonical_path(path, req.conn.domid());
}

void XenstoreServer::handle(Connection& conn, const Message& msg) {
  Message reply{msg.type, msg.req_id, msg.tx_id, {}};
  try {
    Request req{conn, msg, caller_for(conn.domid()), nullptr};
    reply.payload = dispatch(req);
    if (reply.payload.size() > kPayloadMax) throw XsError(E2BIG, "reply too large");
  } catch (const XsError& e) {
    reply.type = static_cast<uint32_t>(MsgType::Error);
    reply.payload = std::string(errno_name(e.errnum())) + '\0';
  } catch (const std::bad_alloc&) {
    reply.type = static_cast<uint32_t>(MsgType::Error);
    reply.payload = std::string("ENOMEM") + '\0';
  } catch (const std::exception& e) {
    log_(conn.label() + ": internal error handling " + type_name(msg.type) + ": " + e.what());
    reply.type = static_cast<uint32_t>(MsgType::Error);
    reply.payload = std::string("EIO") + '\0';
  }
  conn.queue(reply, true);
  deliver_pending_events();
}

std::string XenstoreServer::dispatch(Request& req) {
  const auto type = req.msg.msg_type();
  switch (type) {
    // Requests that may run inside a transaction.
    case MsgType::Directory:
    case MsgType::Read:
    case MsgType::GetPerms:
    case MsgType::Write:
    case MsgType::Mkdir:
    case MsgType::Rm:
    case MsgType::SetPerms:
    case MsgType::DirectoryPart:
    case MsgType::TransactionStart:
    case MsgType::TransactionEnd:
      if (req.msg.tx_id != 0) {
        auto& txs = req.conn.transactions();
        auto it = txs.find(req.msg.tx_id);
        if (it == txs.end())
          throw XsError(ENOENT, "no transaction " + std::to_string(req.msg.tx_id) + " on this connection");
        req.tx = it->second.get();
      }
      break;
    default:
      break;  // tx_id is ignored
  }
  switch (type) {
    case MsgType::Control: return do_control(req);
    case MsgType::Directory: return do_directory(req);
    case MsgType::Read: return do_read(req);
    case MsgType::GetPerms: return do_get_perms(req);
    case MsgType::Watch: return do_watch(req);
    case MsgType::Unwatch: return do_unwatch(req);
    case MsgType::TransactionStart: return do_transaction_start(req);
    case MsgType::TransactionEnd: return do_transaction_end(req);
    case MsgType::Introduce: return do_introduce(req);
    case MsgType::Release: return do_release(req);
    case MsgType::GetDomainPath: return do_get_domain_path(req);
    case MsgType::Write: return do_write(req);
    case MsgType::Mkdir: return do_mkdir(req);
    case MsgType::Rm: return do_rm(req);
    case MsgType::SetPerms: return do_set_perms(req);
    case MsgType::IsDomainIntroduced: return do_is_domain_introduced(req);
    case MsgType::Resume: return do_resume(req);
    case MsgType::SetTarget: return do_set_target(req);
    case MsgType::ResetWatches: return do_reset_watches(req);
    case MsgType::DirectoryPart: return do_directory_part(req);
    case MsgType::WatchEvent:
    case MsgType::Error:
    default:
      log_(req.conn.label() + ": unknown request type " + type_name(req.msg.type));
      throw XsError(ENOSYS, "unknown request type");
  }
}

// ---- watch events ----

void XenstoreServer::announce(std::optional<Change> change) {
  if (change) changes_to_announce_.push_back(std::move(*change));
}

void XenstoreServer::announce(const std::vector<Change>& changes) {
  changes_to_announce_.insert(changes_to_announce_.end(), changes.begin(), changes.end());
}

void XenstoreServer::deliver_pending_events() {
  for (auto& ev : initial_events_)
    if (auto conn = ev.conn.lock(); conn && !conn->closed()) send_event(*conn, ev.path, ev.token);
  initial_events_.clear();

  auto changes = std::move(changes_to_announce_);
  changes_to_announce_.clear();
  for (const Change& change : changes) {
    for (auto& [id, conn] : connections_) {
      if (conn->closed()) continue;
      if (change.perms && !(access_for(caller_for(conn->domid()), *change.perms) & kAccessRead)) continue;
      const std::string home = domain_path(conn->domid());
      for (const Watch& watch : conn->watches())
        if (auto path = matched_path(watch, change))
          send_event(*conn, reported_path(watch, *path, home), watch.token);
    }
  }
}

void XenstoreServer::send_event(Connection& conn, const std::string& path, const std::string& token) {
  Message event{static_cast<uint32_t>(MsgType::WatchEvent), 0, 0, path + '\0' + token + '\0'};
  if (event.payload.size() > kPayloadMax || conn.pending_output_bytes() > quotas_.max_pending_output_bytes) {
    conn.count_dropped_event();
    if (conn.dropped_events() == 1 || conn.dropped_events() % 1000 == 0)
      log_(conn.label() + ": dropped " + std::to_string(conn.dropped_events()) +
           " watch event(s): the client does not read its output (or the event exceeds 4096 bytes)");
    return;
  }
  conn.queue(event, false);
}

// ---- domain lifecycle entry points for pvd ----

void XenstoreServer::introduce_domain(DomId domid, uint64_t gfn, uint32_t evtchn) {
  introduce(domid, gfn, evtchn);
  deliver_pending_events();
}

void XenstoreServer::release_domain(DomId domid) {
  release(domid);
  deliver_pending_events();
}

void XenstoreServer::introduce(DomId domid, uint64_t gfn, uint32_t evtchn) {
  if (domid == 0 || domid >= kDomidFirstReserved)
    throw XsError(EINVAL, "cannot introduce domain " + std::to_string(domid));
  auto it = domains_.find(domid);
  if (it != domains_.end() && it->second.gfn != gfn)
    throw XsError(EINVAL, "domain " + std::to_string(domid) + " is already introduced with another page");
  if (hooks_) {
    if (int err = hooks_->introduce(domid, gfn, evtchn)) throw XsError(err, "introducing the domain failed");
  }
  if (it != domains_.end()) {
    it->second.evtchn = evtchn;  // re-introduction: the event channel was rebound
    return;
  }
  domains_.emplace(domid, Domain{gfn, evtchn, false, std::nullopt});
  announce(Change{"@introduceDomain", false, std::nullopt});
}

void XenstoreServer::release(DomId domid) {
  if (domid == 0 || !domains_.contains(domid))
    throw XsError(ENOENT, "domain " + std::to_string(domid) + " is not introduced");
  domains_.erase(domid);
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (it->second->domid() == domid) {
      it->second->mark_closed("domain " + std::to_string(domid) + " was released");
      it = connections_.erase(it);
    } else {
      ++it;
    }
  }
  for (auto& [id, domain] : domains_)
    if (domain.target == domid) domain.target.reset();
  if (hooks_) hooks_->release(domid);
  announce(Change{"@releaseDomain", false, std::nullopt});
}

void XenstoreServer::domain_shutdown(DomId domid) {
  auto it = domains_.find(domid);
  if (it == domains_.end() || it->second.shutdown_reported) return;
  it->second.shutdown_reported = true;
  announce(Change{"@releaseDomain", false, std::nullopt});
  deliver_pending_events();
}

bool XenstoreServer::is_introduced(DomId domid) const { return domid == 0 || domains_.contains(domid); }

}  // namespace xenstore
