#include "xenstore/connection.h"

namespace pv::xenstore {

Connection::Connection(uint64_t id, DomId domid, std::string label)
    : id_(id), domid_(domid), label_(std::move(label)) {}

void Connection::queue(const Message& msg, bool is_reply) {
  if (closed_) return;
  std::string bytes = encode(msg);
  pending_bytes_ += bytes.size();
  if (is_reply) pending_replies_++;
  output_.push_back({std::move(bytes), is_reply});
  if (notify_output_) notify_output_();
}

void Connection::consumed_front() {
  if (output_.front().is_reply) pending_replies_--;
  output_.pop_front();
  front_offset_ = 0;
}

std::string Connection::take_output() {
  std::string out;
  out.reserve(pending_bytes_);
  while (!output_.empty()) {
    out.append(output_.front().bytes, front_offset_);
    consumed_front();
  }
  pending_bytes_ = 0;
  return out;
}

void Connection::mark_closed(std::string reason) {
  if (closed_) return;
  closed_ = true;
  close_reason_ = std::move(reason);
  watches_.clear();
  transactions_.clear();
  lost_transactions_.clear();
}

}  // namespace pv::xenstore
