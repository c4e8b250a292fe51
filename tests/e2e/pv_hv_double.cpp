// pv-hv-double: a stand-in for pv-hv in toolstack tests, so that pvd's and
// pvctl's logic (create, list, info, destroy, pause, shutdown, restarts,
// adoption, disk sharing ...) can be tested with a *running* domain on a
// machine without /dev/kvm. It is for testing pvd/pvctl only: no VM is
// built and no guest code runs, so guest behaviour stays tested with real
// guests on pv-hv (the KVM-only tests).
//
// It takes pv-hv's command line (hv/main.cpp) and does for pvd what a
// pv-hv does:
//   - reports "built" on --ready-fd once it serves its sockets (or "failed
//     <why>" when --kernel or --initrd cannot be read, as pv-hv would);
//   - serves the xenstore link at --xenstore-socket with pv-hv's own code
//     (XenstoreLink): a memfd stands for guest RAM, holding the xenstore
//     ring page, and the double plays the guest's side of that ring: it
//     watches control/shutdown as a Xen guest's xenbus does and, on
//     "poweroff"/"halt"/"reboot", clears the node (the acknowledgement pvd
//     waits for) and ends with that status;
//   - serves the console at --console-socket with pv-hv's ConsoleSink:
//     prints a banner to its stdout (pvd's console log) and echoes what a
//     client sends it back to every client and the log;
//   - SIGTERM / SIGINT end it as "destroyed"; SIGKILL ends it with no
//     status, SIGSTOP / SIGCONT pause it, as pv-hv;
//   - writes --status-file ("<exit status> <name>") as pv-hv does on exit.
//   - serves --control-socket's save ops (80..82, double_save.h) as pv-hv
//     does, playing the guest's cooperative suspend: control/shutdown =
//     "suspend" is acknowledged and, with a save armed, a save stream of
//     what the double has is written; a save ends it with status 3
//     ("suspend"), a checkpoint carries on; --cmdline containing
//     "nosuspend" plays a guest that does not take suspend requests;
//   - --restore FILE reads the stream with the real reader (a stream it
//     refuses fails the build with the reader's message, as pv-hv) and
//     takes the domain's shape from it.
// What it does not do: serve --backend-socket (pv-backd's devices wait in
// InitWait for a front-end that never comes), run vCPUs (CPU time is its
// own), take "crash"/"soft_reset" requests, allocate the guest's --memory,
// or answer the control socket's memory and vCPU queries (mem-max fails on
// it).
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <optional>
#include <string>

#include <xen/xenstore_ring.h>
#include <xen/xs_wire.h>

#include "console/console_sink.h"
#include "double_save.h"
#include "pv/error.h"
#include "pv/log.h"
#include "pv/mapping.h"
#include "pv/unique_fd.h"
#include "xslink/xenstore_link.h"

namespace {

using pv::UniqueFd;
using pv::UserError;
namespace xs = xen::xenstore;

// pv-hv's exit statuses (hv/domain.h ExitStatus, docs/running-a-domain.md).
enum class Status : int { kPoweroff = 0, kError = 1, kReboot = 2, kSuspend = 3, kDestroyed = 7 };
const char* status_name(Status s) {
  switch (s) {
    case Status::kPoweroff: return "poweroff";
    case Status::kReboot: return "reboot";
    case Status::kSuspend: return "suspend";
    case Status::kDestroyed: return "destroyed";
    case Status::kError: break;
  }
  return "error";
}

// The stand-in for guest RAM: a few pages, the ring in one of them.
constexpr uint64_t kRamPages = 4;
constexpr uint64_t kRingGfn = 1;
constexpr uint32_t kXenstoreEvtchn = 1;  // informational in the hello

struct Options {
  std::string kernel, initrd, name = "domain", status_file, xenstore_socket, console_socket, control_socket, restore,
      cmdline;
  uint32_t domid = 1, vcpus = 1;
  uint64_t memory_bytes = 64ull << 20, maxmem_bytes = 0;
  UniqueFd ready_fd;
};

// Every pv-hv option is accepted; those the double has no use for are ignored.
void parse_options(int argc, char** argv, Options& o) {
  enum {
    kKernel = 1, kInitrd, kName, kDomid, kStatusFile, kXenstoreSocket, kConsoleSocket, kReadyFd, kIgnored, kCmdline,
    kMemory, kMaxmem, kVcpus, kControlSocket, kRestore
  };
  const option options[] = {{"kernel", required_argument, nullptr, kKernel},
                            {"initrd", required_argument, nullptr, kInitrd},
                            {"cmdline", required_argument, nullptr, kCmdline},
                            {"memory", required_argument, nullptr, kMemory},
                            {"maxmem", required_argument, nullptr, kMaxmem},
                            {"control-socket", required_argument, nullptr, kControlSocket},  // save ops only
                            {"restore", required_argument, nullptr, kRestore},
                            {"vcpus", required_argument, nullptr, kVcpus},
                            {"maxvcpus", required_argument, nullptr, kIgnored},
                            {"name", required_argument, nullptr, kName},
                            {"domid", required_argument, nullptr, kDomid},
                            {"hypercall-transport", required_argument, nullptr, kIgnored},
                            {"status-file", required_argument, nullptr, kStatusFile},
                            {"xenstore-socket", required_argument, nullptr, kXenstoreSocket},
                            {"console-socket", required_argument, nullptr, kConsoleSocket},
                            {"backend-socket", required_argument, nullptr, kIgnored},
                            {"ready-fd", required_argument, nullptr, kReadyFd},
                            {}};
  opterr = 0;
  for (int c; (c = getopt_long(argc, argv, "+:", options, nullptr)) != -1;) {
    const std::string value = optarg ? optarg : "";
    switch (c) {
      case kKernel: o.kernel = value; break;
      case kInitrd: o.initrd = value; break;
      case kName: o.name = value; break;
      case kDomid: o.domid = static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10)); break;
      case kStatusFile: o.status_file = value; break;
      case kXenstoreSocket: o.xenstore_socket = value; break;
      case kConsoleSocket: o.console_socket = value; break;
      case kReadyFd: o.ready_fd.reset(std::atoi(value.c_str())); break;
      case kCmdline: o.cmdline = value; break;
      case kMemory: o.memory_bytes = std::strtoull(value.c_str(), nullptr, 10) << 20; break;  // pvd gives "<N>M"
      case kMaxmem: o.maxmem_bytes = std::strtoull(value.c_str(), nullptr, 10) << 20; break;
      case kVcpus: o.vcpus = static_cast<uint32_t>(std::strtoul(value.c_str(), nullptr, 10)); break;
      case kControlSocket: o.control_socket = value; break;
      case kRestore: o.restore = value; break;
      case kIgnored: break;
      default: throw UserError(std::string("unknown option or missing value: ") + argv[optind - 1]);
    }
  }
  if (o.kernel.empty() && o.restore.empty()) throw UserError("--kernel is required");
  if (!o.restore.empty() && !o.kernel.empty()) throw UserError("--restore takes the domain from the stream: --kernel cannot go with it");
  if (o.domid == 0) throw UserError("--domid: 0 is dom0, the host");
}

// As pv-hv: "<status> <name>\n", written to a temporary file and renamed.
void write_status_file(const std::string& path, Status s) {
  if (path.empty()) return;
  const std::string tmp = path + ".tmp";
  const std::string text = std::to_string(static_cast<int>(s)) + " " + status_name(s) + "\n";
  UniqueFd f(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  const bool ok = f && ::write(f.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(f.get()) == 0;
  f.reset();
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) pv::log::error("cannot write " + path + ": " + std::strerror(errno));
}

void report_build(UniqueFd& fd, const std::string& line) {
  if (!fd) return;
  const std::string text = line + "\n";
  if (::write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()))
    pv::log::warning("--ready-fd: cannot report '" + line + "'");
  fd.reset();
}

void check_readable(const std::string& what, const std::string& path) {
  if (!path.empty() && ::access(path.c_str(), R_OK) != 0)
    throw UserError("cannot open " + what + " " + path + ": " + std::strerror(errno));
}

// The guest's end of its xenstore ring: requests into req[], replies and
// watch events out of rsp[], the event channel being the link's doorbells.
class GuestXenstore {
 public:
  GuestXenstore(xs::domain_interface* ring, pv::XenstoreLink& link) : ring_(ring), link_(link) {}

  void send(uint32_t type, uint32_t req_id, const std::string& payload) {
    xs::xsd_sockmsg h{};
    h.type = type;
    h.req_id = req_id;
    h.len = static_cast<uint32_t>(payload.size());
    std::string msg(reinterpret_cast<const char*>(&h), sizeof h);
    msg += payload;
    uint32_t prod = ring_->req_prod;
    const uint32_t cons = __atomic_load_n(&ring_->req_cons, __ATOMIC_ACQUIRE);
    if (msg.size() > xs::kRingSize - (prod - cons)) throw UserError("xenstore request ring full");
    for (char c : msg) ring_->req[prod++ & (xs::kRingSize - 1)] = c;
    __atomic_store_n(&ring_->req_prod, prod, __ATOMIC_RELEASE);
    link_.guest_kicked();
  }

  // Whole messages that arrived since the last call.
  std::vector<std::pair<xs::xsd_sockmsg, std::string>> receive() {
    uint32_t cons = ring_->rsp_cons;
    const uint32_t prod = __atomic_load_n(&ring_->rsp_prod, __ATOMIC_ACQUIRE);
    if (prod - cons > xs::kRingSize) throw UserError("xenstore response ring indices are impossible");
    const bool consumed = prod != cons;
    while (cons != prod) in_ += ring_->rsp[cons++ & (xs::kRingSize - 1)];
    __atomic_store_n(&ring_->rsp_cons, cons, __ATOMIC_RELEASE);
    if (consumed) link_.guest_kicked();  // room for replies pvd still holds
    std::vector<std::pair<xs::xsd_sockmsg, std::string>> out;
    while (in_.size() >= sizeof(xs::xsd_sockmsg)) {
      xs::xsd_sockmsg h{};
      std::memcpy(&h, in_.data(), sizeof h);
      if (h.len > xs::XENSTORE_PAYLOAD_MAX) throw UserError("xenstore reply too long");
      if (in_.size() < sizeof h + h.len) break;
      out.emplace_back(h, in_.substr(sizeof h, h.len));
      in_.erase(0, sizeof h + h.len);
    }
    return out;
  }

 private:
  xs::domain_interface* ring_;
  pv::XenstoreLink& link_;
  std::string in_;
};

// What the guest does with its control/shutdown node (Linux's
// drivers/xen/manage.c): watch it, read it when it fires, clear it to
// acknowledge a request it takes, then end.
class ShutdownHandler {
 public:
  ShutdownHandler(GuestXenstore& store, uint32_t domid, bool takes_suspend)
      : store_(store), node_("/local/domain/" + std::to_string(domid) + "/control/shutdown"),
        takes_suspend_(takes_suspend) {}

  void start() { store_.send(xs::msg::WATCH, kWatchReq, node_ + '\0' + "shutdown" + '\0'); }

  // The status to end with, once a request has been acknowledged.
  std::optional<Status> on_message(const xs::xsd_sockmsg& h, const std::string& payload) {
    if (h.type == xs::msg::ERROR) {
      pv::log::warning("xenstore request " + std::to_string(h.req_id) + " failed: " + payload.c_str());
      return std::nullopt;
    }
    if (h.type == xs::msg::WATCH_EVENT) {
      store_.send(xs::msg::READ, kReadReq, node_ + '\0');
    } else if (h.type == xs::msg::READ && h.req_id == kReadReq) {
      if (payload == "poweroff" || payload == "halt") pending_ = Status::kPoweroff;
      else if (payload == "reboot") pending_ = Status::kReboot;
      else if (payload == "suspend" && takes_suspend_) pending_ = Status::kSuspend;
      else {
        if (!payload.empty()) pv::log::warning("control/shutdown '" + payload + "' is not taken by the double");
        return std::nullopt;
      }
      pv::log::info("control/shutdown: " + payload + " (acknowledged)");
      store_.send(xs::msg::WRITE, kAckReq, node_ + '\0');  // an empty value
    } else if (h.type == xs::msg::WRITE && h.req_id == kAckReq) {
      return pending_;
    }
    return std::nullopt;
  }

 private:
  static constexpr uint32_t kWatchReq = 1, kReadReq = 2, kAckReq = 3;
  GuestXenstore& store_;
  std::string node_;
  std::optional<Status> pending_;
  bool takes_suspend_;
};

Status run(Options& o) {
  check_readable("kernel", o.kernel);
  check_readable("ramdisk", o.initrd);
  UniqueFd memfd(::memfd_create("pv-hv-double-ram", MFD_CLOEXEC));
  if (!memfd) pv::throw_errno("memfd_create");
  const uint64_t ram_bytes = kRamPages * xen::kPageSize;
  if (::ftruncate(memfd.get(), static_cast<off_t>(ram_bytes)) != 0) pv::throw_errno("ftruncate(memfd)");
  void* page = ::mmap(nullptr, xen::kPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(),
                      static_cast<off_t>(kRingGfn * xen::kPageSize));
  if (page == MAP_FAILED) pv::throw_errno("mmap(ring page)");
  pv::Mapping ring_page(page, xen::kPageSize);
  auto* ring = static_cast<xs::domain_interface*>(page);
  pvtest::DoubleShape shape{o.name, o.kernel, o.cmdline, o.domid, o.vcpus, o.memory_bytes, o.maxmem_bytes,
                            memfd.get(), kRamPages, kRingGfn};
  if (!o.restore.empty()) {
    const auto saved = pvtest::restore_double(o.restore, shape);
    shape.kernel = saved.kernel();
    shape.cmdline = saved.cmdline();
    shape.vcpus = saved.vcpus();
    shape.memory_bytes = saved.memory_bytes();
    shape.maxmem_bytes = saved.maxmem_bytes();
    pv::log::info("domain " + o.name + ": restored from " + o.restore + " (saved as " + saved.name() + ")");
  }
  std::optional<pvtest::DoubleSaveOps> save_ops;
  if (!o.control_socket.empty()) save_ops.emplace(o.control_socket, shape);

  // The guest's event channel: pvd's doorbells wake the main loop.
  UniqueFd event(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!event) pv::throw_errno("eventfd");
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGINT);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);  // before any thread starts
  signal(SIGPIPE, SIG_IGN);
  UniqueFd sigfd(::signalfd(-1, &sigs, SFD_CLOEXEC));
  if (!sigfd) pv::throw_errno("signalfd");

  pv::ConsoleSink console(STDOUT_FILENO);
  if (!o.console_socket.empty()) console.serve(o.console_socket, [&console](std::string_view in) { console.write(in); });
  std::optional<pv::XenstoreLink> link;
  std::optional<GuestXenstore> store;
  std::optional<ShutdownHandler> shutdown;
  if (!o.xenstore_socket.empty()) {
    const pv::xslink::LinkHello hello{pv::xslink::kMagic, pv::xslink::kVersion, o.domid, kXenstoreEvtchn, kRingGfn,
                                      ram_bytes};
    link.emplace(o.xenstore_socket, memfd.get(), hello, [fd = event.get()] {
      const uint64_t one = 1;
      (void)!::write(fd, &one, sizeof one);
    });
    store.emplace(ring, *link);
    shutdown.emplace(*store, o.domid, shape.cmdline.find("nosuspend") == std::string::npos);
    shutdown->start();
  }
  console.write("pv-hv double: domain " + o.name + " (id " + std::to_string(o.domid) + ") is up" +
                (o.restore.empty() ? "" : " (restored)") + "; no VM, no guest: for testing pvd and pvctl\n");
  report_build(o.ready_fd, "built");

  for (;;) {
    pollfd fds[3] = {{sigfd.get(), POLLIN, 0}, {event.get(), POLLIN, 0}, {save_ops ? save_ops->poll_fd() : -1, POLLIN, 0}};
    if (::poll(fds, 3, save_ops ? save_ops->timeout_ms() : -1) < 0) {
      if (errno == EINTR) continue;  // SIGSTOP / SIGCONT
      pv::throw_errno("poll");
    }
    if (fds[0].revents) {
      signalfd_siginfo si{};
      (void)!::read(sigfd.get(), &si, sizeof si);
      pv::log::info(std::string("domain ") + o.name + ": destroyed: received " + (si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM"));
      return Status::kDestroyed;
    }
    if (save_ops) save_ops->on_timeout();
    if (save_ops && fds[2].revents) save_ops->on_readable();
    if (fds[1].revents) {
      uint64_t n;
      (void)!::read(event.get(), &n, sizeof n);
      for (const auto& [h, payload] : store->receive())
        if (auto end = shutdown->on_message(h, payload)) {
          // SHUTDOWN_suspend: held by a waiting save, or the domain's end.
          if (*end == Status::kSuspend && save_ops && !save_ops->on_guest_suspend()) {
            pv::log::info("domain " + o.name + ": suspended and resumed (suspend cancelled)");
            continue;
          }
          pv::log::info("domain " + o.name + ": shut down (" + status_name(*end) + ")");
          return *end;
        }
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  pv::log::init("pv-hv-double");
  Options o;
  try {
    parse_options(argc, argv, o);
    const Status s = run(o);
    write_status_file(o.status_file, s);
    return static_cast<int>(s);
  } catch (const std::exception& e) {
    pv::log::error(e.what());
    write_status_file(o.status_file, Status::kError);
    report_build(o.ready_fd, std::string("failed ") + e.what());
    return static_cast<int>(Status::kError);
  }
}
