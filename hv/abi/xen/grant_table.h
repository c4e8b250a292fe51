// Grant tables (public/grant_table.h), version 1: GNTTABOP_* commands, the
// grant entry layout and GNTST_* status codes.
#pragma once
#include "xen.h"

namespace xen::gnttab {

namespace op {
inline constexpr uint32_t map_grant_ref = 0;
inline constexpr uint32_t unmap_grant_ref = 1;
inline constexpr uint32_t setup_table = 2;
inline constexpr uint32_t dump_table = 3;
inline constexpr uint32_t transfer = 4;
inline constexpr uint32_t copy = 5;
inline constexpr uint32_t query_size = 6;
inline constexpr uint32_t unmap_and_replace = 7;
inline constexpr uint32_t set_version = 8;
inline constexpr uint32_t get_status_frames = 9;
inline constexpr uint32_t get_version = 10;
inline constexpr uint32_t swap_grant_ref = 11;
inline constexpr uint32_t cache_flush = 12;
}  // namespace op

// A v1 grant entry. The granting domain fills frame and domid, then sets
// flags last; the mapping side sets GTF_reading/GTF_writing while in use.
struct grant_entry_v1 {
  uint16_t flags;
  domid_t domid;
  uint32_t frame;
};
static_assert(sizeof(grant_entry_v1) == 8);
inline constexpr unsigned kEntriesPerFrameV1 = kPageSize / sizeof(grant_entry_v1);  // 512

// grant_entry_v1.flags
inline constexpr uint16_t GTF_invalid = 0;
inline constexpr uint16_t GTF_permit_access = 1;
inline constexpr uint16_t GTF_accept_transfer = 2;
inline constexpr uint16_t GTF_transitive = 3;
inline constexpr uint16_t GTF_type_mask = 3;
inline constexpr uint16_t GTF_readonly = 1 << 2;
inline constexpr uint16_t GTF_reading = 1 << 3;
inline constexpr uint16_t GTF_writing = 1 << 4;
inline constexpr uint16_t GTF_PWT = 1 << 5;
inline constexpr uint16_t GTF_PCD = 1 << 6;
inline constexpr uint16_t GTF_PAT = 1 << 7;
inline constexpr uint16_t GTF_sub_page = 1 << 8;

// GNTST_* (returned in the status fields of the op structures)
namespace st {
inline constexpr int16_t okay = 0;
inline constexpr int16_t general_error = -1;
inline constexpr int16_t bad_domain = -2;
inline constexpr int16_t bad_gntref = -3;
inline constexpr int16_t bad_handle = -4;
inline constexpr int16_t bad_virt_addr = -5;
inline constexpr int16_t bad_dev_addr = -6;
inline constexpr int16_t no_device_space = -7;
inline constexpr int16_t permission_denied = -8;
inline constexpr int16_t bad_page = -9;
inline constexpr int16_t bad_copy_arg = -10;
inline constexpr int16_t address_too_big = -11;
inline constexpr int16_t eagain = -12;
inline constexpr int16_t no_space = -13;
}  // namespace st

struct setup_table {
  domid_t dom;        // IN
  uint32_t nr_frames;  // IN
  int16_t status;      // OUT: st::*
  uint64_t frame_list;  // IN: guest handle to xen_pfn_t[nr_frames] (OUT)
};
static_assert(sizeof(setup_table) == 24);
static_assert(offsetof(setup_table, frame_list) == 16);

struct query_size {
  domid_t dom;             // IN
  uint32_t nr_frames;      // OUT
  uint32_t max_nr_frames;  // OUT
  int16_t status;          // OUT
};
static_assert(sizeof(query_size) == 16);

struct set_version {
  uint32_t version;  // IN/OUT
};

struct get_version {
  domid_t dom;  // IN
  uint16_t pad;
  uint32_t version;  // OUT
};
static_assert(sizeof(get_version) == 8);

}  // namespace xen::gnttab
