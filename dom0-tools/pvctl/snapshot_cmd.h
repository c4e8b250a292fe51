// pvctl snapshot-create / snapshot-list / snapshot-revert / snapshot-delete:
// a domain's memory and disks of one instant (docs/save-format.md,
// "Snapshots"), as virsh snapshot-* with external disk snapshots.
#pragma once
#include <string>
#include <vector>

#include "verbs.h"

namespace pv::pvctl {

int snapshot_create_verb(const std::vector<std::string>& args, const Context& ctx);
int snapshot_list_verb(const std::vector<std::string>& args, const Context& ctx);
int snapshot_revert_verb(const std::vector<std::string>& args, const Context& ctx);
int snapshot_delete_verb(const std::vector<std::string>& args, const Context& ctx);

}  // namespace pv::pvctl
