// xl's save and restore verbs (docs/toolstack.md, docs/save-format.md).
//
//   pvctl save [-c|--checkpoint] [--timeout S] DOMAIN FILE
//   pvctl restore FILE [NAME]
#pragma once
#include <string>
#include <vector>

#include "verbs.h"

namespace pv::pvctl {

int save_verb(const std::vector<std::string>& args, const Context& ctx);
int restore_verb(const std::vector<std::string>& args, const Context& ctx);

}  // namespace pv::pvctl
