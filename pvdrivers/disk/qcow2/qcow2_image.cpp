// Qcow2Image: opening (header, tables, backing chain) and reading.
// Writing, allocation and refcounts are in qcow2_write.cpp.
#include "disk/qcow2/qcow2_image.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "disk/qcow2/qcow2_io.h"
#include "pv/error.h"
#include "pv/log.h"

namespace pv::disk {

using namespace qcow2;

struct Qcow2Image::Chain {
  std::vector<std::pair<dev_t, ino_t>> files;  // top first
  std::vector<std::string> paths;
};

namespace {

// Appends `r` to out[first..], merging it with the last run when they
// continue each other.
void push_run(std::vector<ImageRun>& out, size_t first, const ImageRun& r) {
  if (r.bytes == 0) return;
  if (out.size() > first) {
    ImageRun& last = out.back();
    if (last.kind == r.kind &&
        (r.kind != ImageRun::Kind::kFile || (last.file == r.file && last.file_offset + last.bytes == r.file_offset))) {
      last.bytes += r.bytes;
      return;
    }
  }
  out.push_back(r);
}

std::string directory_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

Qcow2Image::Qcow2Image(const std::string& path, bool readonly) : Qcow2Image(path, readonly, nullptr) {}

Qcow2Image::Qcow2Image(const std::string& path, bool readonly, Chain* chain)
    : path_(path), readonly_(readonly), file_(path, readonly), l2_cache_(16), refblock_cache_(4) {
  if (chain) {
    open(*chain);
  } else {
    Chain top;
    open(top);
  }
}

void Qcow2Image::open(Chain& chain) {
  struct stat st{};
  if (::fstat(file_.buffered_fd(), &st) != 0) throw SystemError("fstat " + path_, errno);
  for (size_t i = 0; i < chain.files.size(); i++) {
    if (chain.files[i] != std::pair<dev_t, ino_t>(st.st_dev, st.st_ino)) continue;
    if (i + 1 == chain.files.size()) throw UserError(chain.paths[i] + ": the backing file " + path_ + " is the image itself");
    throw UserError(chain.paths[0] + ": loop in the backing chain (" + path_ + " is also " + chain.paths[i] + ")");
  }
  depth_ = unsigned(chain.files.size());
  if (depth_ > kMaxBackingDepth)
    throw UserError(chain.paths[0] + ": backing chain deeper than " + std::to_string(kMaxBackingDepth) + " files");
  chain.files.emplace_back(st.st_dev, st.st_ino);
  chain.paths.push_back(path_);

  file_end_ = file_.bytes();
  std::vector<uint8_t> first(std::min<uint64_t>(file_end_, uint64_t(1) << kMaxClusterBits));
  if (pread_full(file_.buffered_fd(), first.data(), first.size(), 0) != ssize_t(first.size()))
    throw UserError("cannot read the header of " + path_);
  h_ = parse_header(path_, first, file_end_, readonly_);
  virtual_size_.store(h_.virtual_size, std::memory_order_release);
  if (!readonly_ && h_.nb_snapshots != 0)
    throw UserError(path_ + ": images with internal snapshots can only be opened read-only");
  const uint64_t cs = h_.cluster_size;
  alloc_end_ = (file_end_ + cs - 1) & ~(cs - 1);
  used_end_known_ = !file_.block_device();

  std::vector<uint8_t> raw(uint64_t(h_.l1_size) * 8);
  if (!raw.empty() && pread_full(file_.buffered_fd(), raw.data(), raw.size(), h_.l1_offset) != ssize_t(raw.size()))
    throw UserError("cannot read the L1 table of " + path_);
  l1_.resize(h_.l1_size);
  for (size_t i = 0; i < l1_.size(); i++) l1_[i] = load_be64(&raw[i * 8]);
  raw.assign(h_.refcount_table_entries() * 8, 0);
  if (pread_full(file_.buffered_fd(), raw.data(), raw.size(), h_.refcount_table_offset) != ssize_t(raw.size()))
    throw UserError("cannot read the refcount table of " + path_);
  refcount_table_.resize(h_.refcount_table_entries());
  for (size_t i = 0; i < refcount_table_.size(); i++) refcount_table_[i] = load_be64(&raw[i * 8]);

  // A few MiB of L2 tables (4 MiB map 32 GiB of guest with 64 KiB clusters).
  l2_cache_.set_max_clean(std::max<uint64_t>(4, (4u << 20) / cs));
  refblock_cache_.set_max_clean(std::max<uint64_t>(4, (1u << 20) / cs));

  if (!readonly_) {
    // Every cluster whole in the file, so no run ever ends at EOF.
    if (alloc_end_ != file_end_ && !file_.block_device()) {
      if (::ftruncate(file_.buffered_fd(), off_t(alloc_end_)) != 0) throw SystemError("ftruncate " + path_, errno);
      file_end_ = alloc_end_;
    }
    if (h_.autoclear != 0 && clear_autoclear() != 0) throw UserError("cannot clear the autoclear feature bits of " + path_);
  }
  open_backing(chain);
}

void Qcow2Image::open_backing(Chain& chain) {
  if (h_.backing_name.empty()) return;
  const std::string& name = h_.backing_name;
  if (name.rfind("json:", 0) == 0) throw UserError(path_ + ": json: backing file names are not supported");
  backing_path_ = name[0] == '/' ? name : directory_of(path_) + "/" + name;
  backing_format_ = h_.backing_format;
  if (backing_format_.empty()) {
    // No format recorded: probe it, as QEMU does for backing files.
    UniqueFd fd(::open(backing_path_.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) throw UserError(path_ + ": cannot open its backing file " + backing_path_ + ": " + std::strerror(errno));
    uint8_t magic[4] = {};
    backing_format_ = pread_full(fd.get(), magic, 4, 0) == 4 && has_magic(magic, 4) ? "qcow2" : "raw";
  }
  if (backing_format_ != "qcow2" && backing_format_ != "raw")
    throw UserError(path_ + ": backing file format \"" + backing_format_ + "\" is not supported (qcow2 and raw are)");
  try {
    if (backing_format_ == "qcow2") {
      backing_qcow2_.reset(new Qcow2Image(backing_path_, true, &chain));
    } else {
      backing_raw_ = std::make_unique<HostFile>(backing_path_, true);
      struct stat st{};
      if (::fstat(backing_raw_->buffered_fd(), &st) != 0) throw SystemError("fstat " + backing_path_, errno);
      for (size_t i = 0; i < chain.files.size(); i++)
        if (chain.files[i] == std::pair<dev_t, ino_t>(st.st_dev, st.st_ino))
          throw UserError(i + 1 == chain.files.size() ? chain.paths[i] + ": the backing file " + backing_path_ + " is the image itself"
                                                      : chain.paths[0] + ": loop in the backing chain (" + backing_path_ + " is also " + chain.paths[i] + ")");
    }
  } catch (const UserError& e) {
    const std::string what = e.what();
    if (what.find(path_) != std::string::npos) throw;
    throw UserError(path_ + ": backing file: " + what);
  }
}

uint64_t Qcow2Image::backing_bytes() const {
  if (backing_qcow2_) return backing_qcow2_->bytes();
  if (backing_raw_) return backing_raw_->bytes();
  return 0;
}

int Qcow2Image::corrupt(const std::string& what) {
  corrupt_found_ = true;
  if (corrupt_logged_ < 8) {
    corrupt_logged_++;
    log::error(path_ + ": corrupt qcow2 image: " + what + (corrupt_logged_ == 8 ? " (further errors not logged)" : ""));
  }
  return -EUCLEAN;
}

int Qcow2Image::read_meta(uint64_t off, uint8_t* buf, size_t len) {
  const ssize_t n = pread_full(file_.buffered_fd(), buf, len, off);
  if (n < 0) return int(n);
  return size_t(n) == len ? 0 : corrupt("metadata at " + to_hex(off) + " is past the end of the file");
}

bool Qcow2Image::overlaps_header_metadata(uint64_t host, uint64_t len) const {
  auto hit = [&](uint64_t start, uint64_t bytes) { return bytes != 0 && host < start + bytes && start < host + len; };
  const uint64_t cs = h_.cluster_size;
  return hit(0, cs) || hit(h_.l1_offset, (uint64_t(h_.l1_size) * 8 + cs - 1) & ~(cs - 1)) ||
         hit(h_.refcount_table_offset, uint64_t(h_.refcount_table_clusters) * cs);
}

int Qcow2Image::load_l2(uint64_t l1i, ClusterCache::EntryPtr& l2) {
  l2 = nullptr;
  if (l1i >= l1_.size()) return corrupt("guest offset beyond the L1 table");
  const uint64_t e = l1_[l1i];
  if (e & kL1Reserved) return corrupt("L1 entry " + std::to_string(l1i) + " has reserved bits set (" + to_hex(e) + ")");
  const uint64_t off = e & kOffsetMask;
  if (off == 0) return 0;
  const uint64_t cs = h_.cluster_size;
  if ((off & (cs - 1)) != 0 || off >= alloc_end_ || overlaps_header_metadata(off, cs))
    return corrupt("L1 entry " + std::to_string(l1i) + " points at " + to_hex(off) + ": outside the file, unaligned, or on the header, L1 or refcount table");
  l2 = l2_cache_.find(off);
  if (l2) return 0;
  std::vector<uint8_t> table(cs);
  if (int r = read_meta(off, table.data(), cs)) return r;
  l2 = l2_cache_.insert(off, std::move(table));
  return 0;
}

int Qcow2Image::decode_l2(uint64_t entry, Mapping& m) {
  m = Mapping{};
  const uint64_t cs = h_.cluster_size;
  if (entry & kOflagCompressed) {
    if (entry & kOflagCopied) return corrupt("compressed L2 entry " + to_hex(entry) + " has the COPIED flag");
    const unsigned x = 62 - (h_.cluster_bits - 8);
    const uint64_t host = entry & ((uint64_t(1) << x) - 1);
    const uint64_t sectors = (entry >> x) & ((uint64_t(1) << (62 - x)) - 1);
    if (host >> 56) return corrupt("compressed L2 entry " + to_hex(entry) + " has reserved offset bits set");
    m.kind = Mapping::Kind::kCompressed;
    m.host = host;
    m.csize = (sectors + 1) * 512 - (host & 511);
    if (host < cs || host >= file_end_) return corrupt("compressed cluster at " + to_hex(host) + " lies outside the file");
    return 0;
  }
  if (entry & kL2Reserved) return corrupt("L2 entry " + to_hex(entry) + " has reserved bits set");
  const bool zero = entry & kOflagZero;
  if (zero && h_.version < 3) return corrupt("L2 entry " + to_hex(entry) + " has the zero flag in a version 2 image");
  const uint64_t host = entry & kOffsetMask;
  m.copied = entry & kOflagCopied;
  if (host == 0) {
    if (m.copied) return corrupt("L2 entry " + to_hex(entry) + " maps host offset 0 (external data files are not supported)");
    m.kind = zero ? Mapping::Kind::kZero : Mapping::Kind::kUnallocated;
    return 0;
  }
  if ((host & (cs - 1)) != 0 || host >= alloc_end_ || overlaps_header_metadata(host, cs))
    return corrupt("L2 entry " + to_hex(entry) + " points at " + to_hex(host) + ": outside the file, unaligned, or on the header, L1 or refcount table");
  m.kind = zero ? Mapping::Kind::kZero : Mapping::Kind::kData;
  m.host = host;
  return 0;
}

int Qcow2Image::lookup(uint64_t vcluster, Mapping& m) {
  m = Mapping{};
  ClusterCache::EntryPtr l2;
  if (int r = load_l2(vcluster >> h_.l2_bits(), l2)) return r;
  if (!l2) return 0;
  return decode_l2(load_be64(&l2->bytes[(vcluster & (h_.l2_entries() - 1)) * 8]), m);
}

int Qcow2Image::map_backing(uint64_t off, uint64_t len, std::vector<ImageRun>& out) {
  const uint64_t bb = backing_bytes();
  const uint64_t in = off < bb ? std::min(len, bb - off) : 0;
  if (in > 0) {
    if (backing_qcow2_) {
      if (int r = backing_qcow2_->map_read(off, in, out)) return r;
    } else {
      ImageRun run;
      run.kind = ImageRun::Kind::kFile;
      run.bytes = in;
      run.file = backing_raw_.get();
      run.file_offset = off;
      out.push_back(run);
    }
  }
  if (len > in) out.push_back(ImageRun{ImageRun::Kind::kZero, len - in, nullptr, 0});
  return 0;
}

int Qcow2Image::map_read(uint64_t off, uint64_t len, std::vector<ImageRun>& out) {
  if (off > bytes() || len > bytes() - off) return -EINVAL;
  std::lock_guard lock(mu_);
  const size_t first = out.size();
  const uint64_t cs = h_.cluster_size;
  std::vector<ImageRun> below;
  while (len > 0) {
    const uint64_t in = off & (cs - 1), n = std::min(len, cs - in);
    Mapping m;
    if (int r = lookup(off >> h_.cluster_bits, m)) {
      out.resize(first);
      return r;
    }
    switch (m.kind) {
      case Mapping::Kind::kData: {
        const uint64_t at = m.host + in;
        const uint64_t file_part = at < file_end_ ? std::min(n, file_end_ - at) : 0;  // a read-only image's short last cluster
        push_run(out, first, ImageRun{ImageRun::Kind::kFile, file_part, &file_, at});
        push_run(out, first, ImageRun{ImageRun::Kind::kZero, n - file_part, nullptr, 0});
        break;
      }
      case Mapping::Kind::kZero:
        push_run(out, first, ImageRun{ImageRun::Kind::kZero, n, nullptr, 0});
        break;
      case Mapping::Kind::kCompressed:
        push_run(out, first, ImageRun{ImageRun::Kind::kCopy, n, nullptr, 0});
        break;
      case Mapping::Kind::kUnallocated:
        below.clear();
        if (int r = map_backing(off, n, below)) {
          out.resize(first);
          return r;
        }
        for (const auto& run : below) push_run(out, first, run);
        break;
    }
    off += n;
    len -= n;
  }
  return 0;
}

int Qcow2Image::inflate_cluster(const Mapping& m, uint8_t* out) {
  const uint64_t avail = std::min(m.csize, file_end_ - m.host);
  std::vector<uint8_t> in(avail);
  const ssize_t got = pread_full(file_.buffered_fd(), in.data(), in.size(), m.host);
  if (got < 0) return int(got);
  z_stream z{};
  if (inflateInit2(&z, -12) != Z_OK) return -ENOMEM;
  z.next_in = in.data();
  z.avail_in = uInt(got);
  z.next_out = out;
  z.avail_out = uInt(h_.cluster_size);
  const int r = inflate(&z, Z_FINISH);
  const uint64_t produced = h_.cluster_size - z.avail_out;
  inflateEnd(&z);
  if ((r != Z_STREAM_END && r != Z_OK && r != Z_BUF_ERROR) || produced != h_.cluster_size)
    return corrupt("compressed cluster at " + to_hex(m.host) + " does not inflate to a whole cluster");
  return 0;
}

int Qcow2Image::read_backing(uint64_t off, uint64_t len, uint8_t* buf) {
  const uint64_t bb = backing_bytes();
  const uint64_t in = off < bb ? std::min(len, bb - off) : 0;
  if (in > 0) {
    if (backing_qcow2_) {
      iovec iov{buf, in};
      if (int r = backing_qcow2_->read_sync(off, in, &iov, 1)) return r;
    } else {
      const ssize_t n = pread_full(backing_raw_->buffered_fd(), buf, in, off);
      if (n < 0) return int(n);
      std::memset(buf + n, 0, in - uint64_t(n));
    }
  }
  std::memset(buf + in, 0, len - in);
  return 0;
}

int Qcow2Image::read_cluster_part(uint64_t off, uint64_t len, uint8_t* buf) {
  const uint64_t in = off & (h_.cluster_size - 1);
  Mapping m;
  if (int r = lookup(off >> h_.cluster_bits, m)) return r;
  switch (m.kind) {
    case Mapping::Kind::kData: {
      const ssize_t n = pread_full(file_.buffered_fd(), buf, len, m.host + in);
      if (n < 0) return int(n);
      std::memset(buf + n, 0, len - uint64_t(n));
      return 0;
    }
    case Mapping::Kind::kZero:
      std::memset(buf, 0, len);
      return 0;
    case Mapping::Kind::kCompressed: {
      std::vector<uint8_t> cluster(h_.cluster_size);
      if (int r = inflate_cluster(m, cluster.data())) return r;
      std::memcpy(buf, cluster.data() + in, len);
      return 0;
    }
    case Mapping::Kind::kUnallocated:
      return read_backing(off, len, buf);
  }
  return -EIO;
}

int Qcow2Image::read_range(uint64_t off, uint64_t len, uint8_t* buf) {
  const uint64_t cs = h_.cluster_size;
  while (len > 0) {
    const uint64_t n = std::min(len, cs - (off & (cs - 1)));
    if (int r = read_cluster_part(off, n, buf)) return r;
    off += n;
    len -= n;
    buf += n;
  }
  return 0;
}

int Qcow2Image::read_sync(uint64_t off, uint64_t len, const iovec* iov, int iovcnt) {
  if (off > bytes() || len > bytes() - off) return -EINVAL;
  uint64_t room = 0;
  for (int i = 0; i < iovcnt; i++) room += iov[i].iov_len;
  if (room < len) return -EINVAL;
  std::vector<uint8_t> buf;
  uint8_t* dst = iovcnt == 1 ? static_cast<uint8_t*>(iov[0].iov_base) : (buf.resize(len), buf.data());
  {
    std::lock_guard lock(mu_);
    if (int r = read_range(off, len, dst)) return r;
  }
  if (iovcnt != 1) {
    uint64_t done = 0;
    for (int i = 0; i < iovcnt && done < len; i++) {
      const uint64_t n = std::min<uint64_t>(iov[i].iov_len, len - done);
      std::memcpy(iov[i].iov_base, buf.data() + done, n);
      done += n;
    }
  }
  return 0;
}

std::unique_ptr<DiskImage> open_qcow2_image(const std::string& path, bool readonly) {
  return std::make_unique<Qcow2Image>(path, readonly);
}

}  // namespace pv::disk
