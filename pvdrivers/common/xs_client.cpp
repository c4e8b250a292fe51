#include "common/xs_client.h"

#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <xen/xs_wire.h>

#include "pv/error.h"

namespace pv {
namespace msg = xen::xenstore::msg;

namespace {
bool read_full(int fd, void* buf, size_t len) {
  auto* p = static_cast<uint8_t*>(buf);
  while (len) {
    const ssize_t n = ::read(fd, p, len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= size_t(n);
  }
  return true;
}
bool write_full(int fd, const void* buf, size_t len) {
  auto* p = static_cast<const uint8_t*>(buf);
  while (len) {
    const ssize_t n = ::send(fd, p, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    len -= size_t(n);
  }
  return true;
}
std::string strip_nul(std::string s) {
  while (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}
}  // namespace

UniqueFd XsClient::open_socket() const {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path_.size() >= sizeof(addr.sun_path)) throw UserError("xenstore socket path too long: " + path_);
  std::memcpy(addr.sun_path, path_.c_str(), path_.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("socket(xenstore)");
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    throw_errno("cannot reach xenstored at " + path_);
  return fd;
}

XsClient::XsClient(const std::string& socket_path) : path_(socket_path) {
  sock_ = open_socket();
  event_fd_.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!event_fd_) throw_errno("eventfd(xenstore events)");
  const int fd = sock_.get();
  reader_ = std::thread([this, fd] { reader(fd, 1); });
}

XsClient::~XsClient() {
  ::shutdown(sock_.get(), SHUT_RDWR);
  if (reader_.joinable()) reader_.join();
}

void XsClient::reconnect() {
  if (connected()) return;
  // The reader ended when the old connection did.
  if (reader_.joinable()) reader_.join();
  UniqueFd fd = open_socket();  // throws: xenstored is not back yet
  uint64_t gen;
  {
    std::lock_guard wl(write_mu_);
    std::lock_guard lk(mu_);
    sock_ = std::move(fd);
    gen = ++generation_;
    connected_ = true;
    // Requests of the old connection have failed (their waiters see the
    // generation change); nothing of it is answered on this one.
    pending_.clear();
    cv_.notify_all();
  }
  const int raw = sock_.get();
  reader_ = std::thread([this, raw, gen] { reader(raw, gen); });
}

bool XsClient::connected() const {
  std::lock_guard lk(mu_);
  return connected_;
}

uint64_t XsClient::generation() const {
  std::lock_guard lk(mu_);
  return generation_;
}

void XsClient::signal_events() {
  const uint64_t one = 1;
  (void)!::write(event_fd_.get(), &one, sizeof one);
}

void XsClient::reader(int fd, uint64_t generation) {
  for (;;) {
    xen::xenstore::xsd_sockmsg h{};
    std::string body;
    bool ok = read_full(fd, &h, sizeof h) && h.len <= xen::xenstore::XENSTORE_PAYLOAD_MAX;
    if (ok) {
      body.resize(h.len);
      ok = h.len == 0 || read_full(fd, body.data(), h.len);
    }
    std::lock_guard lk(mu_);
    if (generation != generation_) return;  // cannot happen: reconnect() joins us first
    if (!ok) {
      connected_ = false;
      cv_.notify_all();
      signal_events();
      return;
    }
    if (h.type == msg::WATCH_EVENT) {
      const size_t nul = body.find('\0');
      if (nul != std::string::npos) {
        events_.push_back({body.substr(0, nul), strip_nul(body.substr(nul + 1))});
        signal_events();
      }
      continue;
    }
    auto it = pending_.find(h.req_id);
    if (it == pending_.end()) continue;
    it->second->done = true;
    it->second->type = h.type;
    it->second->payload = std::move(body);
    pending_.erase(it);
    cv_.notify_all();
  }
}

std::string XsClient::request(uint32_t type, const std::string& payload, uint32_t tx, const std::string& what) {
  if (payload.size() > xen::xenstore::XENSTORE_PAYLOAD_MAX) throw XsReplyError(what, "E2BIG");
  Pending p;
  uint32_t id;
  uint64_t gen;
  {
    std::lock_guard lk(mu_);
    if (!connected_) throw XsDisconnected("xenstored connection lost");
    id = next_id_++;
    gen = generation_;
    pending_[id] = &p;
  }
  xen::xenstore::xsd_sockmsg h{type, id, tx, static_cast<uint32_t>(payload.size())};
  std::string frame(reinterpret_cast<const char*>(&h), sizeof h);
  frame += payload;
  bool sent;
  {
    // reconnect() swaps the socket under write_mu_: a request of an older
    // connection is not sent on a newer one.
    std::lock_guard wl(write_mu_);
    sent = generation() == gen && write_full(sock_.get(), frame.data(), frame.size());
  }
  std::unique_lock lk(mu_);
  if (!sent) {
    pending_.erase(id);
    throw XsDisconnected("xenstored connection lost");
  }
  cv_.wait(lk, [&] { return p.done || !connected_ || generation_ != gen; });
  if (!p.done) {
    pending_.erase(id);
    throw XsDisconnected("xenstored connection lost");
  }
  if (p.type == msg::ERROR) throw XsReplyError(what, strip_nul(p.payload));
  return std::move(p.payload);
}

std::optional<std::string> XsClient::read(const std::string& path, uint32_t tx) {
  try {
    return request(msg::READ, path + '\0', tx, "xenstore read " + path);
  } catch (const XsReplyError& e) {
    if (e.errno_name == "ENOENT") return std::nullopt;
    throw;
  }
}

void XsClient::write(const std::string& path, const std::string& value, uint32_t tx) {
  request(msg::WRITE, path + '\0' + value, tx, "xenstore write " + path);
}

std::vector<std::string> XsClient::directory(const std::string& path, uint32_t tx) {
  std::string body;
  try {
    body = request(msg::DIRECTORY, path + '\0', tx, "xenstore directory " + path);
  } catch (const XsReplyError& e) {
    if (e.errno_name == "ENOENT") return {};
    throw;
  }
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < body.size()) {
    const size_t nul = body.find('\0', pos);
    const size_t end = nul == std::string::npos ? body.size() : nul;
    if (end > pos) out.push_back(body.substr(pos, end - pos));
    pos = end + 1;
  }
  return out;
}

uint32_t XsClient::transaction_start() {
  const std::string id = strip_nul(request(msg::TRANSACTION_START, std::string(1, '\0'), 0, "xenstore transaction_start"));
  return static_cast<uint32_t>(std::stoul(id));
}

bool XsClient::transaction_end(uint32_t tx, bool commit) {
  try {
    request(msg::TRANSACTION_END, std::string(commit ? "T" : "F") + '\0', tx, "xenstore transaction_end");
    return true;
  } catch (const XsReplyError& e) {
    if (e.errno_name == "EAGAIN") return false;
    throw;
  }
}

void XsClient::watch(const std::string& path, const std::string& token) {
  request(msg::WATCH, path + '\0' + token + '\0', 0, "xenstore watch " + path);
}

void XsClient::unwatch(const std::string& path, const std::string& token) {
  request(msg::UNWATCH, path + '\0' + token + '\0', 0, "xenstore unwatch " + path);
}

std::vector<XsWatchEvent> XsClient::take_events() {
  uint64_t n;
  (void)!::read(event_fd_.get(), &n, sizeof n);
  std::lock_guard lk(mu_);
  std::vector<XsWatchEvent> out(events_.begin(), events_.end());
  events_.clear();
  return out;
}

}  // namespace pv
