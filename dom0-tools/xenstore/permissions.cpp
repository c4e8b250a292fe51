#include "xenstore/permissions.h"

#include <cerrno>

#include "xenstore/errors.h"
#include "xenstore/path.h"

namespace pv::xenstore {

Permissions::Permissions(std::vector<PermEntry> entries) : entries_(std::move(entries)) {
  if (entries_.empty()) throw RequestError(EINVAL, "permissions need at least an owner entry");
}

PermEntry Permissions::parse_entry(std::string_view text) {
  if (text.size() < 2) throw RequestError(EINVAL, "invalid permission '" + std::string(text) + "'");
  unsigned access;
  switch (text.front()) {
    case 'n': access = kAccessNone; break;
    case 'r': access = kAccessRead; break;
    case 'w': access = kAccessWrite; break;
    case 'b': access = kAccessRead | kAccessWrite; break;
    default: throw RequestError(EINVAL, "invalid permission '" + std::string(text.substr(0, 16)) + "'");
  }
  return {parse_domid(text.substr(1)), access};
}

Permissions Permissions::parse(const std::vector<std::string_view>& texts) {
  std::vector<PermEntry> entries;
  entries.reserve(texts.size());
  for (auto t : texts) entries.push_back(parse_entry(t));
  return Permissions(std::move(entries));
}

namespace {
char letter(unsigned access) {
  switch (access & (kAccessRead | kAccessWrite)) {
    case kAccessRead: return 'r';
    case kAccessWrite: return 'w';
    case kAccessRead | kAccessWrite: return 'b';
    default: return 'n';
  }
}
}  // namespace

std::string Permissions::to_wire() const {
  std::string out;
  for (const auto& e : entries_) {
    out += letter(e.access);
    out += std::to_string(e.domid);
    out += '\0';
  }
  return out;
}

std::string Permissions::to_string() const {
  std::string out;
  for (const auto& e : entries_) {
    if (!out.empty()) out += ' ';
    out += letter(e.access);
    out += std::to_string(e.domid);
  }
  return out;
}

unsigned access_for(const Caller& caller, const Permissions& perms) {
  const auto& entries = perms.entries();
  auto is_caller = [&](DomId d) { return d == caller.domid || (caller.target && d == *caller.target); };
  if (caller.privileged() || is_caller(entries.front().domid)) return kAccessAll;
  for (size_t i = 1; i < entries.size(); i++)
    if (is_caller(entries[i].domid)) return entries[i].access;
  return entries.front().access;
}

}  // namespace pv::xenstore
