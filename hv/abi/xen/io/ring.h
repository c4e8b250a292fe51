// Shared I/O rings (public/io/ring.h), the transport under blkif and netif.
//
// A ring occupies one or more contiguous pages (as the back-end maps them):
// a 64-byte header with the four indices, then 2^k entries, each a union of
// the request and the response type. Indices are free-running 32-bit
// counters; the slot is index & (size - 1). Requests and responses share
// slots: the response to a request may go into any slot the back-end has
// already consumed.
//
// Notification suppression, as Xen defines it: a producer notifies only if
// the consumer's *_event index lies in the range it just published; a
// consumer that finds nothing to do sets *_event to "one past what I have
// consumed" and checks again before sleeping.
//
// Header-only and freestanding (used by the guest kernel too): only
// compiler builtins, no standard library.
#pragma once
#include "../xen.h"

namespace xen::ring {

using RING_IDX = uint32_t;

// The shared page header (struct __name##_sring before its ring[] member).
struct sring_header {
  RING_IDX req_prod, req_event;
  RING_IDX rsp_prod, rsp_event;
  uint8_t pvt_pad[4];  // Xen's union { netif feature flags; pvt_pad[4] }
  uint8_t pad[44];
};
static_assert(sizeof(sring_header) == 64);

// Number of entries of `entry_size` bytes in `bytes` of ring memory: the
// largest power of two that fits after the header (Xen's __RD32).
constexpr uint32_t ring_size(uint64_t bytes, uint32_t entry_size) {
  if (bytes <= sizeof(sring_header) || entry_size == 0) return 0;
  uint64_t n = (bytes - sizeof(sring_header)) / entry_size;
  uint32_t p = 1;
  while (uint64_t(p) * 2 <= n && p < (1u << 30)) p *= 2;
  return n ? p : 0;
}

template <typename Req, typename Rsp>
union ring_entry {
  Req req;
  Rsp rsp;
};

inline void full_barrier() { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
inline RING_IDX load_idx(const RING_IDX* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }
inline void store_idx(RING_IDX* p, RING_IDX v) { __atomic_store_n(p, v, __ATOMIC_RELEASE); }

// A view of a shared ring in memory (`bytes` long, page multiple). It holds
// no state of its own beyond the private indices of the side using it.
template <typename Req, typename Rsp>
class SharedRing {
 public:
  using Entry = ring_entry<Req, Rsp>;
  SharedRing() = default;
  SharedRing(void* mem, uint64_t bytes)
      : hdr_(static_cast<sring_header*>(mem)),
        ring_(reinterpret_cast<Entry*>(static_cast<uint8_t*>(mem) + sizeof(sring_header))),
        size_(ring_size(bytes, sizeof(Entry))) {}

  bool valid() const { return hdr_ != nullptr && size_ != 0; }
  uint32_t size() const { return size_; }
  sring_header* header() const { return hdr_; }
  Entry& slot(RING_IDX i) const { return ring_[i & (size_ - 1)]; }

  // SHARED_RING_INIT: what the front-end does before granting the pages.
  void init_shared() {
    hdr_->req_prod = hdr_->rsp_prod = 0;
    hdr_->req_event = hdr_->rsp_event = 1;
    for (auto& b : hdr_->pvt_pad) b = 0;
    for (auto& b : hdr_->pad) b = 0;
  }

 protected:
  // Publishes `now` as the producer index *prod (a push); true if the
  // consumer's *event index lies in the range just published, i.e. it asked
  // to be notified.
  static bool publish(RING_IDX* prod, const RING_IDX* event, RING_IDX now) {
    const RING_IDX old = *prod;
    store_idx(prod, now);
    full_barrier();
    const RING_IDX ev = load_idx(event);
    return RING_IDX(now - ev) < RING_IDX(now - old);
  }

  sring_header* hdr_ = nullptr;
  Entry* ring_ = nullptr;
  uint32_t size_ = 0;
};

// The front-end's side: produces requests, consumes responses.
template <typename Req, typename Rsp>
class FrontRing : public SharedRing<Req, Rsp> {
  using Base = SharedRing<Req, Rsp>;

 public:
  FrontRing() = default;
  FrontRing(void* mem, uint64_t bytes) : Base(mem, bytes) {}

  RING_IDX req_prod_pvt = 0;  // next request slot to fill
  RING_IDX rsp_cons = 0;      // next response to read

  uint32_t free_requests() const { return this->size_ - (req_prod_pvt - rsp_cons); }
  bool full() const { return free_requests() == 0; }
  Req& next_request() { return this->slot(req_prod_pvt).req; }

  // RING_PUSH_REQUESTS_AND_CHECK_NOTIFY.
  bool push_requests() { return this->publish(&this->hdr_->req_prod, &this->hdr_->req_event, req_prod_pvt); }
  bool has_unconsumed_responses() const { return load_idx(&this->hdr_->rsp_prod) != rsp_cons; }
  // RING_FINAL_CHECK_FOR_RESPONSES: arms rsp_event before going idle.
  bool final_check_for_responses() {
    if (has_unconsumed_responses()) return true;
    store_idx(&this->hdr_->rsp_event, rsp_cons + 1);
    full_barrier();
    return has_unconsumed_responses();
  }
  const Rsp& response(RING_IDX i) const { return this->slot(i).rsp; }
};

// The back-end's side: consumes requests, produces responses. Every index
// read from the shared page is untrusted: unconsumed_requests() clamps what
// a front-end claims to what the ring can hold, and overflowed() detects a
// producer index that ran past the responses still owed.
template <typename Req, typename Rsp>
class BackRing : public SharedRing<Req, Rsp> {
  using Base = SharedRing<Req, Rsp>;

 public:
  BackRing() = default;
  BackRing(void* mem, uint64_t bytes) : Base(mem, bytes) {}

  RING_IDX rsp_prod_pvt = 0;  // next response slot to fill
  RING_IDX req_cons = 0;      // next request to read

  // Resumes on a ring whose shared indices already moved (reconnection).
  void attach_existing() { rsp_prod_pvt = req_cons = load_idx(&this->hdr_->rsp_prod); }

  // RING_UNCONSUMED_REQUESTS, clamped (a hostile req_prod cannot make us
  // read more than the slots not owed a response).
  uint32_t unconsumed_requests() const {
    const RING_IDX prod = load_idx(&this->hdr_->req_prod);
    const uint32_t claimed = prod - req_cons;
    const uint32_t room = this->size_ - (req_cons - rsp_prod_pvt);
    return claimed < room ? claimed : room;
  }
  // RING_REQUEST_PROD_OVERFLOW: the front-end published more requests than
  // the ring can hold beyond the responses it has not consumed.
  bool overflowed() const {
    const RING_IDX prod = load_idx(&this->hdr_->req_prod);
    return RING_IDX(prod - rsp_prod_pvt) > this->size_;
  }
  // Copies the next request out of shared memory (the guest may change the
  // slot at any time; decide only on the copy) and consumes it.
  Req take_request() {
    Req r;
    __builtin_memcpy(&r, const_cast<const Req*>(&this->slot(req_cons).req), sizeof(Req));
    req_cons++;
    return r;
  }
  // RING_FINAL_CHECK_FOR_REQUESTS: arms req_event before going idle.
  bool final_check_for_requests() {
    if (unconsumed_requests()) return true;
    store_idx(&this->hdr_->req_event, req_cons + 1);
    full_barrier();
    return unconsumed_requests() != 0;
  }
  // The same for a consumer that needs `n` requests at once (netback's rx
  // side: a packet takes several slots): arms req_event so the front-end
  // notifies only once `n` are there. True if they already are.
  bool final_check_for_requests(uint32_t n) {
    if (unconsumed_requests() >= n) return true;
    store_idx(&this->hdr_->req_event, req_cons + n);
    full_barrier();
    return unconsumed_requests() >= n;
  }
  Rsp& next_response() { return this->slot(rsp_prod_pvt).rsp; }
  // RING_PUSH_RESPONSES_AND_CHECK_NOTIFY.
  bool push_responses() { return this->publish(&this->hdr_->rsp_prod, &this->hdr_->rsp_event, rsp_prod_pvt); }
};

}  // namespace xen::ring

// ---- Xen's spellings (public/io/ring.h); see xen.h ----
namespace xen {
using ring::RING_IDX;
}  // namespace xen
