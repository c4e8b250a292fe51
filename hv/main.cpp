// pv-hv: runs one Xen-ABI domain on KVM.
//
//   pv-hv --kernel FILE [--initrd FILE] [--cmdline STR] [--memory 64M] [--maxmem 256M]
//         [--vcpus N] [--maxvcpus M] [--name NAME] [--domid N] [--hypercall-transport auto|port-io|kvm-xen]
//   pv-hv --restore FILE [--name NAME] [--domid N] [socket and console options]
//
// Every option takes its value as "--opt value" or "--opt=value". The
// guest console goes to stdout; pv-hv's own messages to stderr. The exit
// status tells how the domain ended (see ExitStatus in domain.h).
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "domain.h"
#include "pv/error.h"
#include "pv/log.h"
#include "pv/unique_fd.h"
#include "save/domain_stream.h"

namespace {

using pv::UserError;

void usage(FILE* out) {
  std::fputs(
      "usage: pv-hv --kernel FILE [options]\n"
      "       pv-hv --restore FILE [--name NAME] [--domid N] [socket, status and ready options]\n"
      "  --restore FILE              rebuild a saved domain from its save stream (memory, vCPUs,\n"
      "                              transport and name from the stream) instead of booting a kernel;\n"
      "                              a pipe too (/dev/fd/N: a live migration's stream as it arrives)\n"
      "  --paused                    the vCPUs wait for the control socket's unpause before they run\n"
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
  std::string restore_path;
  pv::UniqueFd restore_fd;
  std::optional<pv::save::DomainStreamReader> restore;  // past the configuration record
};

// --restore: the domain's shape comes from the stream's configuration
// record (the whole stream is read and checked as the domain is built).
// --name and --domid may rename it; the boot options make no sense.
void take_restore_config(Options& o, const std::vector<std::string>& boot_options, bool have_name, bool have_domid) {
  if (!boot_options.empty())
    throw UserError("--restore takes the domain from the stream: " + boot_options.front() + " cannot go with it");
  o.restore_fd.reset(::open(o.restore_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!o.restore_fd) throw UserError("--restore: cannot open " + o.restore_path + ": " + std::strerror(errno));
  try {
    o.restore.emplace(o.restore_fd.get());  // a file, or a pipe a migration's target pvd fills
  } catch (const std::exception& e) {
    throw UserError("--restore " + o.restore_path + ": " + e.what());
  }
  const pv::state::DomainConfig& c = o.restore->config();
  pv::DomainOptions& cfg = o.cfg;
  if (!have_name) cfg.name = c.name();
  if (!have_domid) {
    if (c.domid() == 0 || c.domid() >= xen::DOMID_FIRST_RESERVED)
      throw UserError("--restore " + o.restore_path + ": saved domid " + std::to_string(c.domid()) +
                      " is not a guest's (give --domid)");
    cfg.domid = static_cast<xen::domid_t>(c.domid());
  }
  cfg.memory_bytes = c.memory_bytes();
  cfg.maxmem_bytes = c.maxmem_bytes();
  cfg.vcpus = c.vcpus();
  cfg.boot = {c.kernel(), std::nullopt, c.cmdline()};
  const pv::TransportChoice saved = pv::parse_transport(c.transport());
  if (cfg.transport != pv::TransportChoice::kAuto && cfg.transport != saved)
    throw UserError("--restore: the guest ran on the " + c.transport() +
                    " hypercall transport; --hypercall-transport cannot change it");
  cfg.transport = saved;  // the guest's hypercall page is that transport's
  cfg.restore = &*o.restore;
}

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
         kConsoleSocket, kBackendSocket, kReadyFd, kControlSocket, kRestore, kPaused };
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
                            {"restore", required_argument, nullptr, kRestore},
                            {"paused", no_argument, nullptr, kPaused},
                            {"help", no_argument, nullptr, 'h'},
                            {}};
  pv::DomainOptions& cfg = o.cfg;
  bool have_kernel = false, have_name = false, have_domid = false;
  std::vector<std::string> boot_options;  // given: not for --restore
  opterr = 0;  // the messages are ours
  for (int c; (c = getopt_long(argc, argv, "+:h", options, nullptr)) != -1;) {
    const std::string word = argv[optind - 1], name = word.substr(0, word.find('='));
    const std::string value = optarg ? optarg : "";
    if (c == kKernel || c == kInitrd || c == kCmdline || c == kMemory || c == kMaxmem || c == kVcpus)
      for (const option& op : options)
        if (op.val == c) boot_options.push_back(std::string("--") + op.name);
    switch (c) {
      case kKernel: cfg.boot.kernel_path = value, have_kernel = true; break;
      case kInitrd: cfg.boot.initrd_path = value; break;
      case kCmdline: cfg.boot.cmdline = value; break;
      case kMemory: cfg.memory_bytes = parse_size("--memory", value); break;
      case kMaxmem: cfg.maxmem_bytes = parse_size("--maxmem", value); break;
      case kVcpus: cfg.vcpus = static_cast<uint32_t>(parse_uint("--vcpus", value, 1024)); break;
      case kMaxVcpus: cfg.max_vcpus = static_cast<uint32_t>(parse_uint("--maxvcpus", value, 1024)); break;
      case kName: cfg.name = value, have_name = true; break;
      case kRestore: o.restore_path = value; break;
      case kPaused: cfg.start_paused = true; break;
      case kDomid:
        have_domid = true;
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
  if (cfg.domid == 0) throw UserError("--domid: 0 is dom0, the host");
  if (!o.restore_path.empty()) return take_restore_config(o, boot_options, have_name, have_domid), true;
  if (!have_kernel) throw UserError("--kernel is required (see --help)");
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

    std::unique_ptr<pv::Domain> built;
    try {
      built = std::make_unique<pv::Domain>(cfg);
    } catch (const std::exception& e) {
      if (o.restore_path.empty()) throw;
      throw UserError("--restore " + o.restore_path + ": " + e.what());  // the stream is read as the domain is built
    }
    pv::Domain& dom = *built;
    o.restore.reset();
    o.restore_fd.reset();
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
