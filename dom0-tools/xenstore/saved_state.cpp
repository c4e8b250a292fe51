#include "xenstore/saved_state.h"

#include <algorithm>

#include "xenstore/path.h"

namespace pv::xenstore {

namespace {
using Kind = JournalOp::Kind;
constexpr size_t kOpsPerSnapshotBatch = 4096;

JournalOp put_op(const std::string& path, const Node& node) {
  JournalOp op;
  op.kind = Kind::kPutNode;
  op.path = path;
  op.value = node.value;
  op.perms = node.perms;
  op.generation = node.generation;
  return op;
}

void diff_node(const std::string& path, const Node* before, const Node& after, std::vector<JournalOp>& out) {
  if (before) {
    for (const auto& [name, child] : before->children) {
      if (after.children.contains(name)) continue;
      JournalOp op;
      op.kind = Kind::kEraseNode;
      op.path = join(path, name);
      out.push_back(std::move(op));
    }
  }
  out.push_back(put_op(path, after));
  for (const auto& [name, child] : after.children) {
    const Node* old_child = nullptr;
    if (before) {
      auto it = before->children.find(name);
      if (it != before->children.end()) {
        if (it->second == child) continue;  // shared: unchanged
        old_child = it->second.get();
      }
    }
    diff_node(join(path, name), old_child, *child, out);
  }
}
}  // namespace

void diff_trees(const NodePtr& before, const NodePtr& after, std::vector<JournalOp>& out) {
  if (before == after || !after) return;
  diff_node("/", before.get(), *after, out);
}

void SavedState::apply(const JournalBatch& batch) {
  for (const JournalOp& op : batch.ops) apply(op);
  generation = std::max(generation, batch.generation);
  next_transaction_id = batch.next_transaction_id;
}

void SavedState::apply(const JournalOp& op) {
  auto valid_path = [&] {
    if (!is_valid_absolute(op.path)) throw FormatError("bad node path in the journal");
  };
  switch (op.kind) {
    case Kind::kPutNode:
      valid_path();
      if (op.path != "/" && !tree.lookup(parent_of(op.path))) throw FormatError("node " + op.path + " has no parent");
      tree.restore_node(op.path, op.value, op.perms, op.generation);
      generation = std::max(generation, op.generation);
      return;
    case Kind::kEraseNode:
      valid_path();
      if (op.path == "/") throw FormatError("the journal erases the root");
      if (NodePtr parent = tree.lookup(parent_of(op.path)))
        tree.erase(op.path, parent->generation);  // the parent's own record follows
      return;
    case Kind::kDomain:
      domains[op.domain.domid] = op.domain;
      return;
    case Kind::kReleaseDomain:
      domains.erase(op.domid);
      watches.erase(op.domid);
      open_transactions.erase(op.domid);
      for (auto& [id, d] : domains)
        if (d.target == op.domid) d.target.reset();
      return;
    case Kind::kWatchAdd:
      watches[op.domid].push_back(Watch{op.path, op.value, op.relative});
      return;
    case Kind::kWatchRemove: {
      auto& list = watches[op.domid];
      auto it = std::find_if(list.begin(), list.end(),
                             [&](const Watch& w) { return w.path == op.path && w.token == op.value; });
      if (it != list.end()) list.erase(it);
      if (list.empty()) watches.erase(op.domid);
      return;
    }
    case Kind::kWatchesReset:
      watches.erase(op.domid);
      open_transactions.erase(op.domid);
      return;
    case Kind::kTxOpen:
      open_transactions[op.domid].insert(op.tx_id);
      return;
    case Kind::kTxClose:
      if (auto it = open_transactions.find(op.domid); it != open_transactions.end()) {
        it->second.erase(op.tx_id);
        if (it->second.empty()) open_transactions.erase(it);
      }
      return;
  }
  throw FormatError("unknown journal op");
}

std::vector<JournalBatch> SavedState::as_batches() const {
  std::vector<JournalOp> ops;
  tree.visit("/", [&](const std::string& path, const Node& node) { ops.push_back(put_op(path, node)); });
  for (const auto& [domid, domain] : domains) {
    JournalOp op;
    op.kind = Kind::kDomain;
    op.domain = domain;
    ops.push_back(std::move(op));
  }
  for (const auto& [domid, list] : watches) {
    for (const Watch& w : list) {
      JournalOp op;
      op.kind = Kind::kWatchAdd;
      op.domid = domid;
      op.path = w.path;
      op.value = w.token;
      op.relative = w.relative;
      ops.push_back(std::move(op));
    }
  }
  for (const auto& [domid, ids] : open_transactions) {
    for (uint32_t id : ids) {
      JournalOp op;
      op.kind = Kind::kTxOpen;
      op.domid = domid;
      op.tx_id = id;
      ops.push_back(std::move(op));
    }
  }
  std::vector<JournalBatch> out;
  for (size_t i = 0; i < ops.size() || out.empty(); i += kOpsPerSnapshotBatch) {
    JournalBatch b{generation, next_transaction_id, {}};
    const size_t end = std::min(ops.size(), i + kOpsPerSnapshotBatch);
    b.ops.assign(std::make_move_iterator(ops.begin() + static_cast<long>(std::min(i, ops.size()))),
                 std::make_move_iterator(ops.begin() + static_cast<long>(end)));
    out.push_back(std::move(b));
  }
  return out;
}

}  // namespace pv::xenstore
