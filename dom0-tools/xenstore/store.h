// The xenstore database: the tree, Xen's permission rules, the per-domain
// store quotas, and transactions (snapshot isolation; a commit fails with
// EAGAIN if anything the transaction read or wrote changed meanwhile).
//
// Operations take canonical absolute paths (see path.h) and throw RequestError.
// A null transaction means the live tree. Changes made outside a
// transaction are returned for the caller to announce to watchers; changes
// inside one are kept in it and returned by commit().
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "xenstore/permissions.h"
#include "xenstore/quotas.h"
#include "xenstore/transaction.h"
#include "xenstore/tree.h"
#include "xenstore/watch.h"

namespace pv::xenstore {

struct DirectoryListing {
  std::vector<std::string> names;  // leaf names, sorted
  uint64_t generation = 0;         // of the listed node
};

class Store {
 public:
  // The layout Xen starts with: /, /local, /local/domain, /local/domain/0,
  // /vm, /tool, all owned by dom0 with no access for others ("n0").
  explicit Store(Quotas quotas = {});

  std::string read(const Caller& caller, const std::string& path, Transaction* tx);
  DirectoryListing directory(const Caller& caller, const std::string& path, Transaction* tx);
  Permissions get_perms(const Caller& caller, const std::string& path, Transaction* tx);

  // WRITE: sets the value, creating missing parents (which inherit the
  // nearest existing ancestor's permissions, owned by an unprivileged creator).
  std::optional<Change> write(const Caller& caller, const std::string& path, std::string value,
                              Transaction* tx);
  // MKDIR: like WRITE with an empty value, but an existing node is left alone.
  std::optional<Change> mkdir(const Caller& caller, const std::string& path, Transaction* tx);
  // RM: removes the subtree; a missing node is fine if its parent exists.
  std::optional<Change> rm(const Caller& caller, const std::string& path, Transaction* tx);
  std::optional<Change> set_perms(const Caller& caller, const std::string& path, Permissions perms,
                                  Transaction* tx);

  std::unique_ptr<Transaction> begin(uint32_t id) const;
  // The transaction's changes, applied to the live tree; nullopt on a
  // conflict (nothing applied).
  std::optional<std::vector<Change>> commit(Transaction& tx);

  uint64_t next_generation() { return ++generation_; }
  uint64_t generation() const { return generation_; }

  // The live tree, and replacing it with a saved one (server_durable.cpp).
  const Tree& tree() const { return tree_; }
  void restore(Tree tree, uint64_t generation) {
    tree_ = std::move(tree);
    generation_ = generation;
  }

 private:
  class View;
  NodePtr require(View& view, const Caller& caller, const std::string& path, unsigned want);
  [[noreturn]] void fail_missing(View& view, const Caller& caller, const std::string& path,
                                 unsigned want);
  std::optional<Change> create(View& view, const Caller& caller, const std::string& path,
                               std::string value);
  std::optional<Change> record(View& view, Change change);

  Quotas quotas_;
  uint64_t generation_ = 0;
  Tree tree_;
};

}  // namespace pv::xenstore
