// The node tree as an immutable (persistent) structure: every change copies
// the nodes on the path from the root and shares everything else, so a
// transaction's snapshot is one pointer copy and never sees later changes.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "xenstore/permissions.h"

namespace pv::xenstore {

struct Node;
using NodePtr = std::shared_ptr<const Node>;

struct Node {
  std::string value;
  Permissions perms;
  std::map<std::string, NodePtr, std::less<>> children;  // by leaf name
  // Changes whenever this node's value, permissions or list of children
  // changes; DIRECTORY_PART reports it and transactions compare it.
  uint64_t generation = 0;
};

class Tree {
 public:
  // A tree holding only "/" with the given permissions.
  Tree(Permissions root_perms, uint64_t generation);

  // The node at an absolute, valid path, or null.
  NodePtr lookup(std::string_view path) const;

  // Sets value and permissions of `path`, keeping its children. Creates the
  // node if missing (its parent must exist). A new node also bumps its
  // parent's generation to `generation` (its child list changed).
  void put(std::string_view path, std::string value, Permissions perms, uint64_t generation);
  // The same, but the parent's generation stays as it is: for rebuilding a
  // saved tree, where every node's generation is known (journal.h).
  void restore_node(std::string_view path, std::string value, Permissions perms, uint64_t generation);

  // Removes `path` and everything below it; no-op if missing. The parent's
  // generation becomes `generation`. `path` must not be "/".
  void erase(std::string_view path, uint64_t generation);

  // Removes the children of `path` (whole subtrees) whose names `keep`
  // rejects; no-op if `path` is missing.
  void prune_children(std::string_view path, const std::function<bool(std::string_view)>& keep,
                      uint64_t generation);

  // Calls `fn(path, node)` for `path` and every node below it, parents first.
  void visit(std::string_view path, const std::function<void(const std::string&, const Node&)>& fn) const;

  // Number of nodes whose owner (first permission entry) is `domid`.
  size_t nodes_owned_by(DomId domid) const;
  size_t node_count() const;

  // The root, to compare two trees (unchanged subtrees are the same pointer).
  const NodePtr& root() const { return root_; }

 private:
  void set_node(std::string_view path, std::string value, Permissions perms, uint64_t generation,
                bool touch_parent);
  using Edit = std::function<NodePtr(const NodePtr& current)>;
  NodePtr edit(const NodePtr& node, std::string_view rest, const Edit& fn);
  void count(const Node& node, int delta);

  NodePtr root_;
  std::map<DomId, size_t> owned_;
};

}  // namespace pv::xenstore
