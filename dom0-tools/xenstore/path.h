// Xenstore path syntax (docs/misc/xenstore.txt): absolute paths start with
// '/', use [A-Za-z0-9-/_@], have no doubled or trailing '/'; relative paths
// are relative to the caller's /local/domain/<domid>; '@' names special
// watch events.
#pragma once
#include <string>
#include <string_view>

#include "xenstore/wire.h"

namespace pv::xenstore {

// "/local/domain/<domid>"
std::string domain_path(DomId domid);

// The absolute form of `path` as sent by `domid`, validated (syntax and the
// XENSTORE_ABS_PATH_MAX / XENSTORE_REL_PATH_MAX limits). Throws RequestError(EINVAL).
std::string canonical_path(std::string_view path, DomId domid);

// Like canonical_path, but also accepts a special "@name" watch path.
std::string canonical_watch_path(std::string_view path, DomId domid);

bool is_relative(std::string_view path);
bool is_valid_absolute(std::string_view path);

// True if `child` is `parent` or lies below it ("/" is the parent of all
// absolute paths). Works for "@special" names too (only equal ones match).
bool is_child(std::string_view child, std::string_view parent);

// "/a/b" -> "/a"; "/a" -> "/"; "/" -> "/".
std::string_view parent_of(std::string_view path);
// "/a/b" -> "b"; "/" -> "".
std::string_view basename_of(std::string_view path);
// "/" + name, or path + "/" + name.
std::string join(std::string_view path, std::string_view name);

// Parses a decimal domid (0..65535); throws RequestError(EINVAL) otherwise.
DomId parse_domid(std::string_view text);

}  // namespace pv::xenstore
