// pv-backd: the back-end daemon serving every domain's block and network
// devices, as a Xen driver domain does (docs/architecture.md). pvd starts
// and supervises it; it finds its work in xenstore.
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "backd/device_manager.h"
#include "backd/device_types.h"
#include "common/xs_client.h"
#include "pv/error.h"
#include "pv/unique_fd.h"

namespace {
void usage(FILE* out) {
  std::fputs(
      "usage: pv-backd --xenstore-socket PATH --state-dir DIR\n"
      "  --xenstore-socket PATH   pvd's xenstored (dom0 socket)\n"
      "  --state-dir DIR          pvd's state directory (domains/N.be.sock are the\n"
      "                           back-end links of the running domains)\n"
      "Serves every device under /local/domain/0/backend/{vbd,vif}. Exits 0 on\n"
      "SIGTERM/SIGINT, 1 on errors, 2 when xenstored goes away.\n",
      out);
}
}  // namespace

int main(int argc, char** argv) {
  std::string xs_path, state_dir;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage(stdout);
      return 0;
    }
    std::string value;
    const auto eq = a.find('=');
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      std::fprintf(stderr, "pv-backd: %s needs a value\n", a.c_str());
      return 1;
    }
    if (a == "--xenstore-socket") xs_path = value;
    else if (a == "--state-dir") state_dir = value;
    else {
      std::fprintf(stderr, "pv-backd: unknown option %s (see --help)\n", a.c_str());
      return 1;
    }
  }
  if (xs_path.empty() || state_dir.empty()) {
    usage(stderr);
    return 1;
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  try {
    pv::UniqueFd stop(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!stop) pv::throw_errno("signalfd");
    pv::XsClient xs(xs_path);
    pv::backd::DeviceManager manager(xs, state_dir);
    pv::backd::register_device_types(manager);
    std::fprintf(stderr, "pv-backd: serving (pid %d)\n", int(::getpid()));
    if (!manager.run(stop.get())) {
      std::fprintf(stderr, "pv-backd: xenstored went away\n");
      return 2;
    }
    std::fprintf(stderr, "pv-backd: stopping\n");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pv-backd: %s\n", e.what());
    return 1;
  }
}
