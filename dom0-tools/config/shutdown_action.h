// What to do when a domain powers off, reboots, crashes, trips its watchdog
// or soft-resets: xl's action names (xl_parse.c, action_on_shutdown_names).
#pragma once

#include <optional>
#include <string_view>

namespace pv::config {

enum class ShutdownAction {
  kDestroy,
  kRestart,
  kRenameRestart,
  kPreserve,
  kCoredumpDestroy,
  kCoredumpRestart,
  kSoftReset,
};

// "destroy", "restart", "rename-restart", "preserve", "coredump-destroy",
// "coredump-restart", "soft-reset" (exact match, as xl's strcmp).
std::optional<ShutdownAction> parse_shutdown_action(std::string_view s);
std::string_view to_string(ShutdownAction a);

// For messages: "destroy, restart, rename-restart, ...".
std::string_view shutdown_action_names();

}  // namespace pv::config
