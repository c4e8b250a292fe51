#include "double_save.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "pv/error.h"
#include "pv/fd_passing.h"
#include "pv/log.h"
#include "pv/unix_socket.h"
#include "save/domain_stream.h"

namespace pvtest {
namespace ctl = pv::ctl;
namespace S = pv::state;

namespace {
constexpr uint64_t kMaxWaitMs = 600'000;  // pv-hv's cap
constexpr uint64_t kPage = 4096;

}  // namespace

DoubleSaveOps::DoubleSaveOps(const std::string& control_socket, DoubleShape shape)
    : shape_(std::move(shape)), listen_(pv::listen_unix(control_socket, "--control-socket", SOCK_SEQPACKET)) {}

void DoubleSaveOps::reply(int32_t status) {
  ctl::Reply r{};
  r.magic = ctl::kMagic;
  r.status = status;
  r.vcpus = shape_.vcpus;
  r.vcpus_up = 1;
  if (conn_ && ::send(conn_.get(), &r, sizeof r, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof r))
    pv::log::warning(std::string("control: cannot answer: ") + std::strerror(errno));
}

void DoubleSaveOps::on_readable() {
  conn_ = pv::accept_trusted(listen_.get());
  if (!conn_) return;
  ctl::Request req{};
  std::vector<pv::UniqueFd> fds;
  if (pv::recv_with_fds(conn_.get(), req, fds) != static_cast<ssize_t>(sizeof req) || req.magic != ctl::kMagic)
    return reply(-EINVAL), conn_.reset();
  const bool ends = req.op == static_cast<uint32_t>(ctl::Op::kSaveToFile);
  const bool to_file = ends || req.op == static_cast<uint32_t>(ctl::Op::kCheckpointToFile);
  if (!to_file && req.op != static_cast<uint32_t>(ctl::Op::kCheckpoint))
    return reply(-EOPNOTSUPP), conn_.reset();  // the memory and vCPU queries are pv-hv's only
  if (req.value == 0 || req.value > kMaxWaitMs) return reply(-EINVAL), conn_.reset();
  if (to_file && (fds.empty() || fds.size() > 2)) return reply(-EBADF), conn_.reset();
  toolstack_.Clear();
  if (to_file && fds.size() == 2 && !pv::save::read_toolstack_record(fds[1].get(), ctl::kMaxToolstackRecord, toolstack_)) return reply(-EINVAL), conn_.reset();
  fds_ = std::move(fds);
  armed_ = true;
  ends_ = ends;
  cancel_late_ = false;
  deadline_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(req.value);
  reply(ctl::kArmed);
}

int DoubleSaveOps::timeout_ms() const {
  if (!armed_) return -1;
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count()) + 1;
}

void DoubleSaveOps::on_timeout() {
  if (!armed_ || std::chrono::steady_clock::now() < deadline_) return;
  pv::log::warning("domain " + shape_.name + ": the guest did not suspend in time; it keeps running");
  armed_ = false;
  cancel_late_ = true;
  reply(-ETIMEDOUT);
  conn_.reset();
  fds_.clear();
}

bool DoubleSaveOps::on_guest_suspend() {
  if (!armed_) {
    if (std::exchange(cancel_late_, false)) return false;  // suspend_cancel: it carries on
    return true;  // no save waits: the domain suspends, i.e. ends
  }
  armed_ = false;
  pollfd hup{conn_.get(), POLLRDHUP, 0};
  if (ends_ && ::poll(&hup, 1, 0) == 1 && (hup.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
    pv::log::warning("domain " + shape_.name + ": whoever asked for the save has gone; save cancelled, the guest goes on");
    conn_.reset();
    fds_.clear();
    return false;
  }
  int32_t status = 0;
  if (!fds_.empty()) {
    try {
      write_stream(fds_[0].get());
    } catch (const std::exception& e) {
      pv::log::error("domain " + shape_.name + ": save not written: " + e.what());
      status = -EIO;
    }
  }
  reply(status);
  conn_.reset();
  fds_.clear();
  return ends_ && status == 0;
}

void DoubleSaveOps::write_stream(int fd) {
  S::DomainConfig c;
  c.set_name(shape_.name);
  pv::save::take_toolstack_fields(toolstack_, c);
  c.set_domid(shape_.domid);
  c.set_memory_bytes(shape_.memory_bytes);
  c.set_maxmem_bytes(std::max(shape_.maxmem_bytes, shape_.memory_bytes));
  c.set_vcpus(shape_.vcpus);
  c.set_cmdline(shape_.cmdline);
  c.set_kernel(shape_.kernel);
  c.set_transport("port-io");
  c.set_hypercall_page_gfn(pv::save::kNoFrame);
  pv::save::DomainStreamWriter out(fd, c);
  for (uint32_t v = 0; v < shape_.vcpus; v++) {
    S::VcpuState s;
    s.set_id(v);
    s.set_up(v == 0);
    s.set_initialised(v == 0);
    for (int i = 0; i < 18; i++) s.add_gprs(0);
    for (int i = 0; i < 8; i++) s.add_segments();
    s.set_vcpu_info_gfn(pv::save::kNoFrame);
    s.set_execution_mode("port-io");
    out.vcpu(s);
  }
  void* ram = ::mmap(nullptr, shape_.ram_pages * kPage, PROT_READ, MAP_SHARED, shape_.memfd, 0);
  if (ram == MAP_FAILED) pv::throw_errno("mmap(ram)");
  out.memory(0, ram, shape_.ram_pages);
  ::munmap(ram, shape_.ram_pages * kPage);
  out.hvm_params(S::HvmParams());
  S::XenPages x;
  x.set_shared_info_gfn(pv::save::kNoFrame);
  out.xen_pages(x);
  S::TimeState t;
  t.set_system_time_ns(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - started_).count()));
  t.set_tsc_khz(1'000'000);
  out.time(t);
  out.console(S::ConsoleState());
  out.end();
  if (::fsync(fd) != 0 && errno != EINVAL) pv::throw_errno("fsync(save stream)");
}

S::DomainConfig restore_double(const std::string& path, const DoubleShape& shape) {
  pv::UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) throw pv::UserError("--restore: cannot open " + path + ": " + std::strerror(errno));
  void* ram = ::mmap(nullptr, shape.ram_pages * kPage, PROT_READ | PROT_WRITE, MAP_SHARED, shape.memfd, 0);
  if (ram == MAP_FAILED) pv::throw_errno("mmap(ram)");
  S::DomainConfig c;
  try {
    // The xenstore ring page is this double's own (as pv-hv's special
    // pages): the rest of what falls inside its RAM comes back.
    c = pv::save::read_domain_stream(in.get(), [&](uint64_t gfn, std::string_view data) {
          for (uint64_t i = 0; i < data.size() / kPage; i++)
            if (gfn + i < shape.ram_pages && gfn + i != shape.ring_gfn)
              std::memcpy(static_cast<char*>(ram) + (gfn + i) * kPage, data.data() + i * kPage, kPage);
        }).config;
  } catch (const std::exception& e) {
    ::munmap(ram, shape.ram_pages * kPage);
    throw pv::UserError("--restore " + path + ": " + e.what());
  }
  ::munmap(ram, shape.ram_pages * kPage);
  return c;
}

}  // namespace pvtest
