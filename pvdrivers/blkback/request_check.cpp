#include "blkback/request_check.h"

namespace pv::blkback {
namespace B = xen::blkif;

const char* fault_name(Fault f) {
  switch (f) {
    case Fault::kNone: return "none";
    case Fault::kUnsupportedOp: return "unsupported_op";
    case Fault::kBadNrSegments: return "bad_nr_segments";
    case Fault::kBadSegment: return "bad_segment";
    case Fault::kBadRange: return "bad_range";
    case Fault::kReadOnly: return "read_only";
    case Fault::kBadIndirect: return "bad_indirect";
    case Fault::kBadGrant: return "bad_grant";
    case Fault::kIoError: return "io_error";
    case Fault::kCount: break;
  }
  return "?";
}

int16_t status_for(Fault f) {
  if (f == Fault::kNone) return B::BLKIF_RSP_OKAY;
  return f == Fault::kUnsupportedOp ? B::BLKIF_RSP_EOPNOTSUPP : B::BLKIF_RSP_ERROR;
}

bool range_ok(uint64_t sector, uint64_t count, uint64_t disk_sectors) {
  return sector <= disk_sectors && count <= disk_sectors - sector;
}

Fault check_header(const BlkRequest& r, const Limits& l) {
  if (r.indirect && r.op != B::BLKIF_OP_READ && r.op != B::BLKIF_OP_WRITE) return Fault::kBadIndirect;
  switch (r.op) {
    case B::BLKIF_OP_READ:
    case B::BLKIF_OP_WRITE:
      if (r.indirect) {
        if (r.nr_segments == 0 || r.nr_segments > l.max_indirect_segments ||
            r.indirect_pages() > B::BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST)
          return Fault::kBadNrSegments;
      } else if (r.nr_segments == 0 || r.nr_segments > B::BLKIF_MAX_SEGMENTS_PER_REQUEST) {
        return Fault::kBadNrSegments;
      }
      if (r.op == B::BLKIF_OP_WRITE && l.readonly) return Fault::kReadOnly;
      return Fault::kNone;
    case B::BLKIF_OP_FLUSH_DISKCACHE:
      // Linux blkback accepts data with a flush (a write with a preflush).
      if (r.nr_segments > B::BLKIF_MAX_SEGMENTS_PER_REQUEST) return Fault::kBadNrSegments;
      if (r.nr_segments && l.readonly) return Fault::kReadOnly;
      return Fault::kNone;
    case B::BLKIF_OP_DISCARD:
      if (!l.discard || l.readonly) return Fault::kUnsupportedOp;
      if ((r.discard_flag & B::BLKIF_DISCARD_SECURE) && !l.discard_secure) return Fault::kUnsupportedOp;
      if (!range_ok(r.sector, r.nr_sectors, l.disk_sectors)) return Fault::kBadRange;
      return Fault::kNone;
    default:
      return Fault::kUnsupportedOp;  // barrier, reserved, unknown
  }
}

Fault check_segments(const BlkRequest& r, const B::blkif_request_segment* segs, const Limits& l, uint64_t* sectors) {
  uint64_t total = 0;
  for (uint32_t i = 0; i < r.nr_segments; i++) {
    const auto& s = segs[i];
    if (s.first_sect > s.last_sect || s.last_sect >= B::kSectorsPerPage) return Fault::kBadSegment;
    total += uint64_t(s.last_sect) - s.first_sect + 1;
  }
  if (!range_ok(r.sector, total, l.disk_sectors)) return Fault::kBadRange;
  if (sectors) *sectors = total;
  return Fault::kNone;
}

}  // namespace pv::blkback
