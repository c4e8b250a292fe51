// XenstoreServer's durability: restoring the saved state and journaling
// every change (journal.h, saved_state.h, docs/xenstore.md "Durability").
#include <algorithm>

#include "pv/log.h"
#include "xenstore/path.h"
#include "xenstore/server.h"

namespace pv::xenstore {

namespace {
using Kind = JournalOp::Kind;
// A journal past this size is compacted into a new snapshot.
constexpr size_t kCompactJournalBytes = 4u << 20;
}  // namespace

void XenstoreServer::make_durable(const std::string& dir) {
  try {
    auto journal = std::make_unique<Journal>(dir);
    if (std::optional<SavedState> state = journal->load()) {
      const size_t nodes = state->tree.node_count(), domains = state->domains.size();
      size_t watches = 0;
      for (const auto& [domid, list] : state->watches) watches += list.size();
      adopt(std::move(*state));
      log_("restored from " + dir + ": " + std::to_string(nodes) + " nodes, " + std::to_string(domains) +
           " domain(s), " + std::to_string(watches) + " guest watch(es)");
    }
    journal_ = std::move(journal);
    journaled_root_ = store_.tree().root();
    journal_->compact(save_state());
  } catch (const std::exception& e) {
    if (!journal_) {
      pv::log::error("xenstore state directory unusable (" + std::string(e.what()) +
                     "): the store is NOT durable across a pvd restart");
      return;
    }
    journal_failed_ = true;  // retried at the next change
    pv::log::error("xenstore snapshot not written: " + std::string(e.what()));
  }
}

void XenstoreServer::stop_journal() {
  if (!journal_) return;
  flush_journal();
  try {
    journal_->compact(save_state());
  } catch (const std::exception& e) {
    pv::log::error("final xenstore snapshot not written (the journal still holds the state): " + std::string(e.what()));
  }
  journal_.reset();
  journal_ops_.clear();
}

void XenstoreServer::adopt(SavedState state) {
  store_.restore(std::move(state.tree), state.generation);
  domains_.clear();
  for (const auto& [domid, d] : state.domains) domains_[domid] = Domain{d.gfn, d.evtchn, d.shutdown_reported, d.target};
  restored_watches_ = std::move(state.watches);
  restored_transactions_ = std::move(state.open_transactions);
  next_transaction_id_ = state.next_transaction_id;
  for (const auto& [domid, ids] : restored_transactions_)
    if (!ids.empty()) next_transaction_id_ = std::max(next_transaction_id_, *ids.rbegin() + 1);
}

SavedState XenstoreServer::save_state() const {
  SavedState s;
  s.tree = store_.tree();
  s.generation = store_.generation();
  s.next_transaction_id = next_transaction_id_;
  for (const auto& [domid, d] : domains_) s.domains[domid] = SavedDomain{domid, d.gfn, d.evtchn, d.shutdown_reported, d.target};
  s.watches = restored_watches_;
  s.open_transactions = restored_transactions_;
  for (const auto& [id, conn] : connections_) {
    if (conn->domid() == 0 || conn->closed()) continue;
    auto& watches = s.watches[conn->domid()];
    watches.insert(watches.end(), conn->watches().begin(), conn->watches().end());
    if (watches.empty()) s.watches.erase(conn->domid());
    std::set<uint32_t> open(conn->lost_transactions());
    for (const auto& [tx_id, tx] : conn->transactions()) open.insert(tx_id);
    if (!open.empty()) s.open_transactions[conn->domid()].merge(open);
  }
  return s;
}

void XenstoreServer::claim_restored(Connection& conn) {
  if (conn.domid() == 0) return;
  if (auto it = restored_transactions_.find(conn.domid()); it != restored_transactions_.end()) {
    conn.lost_transactions() = std::move(it->second);
    restored_transactions_.erase(it);
  }
  auto it = restored_watches_.find(conn.domid());
  if (it == restored_watches_.end()) return;
  conn.watches() = std::move(it->second);
  restored_watches_.erase(it);
  // Fire each once: the guest re-reads what may have changed meanwhile.
  const std::string home = domain_path(conn.domid());
  for (const Watch& w : conn.watches()) send_event(conn, reported_path(w, w.path, home), w.token);
}

void XenstoreServer::journal(JournalOp op) {
  if (journal_) journal_ops_.push_back(std::move(op));
}

void XenstoreServer::journal_domain(DomId domid) {
  JournalOp op;
  auto it = domains_.find(domid);
  if (it == domains_.end()) {
    op.kind = Kind::kReleaseDomain;
    op.domid = domid;
  } else {
    op.kind = Kind::kDomain;
    op.domain = SavedDomain{domid, it->second.gfn, it->second.evtchn, it->second.shutdown_reported, it->second.target};
  }
  journal(std::move(op));
}

void XenstoreServer::journal_guest(Kind kind, const Connection& conn, const Watch* watch, uint32_t tx) {
  if (conn.domid() == 0) return;  // dom0 clients reconnect; their state is not kept
  JournalOp op;
  op.kind = kind;
  op.domid = conn.domid();
  if (watch) {
    op.path = watch->path;
    op.value = watch->token;
    op.relative = watch->relative;
  }
  op.tx_id = tx;
  journal(std::move(op));
}

void XenstoreServer::flush_journal() {
  if (!journal_) return;
  JournalBatch batch{store_.generation(), next_transaction_id_, {}};
  diff_trees(journaled_root_, store_.tree().root(), batch.ops);
  batch.ops.insert(batch.ops.end(), std::make_move_iterator(journal_ops_.begin()),
                   std::make_move_iterator(journal_ops_.end()));
  journal_ops_.clear();
  journaled_root_ = store_.tree().root();
  if (batch.ops.empty()) return;
  try {
    if (journal_failed_ || journal_->journal_bytes() > kCompactJournalBytes) {
      journal_->compact(save_state());
      if (journal_failed_) pv::log::info("xenstore journal writable again (new snapshot written)");
      journal_failed_ = false;
      return;
    }
    journal_->append(batch);
  } catch (const std::exception& e) {
    if (!journal_failed_)
      pv::log::error("xenstore change not journaled (" + std::string(e.what()) +
                     "): it is lost if pvd restarts before a snapshot succeeds");
    journal_failed_ = true;
  }
}

}  // namespace pv::xenstore
