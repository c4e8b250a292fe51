#include "xenstore/tree.h"

#include <stdexcept>

#include "xenstore/path.h"

namespace pv::xenstore {

namespace {
// Splits "a/b/c" into "a" and "b/c".
std::pair<std::string_view, std::string_view> first_component(std::string_view rest) {
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return {rest, {}};
  return {rest.substr(0, slash), rest.substr(slash + 1)};
}

// "/a/b" -> "a/b": the components below the root.
std::string_view below_root(std::string_view path) {
  if (path.empty() || path.front() != '/') throw std::invalid_argument("xenstore tree paths are absolute");
  return path.substr(1);
}

void for_each_in_subtree(const Node& node, const std::function<void(const Node&)>& fn) {
  fn(node);
  for (const auto& [name, child] : node.children) for_each_in_subtree(*child, fn);
}
}  // namespace

Tree::Tree(Permissions root_perms, uint64_t generation) {
  auto root = std::make_shared<Node>();
  root->perms = std::move(root_perms);
  root->generation = generation;
  count(*root, +1);
  root_ = std::move(root);
}

NodePtr Tree::lookup(std::string_view path) const {
  std::string_view rest = below_root(path);
  NodePtr node = root_;
  while (node && !rest.empty()) {
    auto [name, tail] = first_component(rest);
    auto it = node->children.find(name);
    node = it == node->children.end() ? nullptr : it->second;
    rest = tail;
  }
  return node;
}

// Returns `node` with the descendant named by `rest` replaced by
// fn(descendant), copying only the nodes on the way down.
NodePtr Tree::edit(const NodePtr& node, std::string_view rest, const Edit& fn) {
  if (rest.empty()) return fn(node);
  if (!node) return node;  // nothing below a missing node to change
  auto [name, tail] = first_component(rest);
  auto it = node->children.find(name);
  NodePtr child = it == node->children.end() ? nullptr : it->second;
  NodePtr replaced = edit(child, tail, fn);
  if (replaced == child) return node;
  auto copy = std::make_shared<Node>(*node);
  if (replaced)
    copy->children.insert_or_assign(std::string(name), std::move(replaced));
  else
    copy->children.erase(it->first);
  return copy;
}

void Tree::put(std::string_view path, std::string value, Permissions perms, uint64_t generation) {
  set_node(path, std::move(value), std::move(perms), generation, true);
}

void Tree::restore_node(std::string_view path, std::string value, Permissions perms, uint64_t generation) {
  set_node(path, std::move(value), std::move(perms), generation, false);
}

void Tree::set_node(std::string_view path, std::string value, Permissions perms, uint64_t generation,
                    bool touch_parent) {
  auto replace = [&](const NodePtr& current) {
    auto n = current ? std::make_shared<Node>(*current) : std::make_shared<Node>();
    if (current) count(*current, -1);
    n->value = std::move(value);
    n->perms = std::move(perms);
    n->generation = generation;
    count(*n, +1);
    return n;
  };
  if (path == "/") {
    root_ = replace(root_);
    return;
  }
  if (!lookup(parent_of(path)))
    throw std::logic_error("xenstore tree: parent of " + std::string(path) + " missing");
  std::string name(basename_of(path));
  root_ = edit(root_, below_root(parent_of(path)), [&](const NodePtr& parent) -> NodePtr {
    auto p = std::make_shared<Node>(*parent);
    auto it = p->children.find(name);
    if (it == p->children.end()) {
      if (touch_parent) p->generation = generation;  // its list of children changes
      p->children.emplace(name, replace(nullptr));
    } else {
      it->second = replace(it->second);
    }
    return p;
  });
}

void Tree::erase(std::string_view path, uint64_t generation) {
  if (path == "/") throw std::logic_error("xenstore tree: cannot erase the root");
  std::string_view name = basename_of(path);
  prune_children(parent_of(path), [&](std::string_view child) { return child != name; }, generation);
}

void Tree::prune_children(std::string_view path, const std::function<bool(std::string_view)>& keep,
                          uint64_t generation) {
  root_ = edit(root_, below_root(path), [&](const NodePtr& node) -> NodePtr {
    if (!node) return node;
    std::shared_ptr<Node> copy;
    for (const auto& [name, child] : node->children) {
      if (keep(name)) continue;
      if (!copy) copy = std::make_shared<Node>(*node);
      for_each_in_subtree(*child, [&](const Node& n) { count(n, -1); });
      copy->children.erase(name);
    }
    if (!copy) return node;
    copy->generation = generation;
    return copy;
  });
}

void Tree::visit(std::string_view path,
                 const std::function<void(const std::string&, const Node&)>& fn) const {
  NodePtr start = lookup(path);
  if (!start) return;
  std::function<void(const std::string&, const Node&)> walk = [&](const std::string& p, const Node& n) {
    fn(p, n);
    for (const auto& [name, child] : n.children) walk(join(p, name), *child);
  };
  walk(std::string(path), *start);
}

size_t Tree::nodes_owned_by(DomId domid) const {
  auto it = owned_.find(domid);
  return it == owned_.end() ? 0 : it->second;
}

size_t Tree::node_count() const {
  size_t total = 0;
  for (const auto& [domid, n] : owned_) total += n;
  return total;
}

void Tree::count(const Node& node, int delta) {
  DomId owner = node.perms.owner();
  if (delta > 0) {
    owned_[owner] += static_cast<size_t>(delta);
    return;
  }
  auto it = owned_.find(owner);
  if (it == owned_.end()) return;
  it->second -= std::min(it->second, static_cast<size_t>(-delta));
  if (it->second == 0) owned_.erase(it);
}

}  // namespace pv::xenstore
