// Host memory admission: how much guest memory pvd lets domains have.
// The capacity is (the host's MemTotal - a reserve for the host itself) x
// an overcommit ratio (pvd --mem-reserve, --mem-overcommit; docs/toolstack.md).
// Each running domain counts for its target (memory, or what mem-set last
// asked); a create whose memory does not fit in what is left is refused.
#pragma once
#include <cstdint>
#include <optional>
#include <string>

namespace pv::pvd {

struct MemoryPolicy {
  static constexpr uint64_t kDefaultReserveMib = 512;
  uint64_t reserve_mib = kDefaultReserveMib;
  double overcommit = 1.0;  // > 0; above 1 admits more than there is, counting on ballooning
  std::optional<uint64_t> host_mib;  // tests: instead of /proc/meminfo's MemTotal
};

// A field of /proc/meminfo ("MemTotal", "MemAvailable"), in KiB. Throws
// SystemError/UserError.
uint64_t host_meminfo_kib(const std::string& field);
// MemTotal from /proc/meminfo, in MiB. Throws SystemError/UserError.
uint64_t host_memtotal_mib();

// What the policy admits in total, in MiB.
uint64_t admitted_capacity_mib(const MemoryPolicy& p);

// Empty when `need_mib` fits beside `in_use_mib`; otherwise the message
// for the user, saying how much is free.
std::optional<std::string> admission_refusal(const MemoryPolicy& p, const std::string& name, uint64_t need_mib,
                                             uint64_t in_use_mib);

// "512", "512M", "2G", "1048576k" as xl takes sizes: MiB without a suffix.
// Returns MiB (rounded up from k); throws UserError naming `what`.
uint64_t parse_size_mib(const std::string& what, const std::string& text);

}  // namespace pv::pvd
