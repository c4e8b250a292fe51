// pvd: the toolstack daemon. Serves the admin API on a Unix socket, keeps
// the domain registry in its state directory, runs one pv-hv per domain.
//
//   pvd --state-dir DIR --socket PATH [--pv-hv PATH] [--daemon]
#include <unistd.h>

#include "asio.h"
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>

#include "admin_server.h"
#include "backd_supervisor.h"
#include "domain_manager.h"
#include "network/network_manager.h"
#include "registry.h"

namespace {

void usage(std::FILE* out) {
  std::fputs(
      "usage: pvd --state-dir DIR --socket PATH [--xenstore-socket PATH] [--pv-hv PATH] [--daemon]\n"
      "  --state-dir DIR   domain registry, console logs, status files\n"
      "  --socket PATH     admin socket (mode 0600; pvctl --socket / PV_SOCKET)\n"
      "  --xenstore-socket PATH  xenstored for dom0 clients (XENSTORED_PATH);\n"
      "                    default DIR/xenstored.sock\n"
      "  --pv-hv PATH      the pv-hv binary (default: beside pvd)\n"
      "  --pv-backd PATH   the back-end daemon pvd runs for disks and vifs (default: beside pvd)\n"
      "  --daemon          detach and run in the background\n",
      out);
}

std::string beside_self(const std::string& name) {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? name : (self.parent_path() / name).string();
}

}  // namespace

int main(int argc, char** argv) {
  std::string state_dir, socket_path, xenstore_socket, pv_hv = beside_self("pv-hv"), pv_backd = beside_self("pv-backd");
  bool daemonize = false;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "pvd: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--state-dir") state_dir = value();
    else if (a == "--socket") socket_path = value();
    else if (a == "--pv-hv") pv_hv = value();
    else if (a == "--pv-backd") pv_backd = value();
    else if (a == "--xenstore-socket") xenstore_socket = value();
    else if (a == "--daemon") daemonize = true;
    else if (a == "-h" || a == "--help") return usage(stdout), 0;
    else {
      std::cerr << "pvd: unknown option " << a << "\n";
      usage(stderr);
      return 2;
    }
  }
  if (state_dir.empty() || socket_path.empty()) {
    usage(stderr);
    return 2;
  }
  if (::access(pv_hv.c_str(), X_OK) != 0) {
    std::cerr << "pvd: pv-hv not found at " << pv_hv << " (use --pv-hv)\n";
    return 1;
  }
  if (::access(pv_backd.c_str(), X_OK) != 0) {
    std::cerr << "pvd: pv-backd not found at " << pv_backd << " (use --pv-backd)\n";
    return 1;
  }
  try {
    if (xenstore_socket.empty()) xenstore_socket = state_dir + "/xenstored.sock";
    pv::pvd::Registry registry(state_dir);
    boost::asio::io_context io;
    pv::pvd::XenstoreHost xenstore(io, xenstore_socket);
    // Networks (docs/networks.md) come before domains: vifs join their bridges.
    pv::net::NetworkManager networks(io, state_dir);
    pv::pvd::DomainManager domains(io, registry, xenstore, pv_hv);
    // A vif's bridge= names a pvd network or an existing bridge.
    domains.set_bridge_resolver([&networks](const std::string& b) { return networks.bridge_for(b); });
    domains.set_lease_hooks(
        [&networks](const std::string& bridge, const std::string& mac, const std::string& ip) {
          networks.add_static_lease(bridge, mac, ip);
        },
        [&networks](const std::string& bridge, const std::string& mac) { networks.remove_static_lease(bridge, mac); });
    pv::pvd::AdminServer server(io, socket_path, domains, networks);
    if (daemonize && ::daemon(0, 0) != 0) throw std::runtime_error("daemon() failed");
    networks.restore();
    domains.reattach();
    pv::pvd::BackdSupervisor backd(io, pv_backd, state_dir, xenstore_socket);
    backd.start();
    // SIGTERM/SIGINT end pvd; the domains keep running and a new pvd
    // finds them again.
    boost::asio::signal_set stop(io, SIGINT, SIGTERM);
    stop.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
    std::cerr << "pvd: serving " << socket_path << " (state in " << state_dir << ", " << domains.size()
              << " domains)\n";
    io.run();
    std::cerr << "pvd: exiting; running domains continue\n";
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "pvd: " << e.what() << "\n";
    return 1;
  }
}
