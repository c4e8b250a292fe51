#include "disk/qcow2/qcow2_rebase.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "disk/qcow2/qcow2_header.h"
#include "pv/error.h"
#include "pv/unique_fd.h"

namespace pv::disk {

using namespace qcow2;

namespace {
void put_ext(std::vector<uint8_t>& out, uint32_t type, const uint8_t* data, uint32_t len) {
  const size_t at = out.size();
  out.resize(at + 8 + (uint64_t(len) + 7) / 8 * 8, 0);
  store_be32(&out[at], type);
  store_be32(&out[at + 4], len);
  if (len) std::memcpy(&out[at + 8], data, len);
}
}  // namespace

void rebase_qcow2_unsafe(const std::string& path, const std::string& backing, const std::string& format) {
  auto fail = [&](const std::string& why) { return UserError("cannot rename the backing file of " + path + ": " + why); };
  if (backing.empty() || backing.size() > kMaxBackingNameBytes) throw fail("the new name is empty or too long");
  if (format != "qcow2" && format != "raw") throw fail("the backing format '" + format + "' is not qcow2 or raw");
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd) throw fail(std::strerror(errno));
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) throw fail(std::strerror(errno));
  std::vector<uint8_t> first(std::min<uint64_t>(uint64_t(st.st_size), 2u << 20));
  if (::pread(fd.get(), first.data(), first.size(), 0) != ssize_t(first.size())) throw fail("cannot read its header");
  const Header h = parse_header(path, first, uint64_t(st.st_size), false);
  if (h.nb_snapshots) throw fail("it has internal snapshots");
  const uint64_t cs = h.cluster_size;
  const uint8_t* p = first.data();
  // The header itself, then the extensions (backing format first), the end
  // marker and the name, as QEMU lays them out.
  std::vector<uint8_t> out(p, p + h.header_length);
  put_ext(out, kExtBackingFormat, reinterpret_cast<const uint8_t*>(format.data()), uint32_t(format.size()));
  const uint64_t ext_end = h.backing_name_offset ? std::min<uint64_t>(h.backing_name_offset, cs) : cs;
  for (uint64_t pos = h.header_length; pos + 8 <= ext_end;) {
    const uint32_t type = load_be32(p + pos), len = load_be32(p + pos + 4);
    if (type == kExtEnd) break;
    if (type != kExtBackingFormat) put_ext(out, type, p + pos + 8, len);
    pos += 8 + (uint64_t(len) + 7) / 8 * 8;
  }
  put_ext(out, kExtEnd, nullptr, 0);
  const uint64_t name_at = out.size();
  out.insert(out.end(), backing.begin(), backing.end());
  if (out.size() > cs) throw fail("the header, its extensions and the name would not fit in its first cluster");
  store_be64(&out[8], name_at);
  store_be32(&out[16], uint32_t(backing.size()));
  // The whole used part of the first cluster: the old name's bytes cleared.
  const uint64_t old_end = h.backing_name_offset ? h.backing_name_offset + h.backing_name_size : out.size();
  out.resize(std::max<uint64_t>(out.size(), std::min<uint64_t>(old_end, cs)), 0);
  if (::pwrite(fd.get(), out.data(), out.size(), 0) != ssize_t(out.size())) throw fail(std::strerror(errno));
  if (::fdatasync(fd.get()) != 0) throw fail(std::strerror(errno));
}

}  // namespace pv::disk
