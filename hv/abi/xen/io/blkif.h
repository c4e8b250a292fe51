// The block device protocol (public/io/blkif.h) as Linux xen-blkfront
// speaks it.
//
// xenstore keys, back-end directory (/local/domain/0/backend/vbd/<dom>/<dev>):
//   sectors, sector-size, physical-sector-size, info (VDISK_*), mode,
//   feature-flush-cache, feature-discard + discard-granularity,
//   discard-alignment, discard-secure, feature-persistent,
//   feature-max-indirect-segments, max-ring-page-order,
//   multi-queue-max-queues, state.
// Front-end directory (/local/domain/<dom>/device/vbd/<dev>):
//   ring-ref (one page) or ring-page-order + ring-ref0..N-1, event-channel,
//   or multi-queue-num-queues + queue-<q>/{ring-ref*, event-channel},
//   protocol ("x86_64-abi" / "x86_32-abi"), feature-persistent, state.
//
// Two request layouts exist: the native 64-bit one and the i386 one, where
// 64-bit fields are only 4-byte aligned. A back-end translates the latter.
#pragma once
#include "../xen.h"
#include "ring.h"

namespace xen::blkif {

using blkif_vdev_t = uint16_t;
using blkif_sector_t = uint64_t;

inline constexpr uint8_t BLKIF_OP_READ = 0;
inline constexpr uint8_t BLKIF_OP_WRITE = 1;
inline constexpr uint8_t BLKIF_OP_WRITE_BARRIER = 2;
inline constexpr uint8_t BLKIF_OP_FLUSH_DISKCACHE = 3;
inline constexpr uint8_t BLKIF_OP_RESERVED_1 = 4;
inline constexpr uint8_t BLKIF_OP_DISCARD = 5;
inline constexpr uint8_t BLKIF_OP_INDIRECT = 6;

inline constexpr unsigned BLKIF_MAX_SEGMENTS_PER_REQUEST = 11;
inline constexpr unsigned BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST = 8;
inline constexpr unsigned kSectorShift = 9;  // segment offsets are in 512-byte units
inline constexpr unsigned kSectorsPerPage = kPageSize >> kSectorShift;

inline constexpr int16_t BLKIF_RSP_EOPNOTSUPP = -2;
inline constexpr int16_t BLKIF_RSP_ERROR = -1;
inline constexpr int16_t BLKIF_RSP_OKAY = 0;

inline constexpr uint8_t BLKIF_DISCARD_SECURE = 1;

// "info" key bits
inline constexpr uint32_t VDISK_CDROM = 1;
inline constexpr uint32_t VDISK_REMOVABLE = 2;
inline constexpr uint32_t VDISK_READONLY = 4;

// One data segment: sectors first_sect..last_sect (inclusive) of a page.
struct blkif_request_segment {
  grant_ref_t gref;
  uint8_t first_sect, last_sect;
  uint16_t pad;
};
static_assert(sizeof(blkif_request_segment) == 8);
// Segments per indirect page.
inline constexpr unsigned kSegsPerIndirectFrame = kPageSize / sizeof(blkif_request_segment);

// ---- native (x86_64) layout ----
// BLKIF_OP_READ/WRITE/WRITE_BARRIER/FLUSH_DISKCACHE: transfer up to 11 segments at <sector_number>.
struct blkif_request {
  uint8_t operation;
  uint8_t nr_segments;
  blkif_vdev_t handle;
  uint32_t pad;
  uint64_t id;
  blkif_sector_t sector_number;
  blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};
static_assert(sizeof(blkif_request) == 112);
static_assert(offsetof(blkif_request, id) == 8 && offsetof(blkif_request, seg) == 24);

// BLKIF_OP_DISCARD: drop <nr_sectors> sectors from <sector_number> on.
struct blkif_request_discard {
  uint8_t operation;
  uint8_t flag;  // BLKIF_DISCARD_SECURE
  blkif_vdev_t handle;
  uint32_t pad;
  uint64_t id;
  blkif_sector_t sector_number;
  uint64_t nr_sectors;
};
static_assert(offsetof(blkif_request_discard, nr_sectors) == 24);

// BLKIF_OP_INDIRECT: a READ/WRITE whose segments are listed in granted <indirect_grefs> pages.
struct blkif_request_indirect {
  uint8_t operation;    // BLKIF_OP_INDIRECT
  uint8_t indirect_op;  // READ or WRITE
  uint16_t nr_segments;
  uint32_t pad1;
  uint64_t id;
  blkif_sector_t sector_number;
  blkif_vdev_t handle;
  uint16_t pad2;
  grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
  uint32_t pad3;
};
static_assert(sizeof(blkif_request_indirect) == 64);
static_assert(offsetof(blkif_request_indirect, handle) == 24 && offsetof(blkif_request_indirect, indirect_grefs) == 28);

// The answer to request <id>: BLKIF_RSP_*.
struct blkif_response {
  uint64_t id;
  uint8_t operation;
  int16_t status;
};
static_assert(sizeof(blkif_response) == 16 && offsetof(blkif_response, status) == 10);

using Ring = xen::ring::SharedRing<blkif_request, blkif_response>;
using FrontRing = xen::ring::FrontRing<blkif_request, blkif_response>;
using BackRing = xen::ring::BackRing<blkif_request, blkif_response>;
static_assert(xen::ring::ring_size(kPageSize, sizeof(Ring::Entry)) == 32);

// ---- i386 layout ("x86_32-abi"): 64-bit fields 4-byte aligned ----
namespace x86_32 {
struct __attribute__((packed, aligned(4))) blkif_request {
  uint8_t operation;
  uint8_t nr_segments;
  blkif_vdev_t handle;
  uint64_t id;
  blkif_sector_t sector_number;
  blkif_request_segment seg[BLKIF_MAX_SEGMENTS_PER_REQUEST];
};
static_assert(sizeof(blkif_request) == 108 && offsetof(blkif_request, seg) == 20);
struct __attribute__((packed, aligned(4))) blkif_request_discard {
  uint8_t operation;
  uint8_t flag;
  blkif_vdev_t handle;
  uint64_t id;
  blkif_sector_t sector_number;
  uint64_t nr_sectors;
};
static_assert(offsetof(blkif_request_discard, nr_sectors) == 20);
struct __attribute__((packed, aligned(4))) blkif_request_indirect {
  uint8_t operation;
  uint8_t indirect_op;
  uint16_t nr_segments;
  uint64_t id;
  blkif_sector_t sector_number;
  blkif_vdev_t handle;
  uint16_t pad1;
  grant_ref_t indirect_grefs[BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST];
  uint64_t pad2;
};
static_assert(sizeof(blkif_request_indirect) == 64 && offsetof(blkif_request_indirect, indirect_grefs) == 24);
struct __attribute__((packed, aligned(4))) blkif_response {
  uint64_t id;
  uint8_t operation;
  uint8_t pad;
  int16_t status;
};
static_assert(sizeof(blkif_response) == 12 && offsetof(blkif_response, status) == 10);
using Ring = xen::ring::SharedRing<blkif_request, blkif_response>;
using BackRing = xen::ring::BackRing<blkif_request, blkif_response>;
using FrontRing = xen::ring::FrontRing<blkif_request, blkif_response>;
}  // namespace x86_32

// Largest ring a back-end offers: max-ring-page-order (Linux blkback: 4).
inline constexpr unsigned kMaxRingPageOrder = 4;

}  // namespace xen::blkif

// ---- Xen's spellings (public/io/blkif.h); see xen.h ----
// The names above are already Xen's; these make them visible at xen:: scope
// like every other header's (the same objects, so no ambiguity with a
// `using namespace xen::blkif`).
namespace xen {
using blkif::blkif_vdev_t;
using blkif::blkif_sector_t;
using blkif::BLKIF_OP_READ;
using blkif::BLKIF_OP_WRITE;
using blkif::BLKIF_OP_WRITE_BARRIER;
using blkif::BLKIF_OP_FLUSH_DISKCACHE;
using blkif::BLKIF_OP_RESERVED_1;
using blkif::BLKIF_OP_DISCARD;
using blkif::BLKIF_OP_INDIRECT;
using blkif::BLKIF_MAX_SEGMENTS_PER_REQUEST;
using blkif::BLKIF_MAX_INDIRECT_PAGES_PER_REQUEST;
using blkif::BLKIF_RSP_EOPNOTSUPP;
using blkif::BLKIF_RSP_ERROR;
using blkif::BLKIF_RSP_OKAY;
using blkif::BLKIF_DISCARD_SECURE;
using blkif::VDISK_CDROM;
using blkif::VDISK_REMOVABLE;
using blkif::VDISK_READONLY;
using blkif::blkif_request_segment;
using blkif::blkif_request;
using blkif::blkif_request_discard;
using blkif::blkif_request_indirect;
using blkif::blkif_response;
}  // namespace xen
