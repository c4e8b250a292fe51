#include "disk/qcow2/qcow2_header.h"

#include <map>
#include <utility>

#include "pv/error.h"

namespace pv::disk::qcow2 {
namespace {

// Names of the incompatible bits this code knows, for messages.
const char* known_incompatible_name(unsigned bit) {
  switch (bit) {
    case 0: return "dirty";
    case 1: return "corrupt";
    case 2: return "external data file";
    case 3: return "compression type";
    case 4: return "extended L2 entries";
    default: return nullptr;
  }
}

bool aligned(uint64_t v, uint64_t a) { return (v & (a - 1)) == 0; }

// [off, off + len) lies inside a file of `size` bytes (no overflow).
bool inside(uint64_t off, uint64_t len, uint64_t size) { return off <= size && len <= size - off; }

}  // namespace

bool has_magic(const uint8_t* first, size_t n) { return n >= 4 && std::memcmp(first, kMagic, 4) == 0; }

Header parse_header(const std::string& path, const std::vector<uint8_t>& first, uint64_t file_size, bool readonly) {
  auto bad = [&](const std::string& what) { return UserError(path + ": " + what); };
  const uint8_t* p = first.data();
  if (first.size() < 72 || !has_magic(p, first.size())) throw bad("not a qcow2 image (no QFI\\xfb magic)");
  Header h;
  h.version = load_be32(p + 4);
  if (h.version != 2 && h.version != 3) throw bad("qcow2 version " + std::to_string(h.version) + " is not supported (2 and 3 are)");
  h.backing_name_offset = load_be64(p + 8);
  h.backing_name_size = load_be32(p + 16);
  h.cluster_bits = load_be32(p + 20);
  if (h.cluster_bits < kMinClusterBits || h.cluster_bits > kMaxClusterBits)
    throw bad("cluster_bits " + std::to_string(h.cluster_bits) + " is outside 9..21 (512 B to 2 MiB clusters)");
  h.cluster_size = uint64_t(1) << h.cluster_bits;
  if (first.size() < std::min<uint64_t>(h.cluster_size, file_size)) throw bad("header cluster is truncated");
  const uint64_t header_area = std::min<uint64_t>(h.cluster_size, first.size());
  h.virtual_size = load_be64(p + 24);
  const uint32_t crypt = load_be32(p + 32);
  if (crypt != 0) throw bad(std::string("encrypted images (") + (crypt == 1 ? "AES" : crypt == 2 ? "LUKS" : "method " + std::to_string(crypt)) + ") are not supported");
  h.l1_size = load_be32(p + 36);
  h.l1_offset = load_be64(p + 40);
  h.refcount_table_offset = load_be64(p + 48);
  h.refcount_table_clusters = load_be32(p + 56);
  h.nb_snapshots = load_be32(p + 60);
  h.snapshots_offset = load_be64(p + 64);

  if (h.version == 3) {
    if (header_area < 104) throw bad("header cluster too small for a version 3 header");
    h.incompatible = load_be64(p + 72);
    h.compatible = load_be64(p + 80);
    h.autoclear = load_be64(p + 88);
    h.refcount_order = load_be32(p + 96);
    h.header_length = load_be32(p + 100);
    if (h.header_length < 104 || h.header_length % 8 != 0 || h.header_length > header_area)
      throw bad("header_length " + std::to_string(h.header_length) + " is invalid (a multiple of 8, at least 104, inside the first cluster)");
  }

  // Header extensions: after the header, up to the backing file name (or
  // the end of the first cluster).
  std::map<std::pair<unsigned, unsigned>, std::string> feature_names;
  uint64_t ext_end = header_area;
  if (h.backing_name_offset != 0 && h.backing_name_offset < ext_end) ext_end = h.backing_name_offset;
  uint8_t compression_type = 0;
  if (h.version == 3 && h.header_length > 104) compression_type = p[104];
  for (uint64_t pos = h.header_length;;) {
    if (pos + 8 > ext_end) {
      if (pos < ext_end) throw bad("header extension area is truncated");
      break;  // no end marker: the area simply ends (as QEMU accepts)
    }
    const uint32_t type = load_be32(p + pos), len = load_be32(p + pos + 4);
    if (type == kExtEnd) break;
    const uint64_t data = pos + 8;
    if (len > ext_end - data) throw bad("header extension " + to_hex(type) + " runs past the header area");
    if (type == kExtBackingFormat) {
      if (len == 0 || len > 31) throw bad("backing format extension has an invalid length " + std::to_string(len));
      h.backing_format.assign(reinterpret_cast<const char*>(p + data), len);
      if (h.backing_format.find('\0') != std::string::npos) throw bad("backing format name contains a NUL byte");
    } else if (type == kExtFeatureNames) {
      for (uint64_t e = 0; e + 48 <= len; e += 48) {
        const uint8_t* f = p + data + e;
        size_t n = 0;
        while (n < 46 && f[2 + n]) n++;
        feature_names[{f[0], f[1]}] = std::string(reinterpret_cast<const char*>(f + 2), n);
      }
    }
    pos = data + (uint64_t(len) + 7) / 8 * 8;
  }

  // Incompatible features: refuse what is unknown or unsupported, by name.
  auto feature = [&](unsigned bit) {
    auto it = feature_names.find({0, bit});
    if (it != feature_names.end() && !it->second.empty()) return "\"" + it->second + "\"";
    const char* known = known_incompatible_name(bit);
    return known ? std::string(known) : "unknown bit " + std::to_string(bit);
  };
  for (unsigned bit = 0; bit < 64; bit++) {
    const uint64_t m = uint64_t(1) << bit;
    if (!(h.incompatible & m)) continue;
    if (m == kIncompatDirty) {
      if (!readonly) throw bad("the image is marked dirty (lazy refcounts, not cleanly closed): repair it with `qemu-img check -r all` or open it read-only");
    } else if (m == kIncompatCorrupt) {
      if (!readonly) throw bad("the image is marked corrupt: repair it with `qemu-img check -r all` or open it read-only");
    } else if (m == kIncompatExternalData) {
      throw bad("images with an external data file are not supported");
    } else if (m == kIncompatCompressionType) {
      throw bad(std::string("compression type ") + (compression_type == 1 ? "zstd" : std::to_string(compression_type)) + " is not supported (zlib is)");
    } else if (m == kIncompatExtendedL2) {
      throw bad("extended L2 entries (subclusters) are not supported");
    } else {
      throw bad("unsupported incompatible feature " + feature(bit));
    }
  }
  if (compression_type != 0) throw bad("compression_type is set without the compression type feature bit");
  if (h.refcount_order > 6) throw bad("refcount_order " + std::to_string(h.refcount_order) + " is invalid (at most 6, 64-bit refcounts)");

  // Backing file name: inside the first cluster, no NUL.
  if (h.backing_name_offset != 0) {
    if (h.backing_name_size == 0 || h.backing_name_size > kMaxBackingNameBytes)
      throw bad("backing file name length " + std::to_string(h.backing_name_size) + " is invalid (1..1023)");
    if (!inside(h.backing_name_offset, h.backing_name_size, header_area) || h.backing_name_offset < 72)
      throw bad("backing file name lies outside the header cluster");
    h.backing_name.assign(reinterpret_cast<const char*>(p + h.backing_name_offset), h.backing_name_size);
    if (h.backing_name.find('\0') != std::string::npos) throw bad("backing file name contains a NUL byte");
  }

  // L1 table: aligned, covering the virtual size, bounded, inside the file.
  const uint32_t per_l1_bits = h.cluster_bits + h.l2_bits();  // bytes one L1 entry maps, log2
  const uint64_t needed_l1 = (h.virtual_size >> per_l1_bits) + ((h.virtual_size & ((uint64_t(1) << per_l1_bits) - 1)) != 0);
  if (uint64_t(h.l1_size) * 8 > kMaxL1Bytes) throw bad("L1 table of " + std::to_string(h.l1_size) + " entries is larger than 32 MiB");
  if (h.l1_size < needed_l1) throw bad("L1 table of " + std::to_string(h.l1_size) + " entries is too small for the virtual size " + std::to_string(h.virtual_size));
  if (h.l1_size > 0) {
    if (!aligned(h.l1_offset, h.cluster_size) || h.l1_offset < h.cluster_size)
      throw bad("L1 table offset " + to_hex(h.l1_offset) + " is not a cluster boundary after the header");
    if (!inside(h.l1_offset, uint64_t(h.l1_size) * 8, file_size)) throw bad("L1 table lies past the end of the file");
  }

  // Refcount table.
  if (h.refcount_table_clusters == 0) throw bad("the refcount table is empty");
  if (h.refcount_table_clusters > kMaxRefcountTableBytes / h.cluster_size)
    throw bad("refcount table of " + std::to_string(h.refcount_table_clusters) + " clusters is larger than 8 MiB");
  if (!aligned(h.refcount_table_offset, h.cluster_size) || h.refcount_table_offset < h.cluster_size)
    throw bad("refcount table offset " + to_hex(h.refcount_table_offset) + " is not a cluster boundary after the header");
  if (!inside(h.refcount_table_offset, uint64_t(h.refcount_table_clusters) * h.cluster_size, file_size))
    throw bad("refcount table lies past the end of the file");

  if (h.nb_snapshots != 0 && (!aligned(h.snapshots_offset, h.cluster_size) || h.snapshots_offset >= file_size))
    throw bad("snapshot table offset " + std::to_string(h.snapshots_offset) + " is invalid");
  return h;
}

}  // namespace pv::disk::qcow2
