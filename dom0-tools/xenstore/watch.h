// Watches and the changes that fire them (docs/misc/xenstore.txt, WATCH).
#pragma once
#include <optional>
#include <string>

#include "xenstore/permissions.h"

namespace pv::xenstore {

// Something that happened in the store, to be matched against watches.
struct Change {
  std::string path;   // absolute path, or a special "@introduceDomain"/"@releaseDomain"
  bool removal = false;  // a subtree removal: watches below `path` fire too
  // The node's permissions (before a removal), so watchers that cannot read
  // it are not told; none for special events.
  std::optional<Permissions> perms;
};

struct Watch {
  std::string path;   // absolute, or "@special"
  std::string token;
  bool relative = false;  // set with a relative path: events are reported relative
};

// The path a WATCH_EVENT for `change` carries on `watch`, as absolute path,
// or nullopt if the watch does not fire: a change at or below the watched
// path reports the changed path; removing an ancestor of the watched path
// reports the watched path itself.
std::optional<std::string> matched_path(const Watch& watch, const Change& change);

// What the watcher sees: `path` made relative to `domain_home` for a relative
// watch ("/local/domain/3/x" -> "x"), else unchanged.
std::string reported_path(const Watch& watch, const std::string& path, const std::string& domain_home);

}  // namespace pv::xenstore
