// Qcow2Image: cluster allocation and refcounts. Clusters are reserved in
// batches whose refcounts are on stable storage before any is used (a new
// refcount block before the table entry naming it, a grown table before the
// header names it); clusters metadata stopped naming are unreferenced only
// once that change is durable (the flush in qcow2_write.cpp calls
// apply_pending_drops() last). See docs/disks.md "qcow2".
#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <algorithm>

#include "disk/qcow2/qcow2_image.h"
#include "disk/qcow2/qcow2_io.h"
#include "pv/log.h"

namespace pv::disk {

using namespace qcow2;

uint64_t Qcow2Image::get_refcount(const uint8_t* block, uint64_t index) const {
  const unsigned bits = h_.refcount_bits();
  if (bits >= 8) {
    uint64_t v = 0;
    const uint8_t* p = block + index * (bits / 8);
    for (unsigned i = 0; i < bits / 8; i++) v = v << 8 | p[i];
    return v;
  }
  return (block[index * bits / 8] >> (index * bits % 8)) & ((1u << bits) - 1);
}

void Qcow2Image::set_refcount(uint8_t* block, uint64_t index, uint64_t value) const {
  const unsigned bits = h_.refcount_bits();
  if (bits >= 8) {
    uint8_t* p = block + index * (bits / 8);
    for (int i = int(bits / 8) - 1; i >= 0; i--, value >>= 8) p[i] = uint8_t(value);
    return;
  }
  const unsigned shift = index * bits % 8, mask = ((1u << bits) - 1) << shift;
  uint8_t& b = block[index * bits / 8];
  b = uint8_t((b & ~mask) | ((value << shift) & mask));
}

int Qcow2Image::refcount_block(uint64_t cluster, ClusterCache::EntryPtr& block, uint64_t& index) {
  block = nullptr;
  const uint64_t ci = cluster >> h_.cluster_bits, rbe = h_.refblock_entries();
  const uint64_t ti = ci / rbe;
  index = ci % rbe;
  if (ti >= refcount_table_.size()) return 0;
  const uint64_t e = refcount_table_[ti];
  const uint64_t off = e & ~kRefTableReserved, cs = h_.cluster_size;
  if (e & kRefTableReserved) return corrupt("refcount table entry " + std::to_string(ti) + " has reserved bits set");
  if (off == 0) return 0;
  if ((off & (cs - 1)) != 0 || off >= alloc_end_ || overlaps_header_metadata(off, cs))
    return corrupt("refcount table entry " + std::to_string(ti) + " points at " + to_hex(off) + ": outside the file, unaligned, or on the header, L1 or refcount table");
  block = refblock_cache_.find(off);
  if (block) return 0;
  std::vector<uint8_t> bytes(cs);
  if (int r = read_meta(off, bytes.data(), cs)) return r;
  block = refblock_cache_.insert(off, std::move(bytes));
  return 0;
}

int Qcow2Image::change_refcount(uint64_t cluster, int delta, uint64_t* result) {
  ClusterCache::EntryPtr block;
  uint64_t index = 0;
  if (int r = refcount_block(cluster, block, index)) return r;
  const uint64_t v = block ? get_refcount(block->bytes.data(), index) : 0;
  const uint64_t max = h_.refcount_bits() == 64 ? ~uint64_t(0) : (uint64_t(1) << h_.refcount_bits()) - 1;
  if (delta < 0 && v == 0) return corrupt("refcount of cluster " + to_hex(cluster) + " would drop below zero");
  if (delta > 0 && (!block || v == max)) return corrupt("refcount of cluster " + to_hex(cluster) + " would overflow");
  set_refcount(block->bytes.data(), index, v + uint64_t(int64_t(delta)));
  block->dirty = true;
  if (result) *result = v + uint64_t(int64_t(delta));
  return 0;
}

static int write_dirty(ClusterCache& cache, int fd) {
  for (auto& e : cache.dirty()) {
    if (int r = pwrite_full(fd, e->bytes.data(), e->bytes.size(), e->offset)) return r;
    e->dirty = false;
  }
  cache.evict();
  return 0;
}

int Qcow2Image::grow_refcount_table(uint64_t need_ti) {
  const uint64_t cs = h_.cluster_size, rbe = h_.refblock_entries(), old_n = refcount_table_.size();
  const uint64_t start = alloc_end_, start_ci = start >> h_.cluster_bits;
  if (start_ci < old_n * rbe) return corrupt("the refcount table does not cover the end of the file");
  // New refcount blocks at `start`, the new table after them, each block
  // counting the clusters of both that fall in its range.
  uint64_t blocks = 0, table = 0;
  for (;;) {
    const uint64_t end_ci = start_ci + blocks + table;
    const uint64_t need_n = std::max(need_ti + 1, (end_ci + rbe - 1) / rbe);
    const uint64_t new_n = std::max(need_n, old_n * 2);
    const uint64_t t2 = (new_n * 8 + cs - 1) / cs, b2 = need_n - old_n;
    if (t2 == table && b2 == blocks) break;
    table = t2;
    blocks = b2;
  }
  if (table * cs > kMaxRefcountTableBytes) {
    log::error(path_ + ": the refcount table would grow past 8 MiB");
    return -ENOSPC;
  }
  const uint64_t table_off = start + blocks * cs, end_ci = start_ci + blocks + table;
  std::vector<uint64_t> new_table(refcount_table_);
  new_table.resize(table * cs / 8, 0);
  for (uint64_t j = 0; j < blocks; j++) {
    const uint64_t bi = old_n + j, off = start + j * cs;
    std::vector<uint8_t> bytes(cs, 0);
    for (uint64_t ci = std::max(start_ci, bi * rbe); ci < std::min(end_ci, (bi + 1) * rbe); ci++) set_refcount(bytes.data(), ci - bi * rbe, 1);
    if (int r = write_meta(off, bytes.data(), cs)) return r;
    refblock_cache_.insert(off, std::move(bytes));
    new_table[bi] = off;
  }
  std::vector<uint8_t> raw(table * cs, 0);
  for (size_t i = 0; i < new_table.size(); i++) store_be64(&raw[i * 8], new_table[i]);
  if (int r = write_meta(table_off, raw.data(), raw.size())) return r;
  alloc_end_ = end_ci << h_.cluster_bits;
  file_end_ = std::max(file_end_, alloc_end_);
  if (int r = sync()) return r;
  uint8_t hdr[12];
  store_be64(hdr, table_off);
  store_be32(hdr + 8, uint32_t(table));
  if (int r = write_meta(kHeaderRefcountTableOffset, hdr, sizeof hdr)) return r;
  if (int r = sync()) return r;
  // The header names the new table: the old one is free.
  const uint64_t old_off = h_.refcount_table_offset, old_clusters = h_.refcount_table_clusters;
  h_.refcount_table_offset = table_off;
  h_.refcount_table_clusters = uint32_t(table);
  refcount_table_ = std::move(new_table);
  for (uint64_t i = 0; i < old_clusters; i++) {
    uint64_t v = 0;
    if (int r = change_refcount(old_off + i * cs, -1, &v)) return r;
    if (v == 0) free_.push_back(old_off + i * cs);
  }
  return 0;  // the refcount blocks are written by reserve(), our caller
}

int Qcow2Image::find_used_end() {
  // On a block device the end of the device is not the end of the image:
  // the last cluster with a refcount is.
  const uint64_t rbe = h_.refblock_entries();
  uint64_t end = 0;
  for (uint64_t ti = refcount_table_.size(); ti-- > 0 && end == 0;) {
    if ((refcount_table_[ti] & ~kRefTableReserved) == 0) continue;
    qcow2::ClusterCache::EntryPtr block;
    uint64_t index = 0;
    if (int r = refcount_block((ti * rbe) << h_.cluster_bits, block, index)) return r;
    for (uint64_t i = rbe; i-- > 0;)
      if (get_refcount(block->bytes.data(), i) != 0) {
        end = (ti * rbe + i + 1) << h_.cluster_bits;
        break;
      }
  }
  alloc_end_ = std::max(end, h_.cluster_size);
  used_end_known_ = true;
  return 0;
}

int Qcow2Image::reserve(size_t want) {
  const uint64_t cs = h_.cluster_size, rbe = h_.refblock_entries();
  if (!used_end_known_)
    if (int r = find_used_end()) return r;
  // 1 MiB worth at first, doubling up to 32 MiB while the guest keeps
  // allocating: fewer syncs for a big write, a bounded leak on a crash.
  const uint64_t first_batch = std::max<uint64_t>(4, (1u << 20) / cs), max_batch = std::max<uint64_t>(4, (32u << 20) / cs);
  if (reserve_batch_ == 0) reserve_batch_ = first_batch;
  const size_t batch = std::max<size_t>(want, reserve_batch_);
  reserve_batch_ = std::min(reserve_batch_ * 2, max_batch);
  std::vector<Reserved> taken;
  std::vector<uint64_t> new_entries;  // refcount table indices given a new block
  while (taken.size() < batch && !free_.empty()) {
    const uint64_t c = free_.back();
    free_.pop_back();
    ClusterCache::EntryPtr block;
    uint64_t index = 0;
    if (int r = refcount_block(c, block, index)) return r;
    if (!block) return corrupt("freed cluster " + to_hex(c) + " has no refcount block");
    if (get_refcount(block->bytes.data(), index) != 0) continue;
    set_refcount(block->bytes.data(), index, 1);
    block->dirty = true;
    taken.push_back({c, false});
  }
  while (taken.size() < batch) {
    const uint64_t c = alloc_end_, ci = c >> h_.cluster_bits, ti = ci / rbe;
    if (file_.block_device() && c + cs > file_.bytes()) {  // a block device does not grow
      if (!taken.empty()) break;
      log::error(path_ + ": no free cluster left on the block device");
      return -ENOSPC;
    }
    if (ti >= refcount_table_.size()) {
      if (int r = grow_refcount_table(ti)) return r;
      continue;
    }
    if ((refcount_table_[ti] & ~kRefTableReserved) == 0) {
      // A new refcount block, in the first free cluster of its own range.
      std::vector<uint8_t> bytes(cs, 0);
      set_refcount(bytes.data(), ci % rbe, 1);
      if (int r = write_meta(c, bytes.data(), cs)) return r;
      refblock_cache_.insert(c, std::move(bytes));
      refcount_table_[ti] = c;
      new_entries.push_back(ti);
      alloc_end_ += cs;
      file_end_ = std::max(file_end_, alloc_end_);
      continue;
    }
    ClusterCache::EntryPtr block;
    uint64_t index = 0;
    if (int r = refcount_block(c, block, index)) return r;
    alloc_end_ += cs;
    if (get_refcount(block->bytes.data(), index) != 0) continue;  // leaked by an earlier crash: skip it
    set_refcount(block->bytes.data(), index, 1);
    block->dirty = true;
    taken.push_back({c, !file_.block_device()});  // a device's unused space holds old data
  }
  if (alloc_end_ > file_end_ && !file_.block_device()) {
    if (::ftruncate(file_.buffered_fd(), off_t(alloc_end_)) != 0) return -errno;
    file_end_ = alloc_end_;
  }
  if (int r = write_dirty(refblock_cache_, file_.buffered_fd())) return r;
  if (!new_entries.empty()) {
    if (int r = sync()) return r;  // the new blocks before the table names them
    for (uint64_t ti : new_entries) {
      uint8_t e[8];
      store_be64(e, refcount_table_[ti]);
      if (int r = write_meta(h_.refcount_table_offset + ti * 8, e, 8)) return r;
    }
  }
  if (int r = sync()) return r;
  for (const auto& t : taken) reserved_.push_back(t);
  return 0;
}

int Qcow2Image::allocate_cluster(uint64_t& host, bool& fresh) {
  if (reserved_.empty())
    if (int r = reserve(1)) return r;
  host = reserved_.front().host;
  fresh = reserved_.front().fresh;
  reserved_.pop_front();
  return 0;
}

void Qcow2Image::drop_later(const Mapping& m) {
  const uint64_t cs = h_.cluster_size;
  if (m.kind == Mapping::Kind::kCompressed) {
    for (uint64_t c = m.host & ~(cs - 1); c <= ((m.host + m.csize - 1) & ~(cs - 1)); c += cs) pending_drop_.push_back(c);
  } else if (m.host != 0) {
    pending_drop_.push_back(m.host);
  }
}

int Qcow2Image::apply_pending_drops() {
  const uint64_t cs = h_.cluster_size;
  int err = 0;
  for (uint64_t c : pending_drop_) {
    uint64_t v = 0;
    if (int r = change_refcount(c, -1, &v)) {
      err = r;  // logged; the cluster stays referenced (a leak, not damage)
      continue;
    }
    if (v != 0) continue;
    // Its contents are nobody's now: give the space back to the host.
    (void)::fallocate(file_.buffered_fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off_t(c), off_t(cs));
    free_.push_back(c);
  }
  pending_drop_.clear();
  if (int r = write_dirty(refblock_cache_, file_.buffered_fd())) return r;
  return err == -EUCLEAN ? 0 : err;
}

int Qcow2Image::release_reserved() {
  const uint64_t cs = h_.cluster_size;
  for (const auto& r : reserved_) {
    uint64_t v = 0;
    if (change_refcount(r.host, -1, &v) == 0 && v == 0) free_.push_back(r.host);
  }
  reserved_.clear();
  if (int r = write_dirty(refblock_cache_, file_.buffered_fd())) return r;
  // Free clusters at the end of the file: shorten it.
  std::sort(free_.begin(), free_.end());
  const uint64_t before = alloc_end_;
  while (!free_.empty() && free_.back() + cs == alloc_end_) {
    alloc_end_ -= cs;
    free_.pop_back();
  }
  if (alloc_end_ < before && !file_.block_device() && ::ftruncate(file_.buffered_fd(), off_t(alloc_end_)) == 0) file_end_ = alloc_end_;
  return sync();
}

}  // namespace pv::disk
