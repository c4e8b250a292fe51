// pv-hv: runs one Xen-ABI domain on KVM.
//
//   pv-hv --kernel FILE [--initrd FILE] [--cmdline STR] [--memory 64M] [--maxmem 256M]
//         [--vcpus N] [--maxvcpus M] [--name NAME] [--domid N] [--hypercall-transport auto|port-io|kvm-xen]
//
// Every option takes its value as "--opt value" or "--opt=value". The
// guest console goes to stdout; pv-hv's own messages to stderr. The exit
// status tells how the domain ended (see ExitStatus in domain.h).
#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "domain.h"
#include "pv/error.h"
#include "pv/log.h"
#include "pv/unique_fd.h"

namespace {

using pv::UserError;

void usage(FILE* out) {
  std::fputs(
      "usage: pv-hv --kernel FILE [options]\n"
      "  --kernel FILE               PVH ELF kernel (needs the Xen PHYS32_ENTRY note)\n"
      "  --initrd FILE               module handed to the kernel in start_info\n"
      "  --cmdline STRING            kernel command line\n"
      "  --memory SIZE               guest RAM populated at boot, e.g. 64M, 1G (default 64M)\n"
      "  --maxmem SIZE               guest RAM the domain may balloon up to (default: --memory)\n"
      "  --vcpus N                   vCPUs online at boot (default 1)\n"
      "  --maxvcpus M                vCPUs the domain has (default --vcpus): the guest brings\n"
      "                              up and takes down those beyond N (cpu/N/availability)\n"
      "  --name NAME                 domain name for messages\n"
      "  --domid N                   domain id the guest sees (default 1)\n"
      "  --hypercall-transport T     auto (default), port-io or kvm-xen\n"
      "  --status-file PATH          on exit, write '<status> <reason>' there (for pvd)\n"
      "  --xenstore-socket PATH      serve the xenstore ring to pvd's xenstored there\n"
      "  --console-socket PATH       clients there get console output and send input\n"
      "  --backend-socket PATH       serve guest RAM, grants and device event channels to pv-backd\n"
      "  --control-socket PATH       pvd sets the memory ceiling (mem-max) and reads the reservation there\n"
      "  --ready-fd FD               once built, write 'built' there (or 'failed <why>') and close it\n"
      "exit status: 0 poweroff, 1 pv-hv error, 2 reboot, 3 suspend, 4 crash,\n"
      "             5 watchdog, 6 soft_reset, 7 destroyed by a signal\n",
      out);
}

uint64_t parse_size(const std::string& opt, const std::string& s) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno || end == s.c_str()) throw UserError(opt + ": '" + s + "' is not a size (e.g. 64M)");
  std::string suffix(end);
  uint64_t mul = 1;
  if (suffix == "K" || suffix == "k") mul = 1ull << 10;
  else if (suffix == "M" || suffix == "m" || suffix.empty()) mul = 1ull << 20;  // bare numbers are MiB, as xl
  else if (suffix == "G" || suffix == "g") mul = 1ull << 30;
  else throw UserError(opt + ": unknown suffix '" + suffix + "' (use K, M or G)");
  if (v == 0 || v > (1ull << 40) / mul) throw UserError(opt + ": '" + s + "' is out of range");
  const uint64_t bytes = v * mul;
  if (bytes & 0xfff) throw UserError(opt + ": must be a multiple of 4 KiB");
  return bytes;
}

uint64_t parse_uint(const std::string& opt, const std::string& s, uint64_t max) {
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (errno || end == s.c_str() || *end || v > max)
    throw UserError(opt + ": '" + s + "' is not a number between 0 and " + std::to_string(max));
  return v;
}

void ignore_signal(int) {}

// Written atomically (temporary file + rename), so a reader sees all or
// nothing: "<exit status> <name>\n", e.g. "2 reboot".
void write_status_file(const std::string& path, pv::ExitStatus status) {
  const std::string tmp = path + ".tmp";
  FILE* f = std::fopen(tmp.c_str(), "w");
  if (!f) {
    pv::log::error("cannot write " + tmp + ": " + std::strerror(errno));
    return;
  }
  std::fprintf(f, "%d %s\n", static_cast<int>(status), pv::exit_status_name(status));
  const bool ok = std::fflush(f) == 0 && fsync(fileno(f)) == 0;
  std::fclose(f);
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0)
    pv::log::error("cannot write " + path + ": " + std::strerror(errno));
}

struct Options {
  pv::DomainOptions cfg;
  std::string status_file;
  pv::UniqueFd ready_fd;
};

// Tells whoever started us (pvd's create) whether the domain was built:
// "built\n", or "failed <why>\n". One line, then the descriptor is closed.
void report_build(pv::UniqueFd& fd, const std::string& line) {
  if (!fd) return;
  const std::string text = line + "\n";
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    pv::log::warning("--ready-fd: cannot report '" + line + "': " + std::strerror(errno));
  fd.reset();
}

// Fills `o` from the command line ("--opt value" and "--opt=value" alike);
// false after --help. Throws UserError for a bad option or value.
bool parse_options(int argc, char** argv, Options& o) {
  enum { kKernel = 1, kInitrd, kCmdline, kMemory, kMaxmem, kVcpus, kMaxVcpus, kName, kDomid, kTransport, kStatusFile, kXenstoreSocket,
         kConsoleSocket, kBackendSocket, kReadyFd, kControlSocket };
  const option options[] = {{"kernel", required_argument, nullptr, kKernel},
                            {"initrd", required_argument, nullptr, kInitrd},
                            {"cmdline", required_argument, nullptr, kCmdline},
                            {"memory", required_argument, nullptr, kMemory},
                            {"maxmem", required_argument, nullptr, kMaxmem},
                            {"vcpus", required_argument, nullptr, kVcpus},
                            {"maxvcpus", required_argument, nullptr, kMaxVcpus},
                            {"name", required_argument, nullptr, kName},
                            {"domid", required_argument, nullptr, kDomid},
                            {"hypercall-transport", required_argument, nullptr, kTransport},
                            {"status-file", required_argument, nullptr, kStatusFile},
                            {"xenstore-socket", required_argument, nullptr, kXenstoreSocket},
                            {"console-socket", required_argument, nullptr, kConsoleSocket},
                            {"backend-socket", required_argument, nullptr, kBackendSocket},
                            {"ready-fd", required_argument, nullptr, kReadyFd},
                            {"control-socket", required_argument, nullptr, kControlSocket},
                            {"help", no_argument, nullptr, 'h'},
                            {}};
  pv::DomainOptions& cfg = o.cfg;
  bool have_kernel = false;
  opterr = 0;  // the messages are ours
  for (int c; (c = getopt_long(argc, argv, "+:h", options, nullptr)) != -1;) {
    const std::string word = argv[optind - 1], name = word.substr(0, word.find('='));
    const std::string value = optarg ? optarg : "";
    switch (c) {
      case kKernel: cfg.boot.kernel_path = value, have_kernel = true; break;
      case kInitrd: cfg.boot.initrd_path = value; break;
      case kCmdline: cfg.boot.cmdline = value; break;
      case kMemory: cfg.memory_bytes = parse_size("--memory", value); break;
      case kMaxmem: cfg.maxmem_bytes = parse_size("--maxmem", value); break;
      case kVcpus: cfg.vcpus = static_cast<uint32_t>(parse_uint("--vcpus", value, 1024)); break;
      case kMaxVcpus: cfg.max_vcpus = static_cast<uint32_t>(parse_uint("--maxvcpus", value, 1024)); break;
      case kName: cfg.name = value; break;
      case kDomid:
        cfg.domid = static_cast<xen::domid_t>(parse_uint("--domid", value, xen::DOMID_FIRST_RESERVED - 1));
        break;
      case kTransport: cfg.transport = pv::parse_transport(value); break;
      case kStatusFile: o.status_file = value; break;
      case kXenstoreSocket: cfg.xenstore_socket = value; break;
      case kConsoleSocket: cfg.console_socket = value; break;
      case kBackendSocket: cfg.backend_socket = value; break;
      case kControlSocket: cfg.control_socket = value; break;
      case kReadyFd: o.ready_fd.reset(static_cast<int>(parse_uint("--ready-fd", value, 1 << 20))); break;
      case 'h': return usage(stdout), false;
      case ':': throw UserError(name + " needs a value");
      default: throw UserError("unknown option " + name + " (see --help)");
    }
  }
  if (optind < argc) throw UserError("unexpected argument '" + std::string(argv[optind]) + "'");
  if (!have_kernel) throw UserError("--kernel is required (see --help)");
  if (cfg.domid == 0) throw UserError("--domid: 0 is dom0, the host");
  if (cfg.maxmem_bytes && cfg.maxmem_bytes < cfg.memory_bytes)
    throw UserError("--maxmem (" + std::to_string(cfg.maxmem_bytes >> 20) + " MiB) must be at least --memory (" +
                    std::to_string(cfg.memory_bytes >> 20) + " MiB)");
  if (cfg.max_vcpus && cfg.max_vcpus < cfg.vcpus)
    throw UserError("--maxvcpus (" + std::to_string(cfg.max_vcpus) + ") must be at least --vcpus (" +
                    std::to_string(cfg.vcpus) + ")");
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  pv::log::init("pv-hv");
  Options o;
  try {
    if (!parse_options(argc, argv, o)) return 0;
    const pv::DomainOptions& cfg = o.cfg;
    const std::string& status_file = o.status_file;

    // Kicks (SIGUSR1) reach vCPU threads only inside KVM_RUN; SIGUSR2,
    // SIGINT and SIGTERM are taken with sigwait() by the main thread.
    struct sigaction sa{};
    sa.sa_handler = ignore_signal;
    sigaction(SIGUSR1, &sa, nullptr);
    sigset_t block;
    sigemptyset(&block);
    for (int s : {SIGUSR1, SIGUSR2, SIGINT, SIGTERM}) sigaddset(&block, s);
    pthread_sigmask(SIG_BLOCK, &block, nullptr);
    signal(SIGPIPE, SIG_IGN);

    pv::Domain dom(cfg);
    report_build(o.ready_fd, "built");
    const auto status = dom.run();
    pv::log::info(dom.stats().summary());
    if (!status_file.empty()) write_status_file(status_file, status);
    return static_cast<int>(status);
  } catch (const std::exception& e) {
    pv::log::error(e.what());
    // The report goes last: pvd answers `create` once this process is gone
    // and forgets the domain's files then.
    if (!o.status_file.empty()) write_status_file(o.status_file, pv::ExitStatus::kError);
    report_build(o.ready_fd, std::string("failed ") + e.what());
    return static_cast<int>(pv::ExitStatus::kError);
  }
}
