#include "pv/process_args.h"

#include "pv/files.h"

namespace pv {

std::vector<std::string> process_args(pid_t pid) {
  const std::string raw = read_file("/proc/" + std::to_string(pid) + "/cmdline");
  std::vector<std::string> args;
  for (size_t at = 0; at < raw.size();) {
    const size_t nul = raw.find('\0', at);
    const size_t end = nul == std::string::npos ? raw.size() : nul;
    args.push_back(raw.substr(at, end - at));
    at = end + 1;
  }
  return args;
}

bool has_option(const std::vector<std::string>& args, const std::string& opt, const std::string& value) {
  for (size_t i = 1; i < args.size(); i++)
    if (args[i] == opt + "=" + value || (args[i] == opt && i + 1 < args.size() && args[i + 1] == value)) return true;
  return false;
}

}  // namespace pv
