#include "xenstore/watch.h"

#include "xenstore/path.h"

namespace pv::xenstore {

std::optional<std::string> matched_path(const Watch& watch, const Change& change) {
  if (is_child(change.path, watch.path)) return change.path;
  if (change.removal && is_child(watch.path, change.path)) return watch.path;
  return std::nullopt;
}

std::string reported_path(const Watch& watch, const std::string& path, const std::string& domain_home) {
  if (!watch.relative) return path;
  if (path.size() > domain_home.size() && path.starts_with(domain_home) && path[domain_home.size()] == '/')
    return path.substr(domain_home.size() + 1);
  return path;
}

}  // namespace pv::xenstore
