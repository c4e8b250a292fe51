#include "test_client.h"

#include <stdexcept>

#include "xenstore/request_args.h"

namespace xstest {

std::string Reply::err() const {
  if (ok()) return "";
  return payload.substr(0, payload.find('\0'));
}

std::string Reply::value() const { return ok() ? payload : "<" + err() + ">"; }

std::vector<std::string> Reply::strings() const {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < payload.size()) {
    size_t nul = payload.find('\0', start);
    if (nul == std::string::npos) nul = payload.size();
    out.push_back(payload.substr(start, nul - start));
    start = nul + 1;
  }
  return out;
}

std::string args(const std::vector<std::string>& items) { return pv::xenstore::nul_joined(items); }

TestClient::TestClient(pv::xenstore::XenstoreServer& server, DomId domid)
    : server_(server), conn_(server.connect(domid, "test client dom" + std::to_string(domid))) {}

TestClient::~TestClient() {
  if (!conn_->closed()) server_.disconnect(*conn_);
}

std::vector<pv::xenstore::Message> TestClient::drain() {
  reader_.append(conn_->take_output());
  std::vector<pv::xenstore::Message> out;
  while (auto msg = reader_.next()) out.push_back(std::move(*msg));
  return out;
}

std::vector<pv::xenstore::Message> TestClient::send_raw(const std::string& bytes) {
  server_.receive(*conn_, bytes);
  return drain();
}

Reply TestClient::request(MsgType type, const std::string& payload, uint32_t tx) {
  uint32_t req_id = next_req_++;
  pv::xenstore::Message msg{static_cast<uint32_t>(type), req_id, tx, payload};
  server_.receive(*conn_, pv::xenstore::encode(msg));
  std::optional<Reply> reply;
  for (auto& m : drain()) {
    if (m.msg_type() == MsgType::kWatchEvent) {
      auto parts = Reply{m.type, 0, 0, m.payload}.strings();
      events_.push_back({parts.at(0), parts.size() > 1 ? parts[1] : ""});
    } else if (m.req_id == req_id && !reply) {
      reply = Reply{m.type, m.req_id, m.tx_id, m.payload};
    } else {
      throw std::runtime_error("unexpected message type " + std::to_string(m.type));
    }
  }
  if (!reply) throw std::runtime_error("no reply to " + pv::xenstore::type_name(msg.type));
  return *reply;
}

Reply TestClient::read(const std::string& path, uint32_t tx) { return request(MsgType::kRead, args({path}), tx); }
Reply TestClient::write(const std::string& path, const std::string& value, uint32_t tx) {
  return request(MsgType::kWrite, path + '\0' + value, tx);
}
Reply TestClient::mkdir(const std::string& path, uint32_t tx) { return request(MsgType::kMkdir, args({path}), tx); }
Reply TestClient::rm(const std::string& path, uint32_t tx) { return request(MsgType::kRm, args({path}), tx); }
Reply TestClient::directory(const std::string& path, uint32_t tx) {
  return request(MsgType::kDirectory, args({path}), tx);
}
Reply TestClient::get_perms(const std::string& path, uint32_t tx) {
  return request(MsgType::kGetPerms, args({path}), tx);
}
Reply TestClient::set_perms(const std::string& path, const std::vector<std::string>& perms, uint32_t tx) {
  std::vector<std::string> all{path};
  all.insert(all.end(), perms.begin(), perms.end());
  return request(MsgType::kSetPerms, args(all), tx);
}
Reply TestClient::watch(const std::string& path, const std::string& token) {
  return request(MsgType::kWatch, args({path, token}));
}
Reply TestClient::unwatch(const std::string& path, const std::string& token) {
  return request(MsgType::kUnwatch, args({path, token}));
}
uint32_t TestClient::start() {
  Reply r = request(MsgType::kTransactionStart, std::string(1, '\0'));
  return r.ok() ? static_cast<uint32_t>(std::stoul(r.strings().at(0))) : 0;
}
Reply TestClient::end(uint32_t tx, bool commit) {
  return request(MsgType::kTransactionEnd, args({commit ? "T" : "F"}), tx);
}

std::vector<Event> TestClient::events() {
  for (auto& m : drain()) {
    auto parts = Reply{m.type, 0, 0, m.payload}.strings();
    if (m.msg_type() == MsgType::kWatchEvent) events_.push_back({parts.at(0), parts.size() > 1 ? parts[1] : ""});
  }
  std::vector<Event> out(events_.begin(), events_.end());
  events_.clear();
  return out;
}

}  // namespace xstest
