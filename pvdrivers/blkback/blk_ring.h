// blkback: the back-end side of one blkif shared ring in either ABI
// ("x86_64-abi", the native layout, or "x86_32-abi", whose 64-bit fields
// are 4-byte aligned). Requests come out translated into BlkRequest;
// responses go in in the ring's own layout. Ring semantics (index
// clamping, overflow, notification suppression) are xen::ring::BackRing's.
#pragma once
#include <cstdint>
#include <string>

#include <xen/io/blkif.h>

#include "blkback/request_check.h"

namespace pv::blkback {

enum class Abi : uint8_t { kNative, kX86_32 };
// The front-end's "protocol" key (absent: native). False if unknown.
bool parse_abi(const std::string& protocol, Abi& out);
const char* abi_name(Abi a);

class BlkRing {
 public:
  BlkRing() = default;
  BlkRing(Abi abi, void* mem, uint64_t bytes);

  bool valid() const { return abi_ == Abi::kNative ? native_.valid() : compat_.valid(); }
  uint32_t size() const { return abi_ == Abi::kNative ? native_.size() : compat_.size(); }
  bool overflowed() const { return abi_ == Abi::kNative ? native_.overflowed() : compat_.overflowed(); }
  uint32_t unconsumed() const {
    return abi_ == Abi::kNative ? native_.unconsumed_requests() : compat_.unconsumed_requests();
  }
  // Copies the next request out of shared memory and consumes it.
  void take(BlkRequest& out);
  // Queues a response (published by push()).
  void respond(uint64_t id, uint8_t operation, int16_t status);
  // Publishes queued responses; true if the front-end wants a notification.
  bool push();
  // No requests left: arms req_event and checks once more.
  bool final_check() { return abi_ == Abi::kNative ? native_.final_check_for_requests() : compat_.final_check_for_requests(); }
  // Responses queued and not yet pushed.
  bool has_unpushed() const { return queued_ != 0; }

 private:
  Abi abi_ = Abi::kNative;
  xen::blkif::BackRing native_;
  xen::blkif::x86_32::BackRing compat_;
  uint32_t queued_ = 0;
};

}  // namespace pv::blkback
