// pvd: the toolstack daemon. Serves the admin API on a Unix socket, keeps
// the domain registry in its state directory, runs one pv-hv per domain.
//
//   pvd --state-dir DIR --socket PATH [--pv-hv PATH] [--daemon]
//       [--migrate-listen ADDR:PORT] [--migrate-cert F --migrate-key F --migrate-ca F]
//
// Every option takes its value as "--opt value" or "--opt=value".
#include <getopt.h>
#include <unistd.h>

#include "asio.h"
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "admin_server.h"
#include "backd_supervisor.h"
#include "domain_manager.h"
#include "migrate_receive.h"
#include "network/network_manager.h"
#include "pv/error.h"
#include "pv/log.h"
#include "registry.h"
#include "state_guard.h"

namespace {

void usage(std::FILE* out) {
  std::fputs(
      "usage: pvd --state-dir DIR --socket PATH [--xenstore-socket PATH] [--pv-hv PATH] [--daemon]\n"
      "  --state-dir DIR   domain registry, console logs, status files (one pvd per\n"
      "                    directory: it holds DIR/pvd.lock)\n"
      "  --socket PATH     admin socket (mode 0600; pvctl --socket / PV_SOCKET)\n"
      "  --xenstore-socket PATH  xenstored for dom0 clients (XENSTORED_PATH);\n"
      "                    default DIR/xenstored.sock\n"
      "  --pv-hv PATH      the pv-hv binary (default: beside pvd)\n"
      "  --pv-backd PATH   the back-end daemon pvd runs for disks and vifs (default: beside pvd)\n"
      "  --cgroup-slice NAME  the cgroup domains' CPU shares live under (one group\n"
      "                    per domain, in the cpu controller's hierarchy); default\n"
      "                    pvd.slice for /var/lib/pvd, else pvd-<hash of DIR>.slice\n"
      "  --mem-reserve SIZE      host memory kept from guests (default 512M; k/m/g/t, MiB bare)\n"
      "  --mem-overcommit RATIO  admit up to RATIO x (MemTotal - reserve) of guest memory (default 1.0)\n"
      "  --balancer on|off       the automatic memory balancer (default off): below the low\n"
      "                    water mark of free host memory (MemAvailable) it lowers the\n"
      "                    balloon targets of idle domains, above the high one it gives\n"
      "                    them back (docs/toolstack.md, \"The memory balancer\")\n"
      "  --balancer-low-water SIZE   (default 1G)   --balancer-high-water SIZE (default low + 512M)\n"
      "  --balancer-margin SIZE      kept above a domain's working set (default 32M)\n"
      "  --balancer-floor SIZE       no domain is asked below this (default 64M)\n"
      "  --balancer-interval SECONDS between rounds (default 5)\n"
      "  --balancer-stuck-timeout SECONDS  a domain that gives nothing back this long is\n"
      "                    marked uncooperative (default 30)\n"
      "  --balancer-host-free-file PATH    test aid: read the host's free MiB from PATH\n"
      "  --migrate-listen ADDR:PORT  take migrations from other pvds there (pvctl migrate;\n"
      "                    TLS 1.3, needs the three below)\n"
      "  --migrate-cert FILE  --migrate-key FILE  this pvd's certificate and key (PEM), shown to\n"
      "                    peers when migrating to or from it\n"
      "  --migrate-ca FILE the CA (PEM) a peer's certificate must be signed by\n"
      "  --daemon          detach and run in the background\n",
      out);
}

std::string beside_self(const std::string& name) {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return ec ? name : (self.parent_path() / name).string();
}

struct Options {
  std::string state_dir, socket_path, xenstore_socket, pv_hv = beside_self("pv-hv"), pv_backd = beside_self("pv-backd");
  std::string cgroup_slice;
  bool daemonize = false;
  pv::pvd::MemoryPolicy memory;
  pv::pvd::BalancerSettings balancer;
  bool high_water_given = false;
  std::string migrate_listen;
  pv::pvd::MigrateTls migrate_tls;
};

// One slice per state dir: two pvds (tests run many) never share a domain's group.
std::string default_cgroup_slice(const std::string& state_dir) {
  std::error_code ec;
  const std::string dir = std::filesystem::weakly_canonical(state_dir, ec).string();
  if (dir == "/var/lib/pvd") return "pvd.slice";
  uint32_t h = 2166136261u;  // FNV-1a
  for (unsigned char c : dir) h = (h ^ c) * 16777619u;
  char buf[32];
  std::snprintf(buf, sizeof buf, "pvd-%08x.slice", h);
  return buf;
}

// Fills `o` from the command line; -1 to go on, else the exit status.
int parse_options(int argc, char** argv, Options& o) {
  enum {
    kStateDir = 1,
    kSocket,
    kPvHv,
    kPvBackd,
    kXenstoreSocket,
    kCgroupSlice,
    kDaemon,
    kMemReserve,
    kMemOvercommit,
    kBalancer,
    kBalancerLow,
    kBalancerHigh,
    kBalancerMargin,
    kBalancerFloor,
    kBalancerInterval,
    kBalancerStuck,
    kBalancerFreeFile,
    kMigrateListen,
    kMigrateCert,
    kMigrateKey,
    kMigrateCa
  };
  const option options[] = {{"state-dir", required_argument, nullptr, kStateDir},
                            {"socket", required_argument, nullptr, kSocket},
                            {"pv-hv", required_argument, nullptr, kPvHv},
                            {"pv-backd", required_argument, nullptr, kPvBackd},
                            {"xenstore-socket", required_argument, nullptr, kXenstoreSocket},
                            {"cgroup-slice", required_argument, nullptr, kCgroupSlice},
                            {"daemon", no_argument, nullptr, kDaemon},
                            {"mem-reserve", required_argument, nullptr, kMemReserve},
                            {"mem-overcommit", required_argument, nullptr, kMemOvercommit},
                            {"balancer", required_argument, nullptr, kBalancer},
                            {"balancer-low-water", required_argument, nullptr, kBalancerLow},
                            {"balancer-high-water", required_argument, nullptr, kBalancerHigh},
                            {"balancer-margin", required_argument, nullptr, kBalancerMargin},
                            {"balancer-floor", required_argument, nullptr, kBalancerFloor},
                            {"balancer-interval", required_argument, nullptr, kBalancerInterval},
                            {"balancer-stuck-timeout", required_argument, nullptr, kBalancerStuck},
                            {"balancer-host-free-file", required_argument, nullptr, kBalancerFreeFile},
                            {"migrate-listen", required_argument, nullptr, kMigrateListen},
                            {"migrate-cert", required_argument, nullptr, kMigrateCert},
                            {"migrate-key", required_argument, nullptr, kMigrateKey},
                            {"migrate-ca", required_argument, nullptr, kMigrateCa},
                            {"help", no_argument, nullptr, 'h'},
                            {}};
  opterr = 0;  // the messages are ours
  int longindex = 0;
  for (int c; (c = getopt_long(argc, argv, "+:h", options, &longindex)) != -1;) {
    const std::string word = argv[optind - 1], name = word.substr(0, word.find('='));
    // The option's own name (`word` is its value in "--opt value").
    const std::string opt = c >= kStateDir && c <= kMigrateCa ? "--" + std::string(options[longindex].name) : name;
    switch (c) {
      case kStateDir: o.state_dir = optarg; break;
      case kSocket: o.socket_path = optarg; break;
      case kPvHv: o.pv_hv = optarg; break;
      case kPvBackd: o.pv_backd = optarg; break;
      case kXenstoreSocket: o.xenstore_socket = optarg; break;
      case kCgroupSlice: o.cgroup_slice = optarg; break;
      case kDaemon: o.daemonize = true; break;
      case kMemReserve:
        try {
          o.memory.reserve_mib = pv::pvd::parse_size_mib("--mem-reserve", optarg);
        } catch (const std::exception& e) {
          pv::log::error(e.what());
          return 2;
        }
        break;
      case kMemOvercommit: {
        char* end = nullptr;
        const double r = std::strtod(optarg, &end);
        if (end == optarg || *end || !(r > 0) || r > 1000) {
          pv::log::error(std::string("--mem-overcommit: '") + optarg + "' is not a ratio above 0 (e.g. 1.5)");
          return 2;
        }
        o.memory.overcommit = r;
        break;
      }
      case kBalancer:
        if (std::string(optarg) != "on" && std::string(optarg) != "off") {
          pv::log::error(std::string("--balancer: '") + optarg + "' is neither on nor off");
          return 2;
        }
        o.balancer.on = std::string(optarg) == "on";
        break;
      case kBalancerLow:
      case kBalancerHigh:
      case kBalancerMargin:
      case kBalancerFloor:
        try {
          const uint64_t kib = pv::pvd::parse_size_mib(opt, optarg) * 1024;
          auto& p = o.balancer.policy;
          (c == kBalancerLow ? p.low_water_kib : c == kBalancerHigh ? p.high_water_kib
                                             : c == kBalancerMargin ? p.margin_kib
                                                                    : p.floor_kib) = kib;
          if (c == kBalancerHigh) o.high_water_given = true;
        } catch (const std::exception& e) {
          pv::log::error(e.what());
          return 2;
        }
        break;
      case kBalancerInterval:
      case kBalancerStuck: {
        char* end = nullptr;
        const double s = std::strtod(optarg, &end);
        if (end == optarg || *end || !(s >= 0.1) || s > 86400) {
          pv::log::error(opt + ": '" + optarg + "' is not a number of seconds from 0.1 to 86400");
          return 2;
        }
        (c == kBalancerInterval ? o.balancer.interval : o.balancer.stuck_after) =
            std::chrono::milliseconds(static_cast<long long>(s * 1000));
        break;
      }
      case kBalancerFreeFile: o.balancer.host_free_file = optarg; break;
      case kMigrateListen: o.migrate_listen = optarg; break;
      case kMigrateCert: o.migrate_tls.cert = optarg; break;
      case kMigrateKey: o.migrate_tls.key = optarg; break;
      case kMigrateCa: o.migrate_tls.ca = optarg; break;
      case 'h': return usage(stdout), 0;
      case ':': pv::log::error(name + " needs a value"); return 2;
      default:
        pv::log::error("unknown option " + name);
        usage(stderr);
        return 2;
    }
  }
  if (optind < argc) {
    pv::log::error("unknown option " + std::string(argv[optind]));
    usage(stderr);
    return 2;
  }
  const auto& t = o.migrate_tls;
  if ((!t.cert.empty() || !t.key.empty() || !t.ca.empty() || !o.migrate_listen.empty()) && !t.configured()) {
    pv::log::error("migration needs all of --migrate-cert, --migrate-key and --migrate-ca");
    return 2;
  }
  auto& p = o.balancer.policy;
  if (!o.high_water_given) p.high_water_kib = p.low_water_kib + 512 * 1024;
  if (p.high_water_kib < p.low_water_kib) {
    pv::log::error("--balancer-high-water (" + std::to_string(p.high_water_kib / 1024) +
                   " MiB) is below --balancer-low-water (" + std::to_string(p.low_water_kib / 1024) + " MiB)");
    return 2;
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  pv::log::init("pvd");
  Options o;
  if (const int rc = parse_options(argc, argv, o); rc >= 0) return rc;
  auto& [state_dir, socket_path, xenstore_socket, pv_hv, pv_backd, cgroup_slice, daemonize, memory_policy, balancer,
         high_water_given, migrate_listen, migrate_tls] = o;
  (void)high_water_given;
  if (state_dir.empty() || socket_path.empty()) {
    usage(stderr);
    return 2;
  }
  if (::access(pv_hv.c_str(), X_OK) != 0) {
    pv::log::error("pv-hv not found at " + pv_hv + " (use --pv-hv)");
    return 1;
  }
  if (::access(pv_backd.c_str(), X_OK) != 0) {
    pv::log::error("pv-backd not found at " + pv_backd + " (use --pv-backd)");
    return 1;
  }
  try {
    if (xenstore_socket.empty()) xenstore_socket = state_dir + "/xenstored.sock";
    // One pvd per state dir, and nothing at a socket path is taken over
    // unless it is a stale socket (docs/toolstack.md).
    pv::pvd::StateDirLock lock(state_dir);
    pv::pvd::claim_socket_path(socket_path, "--socket");
    pv::pvd::claim_socket_path(xenstore_socket, "--xenstore-socket");
    pv::pvd::Registry registry(state_dir);
    boost::asio::io_context io;
    pv::pvd::XenstoreHost xenstore(io, xenstore_socket, state_dir + "/xenstore");
    // Networks (docs/networks.md) come before domains: vifs join their bridges.
    pv::net::NetworkManager networks(io, state_dir);
    pv::pvd::DomainManager domains(io, registry, xenstore, pv_hv);
    {
      std::string why;
      auto cg = pv::pvd::CpuCgroups::find(cgroup_slice.empty() ? default_cgroup_slice(state_dir) : cgroup_slice, &why);
      if (cg) pv::log::info("CPU shares: cgroup v" + std::to_string(cg->version()) + " at " + cg->slice_dir());
      else pv::log::warning("CPU shares cannot be enforced: " + why + " (domains get the host's default share)");
      domains.set_cpu_cgroups(std::move(cg), why);
    }
    domains.set_memory_policy(memory_policy);
    domains.set_migrate_tls(migrate_tls);
    // Migrations in (migrate_receive.h), restored as pvctl restore does.
    std::unique_ptr<pv::pvd::MigrateListener> migrations;
    if (!migrate_listen.empty())
      migrations = std::make_unique<pv::pvd::MigrateListener>(
          io, migrate_listen, migrate_tls, state_dir + "/migrate-in",
          [&domains](const std::string& name) { return domains.has_domain_named(name); },
          [&domains](const std::string& path, const std::string& name, std::function<void(const pv::admin::Reply&)> done) {
            domains.receive_migration(path, name, [done](pv::admin::Reply r) { done(r); });
          });
    // A vif's bridge= names a pvd network or an existing bridge.
    domains.set_bridge_resolver([&networks](const std::string& b) { return networks.bridge_for(b); });
    domains.set_lease_lookup(
        [&networks](const std::string& bridge, const std::string& mac) { return networks.leased_address(bridge, mac); });
    domains.set_lease_hooks(
        [&networks](const std::string& bridge, const std::string& mac, const std::string& ip) {
          networks.add_static_lease(bridge, mac, ip);
        },
        [&networks](const std::string& bridge, const std::string& mac) { networks.remove_static_lease(bridge, mac); });
    pv::pvd::AdminServer server(io, socket_path, domains, networks);
    if (daemonize && ::daemon(0, 0) != 0) pv::throw_errno("daemon");
    if (daemonize) lock.record_pid();
    networks.restore();
    domains.reattach();
    domains.start_balancer(balancer);
    // Adopts the pv-backd a previous pvd left serving (or starts one); it
    // is left running when this pvd exits.
    pv::pvd::BackdSupervisor backd(io, pv_backd, state_dir, xenstore_socket);
    backd.start();
    // SIGTERM/SIGINT end pvd; the domains keep running and a new pvd
    // finds them again.
    boost::asio::signal_set stop(io, SIGINT, SIGTERM);
    stop.async_wait([&](const boost::system::error_code&, int) { io.stop(); });
    pv::log::info("serving " + socket_path + " (state in " + state_dir + ", " + std::to_string(domains.size()) +
                  " domains)");
    io.run();
    pv::log::info("exiting; running domains continue");
    return 0;
  } catch (const std::exception& e) {
    pv::log::error(e.what());
    return 1;
  }
}
