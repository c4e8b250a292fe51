#include "disk/qcow2/qcow2_create.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <vector>

#include "disk/format_probe.h"
#include "disk/host_file.h"
#include "disk/image_info.h"
#include "disk/qcow2/qcow2_header.h"
#include "disk/qcow2/qcow2_image.h"
#include "disk/qcow2/qcow2_io.h"
#include "pv/error.h"
#include "pv/unique_fd.h"

namespace pv::disk {

using namespace qcow2;

namespace {

uint64_t div_up(uint64_t a, uint64_t b) { return a / b + (a % b != 0); }

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

// The backing file's size, after opening it (and its chain) as the image
// will; `format` is filled in when probed.
uint64_t check_backing(const std::string& image, const std::string& backing, std::string& format) {
  const std::string resolved = backing[0] == '/' ? backing : directory_of(image) + "/" + backing;
  if (format.empty()) format = std::string(probe_format(resolved));
  if (format == "qcow2") return Qcow2Image(resolved, true).bytes();
  if (format == "raw") return HostFile(resolved, true).bytes();
  throw UserError("backing format \"" + format + "\" is not supported (qcow2 and raw are)");
}

}  // namespace

void create_qcow2(const std::string& path, uint64_t virtual_size, const std::string& backing_path,
                  const std::string& backing_format, uint64_t cluster_size) {
  if (cluster_size < (1u << kMinClusterBits) || cluster_size > (1u << kMaxClusterBits) || (cluster_size & (cluster_size - 1)))
    throw UserError("cluster size " + std::to_string(cluster_size) + " is not a power of two from 512 B to 2 MiB");
  std::string format = backing_format;
  if (!backing_path.empty()) {
    if (backing_path.size() > kMaxBackingNameBytes) throw UserError("backing file name is longer than 1023 bytes");
    const uint64_t backing_size = check_backing(path, backing_path, format);
    if (virtual_size == 0) virtual_size = backing_size;
  }
  if (virtual_size == 0) throw UserError("the virtual size of " + path + " must be given (no backing file to take it from)");
  virtual_size = (virtual_size + 511) / 512 * 512;  // whole sectors, as qemu-img makes them

  const uint64_t cs = cluster_size;
  unsigned cluster_bits = 0;
  while ((uint64_t(1) << cluster_bits) < cs) cluster_bits++;
  const uint64_t l2_cover = cs * (cs / 8);
  const uint64_t l1_entries = div_up(virtual_size, l2_cover);
  if (l1_entries * 8 > kMaxL1Bytes) throw UserError("virtual size too large for " + std::to_string(cs) + "-byte clusters (L1 table over 32 MiB)");
  const uint64_t l1_clusters = div_up(l1_entries * 8, cs);
  const uint64_t refblock_entries = cs * 8 / 16;
  // Refcount table large enough for the disk fully allocated (it grows if
  // ever needed); blocks for the metadata written now.
  const uint64_t data_clusters = div_up(virtual_size, cs) + l1_entries;
  uint64_t table = 1, blocks = 1;
  for (;;) {
    const uint64_t meta = 1 + table + blocks + l1_clusters;
    const uint64_t b2 = div_up(meta, refblock_entries);
    uint64_t t2 = div_up(div_up(meta + data_clusters, refblock_entries) * 8, cs);
    t2 = std::min<uint64_t>(std::max<uint64_t>(t2, div_up(b2 * 8, cs)), kMaxRefcountTableBytes / cs);
    if (b2 == blocks && t2 == table) break;
    blocks = b2;
    table = t2;
  }
  const uint64_t table_off = cs, blocks_off = table_off + table * cs, l1_off = blocks_off + blocks * cs;
  const uint64_t meta = 1 + table + blocks + l1_clusters;

  // The header cluster: header, extensions, backing file name.
  std::vector<uint8_t> hdr(cs, 0);
  std::memcpy(hdr.data(), kMagic, 4);
  store_be32(&hdr[4], 3);
  store_be32(&hdr[20], cluster_bits);
  store_be64(&hdr[24], virtual_size);
  store_be32(&hdr[36], uint32_t(l1_entries));
  store_be64(&hdr[40], l1_off);
  store_be64(&hdr[48], table_off);
  store_be32(&hdr[56], uint32_t(table));
  store_be32(&hdr[96], 4);    // refcount_order: 16-bit refcounts
  store_be32(&hdr[100], 104);  // header_length
  size_t pos = 104;
  if (!backing_path.empty()) {
    const size_t ext = 8 + (format.size() + 7) / 8 * 8, end = pos + ext + 8;
    if (end + backing_path.size() > cs) throw UserError("backing file name does not fit in the header cluster: use larger clusters");
    store_be32(&hdr[pos], kExtBackingFormat);
    store_be32(&hdr[pos + 4], uint32_t(format.size()));
    std::memcpy(&hdr[pos + 8], format.data(), format.size());
    pos += ext;
    pos += 8;  // end of extensions (zeros)
    store_be64(&hdr[8], pos);
    store_be32(&hdr[16], uint32_t(backing_path.size()));
    std::memcpy(&hdr[pos], backing_path.data(), backing_path.size());
  }

  std::vector<uint8_t> tab(table * cs, 0);
  for (uint64_t i = 0; i < blocks; i++) store_be64(&tab[i * 8], blocks_off + i * cs);
  std::vector<uint8_t> refs(blocks * cs, 0);
  for (uint64_t c = 0; c < meta; c++) store_be16(&refs[c * 2], 1);  // block after block: entries are contiguous

  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
  if (!fd) throw UserError("cannot create " + path + ": " + std::strerror(errno));
  int r = pwrite_full(fd.get(), hdr.data(), hdr.size(), 0);
  if (r == 0) r = pwrite_full(fd.get(), tab.data(), tab.size(), table_off);
  if (r == 0) r = pwrite_full(fd.get(), refs.data(), refs.size(), blocks_off);
  if (r == 0 && ::ftruncate(fd.get(), off_t(meta * cs)) != 0) r = -errno;
  if (r == 0 && ::fsync(fd.get()) != 0) r = -errno;
  if (r != 0) {
    ::unlink(path.c_str());
    throw UserError("cannot write " + path + ": " + std::strerror(-r));
  }
}

}  // namespace pv::disk
