#include "console/byte_ring.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace pv {

ByteRing::ByteRing(size_t capacity) : capacity_(capacity), data_(new char[capacity]) {
  if (capacity == 0) throw std::invalid_argument("ByteRing needs a capacity");
}

size_t ByteRing::append(std::string_view bytes) {
  size_t dropped = 0;
  if (bytes.size() >= capacity_) {  // only its tail fits
    dropped = size_ + bytes.size() - capacity_;
    bytes.remove_prefix(bytes.size() - capacity_);
    head_ = 0;
    size_ = 0;
  } else if (size_ + bytes.size() > capacity_) {
    dropped = size_ + bytes.size() - capacity_;
    consume(dropped);
  }
  // Now bytes fit: copy them after the newest byte, wrapping once at most.
  const size_t tail = (head_ + size_) % capacity_;
  const size_t first = std::min(bytes.size(), capacity_ - tail);
  std::memcpy(data_.get() + tail, bytes.data(), first);
  std::memcpy(data_.get(), bytes.data() + first, bytes.size() - first);
  size_ += bytes.size();
  return dropped;
}

size_t ByteRing::append(const ByteRing& other) {
  const std::string_view first = other.front();
  const std::string_view second(other.data_.get(), other.size_ - first.size());
  return append(first) + append(second);
}

std::string_view ByteRing::front() const {
  return std::string_view(data_.get() + head_, std::min(size_, capacity_ - head_));
}

void ByteRing::consume(size_t n) {
  n = std::min(n, size_);
  head_ = (head_ + n) % capacity_;
  size_ -= n;
  if (size_ == 0) head_ = 0;
}

std::string ByteRing::contents() const {
  const std::string_view first = front();
  std::string out(first);
  out.append(data_.get(), size_ - first.size());
  return out;
}

}  // namespace pv
