// A qcow2 image (QEMU's format, docs/interop/qcow2.txt): versions 2 and 3,
// backing chains (qcow2 or raw at the bottom), zero and compressed
// clusters, discard, refcounts of 1 to 64 bits. See docs/disks.md "qcow2"
// for what is refused and the write ordering that keeps it crash safe.
//
// Guest data clusters are plain file space handed to the queue (kFile
// runs); compressed clusters are kCopy runs (read_sync inflates them).
// Metadata: L1 in memory, L2 tables and refcount blocks in a bounded LRU
// cache. One mutex guards all of it.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <deque>
#include <map>
#include <vector>

#include "disk/disk_image.h"
#include "disk/qcow2/cluster_cache.h"
#include "disk/qcow2/qcow2_header.h"

namespace pv::disk {

// The deepest backing chain opened (the image itself not counted).
inline constexpr unsigned kMaxBackingDepth = 16;

class Qcow2Image : public DiskImage {
 public:
  // Opens and checks the image and its whole backing chain (backing files
  // read-only). Throws UserError saying what is wrong.
  Qcow2Image(const std::string& path, bool readonly);
  // Writes what is left (as flush() does) and gives back clusters reserved
  // but unused.
  ~Qcow2Image() override;
  Qcow2Image(const Qcow2Image&) = delete;
  Qcow2Image& operator=(const Qcow2Image&) = delete;

  const std::string& path() const override { return path_; }
  std::string_view format() const override { return "qcow2"; }
  uint64_t bytes() const override { return virtual_size_.load(std::memory_order_acquire); }
  bool readonly() const override { return readonly_; }
  const HostFile& file() const override { return file_; }
  bool discard_supported() const override { return !readonly_; }

  int map_read(uint64_t off, uint64_t len, std::vector<ImageRun>& out) override;
  int read_sync(uint64_t off, uint64_t len, const iovec* iov, int iovcnt) override;
  int map_write(uint64_t off, uint64_t len, std::vector<ImageRun>& out) override;
  int discard(uint64_t off, uint64_t len) override;
  int publish_written(const std::vector<std::pair<uint64_t, uint64_t>>& ranges) override;  // qcow2_publish.cpp
  int flush() override;
  int grow(uint64_t new_bytes) override;  // qcow2_resize.cpp
  // The guest clusters (index = offset / cluster_size) this image maps
  // itself: data, zero and compressed clusters, not those left to the
  // backing file; in order, appended to `out`. 0 or -errno
  // (qcow2_allocation.cpp).
  int allocated_clusters(std::vector<uint64_t>& out);

  uint64_t cluster_size() const { return h_.cluster_size; }
  uint32_t version() const { return h_.version; }
  uint32_t refcount_bits() const { return h_.refcount_bits(); }
  // The backing file as opened (resolved path; "" when none) and its format.
  const std::string& backing_path() const { return backing_path_; }
  const std::string& backing_format() const { return backing_format_; }
  uint64_t backing_bytes() const;
  const Qcow2Image* backing_qcow2() const { return backing_qcow2_.get(); }

 private:
  struct Chain;  // the files already open below the top image (loops, depth)
  Qcow2Image(const std::string& path, bool readonly, Chain* chain);  // chain: null for the top image
  void open(Chain& chain);
  void open_backing(Chain& chain);

  // What an L2 entry says about one guest cluster.
  struct Mapping {
    enum class Kind { kUnallocated, kZero, kData, kCompressed } kind = Kind::kUnallocated;
    uint64_t host = 0;        // kData (and kZero when preallocated): cluster offset; kCompressed: byte offset
    uint64_t csize = 0;       // kCompressed: bytes of compressed data (may run past the end of the file)
    bool copied = false;      // kData: refcount is exactly one (writable in place)
  };
  // Every helper below runs with mu_ held. 0 or -errno; -EUCLEAN after
  // logging what is corrupt.
  int corrupt(const std::string& what);
  int read_meta(uint64_t off, uint8_t* buf, size_t len);
  int write_meta(uint64_t off, const uint8_t* buf, size_t len);
  int sync();
  // The L2 table the L1 entry `l1i` points at (null when unallocated).
  int load_l2(uint64_t l1i, qcow2::ClusterCache::EntryPtr& l2);
  int decode_l2(uint64_t entry, Mapping& m);
  int lookup(uint64_t vcluster, Mapping& m);
  // Guest bytes [off, off + len) into buf, whatever their kind (all in one
  // cluster of this image); recurses into the backing file.
  int read_cluster_part(uint64_t off, uint64_t len, uint8_t* buf);
  int read_range(uint64_t off, uint64_t len, uint8_t* buf);
  int read_backing(uint64_t off, uint64_t len, uint8_t* buf);
  int map_backing(uint64_t off, uint64_t len, std::vector<ImageRun>& out);
  int inflate_cluster(const Mapping& m, uint8_t* out);
  bool overlaps_header_metadata(uint64_t host, uint64_t len) const;

  // Writing.
  int l2_for_write(uint64_t l1i, qcow2::ClusterCache::EntryPtr& l2);
  int allocate_cluster(uint64_t& host, bool& fresh);
  int reserve(size_t want);
  int find_used_end();
  // The refcount block counting `cluster` (null when it has none yet).
  int refcount_block(uint64_t cluster, qcow2::ClusterCache::EntryPtr& block, uint64_t& index);
  uint64_t get_refcount(const uint8_t* block, uint64_t index) const;
  void set_refcount(uint8_t* block, uint64_t index, uint64_t value) const;
  int change_refcount(uint64_t cluster, int delta, uint64_t* result);
  int grow_refcount_table(uint64_t need_index);
  void drop_later(const Mapping& m);
  int apply_pending_drops();
  int release_reserved();
  int flush_locked();
  void push_write_run(std::vector<ImageRun>& out, size_t first, uint64_t at, uint64_t n);
  void set_l2_entry(qcow2::ClusterCache::EntryPtr& l2, uint64_t index, uint64_t entry);
  int clear_autoclear();

  std::string path_;
  bool readonly_;
  HostFile file_;
  qcow2::Header h_;
  std::atomic<uint64_t> virtual_size_{0};  // h_.virtual_size, for bytes() without the lock
  unsigned depth_ = 0;

  std::string backing_path_, backing_format_;
  std::unique_ptr<Qcow2Image> backing_qcow2_;
  std::unique_ptr<HostFile> backing_raw_;

  std::mutex mu_;
  std::vector<uint64_t> l1_;  // host order
  uint64_t l1_dirty_lo_ = ~uint64_t(0), l1_dirty_hi_ = 0;  // L1 entries changed since the last flush
  std::vector<uint64_t> refcount_table_;  // host order
  qcow2::ClusterCache l2_cache_;
  qcow2::ClusterCache refblock_cache_;
  uint64_t file_end_ = 0;     // bytes in the file (we grow it)
  uint64_t alloc_end_ = 0;    // clusters at and past it are never used yet
  struct Reserved {
    uint64_t host;
    bool fresh;  // past the old end of the file: reads as zeros
  };
  std::deque<Reserved> reserved_;       // clusters with a durable refcount of 1, not used yet
  std::vector<uint64_t> free_;          // clusters freed this session (refcount 0, holes)
  std::vector<uint64_t> pending_drop_;  // host clusters to unref once the metadata no longer naming them is durable
  bool used_end_known_ = false;         // alloc_end_ checked against the refcounts (block devices)
  uint64_t reserve_batch_ = 0;          // clusters the next reserve() takes
  // Metadata changed for writes not yet in the file (publish_written): the
  // guest clusters whose L2 entries changed, with the L2 table holding each
  // and whether it may reach disk only after a data sync (its cluster holds
  // copied-on-write bytes, or was used before); and the L2 tables made since
  // the file's L1 last named them, by L1 index (safe: a never-used cluster
  // reads as zeros, an empty table, until written).
  struct Unpublished {
    uint64_t table;
    bool needs_sync;
  };
  std::map<uint64_t, Unpublished> unpublished_;
  struct NewTable {
    uint64_t host;
    bool needs_sync;
  };
  std::map<uint64_t, NewTable> new_tables_;
  bool corrupt_found_ = false;
  unsigned corrupt_logged_ = 0;
};

// The qcow2 back-end for open_disk_image(): throws UserError naming the
// path and what is wrong with it.
std::unique_ptr<DiskImage> open_qcow2_image(const std::string& path, bool readonly);

}  // namespace pv::disk
