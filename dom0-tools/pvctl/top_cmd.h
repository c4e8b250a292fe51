// xentop's view of the domains: `pvctl top [-b|--batch] [-d|--delay S]
// [-i|--iterations N]`. Every S seconds (default 3, as xentop) one row per
// domain: state, CPU seconds and the CPU % of the last interval, memory,
// vCPUs, and the totals of its vifs' and vbds' counters. On a terminal
// the screen is redrawn until q (or Ctrl-C); with --batch (or when stdout
// is not a terminal) rows are printed, a header before each interval, for
// scripts; -i stops after N intervals.
#pragma once
#include <string>
#include <vector>

#include "verbs.h"

namespace pv::pvctl {

int top_verb(const std::vector<std::string>& args, const Context& ctx);

}  // namespace pv::pvctl
