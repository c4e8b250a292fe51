// xenstored's request processing, independent of transport: owns the Store
// and the connections, dispatches every request type, routes watch events,
// keeps the registry of introduced domains and enforces the quotas.
//
// Not thread-safe: call everything from one thread (pvd's io_context).
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "xenstore/connection.h"
#include "xenstore/domain_hooks.h"
#include "xenstore/journal.h"
#include "xenstore/quotas.h"
#include "xenstore/store.h"

namespace pv::xenstore {

class XenstoreServer {
 public:
  using Logger = std::function<void(std::string_view)>;

  // `hooks` may be null (INTRODUCE then only updates the registry); it
  // must outlive the server. `log` defaults to pv::log::info.
  explicit XenstoreServer(Quotas quotas = {}, DomainHooks* hooks = nullptr, Logger log = {});
  ~XenstoreServer();
  XenstoreServer(const XenstoreServer&) = delete;
  XenstoreServer& operator=(const XenstoreServer&) = delete;

  // A new client speaking for `domid` (every dom0 socket client is domid 0).
  std::shared_ptr<Connection> connect(DomId domid, std::string label);
  // The transport is gone: drops the connection's watches and transactions.
  void disconnect(Connection& conn);

  // Bytes from the client; handles every complete request. Afterwards check
  // conn.closed() (a framing error closes the connection) and drain output.
  void receive(Connection& conn, std::string_view bytes);
  // Handles requests held back while replies were pending; call after
  // draining output.
  void pump(Connection& conn);
  // False while the connection has too many unsent replies: the transport
  // should stop reading from the client until it drains output.
  bool wants_input(const Connection& conn) const {
    return !conn.closed() && conn.pending_replies() < quotas_.max_pending_replies;
  }

  // ---- domain lifecycle, for pvd (the same as the dom0-only requests) ----
  // Throws RequestError on failure.
  void introduce_domain(DomId domid, uint64_t gfn, uint32_t evtchn);
  void release_domain(DomId domid);
  // The domain shut down or crashed: fires @releaseDomain once (again only
  // after a RESUME).
  void domain_shutdown(DomId domid);
  bool is_introduced(DomId domid) const;
  // Every introduced domain (not dom0), in order.
  std::vector<DomId> introduced_domains() const;

  // ---- durability (server_durable.cpp, docs/xenstore.md "Durability") ----
  // Restores the state saved in `dir` (the tree, domains, guests' watches;
  // the transactions guests had open then answer EAGAIN), writes a fresh
  // snapshot and from now on journals every change there before the reply
  // to the request that made it. Call before any client connects. Never
  // throws: a damaged snapshot means an empty store, an unusable directory
  // an in-memory store, both logged as errors.
  void make_durable(const std::string& dir);
  // Writes a final snapshot and stops journaling: pvd is exiting, and the
  // guests' connections closing with it must not erase their watches.
  void stop_journal();
  bool durable() const { return journal_ != nullptr; }

  void log(std::string_view line) const { log_(line); }
  size_t connection_count() const { return connections_.size(); }

 private:
  struct Domain {
    uint64_t gfn = 0;
    uint32_t evtchn = 0;
    bool shutdown_reported = false;
    std::optional<DomId> target;
  };
  struct Request {
    Connection& conn;
    const Message& msg;
    Caller caller;
    Transaction* tx = nullptr;  // null outside a transaction
    std::string path;           // kNodePath ops: the first argument, canonical
  };

  // The op table (server.cpp, like Xen's wire_funcs[]): each request type's
  // handler and what dispatch() checks before calling it.
  enum OpFlags : unsigned {
    // tx_id names one of the connection's transactions (ENOENT if it does
    // not); for every other op tx_id is ignored.
    kTransactional = 1u << 0,
    // Only dom0 may send it (EACCES from a guest): INTRODUCE, RELEASE, ...
    kDom0Only = 1u << 1,
    // The first NUL-terminated argument is a node path, checked and made
    // absolute into Request::path (EINVAL) before the handler runs.
    kNodePath = 1u << 2,
  };
  using Handler = std::string (XenstoreServer::*)(Request&);
  struct Op {
    MsgType type;
    Handler handler;
    unsigned flags;  // OpFlags
  };
  // The entry for `type`; null for unknown types and for XS_WATCH_EVENT and
  // XS_ERROR, which only servers send.
  static const Op* find_op(uint32_t type);
  struct PendingEvent {
    std::weak_ptr<Connection> conn;
    std::string path;
    std::string token;
  };

  void handle(Connection& conn, const Message& msg);
  void close(Connection& conn, const std::string& reason);
  // INTRODUCE / RELEASE without delivering the resulting events yet.
  void introduce(DomId domid, uint64_t gfn, uint32_t evtchn);
  void release(DomId domid);
  std::string dispatch(Request& req);
  Caller caller_for(DomId domid) const;
  void require_privileged(const Request& req) const;
  Transaction* transaction_of(const Request& req);

  // Node requests (handlers_nodes.cpp).
  std::string do_read(Request& req);
  std::string do_write(Request& req);
  std::string do_mkdir(Request& req);
  std::string do_rm(Request& req);
  std::string do_directory(Request& req);
  std::string do_directory_part(Request& req);
  std::string do_get_perms(Request& req);
  std::string do_set_perms(Request& req);
  // Watches (handlers_watch.cpp).
  std::string do_watch(Request& req);
  std::string do_unwatch(Request& req);
  std::string do_reset_watches(Request& req);
  // Transactions (handlers_transaction.cpp).
  std::string do_transaction_start(Request& req);
  std::string do_transaction_end(Request& req);
  // Domains and control (handlers_domain.cpp).
  std::string do_introduce(Request& req);
  std::string do_release(Request& req);
  std::string do_is_domain_introduced(Request& req);
  std::string do_resume(Request& req);
  std::string do_set_target(Request& req);
  std::string do_get_domain_path(Request& req);
  std::string do_control(Request& req);

  // Watch events: changes are announced after the reply to the request
  // that caused them is queued.
  void announce(std::optional<Change> change);
  void announce(const std::vector<Change>& changes);
  void deliver_pending_events();
  void send_event(Connection& conn, const std::string& path, const std::string& token);

  // Durability (server_durable.cpp).
  void journal(JournalOp op);
  void journal_domain(DomId domid);
  void journal_guest(JournalOp::Kind kind, const Connection& conn, const Watch* watch = nullptr, uint32_t tx = 0);
  // Writes what changed since the last flush (tree diff + queued ops).
  void flush_journal();
  SavedState save_state() const;
  void adopt(SavedState state);
  // A guest connection takes over its domain's restored watches (each fires
  // once) and the ids of its transactions lost in the restart.
  void claim_restored(Connection& conn);

  Quotas quotas_;
  DomainHooks* hooks_;
  Logger log_;
  Store store_;
  std::map<uint64_t, std::shared_ptr<Connection>> connections_;
  uint64_t next_connection_id_ = 1;
  uint32_t next_transaction_id_ = 1;
  std::map<DomId, Domain> domains_;  // introduced domains (not dom0)
  std::vector<Change> changes_to_announce_;
  std::vector<PendingEvent> initial_events_;

  std::unique_ptr<Journal> journal_;
  bool journal_failed_ = false;  // the last write failed: the next flush compacts
  NodePtr journaled_root_;       // the tree as the journal has it
  std::vector<JournalOp> journal_ops_;
  std::map<DomId, std::vector<Watch>> restored_watches_;         // not yet claimed by a connection
  std::map<DomId, std::set<uint32_t>> restored_transactions_;  // likewise
};

}  // namespace pv::xenstore
