// A xenstore client for host daemons (dom0), over xenstored's Unix socket,
// speaking the xenstore wire protocol (xen/xs_wire.h).
//
// Any thread may issue requests; each blocks until its reply. A reader
// thread routes replies by request id and queues watch events, which the
// owner collects with take_events() when event_fd() becomes readable. If
// xenstored goes away, every pending and later request throws
// XsDisconnected and event_fd() becomes readable with connected() false.
// reconnect() opens a new connection on the same object (xenstored came
// back, e.g. a restarted pvd): users holding a reference carry on, watches
// must be registered again, and generation() tells them a new connection
// began (what they wrote may be gone with a store that was not kept).
#pragma once
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "pv/unique_fd.h"

namespace pv {

// xenstored answered a request with an error (callers branch on the name:
// ENOENT, EAGAIN...). Not xenstored's own xenstore::XsError.
class XsReplyError : public std::runtime_error {
 public:
  XsReplyError(const std::string& what, std::string err) : std::runtime_error(what + ": " + err), errno_name(std::move(err)) {}
  std::string errno_name;  // "ENOENT", "EACCES", ...
};
// The connection to xenstored is gone (pv-backd then reconnects).
class XsDisconnected : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct XsWatchEvent {
  std::string path, token;
};

class XsClient {
 public:
  explicit XsClient(const std::string& socket_path);  // throws when xenstored is not there
  ~XsClient();
  // After the connection was lost: connects again (throws SystemError when
  // xenstored is not there yet). Only the owner's thread calls it.
  void reconnect();
  // 1 for the first connection, +1 for each reconnect().
  uint64_t generation() const;
  XsClient(const XsClient&) = delete;
  XsClient& operator=(const XsClient&) = delete;

  // nullopt when the node does not exist; other errors throw XsReplyError.
  std::optional<std::string> read(const std::string& path, uint32_t tx = 0);
  void write(const std::string& path, const std::string& value, uint32_t tx = 0);
  // Children's names; empty when the node does not exist.
  std::vector<std::string> directory(const std::string& path, uint32_t tx = 0);
  uint32_t transaction_start();
  // false: the transaction conflicted (EAGAIN); start again.
  bool transaction_end(uint32_t tx, bool commit);
  void watch(const std::string& path, const std::string& token);
  void unwatch(const std::string& path, const std::string& token);

  int event_fd() const { return event_fd_.get(); }
  std::vector<XsWatchEvent> take_events();
  bool connected() const;

 private:
  struct Pending {
    bool done = false;
    uint32_t type = 0;
    std::string payload;
  };
  std::string request(uint32_t type, const std::string& payload, uint32_t tx, const std::string& what);
  UniqueFd open_socket() const;
  void reader(int fd, uint64_t generation);
  void signal_events();

  std::string path_;
  UniqueFd sock_, event_fd_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::mutex write_mu_;
  uint32_t next_id_ = 1;
  std::map<uint32_t, Pending*> pending_;
  std::deque<XsWatchEvent> events_;
  bool connected_ = true;
  uint64_t generation_ = 1;  // under mu_
  std::thread reader_;
};

}  // namespace pv
