#include "disk_cmd.h"

#include <fcntl.h>
#include <getopt.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <chrono>
#include <cstring>
#include <memory>

#include "admin_client.h"
#include "config/disk_limits.h"
#include "config/size.h"
#include "disk/format_probe.h"
#include "disk/image_commit.h"
#include "disk/image_info.h"
#include "disk/open_disk_image.h"
#include "disk/qcow2/qcow2_create.h"
#include "json.h"
#include "pvd_call.h"
#include "pv/error.h"
#include "pv/unique_fd.h"

namespace pv::pvctl {
namespace {

using Args = std::vector<std::string>;

int disk_usage(const std::string& m) { return usage_error("disk " + m + " (see pvctl disk --help)"); }

int refused(const std::exception& e) {
  std::fprintf(stderr, "pvctl: %s\n", e.what());
  return 1;
}

// A raw image: a sparse file of `bytes` (a new file only: nothing is
// overwritten).
void create_raw(const std::string& path, uint64_t bytes) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) throw UserError("cannot create " + path + ": " + std::strerror(errno));
  if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0) {
    const int err = errno;
    ::unlink(path.c_str());
    throw UserError("cannot size " + path + ": " + std::strerror(err));
  }
}

int create(const Args& args, const Context&) {
  std::string format = "qcow2", backing, backing_format, error;
  uint64_t cluster = disk::kDefaultClusterSize;
  // PATH [SIZE] first, then the options (as `network create NAME ...`).
  Args words, opts;
  for (const auto& a : args) {
    if (opts.empty() && words.size() < 2 && !a.empty() && a[0] != '-') words.push_back(a);
    else opts.push_back(a);
  }
  const auto extra = parse_options(
      opts,
      {{"format", required_argument, nullptr, 'f'},
       {"backing", required_argument, nullptr, 'b'},
       {"backing-format", required_argument, nullptr, 'F'},
       {"cluster-size", required_argument, nullptr, 'c'}},
      [&](int opt, const char* v) {
        if (opt == 'f') format = v;
        else if (opt == 'b') backing = v;
        else if (opt == 'F') backing_format = v;
        else if (opt == 'c') {
          const auto n = config::parse_size_bytes(v, 1);
          if (!n) error = "create: --cluster-size '" + std::string(v) + "' is not a size";
          else cluster = *n;
        }
      },
      error, "f:b:F:c:");
  if (!error.empty()) return disk_usage(error);
  if (words.empty() || !extra.empty()) return disk_usage("create takes PATH [SIZE], then its options");
  if (format != "qcow2" && format != "raw") return disk_usage("create: --format is qcow2 or raw, not '" + format + "'");
  uint64_t bytes = 0;
  if (words.size() == 2) {
    const auto b = config::parse_size_bytes(words[1], 1);
    if (!b || *b == 0) return disk_usage("create: '" + words[1] + "' is not a size (bytes, or with k, m, g, t)");
    bytes = *b;
  } else if (backing.empty()) {
    return disk_usage("create needs a SIZE (or --backing, whose size it then takes)");
  }
  try {
    if (format == "raw") {
      if (!backing.empty()) return disk_usage("create: a raw image has no backing file (use --format qcow2)");
      create_raw(words[0], bytes);
    } else {
      disk::create_qcow2(words[0], bytes, backing, backing_format, cluster);
    }
    const disk::ImageInfo i = disk::describe_image(words[0]);
    std::printf("created %s (%s, %llu bytes%s%s)\n", words[0].c_str(), i.format.c_str(),
                static_cast<unsigned long long>(i.virtual_size), backing.empty() ? "" : ", backing ",
                backing.c_str());
  } catch (const std::exception& e) {
    return refused(e);
  }
  return 0;
}

int info(const Args& args, const Context&) {
  bool json = false;
  Args rest;
  for (const auto& a : args) {
    if (a == "--json") json = true;
    else rest.push_back(a);
  }
  if (rest.size() != 1 || rest[0].empty() || rest[0][0] == '-') return disk_usage("info takes PATH [--json]");
  try {
    const disk::ImageInfo i = disk::describe_image(rest[0]);
    if (json) {
      Json chain = Json::array();
      for (const auto& b : i.backing_chain)
        chain.push_back({{"path", b.path}, {"format", b.format}, {"virtual_size", b.virtual_size}});
      Json j = {{"path", i.path},
                {"format", i.format},
                {"virtual_size", i.virtual_size},
                {"allocated_bytes", i.allocated_bytes},
                {"file_bytes", i.file_bytes}};
      if (i.cluster_size) j["cluster_size"] = i.cluster_size;
      j["backing_chain"] = chain;
      std::printf("%s\n", json_line(j).c_str());
      return 0;
    }
    std::printf("image: %s\nformat: %s\nvirtual size: %llu bytes\nallocated: %llu bytes\n", i.path.c_str(),
                i.format.c_str(), static_cast<unsigned long long>(i.virtual_size),
                static_cast<unsigned long long>(i.allocated_bytes));
    if (i.cluster_size) std::printf("cluster size: %llu\n", static_cast<unsigned long long>(i.cluster_size));
    for (const auto& b : i.backing_chain)
      std::printf("backing file: %s (%s, %llu bytes)\n", b.path.c_str(), b.format.c_str(),
                  static_cast<unsigned long long>(b.virtual_size));
  } catch (const std::exception& e) {
    return refused(e);
  }
  return 0;
}

namespace A = pv::admin;

// A domain verb's request; the domain's details come back.
int call(const Context& ctx, const A::Request& req, A::Reply& reply) { return call_pvd_verb(ctx.socket, req, reply); }

// resize PATH SIZE (an image no domain uses) or DOMAIN VDEV SIZE (online).
int resize(const Args& args, const Context& ctx) {
  if (args.size() != 2 && args.size() != 3) return disk_usage("resize takes PATH SIZE, or DOMAIN VDEV SIZE");
  const auto bytes = config::parse_size_bytes(args.back(), 1);
  if (!bytes || *bytes == 0 || *bytes % 512)
    return disk_usage("resize: '" + args.back() + "' is not a size in whole 512-byte sectors (bytes, or with k, m, g, t)");
  if (args.size() == 3) {
    A::Request req;
    auto* r = req.mutable_disk_resize();
    r->mutable_domain()->set_name_or_id(args[0]);
    r->set_vdev(args[1]);
    r->set_bytes(*bytes);
    A::Reply reply;
    if (const int rc = call(ctx, req, reply)) return rc;
    std::printf("%s %s: %llu bytes\n", args[0].c_str(), args[1].c_str(), static_cast<unsigned long long>(*bytes));
    return 0;
  }
  try {
    const std::string format(disk::probe_format(args[0]));
    auto img = disk::open_disk_image(args[0], format, false, format == "raw");
    if (*bytes < img->bytes())
      throw UserError(args[0] + " has " + std::to_string(img->bytes()) + " bytes: shrinking is not supported");
    if (const int rc = img->grow(*bytes); rc != 0)
      throw UserError("cannot grow " + args[0] + ": " +
                      (rc == -EFBIG ? std::string("its L1 table would have to move (use qemu-img resize)")
                                    : std::string(std::strerror(-rc))));
    img.reset();  // closed: everything written
    std::printf("resized %s (%s) to %llu bytes\n", args[0].c_str(), format.c_str(), static_cast<unsigned long long>(*bytes));
  } catch (const std::exception& e) {
    return refused(e);
  }
  return 0;
}

// snapshot DOMAIN VDEV NAME: the running disk goes on in a new overlay.
int snapshot(const Args& args, const Context& ctx) {
  if (args.size() != 3) return disk_usage("snapshot takes DOMAIN VDEV NAME");
  A::Request req;
  auto* r = req.mutable_disk_snapshot();
  r->mutable_domain()->set_name_or_id(args[0]);
  r->set_vdev(args[1]);
  r->set_name(args[2]);
  A::Reply reply;
  if (const int rc = call(ctx, req, reply)) return rc;
  for (const auto& d : reply.domain().disks())
    if (d.vdev() == args[1]) std::printf("%s %s: now writes to %s\n", args[0].c_str(), args[1].c_str(), d.target().c_str());
  return 0;
}

// snapshot-list DOMAIN VDEV: the disk's image and what it stands on, newest first.
int snapshot_list(const Args& args, const Context& ctx) {
  if (args.size() != 2) return disk_usage("snapshot-list takes DOMAIN VDEV");
  A::Request req;
  req.mutable_info()->set_name_or_id(args[0]);
  A::Reply reply;
  if (const int rc = call(ctx, req, reply)) return rc;
  for (const auto& d : reply.domain().disks()) {
    if (d.vdev() != args[1]) continue;
    try {
      const disk::ImageInfo i = disk::describe_image(d.target());
      std::printf("%s (%s, active)\n", i.path.c_str(), i.format.c_str());
      for (const auto& b : i.backing_chain) std::printf("%s (%s)\n", b.path.c_str(), b.format.c_str());
    } catch (const std::exception& e) {
      return refused(e);
    }
    return 0;
  }
  std::fprintf(stderr, "pvctl: domain '%s' has no disk %s\n", args[0].c_str(), args[1].c_str());
  return 1;
}

// The disk's target once a commit is done.
void print_disk(const A::Reply& reply, const std::string& domain, const std::string& vdev, const char* what) {
  for (const auto& d : reply.domain().disks())
    if (d.vdev() == vdev) std::printf("%s %s: %s, now writes to %s\n", domain.c_str(), vdev.c_str(), what, d.target().c_str());
}

// commit / snapshot-delete options: --keep-overlay, --speed RATE.
int commit_options(const Args& args, const std::string& verb, Args& words, bool& keep, uint64_t& speed) {
  for (size_t i = 0; i < args.size(); i++) {
    const std::string& a = args[i];
    if (a == "--keep-overlay") {
      keep = true;
    } else if (a == "--speed" || a.starts_with("--speed=")) {
      const std::string v = a == "--speed" ? (i + 1 < args.size() ? args[++i] : "") : a.substr(8);
      const auto n = config::parse_size_bytes(v, 1);
      if (!n || *n == 0) return disk_usage(verb + ": --speed '" + v + "' is not a rate in bytes/s (k, m, g: KiB/s...)");
      speed = *n;
    } else if (!a.empty() && a[0] == '-') {
      return disk_usage(verb + ": unknown option " + a);
    } else {
      words.push_back(a);
    }
  }
  return 0;
}

// commit DOMAIN VDEV [--keep-overlay] [--speed RATE] (live) or commit PATH
// (an image no domain uses, as qemu-img commit).
int commit(const Args& args, const Context& ctx) {
  Args words;
  bool keep = false;
  uint64_t speed = 0;
  if (const int rc = commit_options(args, "commit", words, keep, speed)) return rc;
  if (words.size() == 2) {
    A::Request req;
    auto* r = req.mutable_disk_commit();
    r->mutable_domain()->set_name_or_id(words[0]);
    r->set_vdev(words[1]);
    r->set_keep_overlay(keep);
    r->set_speed(speed);
    A::Reply reply;
    if (const int rc = call(ctx, req, reply)) return rc;
    print_disk(reply, words[0], words[1], "overlay merged");
    return 0;
  }
  if (words.size() != 1 || keep || speed) return disk_usage("commit takes PATH, or DOMAIN VDEV [--keep-overlay] [--speed RATE]");
  try {
    const auto start = std::chrono::steady_clock::now();
    const disk::CommitStats s = disk::commit_offline(words[0]);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
    std::printf("committed %s into %s (%s): %llu clusters, %llu bytes, %lld ms; %s is left as it is (over the base it reads the same)\n",
                words[0].c_str(), s.base.c_str(), s.base_format.c_str(), static_cast<unsigned long long>(s.clusters),
                static_cast<unsigned long long>(s.bytes), static_cast<long long>(ms), words[0].c_str());
  } catch (const std::exception& e) {
    return refused(e);
  }
  return 0;
}

// snapshot-delete DOMAIN VDEV NAME: the snapshot NAME's overlay merged
// into its base, wherever it is in the chain.
int snapshot_delete(const Args& args, const Context& ctx) {
  Args words;
  bool keep = false;
  uint64_t speed = 0;
  if (const int rc = commit_options(args, "snapshot-delete", words, keep, speed)) return rc;
  if (words.size() != 3) return disk_usage("snapshot-delete takes DOMAIN VDEV NAME [--keep-overlay] [--speed RATE]");
  A::Request req;
  auto* r = req.mutable_disk_commit();
  r->mutable_domain()->set_name_or_id(words[0]);
  r->set_vdev(words[1]);
  r->set_snapshot(words[2]);
  r->set_keep_overlay(keep);
  r->set_speed(speed);
  A::Reply reply;
  if (const int rc = call(ctx, req, reply)) return rc;
  print_disk(reply, words[0], words[1], ("snapshot " + words[2] + " deleted").c_str());
  return 0;
}

constexpr Verb kVerbs[] = {
    {"create", create,
     "create PATH [SIZE] [--format qcow2|raw] [--backing BASE]\n"
     "              [--backing-format qcow2|raw] [--cluster-size BYTES]",
     "a new image (never over an existing file): qcow2 (the default; v3,\n"
     "thin, copy-on-write over BASE when given, SIZE then defaulting to\n"
     "BASE's) or a sparse raw file. SIZE in bytes, or with k, m, g, t"},
    {"info", info, "info PATH [--json]",
     "format, virtual size, host space allocated, cluster size and the\n"
     "backing chain (each file opened and checked as pv-backd would)"},
    {"resize", resize, "resize PATH SIZE | resize DOMAIN VDEV SIZE",
     "grow an image (qcow2 or raw) no domain uses; or a running domain's\n"
     "disk: pv-backd grows it and the guest is told through the vbd's\n"
     "sectors, as Xen does online resize. Shrinking is refused"},
    {"snapshot", snapshot, "snapshot DOMAIN VDEV NAME",
     "external snapshot of a running domain's disk: pv-backd switches it,\n"
     "between two requests, to a new qcow2 overlay IMAGE.NAME.qcow2 whose\n"
     "backing file is the image as it was (which is not written again)"},
    {"snapshot-list", snapshot_list, "snapshot-list DOMAIN VDEV",
     "the disk's active image and the images under it, newest first"},
    {"commit", commit, "commit DOMAIN VDEV [--keep-overlay] [--speed RATE] | commit PATH",
     "merge a running domain's active qcow2 overlay into its base while\n"
     "the guest runs (the copy at most RATE bytes/s; k, m, g), then serve\n"
     "the disk from the base and remove the overlay (kept, unused, with\n"
     "--keep-overlay), as virsh blockcommit --active --pivot; or merge\n"
     "the overlay PATH no domain uses into its base (qemu-img commit)"},
    {"snapshot-delete", snapshot_delete, "snapshot-delete DOMAIN VDEV NAME [--keep-overlay] [--speed RATE]",
     "forget the snapshot NAME while the guest runs: its overlay\n"
     "IMAGE.NAME.qcow2 is merged into the image the snapshot was taken of\n"
     "(the active one: a commit; a lower one: the image above it then\n"
     "stands on that image) and removed"},
};

}  // namespace

const VerbSet kDiskVerbs = {"disk", kVerbs, ""};

namespace {
void print_templates(const A::TemplateList& l) {
  for (const auto& t : l.templates()) {
    std::string bases;
    for (const auto& b : t.bases()) bases += (bases.empty() ? "" : ", ") + b;
    std::printf("%s: %s\n", t.name().c_str(), bases.empty() ? "(no disks)" : bases.c_str());
  }
}

int template_create(const Args& args, const Context& ctx) {
  std::string from, error;
  Args words, opts;
  for (const auto& a : args) (opts.empty() && words.empty() && !a.empty() && a[0] != '-' ? words : opts).push_back(a);
  const Args extra = parse_options(opts, {{"from", required_argument, nullptr, 'f'}}, [&](int, const char* v) { from = v; }, error);
  if (!error.empty()) return disk_usage("template " + error);
  if (words.size() != 1 || from.empty() || !extra.empty()) {
    std::fprintf(stderr, "pvctl: template create takes NAME --from DOMAIN\n");
    return 2;
  }
  A::Request req;
  req.mutable_template_create()->set_name(words[0]);
  req.mutable_template_create()->mutable_from()->set_name_or_id(from);
  A::Reply reply;
  if (const int rc = call(ctx, req, reply)) return rc;
  for (const auto& t : reply.templates().templates())
    if (t.name() == words[0]) print_templates([&] { A::TemplateList l; *l.add_templates() = t; return l; }());
  return 0;
}

int template_list(const Args& args, const Context& ctx) {
  if (!args.empty()) {
    std::fprintf(stderr, "pvctl: template list takes nothing\n");
    return 2;
  }
  A::Request req;
  req.mutable_template_list();
  A::Reply reply;
  if (const int rc = call(ctx, req, reply)) return rc;
  print_templates(reply.templates());
  return 0;
}

int template_delete(const Args& args, const Context& ctx) {
  if (args.size() != 1) {
    std::fprintf(stderr, "pvctl: template delete takes NAME\n");
    return 2;
  }
  A::Request req;
  req.mutable_template_delete()->set_name(args[0]);
  A::Reply reply;
  return call(ctx, req, reply);
}

constexpr Verb kTemplateVerbList[] = {
    {"create", template_create, "create NAME --from DOMAIN",
     "a template from a running domain: its configuration, and each writable\n"
     "disk's image as it is now as a read-only base (the domain goes on in a\n"
     "snapshot overlay, pvctl disk snapshot)"},
    {"list", template_list, "list", "the templates and their bases"},
    {"delete", template_delete, "delete NAME", "forget a template (its bases stay: the domain and clones use them)"},
};
}  // namespace

const VerbSet kTemplateVerbs = {"template", kTemplateVerbList,
                                "A domain from a template: pvctl create --template NAME --name VM [key=value...]\n"};

int disk_limit_verb(const std::vector<std::string>& args, const Context& ctx) {
  if (args.size() < 3) {
    std::fprintf(stderr, "pvctl: disk-limit takes DOMAIN VDEV key=value... (see pvctl help disk-limit)\n");
    return 2;
  }
  A::Request req;
  auto* r = req.mutable_disk_limit();
  r->mutable_domain()->set_name_or_id(args[0]);
  r->set_vdev(args[1]);
  for (size_t i = 2; i < args.size(); i++) {
    const auto eq = args[i].find('=');
    config::DiskIoLimits probe;
    const std::string why = eq == std::string::npos ? "'" + args[i] + "' is not key=value (e.g. iops_rd=100)"
                                                    : config::set_disk_limit(probe, args[i].substr(0, eq), args[i].substr(eq + 1));
    if (!why.empty()) {
      std::fprintf(stderr, "pvctl: disk-limit: %s\n", why.c_str());
      return 2;
    }
    r->add_settings(args[i]);
  }
  A::Reply reply;
  if (const int rc = call(ctx, req, reply)) return rc;
  for (const auto& d : reply.domain().disks())
    if (d.vdev() == args[1])
      std::printf("%s %s: I/O limits %s\n", args[0].c_str(), d.vdev().c_str(), d.io_limits().empty() ? "none" : d.io_limits().c_str());
  return 0;
}

}  // namespace pv::pvctl
