#include "config/domain_config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "config/known_keys.h"
#include "config/xl_syntax.h"

namespace pv::config {

namespace {

std::string show(const Value& v) {
  if (v.is_list()) return "a list";
  return v.quoted ? quote_xl_string(v.text) : v.text;
}

// strtol(s, 0) as xl's xlu_cfg_get_long: leading blanks, optional sign,
// 0x hex, leading-0 octal, decimal; the whole text must be used.
std::optional<long long> parse_xl_number(std::string_view s, bool& octal) {
  octal = false;
  size_t i = 0;
  while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) i++;
  bool neg = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) neg = s[i++] == '-';
  int base = 10;
  if (i + 1 < s.size() && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
    base = 16;
    i += 2;
  } else if (i + 1 < s.size() && s[i] == '0') {
    base = 8;
    octal = true;
  }
  if (i >= s.size()) return std::nullopt;
  unsigned long long v = 0;
  for (; i < s.size(); i++) {
    char c = s[i];
    int d = c >= '0' && c <= '9' ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : 99;
    if (d >= base) return std::nullopt;
    if (v > (static_cast<unsigned long long>(INT64_MAX) - d) / base) return std::nullopt;
    v = v * base + d;
  }
  return neg ? -static_cast<long long>(v) : static_cast<long long>(v);
}

class Builder {
 public:
  Builder(const SyntaxResult& syn, const std::string& file, ParseResult& out)
      : syn_(syn), file_(file), out_(out) {}

  void run() {
    check_keys();
    type();
    c_.name = required_string("name", "the domain's name, e.g. name = \"web1\"");
    if (const Setting* s = syn_.find("name"); s && s->value.is_string() && !c_.name.empty()) {
      if (std::string why = check_domain_name(c_.name); !why.empty()) error(s->line, "name", why);
    }
    memory();
    vcpus();
    cpu_share();
    c_.kernel = required_string("kernel", "the PVH kernel to boot, e.g. kernel = \"/boot/vmlinuz\"");
    c_.ramdisk = optional_string("ramdisk").value_or("");
    cmdline();
    c_.on_poweroff = action("on_poweroff", ShutdownAction::kDestroy);
    c_.on_reboot = action("on_reboot", ShutdownAction::kRestart);
    c_.on_watchdog = action("on_watchdog", ShutdownAction::kDestroy);
    c_.on_crash = action("on_crash", ShutdownAction::kDestroy);
    c_.on_soft_reset = action("on_soft_reset", ShutdownAction::kSoftReset);
    uuid();
    disks();
    vifs();
    if (out_.errors.empty()) out_.config = std::move(c_);
  }

 private:
  void error(int line, std::string key, std::string msg) {
    out_.errors.push_back({file_, line, std::move(key), std::move(msg)});
  }
  void warn(int line, std::string key, std::string msg) {
    out_.warnings.push_back({file_, line, std::move(key), std::move(msg)});
  }

  // Unknown keys: xl silently ignores every key it does not look up. We warn
  // instead, and refuse a key within typo distance of one we use (a
  // misspelt on_crash must not silently become the default).
  void check_keys() {
    for (const auto& s : syn_.settings) {
      bool supported = false;
      for (auto k : supported_keys()) supported = supported || k == s.key;
      if (supported) continue;
      if (is_xl_only_key(s.key)) {
        warn(s.line, s.key, "ignored: xl knows this key but this platform does not use it");
      } else if (auto near = suggest_key(s.key)) {
        error(s.line, s.key, "unknown key; did you mean '" + std::string(*near) + "'?");
      } else {
        warn(s.line, s.key, "unknown key, ignored");
      }
    }
  }

  // The same for the parameters of one vif or disk.
  void unimplemented(int line, const std::string& key, const VifSpec& v) {
    auto tell = [&](const std::string& what, const std::string& value, const char* why) {
      if (!value.empty()) warn(line, key, what + "=" + value + " is not implemented yet and is ignored (" + why + ")");
    };
    tell("model", v.model, "every vif is a Xen PV network device");
    tell("rate", v.rate, "the vif's traffic is not rate-limited");
    tell("vifname", v.vifname, "pvd names the host-side device itself");
    tell("gatewaydev", v.gatewaydev, "no vif script runs");
    tell("vlan", v.vlan, "the vif joins its bridge untagged");
    if (v.type == "ioemu") tell("type", v.type, "there is no emulated NIC");
  }
  void unimplemented(int line, const std::string& key, const DiskSpec& d) {
    if (!d.backendtype.empty() && d.backendtype != "phy")
      warn(line, key, "backendtype=" + d.backendtype + " is not implemented yet and is ignored (pv-backd serves "
                      "every disk itself)");
  }

  const Setting* string_setting(const char* key) {
    const Setting* s = syn_.find(key);
    if (s && s->value.is_list()) {
      error(s->line, key, "expected a single value, got a list");
      return nullptr;
    }
    return s;
  }

  std::optional<std::string> optional_string(const char* key) {
    const Setting* s = string_setting(key);
    if (!s) return std::nullopt;
    return s->value.text;
  }

  std::string required_string(const char* key, const char* what) {
    const Setting* s = syn_.find(key);
    if (!s) {
      error(0, key, std::string("required key is missing: ") + what);
      return {};
    }
    auto v = optional_string(key);
    if (v && v->empty()) error(s->line, key, std::string("must not be empty: ") + what);
    return v.value_or("");
  }

  // A number key: xl accepts a bare number or a quoted one, but not '+='.
  std::optional<long long> number(const char* key, const char* what) {
    const Setting* s = string_setting(key);
    if (!s) return std::nullopt;
    if (s->appended) {
      error(s->line, key, "'+=' cannot be used with numbers");
      return std::nullopt;
    }
    bool octal = false;
    auto v = parse_xl_number(s->value.text, octal);
    if (!v) {
      error(s->line, key, std::string("expected ") + what + ", got " + show(s->value));
      return std::nullopt;
    }
    if (octal)
      warn(s->line, key, "'" + s->value.text + "' has a leading 0 and is read as octal (= " +
                             std::to_string(*v) + "), as xl does");
    return v;
  }

  void type() {
    if (auto t = optional_string("type")) {
      if (*t != "pvh") {
        const Setting* s = syn_.find("type");
        error(s->line, "type",
              "guest type " + quote_xl_string(*t) + " is not supported: this platform runs PVH guests only "
              "(type = \"pvh\")");
      }
    }
    // xl's deprecated builder= names HVM ("hvm") or PV ("generic") guests.
    if (auto b = optional_string("builder")) {
      const Setting* s = syn_.find("builder");
      error(s->line, "builder",
            "builder " + quote_xl_string(*b) + " selects a " + (*b == "hvm" ? "HVM" : "PV") +
                " guest, which this platform does not run; remove it and use type = \"pvh\"");
    }
  }

  void memory() {
    const Setting* ms = syn_.find("memory");
    if (!ms) {
      error(0, "memory", "required key is missing: the guest's memory in MiB, e.g. memory = 512");
    } else if (auto m = number("memory", "a number of MiB")) {
      if (*m <= 0) error(ms->line, "memory", "must be at least 1 MiB, got " + std::to_string(*m));
      else if (static_cast<unsigned long long>(*m) > kMaxMemoryMib)
        error(ms->line, "memory", std::to_string(*m) + " MiB is more than the limit of " +
                                      std::to_string(kMaxMemoryMib) + " MiB");
      else c_.memory_mib = static_cast<std::uint64_t>(*m);
    }
    c_.maxmem_mib = c_.memory_mib;
    if (const Setting* s = syn_.find("maxmem")) {
      if (auto m = number("maxmem", "a number of MiB")) {
        if (*m <= 0 || static_cast<unsigned long long>(*m) > kMaxMemoryMib)
          error(s->line, "maxmem", "must be between 1 and " + std::to_string(kMaxMemoryMib) + " MiB");
        else if (c_.memory_mib && static_cast<std::uint64_t>(*m) < c_.memory_mib)
          error(s->line, "maxmem", "maxmem (" + std::to_string(*m) + " MiB) must be at least memory (" +
                                       std::to_string(c_.memory_mib) + " MiB)");
        else c_.maxmem_mib = static_cast<std::uint64_t>(*m);
      }
    }
  }

  void vcpus() {
    std::string range = "between 1 and " + std::to_string(kMaxVcpus);
    if (const Setting* s = syn_.find("vcpus")) {
      if (auto v = number("vcpus", "a number of vCPUs")) {
        // xl quietly turns vcpus < 1 into 1; a config saying 0 is a mistake.
        if (*v < 1 || *v > kMaxVcpus) error(s->line, "vcpus", "must be " + range + ", got " + std::to_string(*v));
        else c_.vcpus = static_cast<std::uint32_t>(*v);
      }
    }
    c_.maxvcpus = c_.vcpus;
    if (const Setting* s = syn_.find("maxvcpus")) {
      if (auto v = number("maxvcpus", "a number of vCPUs")) {
        if (*v < 1 || *v > kMaxVcpus) error(s->line, "maxvcpus", "must be " + range + ", got " + std::to_string(*v));
        else if (*v < c_.vcpus)
          error(s->line, "maxvcpus", "maxvcpus (" + std::to_string(*v) + ") must be at least vcpus (" +
                                         std::to_string(c_.vcpus) + ")");
        else c_.maxvcpus = static_cast<std::uint32_t>(*v);
      }
    }
  }

  // The credit scheduler's share (xl.cfg cpu_weight, cap), as `xl
  // sched-credit` sets it on a running domain.
  void cpu_share() {
    if (const Setting* s = syn_.find("cpu_weight")) {
      if (auto v = number("cpu_weight", "a scheduler weight")) {
        if (*v < 1 || *v > 65535) error(s->line, "cpu_weight", "must be between 1 and 65535, got " + std::to_string(*v));
        else c_.cpu_weight = static_cast<std::uint32_t>(*v);
      }
    }
    if (const Setting* s = syn_.find("cap")) {
      if (auto v = number("cap", "a percentage of one CPU")) {
        const std::uint64_t most = 100ull * c_.maxvcpus;
        if (*v < 0 || static_cast<std::uint64_t>(*v) > most)
          error(s->line, "cap", "must be at most " + std::to_string(most) + " (100 per vCPU, 0 for none), got " +
                                    std::to_string(*v));
        else c_.cap = static_cast<std::uint32_t>(*v);
      }
    }
  }

  // xl (parse_cmdline): cmdline wins; otherwise "root=ROOT EXTRA".
  void cmdline() {
    auto cmd = optional_string("cmdline");
    auto root = optional_string("root");
    auto extra = optional_string("extra");
    if (cmd) {
      c_.cmdline = *cmd;
      if (root || extra) {
        const Setting* s = syn_.find(root ? "root" : "extra");
        warn(s->line, root ? "root" : "extra", "ignoring root= and extra= in favour of cmdline=");
      }
    } else if (root && extra) {
      c_.cmdline = "root=" + *root + " " + *extra;
    } else if (root) {
      c_.cmdline = "root=" + *root;
    } else if (extra) {
      c_.cmdline = *extra;
    }
  }

  ShutdownAction action(const char* key, ShutdownAction dflt) {
    auto v = optional_string(key);
    if (!v) return dflt;
    if (auto a = parse_shutdown_action(*v)) return *a;
    error(syn_.find(key)->line, key,
          "unknown action " + quote_xl_string(*v) + " (one of " + std::string(shutdown_action_names()) + ")");
    return dflt;
  }

  void uuid() {
    auto v = optional_string("uuid");
    if (!v) return;
    if (auto u = canonical_uuid(*v)) {
      c_.uuid = *u;
    } else {
      error(syn_.find("uuid")->line, "uuid",
            "invalid UUID " + quote_xl_string(*v) + " (expected the form 01234567-89ab-cdef-0123-456789abcdef)");
    }
  }

  // disk = [ ... ] and vif = [ ... ]: a list of quoted spec strings.
  const Setting* spec_list(const char* key, const char* example) {
    const Setting* s = syn_.find(key);
    if (!s) return nullptr;
    if (!s->value.is_list()) {
      error(s->line, key, std::string("expected a list of specs, e.g. ") + example);
      return nullptr;
    }
    return s;
  }

  void disks() {
    const Setting* s = spec_list("disk", "disk = [ 'format=raw, vdev=xvda, access=rw, target=/path/disk.img' ]");
    if (!s) return;
    std::map<std::uint32_t, std::string> devids;
    for (size_t i = 0; i < s->value.items.size(); i++) {
      const Value& item = s->value.items[i];
      std::string key = "disk[" + std::to_string(i) + "]";
      if (!item.is_string()) {
        error(item.line, key, "expected a disk spec string, got a list");
        continue;
      }
      auto r = parse_disk_spec(item.text);
      for (const auto& w : r.warnings) warn(item.line, key, w + " in " + quote_xl_string(item.text));
      if (!r.disk) {
        error(item.line, key, r.error + " in " + quote_xl_string(item.text));
        continue;
      }
      std::uint32_t id = *vdev_to_devid(r.disk->vdev);
      if (auto [it, fresh] = devids.emplace(id, r.disk->vdev); !fresh) {
        error(item.line, key, "vdev " + r.disk->vdev + " is the same device as " + it->second +
                                  " of an earlier disk; each disk needs its own vdev");
        continue;
      }
      unimplemented(item.line, key, *r.disk);
      c_.disks.push_back(std::move(*r.disk));
    }
  }

  void vifs() {
    const Setting* s = spec_list("vif", "vif = [ 'mac=00:16:3e:12:34:56, bridge=br0' ]");
    if (!s) return;
    std::map<MacAddress, size_t> macs;
    std::map<std::uint32_t, size_t> devids;
    for (size_t i = 0; i < s->value.items.size(); i++) {
      const Value& item = s->value.items[i];
      std::string key = "vif[" + std::to_string(i) + "]";
      if (!item.is_string()) {
        error(item.line, key, "expected a vif spec string, got a list");
        continue;
      }
      auto r = parse_vif_spec(item.text);
      for (const auto& w : r.warnings) warn(item.line, key, w + " in " + quote_xl_string(item.text));
      if (!r.vif) {
        error(item.line, key, r.error + " in " + quote_xl_string(item.text));
        continue;
      }
      if (r.vif->mac) {
        if (auto [it, fresh] = macs.emplace(*r.vif->mac, i); !fresh) {
          error(item.line, key, "mac " + to_string(*r.vif->mac) + " is already used by vif[" +
                                    std::to_string(it->second) + "]");
          continue;
        }
      }
      if (r.vif->devid) {
        if (auto [it, fresh] = devids.emplace(*r.vif->devid, i); !fresh) {
          error(item.line, key, "devid " + std::to_string(*r.vif->devid) + " is already used by vif[" +
                                    std::to_string(it->second) + "]");
          continue;
        }
      }
      unimplemented(item.line, key, *r.vif);
      c_.vifs.push_back(std::move(*r.vif));
    }
  }

  const SyntaxResult& syn_;
  const std::string& file_;
  ParseResult& out_;
  DomainConfig c_;
};

}  // namespace

std::string check_domain_name(std::string_view name) {
  if (name.empty()) return "must not be empty";
  if (name.size() > kMaxNameLength)
    return "is longer than " + std::to_string(kMaxNameLength) + " characters";
  bool all_digits = true;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.';
    if (!ok)
      return "invalid character " + quote_xl_string(std::string(1, c)) + " in " +
             quote_xl_string(name) + " (use letters, digits, '_', '-' and '.')";
    all_digits = all_digits && c >= '0' && c <= '9';
  }
  if (all_digits) return quote_xl_string(name) + " is all digits and would be taken for a domain ID";
  if (name[0] == '-' || name[0] == '.') return quote_xl_string(name) + " must not start with '-' or '.'";
  return {};
}

std::optional<std::string> canonical_uuid(std::string_view u) {
  if (u.size() != 36) return std::nullopt;
  std::string out(u);
  for (size_t i = 0; i < out.size(); i++) {
    char& c = out[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return std::nullopt;
      continue;
    }
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  return out;
}

ParseResult parse_domain_config(std::string_view text, const std::string& source) {
  ParseResult out;
  if (text.size() > kMaxConfigBytes) {
    out.errors.push_back({source, 0, "", "config is larger than " + std::to_string(kMaxConfigBytes) +
                                             " bytes; refusing to read it"});
    return out;
  }
  SyntaxResult syn = parse_xl_syntax(text, source);
  out.warnings = syn.warnings;
  if (!syn.errors.empty()) {
    out.errors = std::move(syn.errors);
    return out;
  }
  Builder(syn, source, out).run();
  return out;
}

ParseResult load_domain_config(const std::string& path) {
  ParseResult out;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.errors.push_back({path, 0, "", std::string("cannot open: ") + std::strerror(errno)});
    return out;
  }
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxConfigBytes) break;
  }
  if (in.bad()) {
    out.errors.push_back({path, 0, "", std::string("cannot read: ") + std::strerror(errno)});
    return out;
  }
  return parse_domain_config(text, path);
}

DomainConfig parse_domain_config_or_throw(std::string_view text, const std::string& source) {
  ParseResult r = parse_domain_config(text, source);
  if (!r.ok()) throw ConfigError(std::move(r.errors));
  return std::move(*r.config);
}

DomainConfig load_domain_config_or_throw(const std::string& path) {
  ParseResult r = load_domain_config(path);
  if (!r.ok()) throw ConfigError(std::move(r.errors));
  return std::move(*r.config);
}

}  // namespace pv::config
