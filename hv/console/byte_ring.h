// A bounded FIFO of bytes that drops its oldest bytes when more arrive than
// it holds: the console's history (the last kConsoleHistoryBytes of output)
// and each console client's backlog (what its socket could not take yet).
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace pv {

class ByteRing {
 public:
  // The storage is allocated at once but not touched (its pages stay
  // unbacked until output fills them).
  explicit ByteRing(size_t capacity);

  // Appends `bytes`, dropping the oldest bytes beyond capacity(); returns
  // how many bytes were dropped (of what was held, or of `bytes` itself
  // when it alone is longer than the ring).
  size_t append(std::string_view bytes);
  // Appends everything `other` holds, oldest first.
  size_t append(const ByteRing& other);

  // The oldest contiguous run of bytes (empty when the ring is).
  std::string_view front() const;
  // Removes the `n` oldest bytes (at most size()).
  void consume(size_t n);

  std::string contents() const;  // everything, oldest first
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t capacity() const { return capacity_; }

 private:
  size_t capacity_;
  std::unique_ptr<char[]> data_;
  size_t head_ = 0;  // index of the oldest byte
  size_t size_ = 0;
};

}  // namespace pv
