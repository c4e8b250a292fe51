#include "xenstore/server.h"

#include <cerrno>
#include <new>

#include "pv/log.h"
#include "xenstore/errors.h"
#include "xenstore/path.h"
#include "xenstore/request_args.h"

namespace pv::xenstore {

namespace {
// A client that keeps sending while its replies are held back gets cut off
// once this much unhandled input piles up.
constexpr size_t kMaxBufferedInput = 64 * (kHeaderSize + kPayloadMax);
}  // namespace

XenstoreServer::XenstoreServer(Quotas quotas, DomainHooks* hooks, Logger log)
    : quotas_(quotas), hooks_(hooks), log_(std::move(log)), store_(quotas) {
  if (!log_) log_ = [](std::string_view line) { pv::log::info(line); };
}

XenstoreServer::~XenstoreServer() {
  for (auto& [id, conn] : connections_) conn->mark_closed("xenstored is shutting down");
}

std::shared_ptr<Connection> XenstoreServer::connect(DomId domid, std::string label) {
  auto conn = std::make_shared<Connection>(next_connection_id_++, domid, std::move(label));
  connections_.emplace(conn->id(), conn);
  claim_restored(*conn);
  return conn;
}

void XenstoreServer::disconnect(Connection& conn) { close(conn, "disconnected"); }

void XenstoreServer::close(Connection& conn, const std::string& reason) {
  if (connections_.contains(conn.id())) journal_guest(JournalOp::Kind::kWatchesReset, conn);
  conn.mark_closed(reason);
  connections_.erase(conn.id());  // the transport may still hold it
  flush_journal();
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
    throw RequestError(EACCES, type_name(req.msg.type) + " is reserved to dom0");
}

Transaction* XenstoreServer::transaction_of(const Request& req) {
  if (req.msg.tx_id == 0) return nullptr;
  auto& txs = req.conn.transactions();
  auto it = txs.find(req.msg.tx_id);
  if (it == txs.end() && req.conn.lost_transactions().contains(req.msg.tx_id)) {
    // Open when xenstored restarted: the guest retries the transaction.
    if (req.msg.msg_type() == MsgType::kTransactionEnd) {
      req.conn.lost_transactions().erase(req.msg.tx_id);
      journal_guest(JournalOp::Kind::kTxClose, req.conn, nullptr, req.msg.tx_id);
    }
    throw RequestError(EAGAIN, "transaction " + std::to_string(req.msg.tx_id) + " was lost in a restart");
  }
  if (it == txs.end())
    throw RequestError(ENOENT, "no transaction " + std::to_string(req.msg.tx_id) + " on this connection");
  return it->second.get();
}

void XenstoreServer::handle(Connection& conn, const Message& msg) {
  Message reply{msg.type, msg.req_id, msg.tx_id, {}};
  try {
    Request req{conn, msg, caller_for(conn.domid()), nullptr, {}};
    reply.payload = dispatch(req);
    if (reply.payload.size() > kPayloadMax) throw RequestError(E2BIG, "reply too large");
  } catch (const RequestError& e) {
    reply.type = static_cast<uint32_t>(MsgType::kError);
    reply.payload = std::string(errno_name(e.errnum())) + '\0';
  } catch (const std::bad_alloc&) {
    reply.type = static_cast<uint32_t>(MsgType::kError);
    reply.payload = std::string("ENOMEM") + '\0';
  } catch (const std::exception& e) {
    log_(conn.label() + ": internal error handling " + type_name(msg.type) + ": " + e.what());
    reply.type = static_cast<uint32_t>(MsgType::kError);
    reply.payload = std::string("EIO") + '\0';
  }
  flush_journal();  // what the request changed is on disk before the reply is out
  conn.queue(reply, true);
  deliver_pending_events();
}

const XenstoreServer::Op* XenstoreServer::find_op(uint32_t type) {
  using S = XenstoreServer;
  static constexpr Op kOps[] = {
      // Nodes (handlers_nodes.cpp).
      {MsgType::kRead, &S::do_read, kTransactional | kNodePath},
      {MsgType::kWrite, &S::do_write, kTransactional | kNodePath},
      {MsgType::kMkdir, &S::do_mkdir, kTransactional | kNodePath},
      {MsgType::kRm, &S::do_rm, kTransactional | kNodePath},
      {MsgType::kDirectory, &S::do_directory, kTransactional | kNodePath},
      {MsgType::kDirectoryPart, &S::do_directory_part, kTransactional | kNodePath},
      {MsgType::kGetPerms, &S::do_get_perms, kTransactional | kNodePath},
      {MsgType::kSetPerms, &S::do_set_perms, kTransactional | kNodePath},
      // Transactions (handlers_transaction.cpp).
      {MsgType::kTransactionStart, &S::do_transaction_start, kTransactional},
      {MsgType::kTransactionEnd, &S::do_transaction_end, kTransactional},
      // Watches (handlers_watch.cpp): watch paths may be "@special".
      {MsgType::kWatch, &S::do_watch, 0},
      {MsgType::kUnwatch, &S::do_unwatch, 0},
      {MsgType::kResetWatches, &S::do_reset_watches, 0},
      // Domains and control (handlers_domain.cpp).
      {MsgType::kIntroduce, &S::do_introduce, kDom0Only},
      {MsgType::kRelease, &S::do_release, kDom0Only},
      {MsgType::kIsDomainIntroduced, &S::do_is_domain_introduced, kDom0Only},
      {MsgType::kResume, &S::do_resume, kDom0Only},
      {MsgType::kSetTarget, &S::do_set_target, kDom0Only},
      {MsgType::kGetDomainPath, &S::do_get_domain_path, 0},
      {MsgType::kControl, &S::do_control, kDom0Only},
  };
  for (const Op& op : kOps)
    if (static_cast<uint32_t>(op.type) == type) return &op;
  return nullptr;
}

std::string XenstoreServer::dispatch(Request& req) {
  const Op* op = find_op(req.msg.type);
  if (!op) {
    log_(req.conn.label() + ": unknown request type " + type_name(req.msg.type));
    throw RequestError(ENOSYS, "unknown request type");
  }
  if (op->flags & kTransactional) req.tx = transaction_of(req);
  if (op->flags & kDom0Only) require_privileged(req);
  if (op->flags & kNodePath) req.path = canonical_path(first_arg(req.msg.payload), req.conn.domid());
  return (this->*op->handler)(req);
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
  Message event{static_cast<uint32_t>(MsgType::kWatchEvent), 0, 0, path + '\0' + token + '\0'};
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
  flush_journal();
  deliver_pending_events();
}

void XenstoreServer::release_domain(DomId domid) {
  release(domid);
  flush_journal();
  deliver_pending_events();
}

void XenstoreServer::introduce(DomId domid, uint64_t gfn, uint32_t evtchn) {
  if (domid == 0 || domid >= kDomidFirstReserved)
    throw RequestError(EINVAL, "cannot introduce domain " + std::to_string(domid));
  auto it = domains_.find(domid);
  if (it != domains_.end() && it->second.gfn != gfn)
    throw RequestError(EINVAL, "domain " + std::to_string(domid) + " is already introduced with another page");
  if (hooks_) {
    if (int err = hooks_->introduce(domid, gfn, evtchn)) throw RequestError(err, "introducing the domain failed");
  }
  if (it != domains_.end()) {
    it->second.evtchn = evtchn;  // re-introduction: the event channel was rebound
    journal_domain(domid);
    return;
  }
  domains_.emplace(domid, Domain{gfn, evtchn, false, std::nullopt});
  journal_domain(domid);
  announce(Change{"@introduceDomain", false, std::nullopt});
}

void XenstoreServer::release(DomId domid) {
  if (domid == 0 || !domains_.contains(domid))
    throw RequestError(ENOENT, "domain " + std::to_string(domid) + " is not introduced");
  domains_.erase(domid);
  journal_domain(domid);
  restored_watches_.erase(domid);
  restored_transactions_.erase(domid);
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
  journal_domain(domid);
  flush_journal();
  announce(Change{"@releaseDomain", false, std::nullopt});
  deliver_pending_events();
}

bool XenstoreServer::is_introduced(DomId domid) const { return domid == 0 || domains_.contains(domid); }

std::vector<DomId> XenstoreServer::introduced_domains() const {
  std::vector<DomId> out;
  for (const auto& [domid, d] : domains_) out.push_back(domid);
  return out;
}

}  // namespace pv::xenstore
