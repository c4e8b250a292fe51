// One open transaction: a snapshot of the tree taken at TRANSACTION_START,
// what the transaction looked at (to detect conflicts at commit) and what
// it changed (to apply and announce at commit).
#pragma once
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "xenstore/tree.h"
#include "xenstore/watch.h"

namespace pv::xenstore {

class Transaction {
 public:
  Transaction(uint32_t id, Tree snapshot) : id_(id), tree_(std::move(snapshot)) {}
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

  uint32_t id() const { return id_; }
  Tree& tree() { return tree_; }

  // Records the generation `path` had when this transaction first touched
  // it (0: absent). Must be called before the transaction changes `path`.
  void note_access(const std::string& path);
  void note_modified(const std::string& path) { modified_.insert(path); }
  void add_change(Change change) { changes_.push_back(std::move(change)); }

  const std::map<std::string, uint64_t>& accessed() const { return accessed_; }
  // Sorted, so a parent comes before its descendants.
  const std::set<std::string>& modified() const { return modified_; }
  const std::vector<Change>& changes() const { return changes_; }

 private:
  uint32_t id_;
  Tree tree_;
  std::map<std::string, uint64_t> accessed_;
  std::set<std::string> modified_;
  std::vector<Change> changes_;
};

}  // namespace pv::xenstore
