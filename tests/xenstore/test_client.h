// An in-memory xenstore client for unit tests: speaks the wire protocol to
// an XenstoreServer through a Connection, no socket involved.
#pragma once
#include <cstdint>
#include <deque>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "xenstore/server.h"

namespace xstest {

using pv::xenstore::DomId;
using pv::xenstore::MsgType;

struct Reply {
  uint32_t type = 0;
  uint32_t req_id = 0;
  uint32_t tx_id = 0;
  std::string payload;

  bool ok() const { return type != static_cast<uint32_t>(MsgType::kError); }
  // The errno name of an error reply ("ENOENT"), "" on success.
  std::string err() const;
  // The payload of a success reply, "<ENOENT>" for an error (readable in
  // test failures).
  std::string value() const;
  // The payload as NUL-terminated strings.
  std::vector<std::string> strings() const;
};

struct Event {
  std::string path, token;
  bool operator==(const Event&) const = default;
  friend std::ostream& operator<<(std::ostream& os, const Event& e) {
    return os << "{" << e.path << ", " << e.token << "}";
  }
};

class TestClient {
 public:
  TestClient(pv::xenstore::XenstoreServer& server, DomId domid);
  ~TestClient();

  // Sends one request and returns its reply; watch events that arrive
  // meanwhile are kept for events().
  Reply request(MsgType type, const std::string& payload, uint32_t tx = 0);
  // Sends raw bytes; returns every complete message that came back.
  std::vector<pv::xenstore::Message> send_raw(const std::string& bytes);

  Reply read(const std::string& path, uint32_t tx = 0);
  Reply write(const std::string& path, const std::string& value, uint32_t tx = 0);
  Reply mkdir(const std::string& path, uint32_t tx = 0);
  Reply rm(const std::string& path, uint32_t tx = 0);
  Reply directory(const std::string& path, uint32_t tx = 0);
  Reply get_perms(const std::string& path, uint32_t tx = 0);
  Reply set_perms(const std::string& path, const std::vector<std::string>& perms, uint32_t tx = 0);
  Reply watch(const std::string& path, const std::string& token);
  Reply unwatch(const std::string& path, const std::string& token);
  uint32_t start();  // 0 on failure
  Reply end(uint32_t tx, bool commit);

  // Watch events received so far (consumed).
  std::vector<Event> events();

  pv::xenstore::Connection& connection() { return *conn_; }

 private:
  std::vector<pv::xenstore::Message> drain();

  pv::xenstore::XenstoreServer& server_;
  std::shared_ptr<pv::xenstore::Connection> conn_;
  pv::xenstore::MessageReader reader_;
  std::deque<Event> events_;
  uint32_t next_req_ = 1;
};

// "a\0b\0" from {"a", "b"}.
std::string args(const std::vector<std::string>& items);

}  // namespace xstest
