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

// GNTTABOP_setup_table: size <dom>'s grant table to <nr_frames> and list its frames.
struct setup_table {
  domid_t dom;        // IN
  uint32_t nr_frames;  // IN
  int16_t status;      // OUT: st::*
  uint64_t frame_list;  // IN: guest handle to xen_pfn_t[nr_frames] (OUT)
};
static_assert(sizeof(setup_table) == 24);
static_assert(offsetof(setup_table, frame_list) == 16);

// GNTTABOP_query_size: report <dom>'s current and maximum grant-table frames.
struct query_size {
  domid_t dom;             // IN
  uint32_t nr_frames;      // OUT
  uint32_t max_nr_frames;  // OUT
  int16_t status;          // OUT
};
static_assert(sizeof(query_size) == 16);

// GNTTABOP_set_version: choose the grant-entry format (1 or 2); OUT the one in force.
struct set_version {
  uint32_t version;  // IN/OUT
};

// GNTTABOP_get_version: report <dom>'s grant-entry format.
struct get_version {
  domid_t dom;  // IN
  uint16_t pad;
  uint32_t version;  // OUT
};
static_assert(sizeof(get_version) == 8);

}  // namespace xen::gnttab

// ---- Xen's spellings (public/grant_table.h); see xen.h ----
namespace xen {
inline constexpr uint32_t GNTTABOP_map_grant_ref = gnttab::op::map_grant_ref;
inline constexpr uint32_t GNTTABOP_unmap_grant_ref = gnttab::op::unmap_grant_ref;
inline constexpr uint32_t GNTTABOP_setup_table = gnttab::op::setup_table;
inline constexpr uint32_t GNTTABOP_dump_table = gnttab::op::dump_table;
inline constexpr uint32_t GNTTABOP_transfer = gnttab::op::transfer;
inline constexpr uint32_t GNTTABOP_copy = gnttab::op::copy;
inline constexpr uint32_t GNTTABOP_query_size = gnttab::op::query_size;
inline constexpr uint32_t GNTTABOP_unmap_and_replace = gnttab::op::unmap_and_replace;
inline constexpr uint32_t GNTTABOP_set_version = gnttab::op::set_version;
inline constexpr uint32_t GNTTABOP_get_status_frames = gnttab::op::get_status_frames;
inline constexpr uint32_t GNTTABOP_get_version = gnttab::op::get_version;
inline constexpr uint32_t GNTTABOP_swap_grant_ref = gnttab::op::swap_grant_ref;
inline constexpr uint32_t GNTTABOP_cache_flush = gnttab::op::cache_flush;

inline constexpr int16_t GNTST_okay = gnttab::st::okay;
inline constexpr int16_t GNTST_general_error = gnttab::st::general_error;
inline constexpr int16_t GNTST_bad_domain = gnttab::st::bad_domain;
inline constexpr int16_t GNTST_bad_gntref = gnttab::st::bad_gntref;
inline constexpr int16_t GNTST_bad_handle = gnttab::st::bad_handle;
inline constexpr int16_t GNTST_bad_virt_addr = gnttab::st::bad_virt_addr;
inline constexpr int16_t GNTST_bad_dev_addr = gnttab::st::bad_dev_addr;
inline constexpr int16_t GNTST_no_device_space = gnttab::st::no_device_space;
inline constexpr int16_t GNTST_permission_denied = gnttab::st::permission_denied;
inline constexpr int16_t GNTST_bad_page = gnttab::st::bad_page;
inline constexpr int16_t GNTST_bad_copy_arg = gnttab::st::bad_copy_arg;
inline constexpr int16_t GNTST_address_too_big = gnttab::st::address_too_big;
inline constexpr int16_t GNTST_eagain = gnttab::st::eagain;
inline constexpr int16_t GNTST_no_space = gnttab::st::no_space;

// grant_entry_v1.flags (the same objects as xen::gnttab::GTF_*).
using gnttab::GTF_invalid;
using gnttab::GTF_permit_access;
using gnttab::GTF_accept_transfer;
using gnttab::GTF_transitive;
using gnttab::GTF_type_mask;
using gnttab::GTF_readonly;
using gnttab::GTF_reading;
using gnttab::GTF_writing;
using gnttab::GTF_PWT;
using gnttab::GTF_PCD;
using gnttab::GTF_PAT;
using gnttab::GTF_sub_page;
// The accept_transfer state bits.
inline constexpr uint16_t GTF_transfer_committed = 1 << 2;
inline constexpr uint16_t GTF_transfer_completed = 1 << 3;

// Grant references the toolstack fills before boot.
inline constexpr grant_ref_t GNTTAB_NR_RESERVED_ENTRIES = 8;
inline constexpr grant_ref_t GNTTAB_RESERVED_CONSOLE = 0;
inline constexpr grant_ref_t GNTTAB_RESERVED_XENSTORE = 1;

// gnttab_map_grant_ref.flags and gnttab_copy.flags (back-end operations,
// which pv-backd performs on the table itself).
inline constexpr uint32_t GNTMAP_device_map = 1 << 0;
inline constexpr uint32_t GNTMAP_host_map = 1 << 1;
inline constexpr uint32_t GNTMAP_readonly = 1 << 2;
inline constexpr uint32_t GNTMAP_application_map = 1 << 3;
inline constexpr uint32_t GNTMAP_contains_pte = 1 << 4;
inline constexpr uint16_t GNTCOPY_source_gref = 1 << 0;
inline constexpr uint16_t GNTCOPY_dest_gref = 1 << 1;

using gnttab::grant_entry_v1;
using gnttab_setup_table = gnttab::setup_table;
using gnttab_query_size = gnttab::query_size;
using gnttab_set_version = gnttab::set_version;
using gnttab_get_version = gnttab::get_version;
}  // namespace xen
