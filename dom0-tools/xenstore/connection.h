// One client of xenstored: a dom0 socket client or a guest's ring. The
// transport feeds it bytes (through XenstoreServer::receive) and drains the
// bytes it has to send; the same code serves a socket and a ring page.
//
// Not thread-safe: a connection is used from the server's thread only.
#pragma once
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "xenstore/message_reader.h"
#include "xenstore/transaction.h"
#include "xenstore/watch.h"
#include "xenstore/wire.h"

namespace pv::xenstore {

class Connection {
 public:
  Connection(uint64_t id, DomId domid, std::string label);
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  uint64_t id() const { return id_; }
  DomId domid() const { return domid_; }
  // "dom0 socket client 3", "domain 5 ring": for log messages.
  const std::string& label() const { return label_; }

  // ---- transport side ----
  bool has_output() const { return !output_.empty(); }
  size_t pending_output_bytes() const { return pending_bytes_; }
  size_t pending_replies() const { return pending_replies_; }
  // All pending output, consumed.
  std::string take_output();
  // Called whenever output is queued, also while another connection's
  // request is being handled (watch events). The transport starts a write.
  void set_output_notifier(std::function<void()> fn) { notify_output_ = std::move(fn); }

  // Closed by the server (framing error, domain released) or the transport.
  // A closed connection takes no input and gets no events.
  bool closed() const { return closed_; }
  const std::string& close_reason() const { return close_reason_; }

  // Bytes received but not yet handled (a partial message, or requests
  // held back while replies are pending).
  size_t buffered_input() const { return reader_.buffered(); }

  // ---- server side ----
  MessageReader& reader() { return reader_; }
  void queue(const Message& msg, bool is_reply);
  void mark_closed(std::string reason);

  std::vector<Watch>& watches() { return watches_; }
  std::map<uint32_t, std::unique_ptr<Transaction>>& transactions() { return transactions_; }
  // Transactions open when xenstored restarted: requests in them get EAGAIN.
  std::set<uint32_t>& lost_transactions() { return lost_transactions_; }
  uint64_t dropped_events() const { return dropped_events_; }
  void count_dropped_event() { dropped_events_++; }

 private:
  struct Segment {
    std::string bytes;
    bool is_reply;
  };
  void consumed_front();

  uint64_t id_;
  DomId domid_;
  std::string label_;
  MessageReader reader_;
  std::deque<Segment> output_;
  size_t front_offset_ = 0;
  size_t pending_bytes_ = 0;
  size_t pending_replies_ = 0;
  std::function<void()> notify_output_;
  bool closed_ = false;
  std::string close_reason_;
  std::vector<Watch> watches_;
  std::map<uint32_t, std::unique_ptr<Transaction>> transactions_;
  std::set<uint32_t> lost_transactions_;
  uint64_t dropped_events_ = 0;
};

}  // namespace pv::xenstore
