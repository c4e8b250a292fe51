// What a running process was started with (/proc/PID/cmdline), for the
// daemons that adopt processes an earlier instance of theirs left running
// (pvd: pv-hv, pv-backd) and must not mistake a reused pid for one of them.
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

namespace pv {

// argv of `pid`, or empty when it is gone (or a kernel thread).
std::vector<std::string> process_args(pid_t pid);

// True when `args` (argv, [0] the program) carry `opt` with `value`, as
// "--opt value" or "--opt=value".
bool has_option(const std::vector<std::string>& args, const std::string& opt, const std::string& value);

}  // namespace pv
