// pvguest: blkfront internals shared by blkfront.cpp (public entry points),
// blkfront_ring.cpp (requests, ring push/pop, responses),
// blkfront_grants.cpp (grant cache, temporary grants, indirect pages) and
// blkfront_handshake.cpp (xenbus state machine, keys, reconnection and
// re-queue). Not for other files: the public interface is blkfront.h.
//
// Per device: 1..kMaxQueues rings (Linux's blkfront_ring_info), each with
// its event channel and shadow[] (one entry per ring slot, free list
// through next_free). Per ring request the shadow keeps what completion and
// recovery need: the owning Request, the operation, and the grant refs
// that must be revoked (temporary grants) - never read back from memory
// the back-end can write.
//
// Grants for data pages: with persistent grants negotiated, a page is
// granted read-write once and the reference is kept in a per-device cache
// keyed by frame (zero copy: callers reuse their buffers, so the back-end
// keeps the same few grants mapped). Otherwise (or when the cache is full)
// each segment gets a temporary grant - read-only for writes - revoked at
// completion; one still held by the back-end is kept in the cache (it chose
// to make it persistent) or leaked, never reused.
#pragma once
#include <xen/io/blkif.h>
#include <xen/io/xenbus.h>

#include "blkfront.h"
#include "mm.h"
#include "xenbus_front.h"

namespace blkfront {
using namespace xen::blkif;
using xen::grant_ref_t;
using xen::ring::RING_IDX;
namespace XB = xen::xenbus;

constexpr uint32_t kNoSlot = 0xffffffffu;
constexpr uint32_t kTempBit = 0x80000000u;  // in Shadow refs: a temporary grant
constexpr int16_t kStatusLost = -100;       // raw request dropped by a reconnection
constexpr uint64_t kXsPeriodNs = 500000000ull;
constexpr unsigned kCacheSlots = 4096;      // grant cache: open addressing
constexpr unsigned kCacheMax = 2048;        // entries (load <= 1/2)

enum Kind : uint8_t { kFree, kNormal, kRaw };

struct Shadow {
  Request* req;
  uint32_t next_free;
  uint8_t kind;
  uint8_t op;        // ring operation
  uint8_t inner_op;  // indirect: READ / WRITE
  bool temp_any;     // some ref in refs() is temporary
  uint16_t nsegs;
  volatile bool raw_done;
  int16_t raw_status;
  uint8_t raw_op;
  blkif_request_segment* ind;  // indirect page, granted to the back-end
  grant_ref_t ind_ref;
  grant_ref_t* priv;           // private page: refs of an indirect request
  grant_ref_t dref[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};

struct Queue {
  FrontRing ring;
  void* ring_mem;
  unsigned ring_pages;
  grant_ref_t ring_refs[kMaxRingPages];
  xen::evtchn_port_t port;
  Shadow* shadow;
  unsigned nshadow;
  uint32_t free_head;
  unsigned nfree;
  bool dirty;   // requests produced, not pushed
  bool broken;  // break_ring() used it
};

struct CacheEntry {
  uint32_t key;  // gfn + 1; 0 = empty
  grant_ref_t ref;
};

struct Device {
  xbf::Device xb;
  Info info;
  Stats st;
  Queue q[kMaxQueues];
  unsigned nq;              // queues set up (0: none)
  bool rings_fresh;         // set up, not yet connected
  bool link_up;             // Connected both ways: requests may go out
  bool ever_connected;
  bool persistent_on;
  bool broken_reported;
  bool probed_ok;           // listed in devs[]: watch events may act on it
  bool gone;                // released (hot-unplugged): the slot is free
  bool warned_indirect_op;
  unsigned written_nq, written_pages;  // keys of the last handshake
  unsigned rr;
  Request* pend_head;
  Request* pend_tail;
  unsigned npending, ninflight;
  uint64_t next_seq;
  CacheEntry* cache;
  unsigned cache_used;
  uint64_t last_xs_ns;
};

extern Config cfg;
extern Device devs[kMaxDevices];
extern unsigned ndevs;

// Pages a read/write touches (segments before splitting).
inline unsigned pages_of(const Request* r) {
  uint64_t off = uint64_t(r->buf) & (mm::kPageSize - 1);
  return unsigned((off + r->bytes + mm::kPageSize - 1) >> mm::kPageShift);
}

inline unsigned frags_of(const Device& d, const Request* r) {
  if (r->op == kFlush || r->op == kDiscard) return 1;
  unsigned p = pages_of(r);
  return (p + d.info.max_segs - 1) / d.info.max_segs;
}

// ---- blkfront_grants.cpp
// The cached read-write grant of `gfn`, made on a miss; kInvalidRef when
// the cache (or the grant table) is full.
grant_ref_t cache_get(Device& d, uint64_t gfn);
// Allocates the persistent-grant cache if it is not there; false when out
// of memory.
bool cache_alloc(Device& d);
// Revokes every cached grant (leaked when the back-end still holds it).
void cache_clear(Device& d);
// Revokes the temporary grants of a ring request.
void release_grants(Device& d, Shadow& s);
// Gives up a shadow entry's grants and its indirect and private pages
// (a page whose grant the back-end still holds is leaked with it).
void release_shadow(Device& d, Shadow& s);
// Makes sure shadow `s` has its indirect page (granted to the back-end) and
// its private page of references; false when one could not be had.
bool indirect_pages(Device& d, Shadow& s);
// Grants the `nsegs` data pages from `addr` (`left` bytes to go) and fills
// `segs` / `refs`; advances addr, left and sector. False when a grant could
// not be had (s.nsegs then says how many segments hold grants).
bool grant_segments(Device& d, Shadow& s, blkif_request_segment* segs, grant_ref_t* refs, unsigned nsegs, bool ro,
                    uint64_t& addr, uint64_t& left, uint64_t& sector);

// ---- blkfront_ring.cpp
uint32_t get_slot(Queue& q);
void put_slot(Queue& q, uint32_t id);
void pend_push_back(Device& d, Request* r);
// The next queue (round-robin) with room for `need` ring requests.
Queue* pick_queue(Device& d, unsigned need);
// Builds the ring requests of `r` on `q` (room was checked). False when a
// grant could not be had: everything built for `r` is undone (nothing was
// published) and it stays at the head of the pending list.
bool build(Device& d, Queue& q, Request* r, unsigned nfrags);
// Moves pending requests onto the rings while they have room.
void issue(Device& d);
void push_all(Device& d);
// Consumes responses on every queue, issues pending requests, pushes, and
// runs the completed requests' callbacks. Returns completions.
unsigned poll_queues(Device& d);

// ---- blkfront_handshake.cpp
// Sets up `d` for device/vbd/<name> (vbd number `handle`) and starts its
// handshake; false (printed) when the probe failed.
bool probe_device(Device& d, uint16_t handle, const char* name);
// Drives the handshakes of all probed devices until they are connected or
// 2 * cfg.timeout_ns passed.
void connect_all();
// Devices whose link is up.
unsigned connected_count();
// Frees what the handshakes made for `d` and drops its watch (release()).
void free_device(Device& d);
// Follows the back-end's state (Linux's blkback_changed).
void backend_changed(Device& d);
// Delivers xenstore events if the store port fired (or now and then), and
// handles back-end state changes of every device.
void service_xs(bool force);

}  // namespace blkfront
