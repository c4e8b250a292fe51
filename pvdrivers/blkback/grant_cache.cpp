#include "blkback/grant_cache.h"

namespace pv::blkback {
namespace G = xen::gnttab;

GrantCache::GrantCache(GrantAccess& access, bool persistent, uint32_t capacity, std::atomic<uint64_t>* gauge)
    : access_(access), persistent_(persistent), capacity_(capacity), gauge_(gauge) {}

GrantCache::~GrantCache() {
  if (gauge_) gauge_->fetch_sub(cache_.size(), std::memory_order_relaxed);
  cache_.clear();  // releases every use
}

MappedGrant GrantCache::map_temp(xen::grant_ref_t ref, bool write, int16_t* status) {
  return map_granted_page(access_, ref, write, status);
}

uint8_t* GrantCache::map(xen::grant_ref_t ref, bool write, MappedGrant& temp, int16_t* status) {
  if (persistent_) {
    auto it = cache_.find(ref);
    if (it != cache_.end()) {
      if (status) *status = G::st::okay;
      return it->second.data();
    }
    if (cache_.size() < capacity_) {
      // Persistent grants are mapped read-write (Linux blkback does the
      // same); a front-end that granted this page read-only still gets
      // its WRITE served through a temporary read-only use below.
      int16_t st = 0;
      MappedGrant g = map_temp(ref, true, &st);
      if (g) {
        uint8_t* p = g.data();
        cache_.emplace(ref, std::move(g));
        if (gauge_) gauge_->fetch_add(1, std::memory_order_relaxed);
        if (status) *status = st;
        return p;
      }
      if (st != G::st::permission_denied || write) {
        if (status) *status = st;
        return nullptr;
      }
    }
  }
  temp = map_temp(ref, write, status);
  return temp ? temp.data() : nullptr;
}

}  // namespace pv::blkback
