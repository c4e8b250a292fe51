#include "config/disk_spec.h"

#include <array>
#include <cerrno>
#include <climits>
#include <cstdlib>

namespace pv::config {

namespace {

constexpr std::array<std::string_view, 6> kFormats{"raw", "qcow", "qcow2", "vhd", "qed", "empty"};
constexpr std::string_view kKnownKeys =
    "target, format, vdev, access, devtype, backend, backendtype, script, specification, "
    "the I/O limits iops, iops_rd, iops_wr, bps, bps_rd, bps_wr, burst_ms, "
    "and the flags cdrom, discard, no-discard, direct-io-safe, trusted, untrusted, force-raw";

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\n')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

class DiskParser {
 public:
  explicit DiskParser(std::string_view spec) : spec_(spec) {}

  DiskParseResult run() {
    DiskParseResult r;
    size_t i = 0;
    while (ok() && i < spec_.size()) {
      while (i < spec_.size() && (spec_[i] == ' ' || spec_[i] == '\t' || spec_[i] == '\n')) i++;
      if (i >= spec_.size()) break;
      std::string_view rest = spec_.substr(i);
      if (rest.substr(0, 7) == "target=") {
        // xl: target= takes the whole rest of the spec (commas included).
        std::string_view v = rest.substr(7);
        if (!v.empty() && v.back() == ',') v.remove_suffix(1);
        set_string("target", target_, v);
        break;
      }
      if (size_t n = deprecated_prefix(rest); n > 0) {
        i += n;
        continue;
      }
      if (!ok()) break;
      size_t comma = rest.find(',');
      std::string_view tok = trim(rest.substr(0, comma));
      i = comma == std::string_view::npos ? spec_.size() : i + comma + 1;
      parameter(tok);
    }
    if (ok()) finish();
    if (!ok()) {
      r.error = error_;
      return r;
    }
    r.disk = d_;
    r.warnings = warnings_;
    return r;
  }

 private:
  bool ok() const { return error_.empty(); }

  void fail(std::string msg) {
    if (ok()) error_ = std::move(msg);
  }

  // xl's deprecated "raw:", "phy:", "tap:aio:", ... prefixes. Returns the
  // length consumed, 0 if the text does not start with a prefix.
  size_t deprecated_prefix(std::string_view rest) {
    size_t n = 0;
    if (rest.empty() || !(rest[0] >= 'a' && rest[0] <= 'z')) return 0;
    while (n < rest.size() && is_lower_alnum(rest[n])) n++;
    if (n >= rest.size() || rest[n] != ':') return 0;
    std::string_view word = rest.substr(0, n);
    if (word == "raw" || word == "qcow" || word == "qcow2" || word == "vhd") {
      set_format(word);
    } else if (word == "iscsi" || word == "nbd" || word == "enbd" || word == "drbd") {
      set_string("script", script_, "block-" + std::string(word));
    } else if (word == "tapdisk" || word == "tap" || word == "tap2" || word == "aio" ||
               word == "ioemu" || word == "file" || word == "phy") {
      // stripped and ignored, as xl does
    } else if (n + 1 < rest.size() && is_lower_alnum(rest[n + 1])) {
      return 0;  // "hdc:cdrom" and the like: a positional vdev:devtype
    } else {
      fail("unknown deprecated disk prefix '" + std::string(word) + ":'");
      return 0;
    }
    had_prefix_ = true;
    return n + 1;
  }

  void parameter(std::string_view tok) {
    if (tok == "cdrom") { d_.devtype = DiskDevType::kCdrom; return; }
    if (tok == "discard") { d_.discard = true; return; }
    if (tok == "no-discard") { d_.discard = false; return; }
    if (tok == "direct-io-safe") { d_.direct_io_safe = true; return; }
    if (tok == "trusted") { d_.trusted = true; return; }
    if (tok == "untrusted") { d_.trusted = false; return; }
    if (tok == "force-raw") { d_.force_raw = true; return; }
    if (tok == "colo" || tok == "no-colo") { fail("COLO is not supported on this platform"); return; }
    size_t eq = tok.find('=');
    if (eq == std::string_view::npos) {
      positional(tok);
      return;
    }
    std::string_view key = tok.substr(0, eq), val = tok.substr(eq + 1);
    if (is_disk_limit_key(key)) {
      if (auto why = set_disk_limit(d_.limits, key, val); !why.empty()) fail(why);
      return;
    }
    if (key == "format") set_format(val);
    else if (key == "vdev") set_string("vdev", vdev_, val);
    else if (key == "access") set_access(val, false);
    else if (key == "devtype") {
      if (val == "cdrom") d_.devtype = DiskDevType::kCdrom;
      else if (val == "disk") d_.devtype = DiskDevType::kDisk;
      else fail("unknown value for devtype: '" + std::string(val) + "' (cdrom or disk)");
    } else if (key == "backend") set_string("backend", backend_, val);
    else if (key == "backendtype") {
      if (val == "phy" || val == "tap" || val == "qdisk" || val == "standalone")
        set_string("backendtype", backendtype_, val);
      else
        fail("unknown value for backendtype: '" + std::string(val) + "' (phy, tap, qdisk or standalone)");
    } else if (key == "script") set_string("script", script_, val);
    else if (key == "specification") {
      if (val != "xen") fail("specification '" + std::string(val) + "' is not supported (only xen)");
    } else if (key == "grant_usage" || key.substr(0, 5) == "colo-" || key == "active-disk" ||
               key == "hidden-disk") {
      fail("parameter '" + std::string(key) + "' is not supported on this platform");
    } else {
      fail("unknown parameter '" + std::string(key) + "' (known: " + std::string(kKnownKeys) + ")");
    }
  }

  // Parameters without '=' fill target, format, vdev, access in that order
  // (format is skipped after a deprecated prefix, as in xl).
  void positional(std::string_view tok) {
    if (!target_) {
      target_ = std::string(tok);
    } else if (!had_prefix_ && !format_set_) {
      if (target_->empty() && vdev_and_devtype(tok)) {
        d_.format = "empty";
        format_set_ = true;
      } else {
        set_format(tok);
      }
    } else if (!vdev_) {
      if (!vdev_and_devtype(tok)) vdev_ = std::string(tok);
    } else if (!access_set_) {
      access_set_ = true;
      set_access(tok, true);
    } else {
      fail("too many positional parameters near '" + std::string(tok) +
           "' (the order is target, format, vdev, access)");
    }
  }

  // Deprecated "hdc:cdrom" / "xvda:disk" in the vdev position.
  bool vdev_and_devtype(std::string_view tok) {
    size_t colon = tok.rfind(':');
    if (colon == std::string_view::npos) return false;
    set_string("vdev", vdev_, tok.substr(0, colon));
    std::string_view type = tok.substr(colon + 1);
    if (type == "cdrom") d_.devtype = DiskDevType::kCdrom;
    else if (type == "disk") d_.devtype = DiskDevType::kDisk;
    else fail("unknown device type '" + std::string(type) + "' after ':' (cdrom or disk)");
    return true;
  }

  void set_format(std::string_view f) {
    std::string v = f.empty() ? "raw" : std::string(f);
    bool known = false;
    for (auto k : kFormats) known = known || k == v;
    if (!known) {
      fail("unknown value for format: '" + v + "' (raw, qcow, qcow2, vhd, qed or empty)");
      return;
    }
    if (format_set_ && d_.format != v) {
      fail("format respecified: '" + d_.format + "' and '" + v + "'");
      return;
    }
    d_.format = v;
    format_set_ = true;
  }

  void set_access(std::string_view a, bool positional) {
    if (a == "r" || a == "ro") d_.access = DiskAccess::kReadOnly;
    else if (a == "rw" || a == "w" || a.empty()) d_.access = DiskAccess::kReadWrite;
    else if (a == "w!") d_.access = DiskAccess::kSharedWrite;
    else {
      fail("unknown value for access: '" + std::string(a) + "' (ro, r, rw, w, or w! to share it read-write)" +
           (positional ? " (the order is target, format, vdev, access)" : ""));
      return;
    }
    access_explicit_ = !a.empty();
  }

  // xl: each may be given once; an empty earlier value may be overridden.
  void set_string(const char* what, std::optional<std::string>& slot, std::string_view v) {
    if (slot && !slot->empty() && !v.empty() && *slot != v) {
      fail(std::string(what) + " respecified: '" + *slot + "' and '" + std::string(v) + "'");
      return;
    }
    if (!slot || slot->empty()) slot = std::string(v);
  }

  void finish() {
    if (d_.devtype == DiskDevType::kCdrom) {
      if (access_explicit_ && d_.access != DiskAccess::kReadOnly)
        warnings_.push_back("a cdrom is always read-only; read-write access ignored");
      d_.access = DiskAccess::kReadOnly;
      if (!target_ || target_->empty()) d_.format = "empty";
    }
    if (!vdev_ || vdev_->empty()) {
      fail("no vdev specified (the guest's device name, e.g. vdev=xvda)");
      return;
    }
    if (!vdev_to_devid(*vdev_)) {
      fail("invalid vdev '" + *vdev_ + "' (use xvdX, hdX or sdX with an optional partition number, "
           "dNpM, or a device number)");
      return;
    }
    if ((!target_ || target_->empty()) && d_.devtype != DiskDevType::kCdrom) {
      fail("no target specified (an image file or block device; only a cdrom may be empty)");
      return;
    }
    if (target_ && !target_->empty() && d_.format == "empty") {
      fail("format 'empty' is only for a cdrom with no target");
      return;
    }
    if (d_.force_raw && d_.format != "raw") {
      fail("force-raw is only for format=raw (it serves a file that starts with a qcow2 header as raw)");
      return;
    }
    d_.target = target_.value_or("");
    d_.vdev = *vdev_;
    d_.backend = backend_.value_or("");
    d_.backendtype = backendtype_.value_or("");
    d_.script = script_.value_or("");
  }

  std::string_view spec_;
  DiskSpec d_;
  std::optional<std::string> target_, vdev_, backend_, backendtype_, script_;
  bool had_prefix_ = false, format_set_ = false, access_set_ = false, access_explicit_ = false;
  std::string error_;
  std::vector<std::string> warnings_;
};

// Drive letters in bijective base 26: a=0 .. z=25, aa=26 ...; optional
// partition without leading zeros.
bool match_virtdisk(std::string_view v, std::string_view prefix, long max_disk, long max_part,
                    long& disk, long& part) {
  if (v.substr(0, prefix.size()) != prefix) return false;
  size_t i = prefix.size();
  disk = -1;
  while (i < v.size() && v[i] >= 'a' && v[i] <= 'z') {
    disk = (disk + 1) * 26 + (v[i] - 'a');
    if (disk > max_disk) return false;
    i++;
  }
  if (disk < 0) return false;
  part = 0;
  if (i == v.size()) return true;
  if (v[i] == '0') return false;
  long p = 0;
  for (; i < v.size(); i++) {
    if (v[i] < '0' || v[i] > '9') return false;
    p = p * 10 + (v[i] - '0');
    if (p > max_part) return false;
  }
  part = p;
  return true;
}

bool parse_decimal(std::string_view s, long max, long& out) {
  if (s.empty() || s.size() > 9) return false;
  long v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  if (v > max) return false;
  out = v;
  return true;
}

}  // namespace

DiskParseResult parse_disk_spec(std::string_view spec) { return DiskParser(spec).run(); }

std::string to_spec(const DiskSpec& d) {
  const char* access = d.readonly() ? "ro" : d.shared_write() ? "w!" : "rw";
  std::string s = "format=" + d.format + ", vdev=" + d.vdev + ", access=" + access;
  if (d.devtype == DiskDevType::kCdrom) s += ", devtype=cdrom";
  if (!d.discard) s += ", no-discard";
  if (d.direct_io_safe) s += ", direct-io-safe";
  if (!d.trusted) s += ", untrusted";
  if (d.force_raw) s += ", force-raw";
  if (d.limits.any() || d.limits.burst_ms) s += ", " + to_spec_text(d.limits);
  if (!d.backend.empty()) s += ", backend=" + d.backend;
  if (!d.backendtype.empty()) s += ", backendtype=" + d.backendtype;
  if (!d.script.empty()) s += ", script=" + d.script;
  s += ", target=" + d.target;  // last: it takes the rest of the spec
  return s;
}

std::optional<std::uint32_t> vdev_to_devid(std::string_view v) {
  long disk = 0, part = 0;
  // dN or dNpM (xen-vbd-interface(7) lists "d0"; libxl's sscanf wants the p).
  if (v.size() >= 2 && v[0] == 'd' && v[1] >= '0' && v[1] <= '9') {
    size_t p = v.find('p');
    if (!parse_decimal(v.substr(1, p == std::string_view::npos ? v.npos : p - 1), (1L << 20) - 1, disk))
      return std::nullopt;
    if (p != std::string_view::npos && !parse_decimal(v.substr(p + 1), 255, part)) return std::nullopt;
  } else if (!match_virtdisk(v, "xvd", (1L << 20) - 1, 255, disk, part)) {
    if (!v.empty() && v[0] >= '0' && v[0] <= '9') {
      // A raw xenstore number (hex, decimal or octal), as libxl accepts.
      std::string s(v);
      char* end = nullptr;
      errno = 0;
      unsigned long ul = std::strtoul(s.c_str(), &end, 0);
      if (errno || *end || ul > INT_MAX) return std::nullopt;
      return static_cast<std::uint32_t>(ul);
    }
    if (match_virtdisk(v, "hd", 3, 63, disk, part))
      return static_cast<std::uint32_t>(((disk < 2 ? 3 : 22) << 8) | ((disk & 1) << 6) | part);
    if (match_virtdisk(v, "sd", 15, 15, disk, part))
      return static_cast<std::uint32_t>((8 << 8) | (disk << 4) | part);
    return std::nullopt;
  }
  if (disk <= 15 && part <= 15) return static_cast<std::uint32_t>((202 << 8) | (disk << 4) | part);
  return static_cast<std::uint32_t>((1L << 28) | (disk << 8) | part);
}

}  // namespace pv::config
