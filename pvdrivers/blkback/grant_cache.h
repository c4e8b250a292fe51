// blkback: the grants one queue uses for a request's data pages.
//
// With feature-persistent negotiated, the front-end reuses a fixed set of
// granted pages, so the back-end keeps them mapped (read-write, as Linux
// blkback does) across requests instead of acquiring and releasing each
// grant every time: up to `capacity` per queue (Linux: 1056); beyond that,
// and without persistence, grants are mapped per request with exactly the
// access the request needs (a READ writes guest memory: writable grant; a
// WRITE only reads it). Everything is released when the queue goes.
#pragma once
#include <atomic>
#include <cstdint>
#include <unordered_map>

#include <xen/grant_table.h>

#include "common/domain_link.h"
#include "pv/grant_access.h"

namespace pv::blkback {

class GrantCache {
 public:
  // `gauge`: a counter of persistent grants held (device-wide), or null.
  GrantCache(GrantAccess& access, bool persistent, uint32_t capacity, std::atomic<uint64_t>* gauge);
  ~GrantCache();
  GrantCache(const GrantCache&) = delete;
  GrantCache& operator=(const GrantCache&) = delete;

  // The host address of the page granted by `ref`, usable for reading
  // (and writing when `write`). A temporary use is put in `temp` (kept by
  // the caller until the I/O is over); a persistent one stays here.
  // nullptr with the GNTST_* reason in *status when it cannot be mapped.
  uint8_t* map(xen::grant_ref_t ref, bool write, MappedGrant& temp, int16_t* status);
  // One-off read-only use (indirect descriptor pages).
  MappedGrant map_temp(xen::grant_ref_t ref, bool write, int16_t* status);

 private:
  GrantAccess& access_;
  bool persistent_;
  uint32_t capacity_;
  std::atomic<uint64_t>* gauge_;
  std::unordered_map<xen::grant_ref_t, MappedGrant> cache_;
};

}  // namespace pv::blkback
