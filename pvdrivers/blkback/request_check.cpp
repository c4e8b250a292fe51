#include "blkback/request_check.h"

namespace pv::blkback {
namespace B = xen::blkif;

const char* fault_name(Fault f) {
  switch (f) {
    case Fault::none: return "none";
    case Fault::unsupported_op: return "unsupported_op";
    case Fault::bad_nr_segments: return "bad_nr_segments";
    case Fault::bad_segment: return "bad_segment";
    case Fault::bad_range: return "bad_range";
    case Fault::read_only: return "read_only";
    case Fault::bad_indirect: return "bad_indirect";
    case Fault::bad_grant: return "bad_grant";
    case Fault::io_error: return "io_error";
    case Fault::kCount: break;
  }
  return "?";
}

int16_t status_for(Fault f) {
  if (f == Fault::none) return B::BLKIF_RSP_OKAY;
  return f == Fault::unsupported_op ? B::BLKIF_RSP_EOPNOTSUPP : B::BLKIF_RSP_ERROR;
}

bool range_ok(uint64_t sector, uint64_t count, uint64_t disk_sectors) {
  return sector <= disk_sectors && count <= disk_sectors - sector;
}

Fault check_header(const BlkRequest& r, const Limits& l) {
  if (r.indirect && r.op != B::BLKIF_OP_READ && r.op != B::BLKIF_OP_WRITE) return Fault::bad_indirect;
  switch (r.op) {
    case B::BLKIF_OP_READ:
    case B::BLKIF_OP_WRITE:
      if (r.indirect) {
        if (r.nr_segments == 0 || r.nr_segments > l.max_indirect_segments ||
            r.indirect_pages() > B::BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST)
          return Fault::bad_nr_segments;
      } else if (r.nr_segments == 0 || r.nr_segments > B::BLKIF_MAX_SEGMENTS_PER_REQUEST) {
        return Fault::bad_nr_segments;
      }
      if (r.op == B::BLKIF_OP_WRITE && l.readonly) return Fault::read_only;
      return Fault::none;
    case B::BLKIF_OP_FLUSH_DISKCACHE:
      // Linux blkback accepts data with a flush (a write with a preflush).
      if (r.nr_segments > B::BLKIF_MAX_SEGMENTS_PER_REQUEST) return Fault::bad_nr_segments;
      if (r.nr_segments && l.readonly) return Fault::read_only;
      return Fault::none;
    case B::BLKIF_OP_DISCARD:
      if (!l.discard || l.readonly) return Fault::unsupported_op;
      if ((r.discard_flag & B::BLKIF_DISCARD_SECURE) && !l.discard_secure) return Fault::unsupported_op;
      if (!range_ok(r.sector, r.nr_sectors, l.disk_sectors)) return Fault::bad_range;
      return Fault::none;
    default:
      return Fault::unsupported_op;  // barrier, reserved, unknown
  }
}

Fault check_segments(const BlkRequest& r, const B::blkif_request_segment* segs, const Limits& l, uint64_t* sectors) {
  uint64_t total = 0;
  for (uint32_t i = 0; i < r.nr_segments; i++) {
    const auto& s = segs[i];
    if (s.first_sect > s.last_sect || s.last_sect >= B::kSectorsPerPage) return Fault::bad_segment;
    total += uint64_t(s.last_sect) - s.first_sect + 1;
  }
  if (!range_ok(r.sector, total, l.disk_sectors)) return Fault::bad_range;
  if (sectors) *sectors = total;
  return Fault::none;
}

}  // namespace pv::blkback
