#include "domain_memory.h"

#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "domain_control.h"

namespace pv::pvd {
namespace fs = std::filesystem;

std::optional<uint64_t> guest_ram_resident_kib(pid_t pid) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::error_code lec;
    if (fs::read_symlink(e.path(), lec).string().rfind("/memfd:pv-guest-ram", 0) != 0) continue;
    struct stat st{};
    if (::stat(e.path().c_str(), &st) == 0) return static_cast<uint64_t>(st.st_blocks) / 2;  // 512-byte blocks
  }
  return std::nullopt;
}

std::optional<uint64_t> process_rss_kib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) != 0) continue;
    try {
      return std::stoull(line.substr(6));
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<DomainMemory> read_domain_memory(const std::string& control_socket, pid_t pid, int timeout_ms) {
  ctl::Reply r{};
  try {
    r = call_domain_control(control_socket, ctl::Op::kQueryMemory, 0, std::chrono::milliseconds(timeout_ms));
  } catch (const std::exception&) {
    return std::nullopt;
  }
  if (r.status != 0) return std::nullopt;
  DomainMemory m;
  m.current_kib = r.current_pages * 4;
  m.maximum_kib = r.maximum_pages * 4;
  m.ballooned_kib = r.ballooned_pages * 4;
  m.resident_kib = guest_ram_resident_kib(pid).value_or(0);
  m.rss_kib = process_rss_kib(pid).value_or(0);
  return m;
}

}  // namespace pv::pvd
