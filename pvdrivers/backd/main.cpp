// pv-backd: the back-end daemon serving every domain's block and network
// devices, as a Xen driver domain does (docs/architecture.md). pvd starts
// and supervises it (a restarted pvd adopts it); it finds its work in
// xenstore and outlives xenstored's restarts.
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>

#include "backd/device_manager.h"
#include "backd/device_types.h"
#include "common/xs_client.h"
#include "pv/error.h"
#include "pv/log.h"
#include "pv/unique_fd.h"

namespace {
void usage(FILE* out) {
  std::fputs(
      "usage: pv-backd --xenstore-socket PATH --state-dir DIR\n"
      "  --xenstore-socket PATH   pvd's xenstored (dom0 socket)\n"
      "  --state-dir DIR          pvd's state directory (domains/N.be.sock are the\n"
      "                           back-end links of the running domains)\n"
      "Serves every device under /local/domain/0/backend/{vbd,vif}. When xenstored\n"
      "goes away (pvd restarting) the devices keep serving and pv-backd reconnects;\n"
      "at start it waits up to 30 s for xenstored to be there.\n"
      "Exits 0 on SIGTERM/SIGINT, 1 on errors, 2 when xenstored is away and the\n"
      "state directory has been removed.\n",
      out);
}

struct Options {
  std::string xs_path, state_dir;
};

// Parses the command line (`--opt value` or `--opt=value`). nullopt with
// `exit_code` set when main should exit at once (--help: 0, errors: 1).
std::optional<Options> parse_options(int argc, char** argv, int& exit_code) {
  enum : int { kXenstoreSocket = 256, kStateDir };
  static const option kLong[] = {
      {"xenstore-socket", required_argument, nullptr, kXenstoreSocket},
      {"state-dir", required_argument, nullptr, kStateDir},
      {"help", no_argument, nullptr, 'h'},
      {nullptr, 0, nullptr, 0},
  };
  Options o;
  opterr = 0;  // the messages below instead of getopt's
  for (;;) {
    const int c = getopt_long(argc, argv, ":h", kLong, nullptr);
    if (c == -1) break;
    switch (c) {
      case kXenstoreSocket: o.xs_path = optarg; break;
      case kStateDir: o.state_dir = optarg; break;
      case 'h':
        usage(stdout);
        exit_code = 0;
        return std::nullopt;
      case ':':  // an option without its value
        pv::log::error(std::string(argv[optind - 1]) + " needs a value");
        exit_code = 1;
        return std::nullopt;
      default: {  // '?': not an option of ours
        std::string a = argv[optind - 1];
        a = a.substr(0, a.find('='));
        pv::log::error("unknown option " + a + " (see --help)");
        exit_code = 1;
        return std::nullopt;
      }
    }
  }
  if (optind < argc) {
    pv::log::error(std::string("unknown option ") + argv[optind] + " (see --help)");
    exit_code = 1;
    return std::nullopt;
  }
  if (o.xs_path.empty() || o.state_dir.empty()) {
    usage(stderr);
    exit_code = 1;
    return std::nullopt;
  }
  return o;
}
// How long pv-backd waits for xenstored when it starts: pvd serves
// xenstored, and a pvd that dies (or is restarted) just after starting
// pv-backd leaves it nothing to connect to until the next pvd is up; once
// connected, XsClient reconnects on its own for as long as it takes.
constexpr auto kFirstConnectWait = std::chrono::seconds(30);

// The first connection to xenstored, retried until kFirstConnectWait has
// passed; null when SIGTERM/SIGINT came first. Throws the last error.
std::unique_ptr<pv::XsClient> connect_xenstored(const std::string& path, int stop_fd) {
  const auto deadline = std::chrono::steady_clock::now() + kFirstConnectWait;
  for (bool told = false;;) {
    try {
      return std::make_unique<pv::XsClient>(path);
    } catch (const pv::SystemError& e) {
      if (std::chrono::steady_clock::now() >= deadline) throw;
      if (!told) pv::log::warning(std::string(e.what()) + "; waiting for it (pvd restarting?)");
      told = true;
    }
    pollfd p{stop_fd, POLLIN, 0};
    if (::poll(&p, 1, 200) > 0) return nullptr;
  }
}

}  // namespace

int main(int argc, char** argv) {
  pv::log::init("pv-backd");
  int exit_code = 0;
  const std::optional<Options> opts = parse_options(argc, argv, exit_code);
  if (!opts) return exit_code;
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigprocmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  try {
    pv::UniqueFd stop(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!stop) pv::throw_errno("signalfd");
    std::unique_ptr<pv::XsClient> xs = connect_xenstored(opts->xs_path, stop.get());
    if (!xs) return 0;  // stopped before there was anything to serve
    pv::backd::DeviceManager manager(*xs, opts->state_dir);
    pv::backd::register_device_types(manager);
    pv::log::info("serving (pid " + std::to_string(::getpid()) + ")");
    if (!manager.run(stop.get())) return 2;
    pv::log::info("stopping");
    return 0;
  } catch (const std::exception& e) {
    pv::log::error(e.what());
    return 1;
  }
}
