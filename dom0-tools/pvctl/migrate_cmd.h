// xl migrate's verb (docs/toolstack.md, docs/save-format.md "Migration").
//
//   pvctl migrate --offline [--timeout S] DOMAIN HOST[:PORT]
#pragma once
#include <string>
#include <vector>

#include "verbs.h"

namespace pv::pvctl {

int migrate_verb(const std::vector<std::string>& args, const Context& ctx);

}  // namespace pv::pvctl
