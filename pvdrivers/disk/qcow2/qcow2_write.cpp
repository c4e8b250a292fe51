// Qcow2Image: writing. map_write (allocation through qcow2_refcounts.cpp,
// copy-on-write from the backing file or a compressed cluster), discard,
// and the flush that writes metadata in crash-safe order:
//
//   1. a cluster gets refcount 1 on stable storage before anything names it
//      (reserve(): refcount blocks written and synced, a new block before
//      the refcount table entry that points at it);
//   2. its data is written by the queue and synced by the caller before it
//      calls flush(), which only then writes the L2 tables naming it, and
//      syncs;
//   3. then the L1 entries naming new L2 tables, and syncs;
//   4. only then are the clusters the old metadata named unreferenced
//      (refcount drops, hole punched, reusable).
//
// A crash at any point leaves the old or the new metadata, never one that
// names a cluster without a refcount or with stale contents; at worst
// clusters stay referenced by nothing (leaks, as `qemu-img check` reports
// them).
#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "disk/qcow2/qcow2_image.h"
#include "disk/qcow2/qcow2_io.h"
#include "pv/log.h"

namespace pv::disk {

using namespace qcow2;

int Qcow2Image::write_meta(uint64_t off, const uint8_t* buf, size_t len) {
  return pwrite_full(file_.buffered_fd(), buf, len, off);
}

int Qcow2Image::sync() { return ::fdatasync(file_.buffered_fd()) == 0 ? 0 : -errno; }

int Qcow2Image::clear_autoclear() {
  const uint8_t zero[8] = {};
  if (int r = write_meta(kHeaderAutoclear, zero, sizeof zero)) return r;
  if (int r = sync()) return r;
  h_.autoclear = 0;
  return 0;
}

// --- mapping for writes ---

void Qcow2Image::set_l2_entry(ClusterCache::EntryPtr& l2, uint64_t index, uint64_t entry) {
  store_be64(&l2->bytes[index * 8], entry);
  l2->dirty = true;
  if (l2_cache_.find(l2->offset) != l2) l2 = l2_cache_.insert(l2->offset, l2->bytes, true);
}

int Qcow2Image::l2_for_write(uint64_t l1i, ClusterCache::EntryPtr& l2) {
  if (int r = load_l2(l1i, l2)) return r;
  if (l2 && (l1_[l1i] & kOflagCopied)) return 0;
  // No table yet, or one shared with a snapshot: a new one (copied).
  uint64_t host = 0;
  bool fresh = false;
  if (int r = allocate_cluster(host, fresh)) return r;
  std::vector<uint8_t> bytes = l2 ? l2->bytes : std::vector<uint8_t>(h_.cluster_size, 0);
  new_tables_[l1i] = {host, !fresh || l2};  // a copied table must be on disk before the L1 names it
  if (l2) pending_drop_.push_back(l1_[l1i] & kOffsetMask);
  l2 = l2_cache_.insert(host, std::move(bytes), true);
  l1_[l1i] = host | kOflagCopied;
  l1_dirty_lo_ = std::min(l1_dirty_lo_, l1i);
  l1_dirty_hi_ = std::max(l1_dirty_hi_, l1i + 1);
  return 0;
}

int Qcow2Image::map_write(uint64_t off, uint64_t len, std::vector<ImageRun>& out) {
  if (readonly_) return -EROFS;
  if (off > bytes() || len > bytes() - off) return -EINVAL;
  std::lock_guard lock(mu_);
  if (corrupt_found_) return -EUCLEAN;
  const size_t first = out.size();
  const uint64_t cs = h_.cluster_size;
  auto fail = [&](int r) {
    out.resize(first);
    return r;
  };
  while (len > 0) {
    const uint64_t vc = off >> h_.cluster_bits, in = off & (cs - 1), n = std::min(len, cs - in);
    const uint64_t index = vc & (h_.l2_entries() - 1);
    ClusterCache::EntryPtr l2;
    if (int r = l2_for_write(vc >> h_.l2_bits(), l2)) return fail(r);
    Mapping m;
    if (int r = decode_l2(load_be64(&l2->bytes[index * 8]), m)) return fail(r);
    uint64_t host = m.host;
    if (m.kind != Mapping::Kind::kData || !m.copied) {
      bool fresh = false;
      if (int r = allocate_cluster(host, fresh)) return fail(r);
      // The rest of the new cluster: what the guest saw there so far.
      const uint64_t cstart = vc << h_.cluster_bits, clen = std::min(cs, bytes() - cstart);
      bool copied_part = false;
      if (in > 0 || in + n < clen) {
        const bool zeros = m.kind == Mapping::Kind::kZero || (m.kind == Mapping::Kind::kUnallocated && backing_bytes() <= cstart);
        if (!(zeros && fresh)) {
          copied_part = true;
          std::vector<uint8_t> buf(clen);
          if (int r = read_cluster_part(cstart, clen, buf.data())) return fail(r);
          if (in > 0)
            if (int r = pwrite_full(file_.buffered_fd(), buf.data(), in, host)) return fail(r);
          if (in + n < clen)
            if (int r = pwrite_full(file_.buffered_fd(), buf.data() + in + n, clen - in - n, host + in + n)) return fail(r);
        }
      }
      set_l2_entry(l2, index, host | kOflagCopied);
      unpublished_[vc] = {l2->offset, !fresh || copied_part};
      drop_later(m);
    }
    push_write_run(out, first, host + in, n);
    off += n;
    len -= n;
  }
  return 0;
}

void Qcow2Image::push_write_run(std::vector<ImageRun>& out, size_t first, uint64_t at, uint64_t n) {
  if (out.size() > first && out.back().file == &file_ && out.back().file_offset + out.back().bytes == at) {
    out.back().bytes += n;
    return;
  }
  out.push_back(ImageRun{ImageRun::Kind::kFile, n, &file_, at});
}

int Qcow2Image::discard(uint64_t off, uint64_t len) {
  if (readonly_) return -EROFS;
  if (off > bytes() || len > bytes() - off) return -EINVAL;
  std::lock_guard lock(mu_);
  if (corrupt_found_) return -EUCLEAN;
  const uint64_t cs = h_.cluster_size;
  // Whole clusters become unallocated, or zero clusters when a backing file
  // would show through (version 3).
  const uint64_t unmapped = h_.version >= 3 && backing_bytes() > 0 ? kOflagZero : 0;
  while (len > 0) {
    const uint64_t vc = off >> h_.cluster_bits, in = off & (cs - 1), n = std::min(len, cs - in);
    const uint64_t cstart = vc << h_.cluster_bits, clen = std::min(cs, bytes() - cstart);
    Mapping m;
    if (int r = lookup(vc, m)) return r;
    if (in == 0 && n == clen) {
      const bool done = (m.kind == Mapping::Kind::kUnallocated && unmapped == 0) ||
                        (m.kind == Mapping::Kind::kZero && m.host == 0 && unmapped == kOflagZero) ||
                        (m.kind == Mapping::Kind::kUnallocated && backing_bytes() <= cstart);
      if (!done) {
        ClusterCache::EntryPtr l2;
        if (int r = l2_for_write(vc >> h_.l2_bits(), l2)) return r;
        set_l2_entry(l2, vc & (h_.l2_entries() - 1), unmapped);
        drop_later(m);
      }
    } else if (m.kind == Mapping::Kind::kData && m.copied) {
      // Part of a cluster of its own: zero that part in place.
      if (::fallocate(file_.buffered_fd(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off_t(m.host + in), off_t(n)) != 0) {
        const std::vector<uint8_t> zeros(n, 0);
        if (int r = pwrite_full(file_.buffered_fd(), zeros.data(), n, m.host + in)) return r;
      }
    }
    off += n;
    len -= n;
  }
  return 0;
}

// --- flush ---

int Qcow2Image::flush_locked() {
  const auto dirty = l2_cache_.dirty();
  for (const auto& e : dirty)
    if (int r = write_meta(e->offset, e->bytes.data(), e->bytes.size())) return r;
  const bool l1_dirty = l1_dirty_lo_ < l1_dirty_hi_;
  if (!dirty.empty() || l1_dirty)
    if (int r = sync()) return r;  // L2 tables durable before the L1 names them
  for (const auto& e : dirty) e->dirty = false;
  l2_cache_.evict();
  if (l1_dirty) {
    // The 512-byte sectors of the L1 table holding changed entries.
    const uint64_t lo = l1_dirty_lo_ * 8 / 512 * 512, hi = std::min<uint64_t>((l1_dirty_hi_ * 8 + 511) / 512 * 512, l1_.size() * 8);
    std::vector<uint8_t> raw(hi - lo);
    for (uint64_t b = lo; b < hi; b += 8) store_be64(&raw[b - lo], l1_[b / 8]);
    if (int r = write_meta(h_.l1_offset + lo, raw.data(), raw.size())) return r;
    if (int r = sync()) return r;
    l1_dirty_lo_ = ~uint64_t(0);
    l1_dirty_hi_ = 0;
  }
  unpublished_.clear();  // all of it durable now
  new_tables_.clear();
  return apply_pending_drops();
}

int Qcow2Image::flush() {
  if (readonly_) return 0;
  std::lock_guard lock(mu_);
  return flush_locked();
}

Qcow2Image::~Qcow2Image() {
  if (readonly_) return;
  std::lock_guard lock(mu_);
  try {
    // The queues are gone: every write they made is in the file; sync it
    // before the metadata that names it.
    if (l1_dirty_lo_ < l1_dirty_hi_ || !l2_cache_.dirty().empty() || !pending_drop_.empty()) {
      if (sync() != 0 || flush_locked() != 0) log::error(path_ + ": could not write the image's metadata on close");
    }
    if (release_reserved() != 0) log::warning(path_ + ": could not give back reserved clusters (they stay leaked)");
  } catch (const std::exception& e) {
    log::error(path_ + ": closing the image: " + e.what());
  }
}

}  // namespace pv::disk
