// TRANSACTION_START, TRANSACTION_END.
#include <cerrno>

#include "xenstore/errors.h"
#include "xenstore/request_args.h"
#include "xenstore/server.h"

namespace pv::xenstore {

std::string XenstoreServer::do_transaction_start(Request& req) {
  if (req.tx) throw RequestError(EBUSY, "TRANSACTION_START inside a transaction");
  auto& txs = req.conn.transactions();
  const size_t limit = req.caller.privileged() ? quotas_.dom0_transactions_per_connection
                                               : quotas_.transactions_per_connection;
  if (txs.size() >= limit)
    throw RequestError(ENOSPC, "transaction quota of " + std::to_string(limit) + " per connection reached");
  // Ids are unique across connections and never 0 (XBT_NULL).
  uint32_t id;
  do {
    id = next_transaction_id_++;
  } while (id == 0 || txs.contains(id));
  txs.emplace(id, store_.begin(id));
  journal_guest(JournalOp::Kind::kTxOpen, req.conn, nullptr, id);
  return std::to_string(id) + '\0';
}

// "T|" commits (EAGAIN on a conflict), "F|" discards; either way the
// transaction is gone afterwards.
std::string XenstoreServer::do_transaction_end(Request& req) {
  if (!req.tx) throw RequestError(ENOENT, "TRANSACTION_END outside a transaction");
  std::string_view arg = single_arg(req.msg.payload);
  if (arg != "T" && arg != "F") throw RequestError(EINVAL, "TRANSACTION_END takes T or F");
  auto& txs = req.conn.transactions();
  std::unique_ptr<Transaction> tx = std::move(txs.at(req.tx->id()));
  txs.erase(tx->id());
  journal_guest(JournalOp::Kind::kTxClose, req.conn, nullptr, tx->id());
  req.tx = nullptr;
  if (arg == "T") {
    auto changes = store_.commit(*tx);
    if (!changes) throw RequestError(EAGAIN, "transaction conflicts with a concurrent change");
    announce(*changes);
  }
  return std::string("OK") + '\0';
}

}  // namespace pv::xenstore
