// A domain's configuration, read from a file in xl.cfg syntax (xl.cfg(5)) and
// validated: either every value is usable or there is no DomainConfig at all.
//
//   auto r = pv::config::load_domain_config("guest.cfg");
//   if (!r.ok()) { for (auto& e : r.errors) std::cerr << e.to_string() << '\n'; return 1; }
//   for (auto& w : r.warnings) std::cerr << "warning: " << w.to_string() << '\n';
//   const DomainConfig& cfg = *r.config;
//
// The admin API sends a file's text: parse_domain_config(text, "guest.cfg").
// pvd persists what it created with to_string(cfg), which parses back equal.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/diagnostics.h"
#include "config/disk_spec.h"
#include "config/shutdown_action.h"
#include "config/vif_spec.h"

namespace pv::config {

// Limits checked here so that nothing is created from a file that could
// never run. kMaxVcpus is the hypervisor's limit (XEN_LEGACY_MAX_VCPUS:
// vcpu_info lives in shared_info).
inline constexpr std::uint32_t kMaxVcpus = 32;
inline constexpr std::uint64_t kMaxMemoryMib = 16ull << 20;  // 16 TiB
inline constexpr std::size_t kMaxNameLength = 64;
inline constexpr std::size_t kMaxConfigBytes = 1 << 20;     // admin API input bound

struct DomainConfig {
  std::string name;             // [A-Za-z0-9_.-], not all digits, no leading '-' or '.'
  std::string type = "pvh";     // the only guest type this platform runs
  std::uint64_t memory_mib = 0; // memory = MiB (required, > 0)
  std::uint64_t maxmem_mib = 0; // maxmem = MiB (>= memory; default memory)
  std::uint32_t vcpus = 1;      // vcpus = N (default 1)
  std::uint32_t maxvcpus = 1;   // maxvcpus = M (>= vcpus; default vcpus)
  std::uint32_t cpu_weight = 256;  // cpu_weight = 1-65535 (credit scheduler weight, xl's default 256)
  std::uint32_t cap = 0;           // cap = percent of one CPU (0: none; at most 100 * maxvcpus)
  std::string kernel;           // PVH kernel (required)
  std::string ramdisk;          // optional
  std::string cmdline;          // effective: cmdline, else "root=ROOT EXTRA" (xl's rule)
  ShutdownAction on_poweroff = ShutdownAction::kDestroy;
  ShutdownAction on_reboot = ShutdownAction::kRestart;
  ShutdownAction on_watchdog = ShutdownAction::kDestroy;
  ShutdownAction on_crash = ShutdownAction::kDestroy;
  ShutdownAction on_soft_reset = ShutdownAction::kSoftReset;
  std::string uuid;             // canonical lower-case 8-4-4-4-12; empty = generate one
  std::vector<DiskSpec> disks;  // disk = [ 'DISKSPEC', ... ]
  std::vector<VifSpec> vifs;    // vif = [ 'VIFSPEC', ... ]

  bool operator==(const DomainConfig&) const = default;
};

struct ParseResult {
  std::optional<DomainConfig> config;  // set only if there are no errors
  std::vector<Diagnostic> errors;
  std::vector<Diagnostic> warnings;    // ignored keys, overridden settings, ...

  bool ok() const { return config.has_value(); }
};

// Parses a config's text. `source` names it in diagnostics ("guest.cfg").
ParseResult parse_domain_config(std::string_view text, const std::string& source = "<config>");

// Reads and parses a file; diagnostics name it by `path` as given.
ParseResult load_domain_config(const std::string& path);

// As above, but throw ConfigError (all errors) instead of returning them.
DomainConfig parse_domain_config_or_throw(std::string_view text, const std::string& source = "<config>");
DomainConfig load_domain_config_or_throw(const std::string& path);

// Canonical xl.cfg text for `cfg`; parse_domain_config(to_string(cfg)) gives back cfg.
std::string to_string(const DomainConfig& cfg);

// Checks used by the parser, exposed for pvctl/pvd (rename, API input).
// Empty if `name` is a valid domain name, else why not.
std::string check_domain_name(std::string_view name);
// Lower-case 8-4-4-4-12 form of a UUID (as libuuid's uuid_parse accepts), or nullopt.
std::optional<std::string> canonical_uuid(std::string_view uuid);

}  // namespace pv::config
