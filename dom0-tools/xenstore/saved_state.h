// What of xenstored survives a pvd restart (oxenstored's and C xenstored's
// live-update lists, docs/xenstore.md "Durability"): the tree with
// permissions and generations, the domain introductions, each guest's
// watches, and which transactions guests had open (to answer EAGAIN).
// Quota accounting is the tree's own node count, rebuilt with it.
// dom0 socket clients are not kept: they reconnect.
#pragma once
#include <map>
#include <set>
#include <vector>

#include "xenstore/journal_format.h"
#include "xenstore/tree.h"
#include "xenstore/watch.h"

namespace pv::xenstore {

struct SavedState {
  Tree tree{Permissions(), 0};
  uint64_t generation = 0;
  uint32_t next_transaction_id = 1;
  std::map<DomId, SavedDomain> domains;
  std::map<DomId, std::vector<Watch>> watches;             // guest domains only
  std::map<DomId, std::set<uint32_t>> open_transactions;  // guest domains only

  // Applies a batch (journal replay); throws FormatError for an op that
  // cannot apply (a node whose parent is missing, ...).
  void apply(const JournalBatch& batch);
  // The whole state as batches (a snapshot's content): nodes parents first.
  std::vector<JournalBatch> as_batches() const;

 private:
  void apply(const JournalOp& op);
};

// The ops that turn tree `before` into tree `after`: removed children,
// then each changed node (parents before children). Subtrees both share
// are skipped, so the cost follows the change, not the tree.
void diff_trees(const NodePtr& before, const NodePtr& after, std::vector<JournalOp>& out);

}  // namespace pv::xenstore
