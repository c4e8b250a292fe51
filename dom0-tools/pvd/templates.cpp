// Templates, as Vagrant boxes are used (docs/disks.md, "Templates"): a
// template is a domain's configuration with a read-only base per disk, in
// <state>/templates/<NAME>/template.cfg. `template create NAME --from DOM`
// snapshots each writable disk of the running DOM (disk_storage.cpp: the
// domain goes on in new overlays, its images as they were are not written
// again) and keeps those images as the bases (made read-only, 0444).
// `create --template NAME --name VM` makes a copy-on-write qcow2 overlay per
// base (<state>/templates/<NAME>/clones/VM.<vdev>.qcow2, the base's size,
// nothing copied: seconds whatever the image size) and creates VM from the
// template's configuration on them. `template delete` forgets the template;
// its bases stay (the source domain's overlays stand on them).
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <algorithm>

#include "config/domain_config.h"
#include "config/size.h"
#include "file_names.h"
#include "disk/qcow2/qcow2_create.h"
#include "domain_manager.h"
#include "pv/error.h"
#include "pv/log.h"

namespace pv::pvd {
namespace A = pv::admin;
namespace fs = std::filesystem;

namespace {
bool good_template_name(const std::string& n) { return is_file_name_word(n) && n[0] != '-'; }
struct ParsedTemplate {
  std::optional<config::DomainConfig> config;
  std::string message;
};
ParsedTemplate parse(const std::string& text, const std::string& path) {
  auto r = config::parse_domain_config(text, path);
  ParsedTemplate p;
  for (const auto& d : r.errors) p.message += (p.message.empty() ? "" : "\n") + d.to_string();
  p.config = std::move(r.config);
  return p;
}
std::string slurp_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}
}  // namespace

std::string DomainManager::template_dir(const std::string& name) const {
  return registry_.state_dir() + "/templates/" + name;
}

A::Reply DomainManager::template_list() const {
  A::Reply r;
  auto* l = r.mutable_templates();
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(registry_.state_dir() + "/templates", ec))
    if (fs::exists(e.path() / "template.cfg")) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  for (const auto& n : names) {
    auto* t = l->add_templates();
    t->set_name(n);
    auto parsed = parse(slurp_file(template_dir(n) + "/template.cfg"), template_dir(n) + "/template.cfg");
    if (parsed.config)
      for (const auto& d : parsed.config->disks) t->add_bases(d.target);
  }
  return r;
}

A::Reply DomainManager::template_delete(const std::string& name) {
  if (!good_template_name(name) || !fs::exists(template_dir(name) + "/template.cfg"))
    return error_reply(A::ERROR_NO_SUCH_DOMAIN, "no template named '" + name + "'");
  std::error_code ec;
  fs::remove(template_dir(name) + "/template.cfg", ec);
  if (ec) return error_reply(A::ERROR_INTERNAL, "cannot remove template '" + name + "': " + ec.message());
  log::info("template " + name + " deleted (its bases and clones' overlays are left)");
  return template_list();
}

void DomainManager::template_create(Domain& d, const std::string& name, ReplyFn reply) {
  if (!good_template_name(name))
    return reply(error_reply(A::ERROR_BAD_REQUEST, "template name '" + name + "': use 1-64 letters, digits, '_', '-' or '.'"));
  const std::string dir = template_dir(name);
  if (fs::exists(dir + "/template.cfg")) return reply(error_reply(A::ERROR_EXISTS, "a template named '" + name + "' exists"));
  if (!d.proc) return reply(error_reply(A::ERROR_INVALID_STATE, "domain '" + d.rec.name() + "' is not running"));
  std::error_code ec;
  fs::create_directories(dir + "/clones", ec);
  if (ec) return reply(error_reply(A::ERROR_INTERNAL, "cannot create " + dir + ": " + ec.message()));
  // The template's config: the domain's, with each writable disk's image as
  // it is now (the base), read-only once the snapshot below has frozen it.
  auto cfg = std::make_shared<config::DomainConfig>(d.spec);
  auto vdevs = std::make_shared<std::vector<std::string>>();
  for (const auto& disk : d.spec.disks)
    if (!disk.readonly() && disk.devtype == config::DiskDevType::kDisk && !disk.target.empty()) vdevs->push_back(disk.vdev);
  const uint32_t domid = d.rec.domid();
  // One snapshot after the other; each one's callback holds the chain (the
  // function holds itself only weakly: no cycle, nothing left behind).
  auto step = std::make_shared<std::function<void(size_t)>>();
  std::weak_ptr<std::function<void(size_t)>> weak = step;
  *step = [this, cfg, vdevs, domid, name, dir, reply, weak](size_t i) {
    if (i == vdevs->size()) {
      for (auto& k : cfg->disks)
        if (!k.readonly()) ::chmod(k.target.c_str(), 0444);
      cfg->uuid.clear();
      const std::string tmp = dir + "/template.cfg.tmp";
      std::ofstream(tmp, std::ios::trunc) << config::to_string(*cfg);
      std::error_code e2;
      fs::rename(tmp, dir + "/template.cfg", e2);
      if (e2) return reply(error_reply(A::ERROR_INTERNAL, "cannot write " + dir + "/template.cfg: " + e2.message()));
      log::info("template " + name + " created from domain " + std::to_string(domid));
      return reply(template_list());
    }
    Domain* dom = find(std::to_string(domid));
    if (!dom) {
      return reply(error_reply(A::ERROR_INVALID_STATE, "the domain went away while its template was made"));
    }
    A::DiskSnapshotRequest s;
    s.mutable_domain()->set_name_or_id(std::to_string(domid));
    s.set_vdev((*vdevs)[i]);
    s.set_name("tmpl-" + name);
    disk_snapshot(*dom, s, [next = weak.lock(), i, reply](A::Reply r) {
      if (r.error() != A::ERROR_NONE) return reply(r);
      (*next)(i + 1);
    });
  };
  (*step)(0);
}

void DomainManager::create_from_template(const A::CreateRequest& c, ReplyFn reply) {
  const std::string& t = c.template_name();
  if (!good_template_name(t) || !fs::exists(template_dir(t) + "/template.cfg"))
    return reply(error_reply(A::ERROR_NO_SUCH_DOMAIN, "no template named '" + t + "'"));
  const std::string path = template_dir(t) + "/template.cfg";
  auto parsed = parse(slurp_file(path), path);
  if (!parsed.config) return reply(error_reply(A::ERROR_BAD_CONFIG, parsed.message));
  config::DomainConfig cfg = *parsed.config;
  cfg.name = c.name();
  cfg.uuid.clear();
  if (cfg.name.empty()) return reply(error_reply(A::ERROR_BAD_REQUEST, "create --template needs --name"));
  if (find(cfg.name)) return reply(error_reply(A::ERROR_EXISTS, "a domain named '" + cfg.name + "' already exists"));
  for (const auto& o : c.overrides()) {
    const auto eq = o.find('=');
    const std::string k = o.substr(0, eq), v = eq == std::string::npos ? "" : o.substr(eq + 1);
    if (eq == std::string::npos) return reply(error_reply(A::ERROR_BAD_REQUEST, "'" + o + "' is not key=value"));
    if (k == "memory" || k == "maxmem") {
      const auto mib = config::parse_size_mib(v);
      if (!mib || !*mib) return reply(error_reply(A::ERROR_BAD_REQUEST, k + "=" + v + " is not a size"));
      (k == "memory" ? cfg.memory_mib : cfg.maxmem_mib) = *mib;
      if (cfg.maxmem_mib < cfg.memory_mib) cfg.maxmem_mib = cfg.memory_mib;
    } else if (k == "vcpus") {
      if (v.empty() || v.size() > 3 || v.find_first_not_of("0123456789") != std::string::npos || std::stoul(v) == 0)
        return reply(error_reply(A::ERROR_BAD_REQUEST, "vcpus=" + v + " is not a number of vCPUs"));
      cfg.vcpus = uint32_t(std::stoul(v));
      if (cfg.maxvcpus < cfg.vcpus) cfg.maxvcpus = cfg.vcpus;
    } else if (k == "extra" || k == "cmdline") {
      cfg.cmdline = v;
    } else {
      return reply(error_reply(A::ERROR_BAD_REQUEST, "create --template takes memory=, maxmem=, vcpus= and extra=, not '" + k + "='"));
    }
  }
  // Copy-on-write overlays on the bases: nothing is copied.
  std::vector<std::string> made;
  for (auto& disk : cfg.disks) {
    if (disk.readonly() || disk.devtype != config::DiskDevType::kDisk || disk.target.empty()) continue;
    const std::string overlay = template_dir(t) + "/clones/" + cfg.name + "." + disk.vdev + ".qcow2";
    try {
      if (fs::exists(overlay)) throw UserError(overlay + " exists (a clone of that name was made before)");
      disk::create_qcow2(overlay, 0, disk.target, disk.format);
    } catch (const std::exception& e) {
      for (const auto& m : made) ::unlink(m.c_str());
      return reply(error_reply(A::ERROR_INTERNAL, "disk " + disk.vdev + ": " + e.what()));
    }
    made.push_back(overlay);
    disk.target = overlay;
    disk.format = "qcow2";
    disk.force_raw = false;
  }
  A::CreateRequest real;
  real.set_config_text(config::to_string(cfg));
  real.set_config_path(path);
  create(real, [made, reply](A::Reply r) {
    if (r.error() != A::ERROR_NONE)
      for (const auto& m : made) ::unlink(m.c_str());
    reply(r);
  });
}

}  // namespace pv::pvd
