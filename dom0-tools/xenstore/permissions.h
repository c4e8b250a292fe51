// Node permissions with Xen's rules (docs/misc/xenstore.txt, XenBus wiki):
// the first entry names the owner and is the default for every domain not
// listed; later entries grant specific domains. "n5" none, "r5" read,
// "w5" write, "b5" both.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xenstore/wire.h"

namespace pv::xenstore {

enum Access : unsigned {
  kAccessNone = 0,
  kAccessRead = 1,
  kAccessWrite = 2,
  kAccessOwner = 4,  // may change permissions; implied by ownership
  kAccessAll = kAccessRead | kAccessWrite | kAccessOwner,
};

struct PermEntry {
  DomId domid = 0;
  unsigned access = kAccessNone;  // kAccessRead and/or kAccessWrite
  bool operator==(const PermEntry&) const = default;
};

// Never empty: entry 0 is the owner.
class Permissions {
 public:
  Permissions() : entries_{{0, kAccessNone}} {}  // "n0"
  explicit Permissions(std::vector<PermEntry> entries);

  // Parses "<n|r|w|b><domid>" strings; throws RequestError(EINVAL).
  static Permissions parse(const std::vector<std::string_view>& texts);
  static PermEntry parse_entry(std::string_view text);

  DomId owner() const { return entries_.front().domid; }
  void set_owner(DomId domid) { entries_.front().domid = domid; }
  const std::vector<PermEntry>& entries() const { return entries_; }

  // "b0\0r3\0": the GET_PERMS reply payload.
  std::string to_wire() const;
  // "n0 r3": for messages.
  std::string to_string() const;

  bool operator==(const Permissions&) const = default;

 private:
  std::vector<PermEntry> entries_;
};

// Who is asking: a domain, and the domain it targets (SET_TARGET), if any.
struct Caller {
  DomId domid = 0;
  std::optional<DomId> target;
  bool privileged() const { return domid == 0; }
};

// Xen's perm_for_conn: dom0, the owner (or a domain targeting the owner)
// get everything; otherwise the first entry naming the caller (or its
// target) decides, else the owner entry's access is the default.
unsigned access_for(const Caller& caller, const Permissions& perms);

}  // namespace pv::xenstore
