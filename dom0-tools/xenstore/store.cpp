#include "xenstore/store.h"

#include <algorithm>
#include <cerrno>

#include "xenstore/errors.h"
#include "xenstore/path.h"

namespace pv::xenstore {

// The tree an operation works on: the live one, or a transaction's
// snapshot, recording what the transaction looks at and changes.
class Store::View {
 public:
  View(Tree& live, Transaction* tx) : tree(tx ? tx->tree() : live), tx_(tx) {}

  NodePtr get(const std::string& path) {
    if (tx_) tx_->note_access(path);
    return tree.lookup(path);
  }
  void touched_subtree(const std::string& path) {
    if (tx_) tree.visit(path, [&](const std::string& p, const Node&) { tx_->note_access(p); });
  }
  void modified(const std::string& path) {
    if (tx_) tx_->note_modified(path);
  }
  Transaction* tx() { return tx_; }

  Tree& tree;

 private:
  Transaction* tx_;
};

Store::Store(Quotas quotas) : quotas_(quotas), tree_(Permissions(), next_generation()) {
  for (const char* path : {"/local", "/local/domain", "/local/domain/0", "/vm", "/tool"})
    tree_.put(path, "", Permissions(), next_generation());
}

// Xen hides whether a node exists from callers who may not access its
// nearest existing ancestor: ENOENT only if that ancestor grants `want`.
void Store::fail_missing(View& view, const Caller& caller, const std::string& path, unsigned want) {
  std::string_view p = path;
  NodePtr ancestor;
  do {
    p = parent_of(p);
    ancestor = view.tree.lookup(p);
  } while (!ancestor && p != "/");
  if (ancestor && (access_for(caller, ancestor->perms) & want)) throw RequestError(ENOENT, path);
  throw RequestError(EACCES, path);
}

NodePtr Store::require(View& view, const Caller& caller, const std::string& path, unsigned want) {
  NodePtr node = view.get(path);
  if (!node) fail_missing(view, caller, path, want);
  if ((access_for(caller, node->perms) & want) != want)
    throw RequestError(EACCES, "domain " + std::to_string(caller.domid) + " may not access " + path);
  return node;
}

std::optional<Change> Store::record(View& view, Change change) {
  if (view.tx()) {
    view.tx()->add_change(std::move(change));
    return std::nullopt;
  }
  return change;
}

std::string Store::read(const Caller& caller, const std::string& path, Transaction* tx) {
  View view(tree_, tx);
  return require(view, caller, path, kAccessRead)->value;
}

DirectoryListing Store::directory(const Caller& caller, const std::string& path, Transaction* tx) {
  View view(tree_, tx);
  NodePtr node = require(view, caller, path, kAccessRead);
  DirectoryListing out;
  out.generation = node->generation;
  out.names.reserve(node->children.size());
  for (const auto& [name, child] : node->children) out.names.push_back(name);
  return out;
}

Permissions Store::get_perms(const Caller& caller, const std::string& path, Transaction* tx) {
  View view(tree_, tx);
  return require(view, caller, path, kAccessRead)->perms;
}

std::optional<Change> Store::create(View& view, const Caller& caller, const std::string& path,
                                    std::string value) {
  std::vector<std::string> missing{path};
  NodePtr ancestor;
  for (std::string p(parent_of(path));; p = std::string(parent_of(p))) {
    ancestor = view.get(p);
    if (ancestor || p == "/") break;
    missing.push_back(p);
  }
  if (!ancestor || !(access_for(caller, ancestor->perms) & kAccessWrite))
    throw RequestError(EACCES, "domain " + std::to_string(caller.domid) + " may not create " + path);
  if (!caller.privileged() &&
      view.tree.nodes_owned_by(caller.domid) + missing.size() > quotas_.nodes_per_domain)
    throw RequestError(ENOSPC, "domain " + std::to_string(caller.domid) + " would exceed its quota of " +
                              std::to_string(quotas_.nodes_per_domain) + " nodes");
  Permissions perms = ancestor->perms;
  if (!caller.privileged()) perms.set_owner(caller.domid);
  std::for_each(missing.rbegin(), missing.rend(), [&](const std::string& p) {
    view.tree.put(p, p == path ? std::move(value) : std::string(), perms, next_generation());
    view.modified(p);
  });
  return record(view, Change{path, false, perms});
}

std::optional<Change> Store::write(const Caller& caller, const std::string& path, std::string value,
                                   Transaction* tx) {
  if (!caller.privileged() && value.size() > quotas_.max_entry_size)
    throw RequestError(ENOSPC, "value of " + std::to_string(value.size()) + " bytes exceeds the " +
                              std::to_string(quotas_.max_entry_size) + "-byte entry quota");
  View view(tree_, tx);
  NodePtr node = view.get(path);
  if (!node) return create(view, caller, path, std::move(value));
  if (!(access_for(caller, node->perms) & kAccessWrite))
    throw RequestError(EACCES, "domain " + std::to_string(caller.domid) + " may not write " + path);
  view.tree.put(path, std::move(value), node->perms, next_generation());
  view.modified(path);
  return record(view, Change{path, false, node->perms});
}

std::optional<Change> Store::mkdir(const Caller& caller, const std::string& path, Transaction* tx) {
  View view(tree_, tx);
  NodePtr node = view.get(path);
  if (!node) return create(view, caller, path, "");
  if (!(access_for(caller, node->perms) & kAccessWrite))
    throw RequestError(EACCES, "domain " + std::to_string(caller.domid) + " may not write " + path);
  return std::nullopt;
}

std::optional<Change> Store::rm(const Caller& caller, const std::string& path, Transaction* tx) {
  if (path == "/") throw RequestError(EINVAL, "the root node cannot be removed");
  View view(tree_, tx);
  NodePtr node = view.get(path);
  if (!node) {
    // Fine if the parent exists (and the caller may know that).
    try {
      fail_missing(view, caller, path, kAccessWrite);
    } catch (const RequestError& e) {
      if (e.errnum() == ENOENT && view.get(std::string(parent_of(path)))) return std::nullopt;
      throw;
    }
  }
  if (!(access_for(caller, node->perms) & kAccessWrite))
    throw RequestError(EACCES, "domain " + std::to_string(caller.domid) + " may not remove " + path);
  view.get(std::string(parent_of(path)));  // its list of children changes
  view.touched_subtree(path);
  view.tree.erase(path, next_generation());
  view.modified(path);
  return record(view, Change{path, true, node->perms});
}

std::optional<Change> Store::set_perms(const Caller& caller, const std::string& path, Permissions perms,
                                       Transaction* tx) {
  View view(tree_, tx);
  NodePtr node = require(view, caller, path, kAccessWrite | kAccessOwner);
  if (!caller.privileged()) {
    if (perms.owner() != node->perms.owner())
      throw RequestError(EPERM, "only dom0 may give " + path + " to another domain");
    if (perms.entries().size() > quotas_.perms_per_node)
      throw RequestError(ENOSPC, "more than " + std::to_string(quotas_.perms_per_node) + " permission entries");
  }
  view.tree.put(path, node->value, perms, next_generation());
  view.modified(path);
  return record(view, Change{path, false, std::move(perms)});
}

std::unique_ptr<Transaction> Store::begin(uint32_t id) const {
  return std::make_unique<Transaction>(id, tree_);
}

std::optional<std::vector<Change>> Store::commit(Transaction& tx) {
  for (const auto& [path, generation] : tx.accessed()) {
    NodePtr now = tree_.lookup(path);
    if ((now ? now->generation : 0) != generation) return std::nullopt;
  }
  // Nothing the transaction depends on changed: copy its final state of
  // every path it modified, into a copy of the tree (cheap: nodes are
  // shared). Parents sort before their descendants.
  Tree result = tree_;
  for (const std::string& path : tx.modified()) {
    NodePtr final_node = tx.tree().lookup(path);
    if (!final_node) {
      if (path != "/" && result.lookup(path)) result.erase(path, next_generation());
      continue;
    }
    if (!result.lookup(parent_of(path))) continue;  // below a node the transaction removed
    result.put(path, final_node->value, final_node->perms, next_generation());
    // Children the transaction removed (and perhaps re-created) go too.
    result.prune_children(path, [&](std::string_view name) { return final_node->children.contains(name); },
                          next_generation());
  }
  // Each transaction was checked against its own snapshot only: several
  // committed in turn could together pass a domain's node quota. Check the
  // outcome, as Xen's xenstored does at commit.
  for (const std::string& path : tx.modified()) {
    NodePtr node = result.lookup(path);
    if (!node) continue;
    const DomId owner = node->perms.owner();
    const size_t owned = result.nodes_owned_by(owner);
    if (owner != 0 && owned > quotas_.nodes_per_domain && owned > tree_.nodes_owned_by(owner))
      throw RequestError(ENOSPC, "committing would give domain " + std::to_string(owner) + " more than " +
                                std::to_string(quotas_.nodes_per_domain) + " nodes");
  }
  tree_ = std::move(result);
  return tx.changes();
}

}  // namespace pv::xenstore
