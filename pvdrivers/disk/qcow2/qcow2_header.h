// The qcow2 file header (QEMU's docs/interop/qcow2.txt, versions 2 and 3)
// and its extensions, parsed from the image's first cluster and checked
// against the file: every offset aligned and inside the file, every size
// bounded, every feature bit either understood or refused by name.
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

namespace pv::disk::qcow2 {

inline constexpr uint8_t kMagic[4] = {'Q', 'F', 'I', 0xfb};
inline constexpr uint32_t kMinClusterBits = 9, kMaxClusterBits = 21;  // 512 B .. 2 MiB
inline constexpr uint64_t kMaxL1Bytes = 32u << 20;                  // QEMU's limits too
inline constexpr uint64_t kMaxRefcountTableBytes = 8u << 20;
inline constexpr uint32_t kMaxBackingNameBytes = 1023;

// Incompatible feature bits.
inline constexpr uint64_t kIncompatDirty = 1u << 0;
inline constexpr uint64_t kIncompatCorrupt = 1u << 1;
inline constexpr uint64_t kIncompatExternalData = 1u << 2;
inline constexpr uint64_t kIncompatCompressionType = 1u << 3;
inline constexpr uint64_t kIncompatExtendedL2 = 1u << 4;

// Header extension types.
inline constexpr uint32_t kExtEnd = 0;
inline constexpr uint32_t kExtBackingFormat = 0xe2792aca;
inline constexpr uint32_t kExtFeatureNames = 0x6803f857;
inline constexpr uint32_t kExtExternalDataFile = 0x44415441;

// L1/L2/refcount table entries.
inline constexpr uint64_t kOflagCopied = 1ull << 63;      // refcount is exactly one
inline constexpr uint64_t kOflagCompressed = 1ull << 62;  // L2
inline constexpr uint64_t kOflagZero = 1ull << 0;         // L2, v3
inline constexpr uint64_t kOffsetMask = 0x00fffffffffffe00ull;   // bits 9..55
inline constexpr uint64_t kL1Reserved = 0x7f000000000001ffull;   // bits 0..8, 56..62
inline constexpr uint64_t kL2Reserved = 0x3f000000000001feull;   // bits 1..8, 56..61
inline constexpr uint64_t kRefTableReserved = 0x1ffull;

inline uint64_t load_be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = v << 8 | p[i];
  return v;
}
inline uint32_t load_be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
inline uint16_t load_be16(const uint8_t* p) { return uint16_t(p[0] << 8 | p[1]); }
inline void store_be64(uint8_t* p, uint64_t v) {
  for (int i = 7; i >= 0; i--, v >>= 8) p[i] = uint8_t(v);
}
inline void store_be32(uint8_t* p, uint32_t v) {
  for (int i = 3; i >= 0; i--, v >>= 8) p[i] = uint8_t(v);
}
inline void store_be16(uint8_t* p, uint16_t v) {
  p[0] = uint8_t(v >> 8);
  p[1] = uint8_t(v);
}

inline std::string to_hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

// What a header says, once checked.
struct Header {
  uint32_t version = 0;
  uint32_t cluster_bits = 0;
  uint64_t cluster_size = 0;
  uint64_t virtual_size = 0;
  uint32_t l1_size = 0;  // entries
  uint64_t l1_offset = 0;
  uint64_t refcount_table_offset = 0;
  uint32_t refcount_table_clusters = 0;
  uint32_t nb_snapshots = 0;
  uint64_t snapshots_offset = 0;
  uint64_t incompatible = 0, compatible = 0, autoclear = 0;
  uint32_t refcount_order = 4;
  uint32_t header_length = 72;
  uint64_t backing_name_offset = 0;
  uint32_t backing_name_size = 0;
  std::string backing_name;    // as stored ("" when none)
  std::string backing_format;  // from the extension ("" when absent)

  uint32_t l2_bits() const { return cluster_bits - 3; }  // entries per L2 table, log2
  uint64_t l2_entries() const { return cluster_size / 8; }
  uint32_t refcount_bits() const { return 1u << refcount_order; }
  uint64_t refblock_entries() const { return cluster_size * 8 / refcount_bits(); }
  uint64_t refcount_table_entries() const { return uint64_t(refcount_table_clusters) * cluster_size / 8; }
};

// Header offsets of the fields written back.
inline constexpr size_t kHeaderRefcountTableOffset = 48;  // and refcount_table_clusters at 56
inline constexpr size_t kHeaderIncompatible = 72;
inline constexpr size_t kHeaderAutoclear = 88;

// The bytes at the start of the file (at least min(file size, 1 cluster
// or 2 MiB)). `readonly`: how the image is to be opened; features that
// are only unsafe to write (dirty, corrupt) are refused for writing only.
// Throws UserError naming `path` and what is wrong (a feature by its name
// from the feature name table when the image has one).
Header parse_header(const std::string& path, const std::vector<uint8_t>& first, uint64_t file_size, bool readonly);

// True when `first` starts with the qcow2 magic.
bool has_magic(const uint8_t* first, size_t n);

}  // namespace pv::disk::qcow2
