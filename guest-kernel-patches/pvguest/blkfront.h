// pvguest: the block front-end (Xen's blkif protocol, as Linux's
// xen-blkfront negotiates it). ABI: hv/abi/xen/io/{ring,blkif,xenbus}.h.
//
// Devices are the entries of device/vbd/ in our xenstore directory. Each
// one goes Initialising -> (back-end InitWait) rings granted, event
// channels allocated, keys written, Initialised -> (back-end Connected)
// Connected. Features: multi-page rings (max-ring-page-order), several
// queues (multi-queue-max-queues), indirect segments
// (feature-max-indirect-segments), persistent grants (feature-persistent),
// flush (feature-flush-cache) and discard (feature-discard).
//
// I/O is asynchronous: submit() queues a Request (split into as many ring
// requests as the negotiated segment limits need) and poll()/wait()
// complete them. Every ring request has a shadow entry (Linux's shadow[])
// keyed by its id; responses are checked against it. If the back-end goes
// back to InitWait (its daemon restarted), the front-end reconnects with
// fresh rings and event channels and re-queues every request that had not
// completed (Linux's blkif_recover): callers only wait longer.
//
// One caller at a time (the boot vCPU's mode code), never from an upcall.
// Event channels stay masked; waiting is SCHEDOP_poll on the ring ports and
// the xenstore port.
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <xen/io/blkif.h>

namespace blkfront {

inline constexpr unsigned kMaxDevices = 8;
inline constexpr unsigned kMaxQueues = 8;
inline constexpr unsigned kMaxRingPages = 1u << xen::blkif::kMaxRingPageOrder;  // 16
// One indirect page per ring request (512 segment descriptors).
inline constexpr unsigned kMaxIndirectSegs = xen::blkif::kSegsPerIndirectFrame;

// Front-end limits, applied at the next connection (cmdline
// `blkfront=queues:N,order:N,indirect:N,persistent:0|1,timeout:S`).
struct Config {
  unsigned max_queues = 0;       // 0: min(4, vCPUs), as Linux's xen_blkif_max_queues
  unsigned max_ring_order = xen::blkif::kMaxRingPageOrder;  // of what the back-end offers
  unsigned max_indirect = 256;   // segments per indirect request; 0: never indirect
  bool persistent = true;        // offer feature-persistent
  uint64_t timeout_ns = 10000000000ull;  // connecting: each handshake step
  bool verbose = false;          // print every state change
};
// Parses the `blkfront=` value into the limits; false on junk (printed).
bool parse_config(const char* s, size_t len);

enum Op : uint8_t { kRead, kWrite, kFlush, kDiscard };

struct Request;
using DoneFn = void (*)(Request*);

struct Request {
  // ---- set by the caller ----
  uint8_t op = kRead;
  bool secure = false;       // discard: BLKIF_DISCARD_SECURE
  uint64_t sector = 0;       // in 512-byte units, always (blkif's unit)
  uint64_t nr_sectors = 0;   // discard only
  void* buf = nullptr;       // read/write: 512-byte aligned
  uint32_t bytes = 0;        // read/write: multiple of the sector size
  DoneFn done_fn = nullptr;  // called once, from poll()/wait()
  void* cookie = nullptr;
  // ---- results ----
  volatile bool done = false;
  int16_t status = 0;        // BLKIF_RSP_OKAY / _ERROR / _EOPNOTSUPP (first failing fragment)
  int front_error = 0;       // negative Xen errno when the front-end refused it itself
  // ---- internal ----
  Request* next = nullptr;
  uint64_t seq = 0;
  uint16_t nfrags = 0;       // ring requests it needs with the current limits
  uint16_t frags_left = 0;
  uint16_t issues = 0;       // times (re)issued: > 1 after a reconnection
};

struct Info {
  uint16_t handle;           // virtual device number (the vbd directory name)
  char nodename[48];         // "device/vbd/<handle>"
  char backend[128];
  uint16_t backend_id;
  uint64_t sectors;          // capacity in 512-byte units (as Linux reads "sectors")
  uint32_t sector_size, physical_sector_size;
  uint32_t vdisk_info;       // "info": VDISK_* bits
  bool readonly;
  bool flush, discard, discard_secure, persistent;
  uint32_t discard_granularity, discard_alignment;
  uint32_t max_indirect;     // segments per indirect request in use (0: none)
  uint32_t ring_pages, nr_queues, ring_size;
  uint32_t max_segs;         // per ring request in use (11 or max_indirect)
};

struct Stats {
  uint64_t submitted, completed, ring_requests, notifies, sleeps, reconnects, requeued;
  uint64_t bad_responses, leaked_grants, cache_grants, temp_grants;
};

struct Device;

// Finds device/vbd/* (once), probes each and connects them all. Returns how
// many are connected; prints one line per device.
unsigned probe_all();
// Its part in a suspend (registered by probe_all() with suspend.h).
void quiesce_for_suspend(void*);
void resume_after_suspend(void*, bool cancelled);
unsigned count();                 // devices found by probe_all()
Device* device(unsigned i);       // nullptr past the end
Device* find(uint32_t handle);    // by vbd number
const Info& info(const Device* d);
const Stats& stats(const Device* d);
bool connected(const Device* d);

// Validates and queues `r` (it must stay alive until done). Ring requests
// go out when the rings have room; with push = false the notification is
// deferred to the next push()/poll()/wait() (batching). Front-side refusals
// complete `r` at once with front_error set. Returns 0 or that error.
int submit(Device* d, Request* r, bool push = true);
void push(Device* d);
// Consumes responses on every queue, completes requests, issues queued
// ones. Returns how many Requests completed.
unsigned poll(Device* d);
// poll(), and if nothing completed blocks until something does, the
// back-end changes state (handled: reconnection) or timeout_ns passes.
// Returns completions (0 on timeout).
unsigned wait(Device* d, uint64_t timeout_ns);
// Requests submitted and not completed.
unsigned in_flight(const Device* d);
// submit() + wait until done; returns the status (front_error -> _ERROR).
int16_t sync(Device* d, Request* r, uint64_t timeout_ns = 60000000000ull);

// ---- hot-plug (the `hotplug` mode, hotplug.cpp) ----
// Probes device/vbd/<handle> (one that appeared after probe_all(), or any)
// and drives its handshake until it is connected or cfg.timeout_ns passed;
// prints its BLKFRONT line. nullptr when it could not be probed or there
// is no free slot; a device that did not connect is returned (connected()
// says so) and follows its back-end from then on.
Device* attach(uint32_t handle);
// True once the back-end closed it (a detach: Closing / Closed) and our
// front-end has followed to Closed.
bool closed(const Device* d);
// Forgets a device whose directory went away: rings, grants and event
// channels freed, the watch dropped, its slot free for another device.
// Requests still queued fail (front_error -XEN_ENODEV).
void release(Device* d);

// ---- for the hostile mode: forging requests ----
// Puts `req` (a 112-byte request in any layout; its id is overwritten with
// a free shadow id) on queue `q` as it is and waits for that id's response.
// Returns 0 with its status and operation, or -XEN_ETIMEDOUT / -XEN_ENODEV.
int raw_request(Device* d, unsigned q, const xen::blkif::blkif_request& req, int16_t& status, uint8_t& rsp_op,
                uint64_t timeout_ns);
// Publishes req_prod far beyond the ring (rsp_cons + 16 * size) on queue
// `q` and notifies the back-end.
int break_ring(Device* d, unsigned q);
// Reads the back-end's state now (and handles it, as wait() would).
uint32_t backend_state(Device* d);
// Waits for the back-end to reach a state in `mask` (1 << state), handling
// every change on the way; false on timeout.
bool wait_backend(Device* d, uint32_t mask, uint64_t timeout_ns);

}  // namespace blkfront
