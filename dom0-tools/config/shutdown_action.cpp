#include "config/shutdown_action.h"

#include <array>
#include <utility>

namespace pv::config {

namespace {
constexpr std::array<std::pair<ShutdownAction, std::string_view>, 7> kNames{{
    {ShutdownAction::kDestroy, "destroy"},
    {ShutdownAction::kRestart, "restart"},
    {ShutdownAction::kRenameRestart, "rename-restart"},
    {ShutdownAction::kPreserve, "preserve"},
    {ShutdownAction::kCoredumpDestroy, "coredump-destroy"},
    {ShutdownAction::kCoredumpRestart, "coredump-restart"},
    {ShutdownAction::kSoftReset, "soft-reset"},
}};
}  // namespace

std::optional<ShutdownAction> parse_shutdown_action(std::string_view s) {
  for (const auto& [a, n] : kNames)
    if (n == s) return a;
  return std::nullopt;
}

std::string_view to_string(ShutdownAction a) {
  for (const auto& [v, n] : kNames)
    if (v == a) return n;
  return "destroy";
}

std::string_view shutdown_action_names() {
  return "destroy, restart, rename-restart, preserve, coredump-destroy, coredump-restart, soft-reset";
}

}  // namespace pv::config
