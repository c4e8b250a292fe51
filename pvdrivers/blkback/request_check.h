// blkback: one blkif request as pv-backd sees it after copying it off the
// ring (either ABI layout, see blk_ring.h), and the pure checks every
// request passes before any I/O: nothing here touches guest memory.
//
// Two steps, because indirect requests keep their segment descriptors in
// guest pages that are only worth fetching once the header is sane:
//   check_header()   operation, segment count, read-only, discard range
//   check_segments() each segment's sectors, the request's disk range
// A Fault names what was wrong (counted per device); status_for() gives
// the response status: BLKIF_RSP_EOPNOTSUPP for operations this back-end
// does not offer, BLKIF_RSP_ERROR for everything else.
#pragma once
#include <cstdint>

#include <xen/io/blkif.h>

namespace pv::blkback {

// Segments per indirect request this back-end offers
// (feature-max-indirect-segments): 256, as Linux blkback's default.
inline constexpr uint32_t kMaxIndirectSegments = 256;
inline constexpr uint32_t kMaxSegments = kMaxIndirectSegments;  // any request
static_assert(kMaxIndirectSegments <= xen::blkif::BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST *
                                          xen::blkif::kSegsPerIndirectFrame);

// A request copied off the ring, in one layout whatever the ABI.
struct BlkRequest {
  uint8_t operation = 0;  // as on the ring (echoed in the response)
  uint8_t op = 0;         // what to do: `operation`, or indirect_op for INDIRECT
  bool indirect = false;
  uint16_t handle = 0;
  uint64_t id = 0;
  uint64_t sector = 0;
  uint32_t nr_segments = 0;  // claimed: uint8 direct, uint16 indirect
  // direct requests: the inline segments (first min(nr_segments, 11) valid)
  xen::blkif::blkif_request_segment seg[xen::blkif::BLKIF_MAX_SEGMENTS_PER_REQUEST] = {};
  // indirect requests: the pages holding the segment descriptors
  xen::grant_ref_t indirect_grefs[xen::blkif::BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST] = {};
  // discard
  uint8_t discard_flag = 0;
  uint64_t nr_sectors = 0;

  // Indirect pages that hold nr_segments descriptors.
  uint32_t indirect_pages() const {
    return (nr_segments + xen::blkif::kSegsPerIndirectFrame - 1) / xen::blkif::kSegsPerIndirectFrame;
  }
};

// What the disk and the negotiation allow.
struct Limits {
  uint64_t disk_sectors = 0;  // 512-byte units
  bool readonly = false;
  bool discard = false;         // feature-discard offered
  bool discard_secure = false;  // discard-secure offered
  uint32_t max_indirect_segments = kMaxIndirectSegments;
};

enum class Fault : uint8_t {
  kNone,
  kUnsupportedOp,  // unknown operation, barrier, discard not offered, secure discard
  kBadNrSegments,  // 0 or too many for the operation
  kBadSegment,     // first_sect > last_sect or last_sect > 7
  kBadRange,       // sectors beyond the disk (or overflowing)
  kReadOnly,       // a write to a read-only disk
  kBadIndirect,    // indirect_op not READ/WRITE
  kBadGrant,       // a grant the guest did not give us (set by the queue)
  kIoError,        // the backing store failed (set by the queue)
  kCount
};
// The fault's name as the statistics key err_<name> and the log show it
// ("unsupported_op", "bad_grant", ...).
const char* fault_name(Fault f);
int16_t status_for(Fault f);

Fault check_header(const BlkRequest& r, const Limits& l);
// `segs`: r.nr_segments descriptors (inline or copied from indirect pages).
// On success `*sectors` is the request's length in 512-byte units.
Fault check_segments(const BlkRequest& r, const xen::blkif::blkif_request_segment* segs, const Limits& l,
                     uint64_t* sectors);
// Sectors [sector, sector + count) lie on a disk of `disk_sectors`.
bool range_ok(uint64_t sector, uint64_t count, uint64_t disk_sectors);

}  // namespace pv::blkback
