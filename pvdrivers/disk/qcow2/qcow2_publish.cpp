// Qcow2Image::publish_written: the metadata of completed writes goes to the
// image file before the guest hears of them, so a pv-backd killed at any
// point (SIGKILL, a crash) loses no write it acknowledged: the file's page
// cache is the kernel's and outlives us. It is not synced here: the guest's
// flush makes it durable (flush_locked), as before. What may reach the disk
// early, before a flush, must still leave a consistent image after a host
// crash (the ordering rules in qcow2_write.cpp):
//  - an L2 entry naming a cluster that was never used, whose untouched part
//    is zeros anyway, may go at once: until its data lands the cluster reads
//    as zeros, i.e. as an unflushed write that was lost;
//  - one naming a cluster that holds copied-on-write bytes (the backing
//    file's, an old cluster's) or was used before goes only after a sync of
//    the data, so that it never names stale contents;
//  - a new L2 table is written whole before the L1 entry naming it; a
//    table copied from an older one is synced first (on a never-used
//    cluster an empty table reads as zeros, i.e. as the empty table it is).
// Refcounts are durable before any cluster is used (reserve()), and old
// clusters are unreferenced only after a flush: a kill leaves leaks at most.
#include <set>

#include "disk/qcow2/qcow2_image.h"
#include "disk/qcow2/qcow2_io.h"

namespace pv::disk {

using namespace qcow2;

int Qcow2Image::publish_written(const std::vector<std::pair<uint64_t, uint64_t>>& ranges) {
  if (readonly_) return 0;
  std::lock_guard lock(mu_);
  if (unpublished_.empty()) return 0;
  std::vector<uint64_t> clusters;  // guest clusters these writes allocated
  for (const auto& [off, len] : ranges) {
    if (len == 0) continue;
    auto it = unpublished_.lower_bound(off >> h_.cluster_bits);
    const uint64_t last = (off + len - 1) >> h_.cluster_bits;
    for (; it != unpublished_.end() && it->first <= last; ++it) clusters.push_back(it->first);
  }
  if (clusters.empty()) return 0;

  bool needs_sync = false;
  std::set<uint64_t> tables;  // L1 indices of new tables to write whole
  for (uint64_t vc : clusters) {
    needs_sync = needs_sync || unpublished_[vc].needs_sync;
    if (const auto t = new_tables_.find(vc >> h_.l2_bits()); t != new_tables_.end()) tables.insert(t->first);
  }
  // A table written whole carries every entry in it: each must be safe to
  // go with it.
  for (const auto& [vc, u] : unpublished_)
    if (tables.contains(vc >> h_.l2_bits())) needs_sync = needs_sync || u.needs_sync;
  bool tables_need_sync = false;
  for (uint64_t l1i : tables) tables_need_sync = tables_need_sync || new_tables_[l1i].needs_sync;
  if (needs_sync || tables_need_sync)
    if (int r = sync()) return r;

  for (uint64_t l1i : tables) {
    const auto e = l2_cache_.find(new_tables_[l1i].host);
    if (!e) return corrupt("new L2 table " + to_hex(new_tables_[l1i].host) + " is not in the cache");
    if (int r = write_meta(e->offset, e->bytes.data(), e->bytes.size())) return r;
  }
  for (uint64_t vc : clusters) {
    if (tables.contains(vc >> h_.l2_bits())) continue;
    const uint64_t table = unpublished_[vc].table, index = vc & (h_.l2_entries() - 1);
    const auto e = l2_cache_.find(table);
    if (!e) return corrupt("L2 table " + to_hex(table) + " with unwritten entries is not in the cache");
    if (int r = write_meta(table + index * 8, &e->bytes[index * 8], 8)) return r;
  }
  if (!tables.empty()) {
    if (tables_need_sync)
      if (int r = sync()) return r;  // the copied tables before the L1 names them
    for (uint64_t l1i : tables) {
      uint8_t entry[8];
      store_be64(entry, l1_[l1i]);
      if (int r = write_meta(h_.l1_offset + l1i * 8, entry, sizeof entry)) return r;
    }
  }
  for (uint64_t vc : clusters) unpublished_.erase(vc);
  for (auto it = unpublished_.begin(); it != unpublished_.end();)
    it = tables.contains(it->first >> h_.l2_bits()) ? unpublished_.erase(it) : std::next(it);
  for (uint64_t l1i : tables) new_tables_.erase(l1i);
  return 0;
}

}  // namespace pv::disk
