// A bounded LRU cache of metadata clusters (L2 tables, refcount blocks)
// by their offset in the image file, each kept as its on-disk bytes.
// A dirty cluster (changed in memory, not written yet) is never evicted:
// it may only reach the disk in the image's flush, after the data it
// points at; so the cache may hold more than its bound, all of it dirty,
// until then.
// Not thread safe: the image's mutex guards it.
#pragma once
#include <cstdint>
#include <list>
#include <memory>
#include <unordered_map>
#include <vector>

namespace pv::disk::qcow2 {

class ClusterCache {
 public:
  struct Entry {
    uint64_t offset = 0;
    std::vector<uint8_t> bytes;
    bool dirty = false;
  };
  using EntryPtr = std::shared_ptr<Entry>;

  explicit ClusterCache(size_t max_entries) : max_clean_(max_entries < 2 ? 2 : max_entries) {}

  void set_max_clean(size_t n) { max_clean_ = n < 2 ? 2 : n; }
  // The cached cluster at `offset` (made most recent), or null.
  EntryPtr find(uint64_t offset) {
    auto it = index_.find(offset);
    if (it == index_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return *it->second;
  }
  // Adds a cluster (clean unless marked later), evicting the least recently
  // used clean ones beyond the bound.
  EntryPtr insert(uint64_t offset, std::vector<uint8_t> bytes, bool dirty = false) {
    auto e = std::make_shared<Entry>();
    e->offset = offset;
    e->bytes = std::move(bytes);
    e->dirty = dirty;
    erase(offset);
    lru_.push_front(e);
    index_[offset] = lru_.begin();
    evict();
    return e;
  }
  void erase(uint64_t offset) {
    auto it = index_.find(offset);
    if (it == index_.end()) return;
    lru_.erase(it->second);
    index_.erase(it);
  }
  // Every dirty entry (for flush).
  std::vector<EntryPtr> dirty() const {
    std::vector<EntryPtr> out;
    for (const auto& e : lru_)
      if (e->dirty) out.push_back(e);
    return out;
  }
  // Drops least recently used clean entries while there are more than the
  // bound (dirty ones count towards it but stay).
  void evict() {
    for (auto it = lru_.end(); lru_.size() > max_clean_ && it != lru_.begin();) {
      --it;
      if ((*it)->dirty) continue;
      index_.erase((*it)->offset);
      it = lru_.erase(it);
    }
  }
  size_t size() const { return lru_.size(); }

 private:
  size_t max_clean_;
  std::list<EntryPtr> lru_;  // most recent first
  std::unordered_map<uint64_t, std::list<EntryPtr>::iterator> index_;
};

}  // namespace pv::disk::qcow2
