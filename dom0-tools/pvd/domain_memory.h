// What a running domain's memory is now, for list and info: the
// reservation pv-hv keeps (its control socket: populated frames, the
// ceiling, the frames ballooned out) and what the host really holds for it,
// read from /proc: the allocated blocks of its guest-RAM memfd (found
// through /proc/PID/fd) and pv-hv's VmRSS.
#pragma once
#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

namespace pv::pvd {

struct DomainMemory {
  uint64_t current_kib = 0;    // populated RAM frames (XENMEM_current_reservation)
  uint64_t maximum_kib = 0;    // the ceiling (maximum_reservation, mem-max)
  uint64_t ballooned_kib = 0;  // RAM frames not populated
  uint64_t resident_kib = 0;   // the guest-RAM memfd's allocated blocks
  uint64_t rss_kib = 0;        // pv-hv's VmRSS (guest RAM it has touched plus its own)
};

// Asks pv-hv at `control_socket` (at most `timeout_ms`) and reads /proc/`pid`;
// nullopt when pv-hv does not answer.
std::optional<DomainMemory> read_domain_memory(const std::string& control_socket, pid_t pid, int timeout_ms = 500);

// The memfd named "pv-guest-ram" among /proc/PID/fd: its st_blocks in KiB,
// or nullopt when there is none.
std::optional<uint64_t> guest_ram_resident_kib(pid_t pid);
// VmRSS of /proc/PID/status in KiB, or nullopt.
std::optional<uint64_t> process_rss_kib(pid_t pid);

}  // namespace pv::pvd
