// pvctl save / restore, as xl save / xl restore (docs/save-format.md).
//
// save: pvd opens FILE.partial beside FILE, hands it to pv-hv with the
// toolstack's part of the configuration record (the domain's uuid and the
// xl.cfg text it runs with, disks and vifs included) and asks for a save
// (kSaveToFile) or a checkpoint (kCheckpointToFile). Once pv-hv is armed,
// pvd writes control/shutdown = suspend; the guest quiesces and suspends,
// pv-hv writes the stream and then ends the domain ("suspend") or lets the
// guest go on. The file is renamed to FILE only once whole, so FILE is
// never a partial stream. Any failure (the guest does not suspend, a write
// fails) leaves the domain running and no FILE.
//
// restore: pvd reads the stream's configuration record, parses the xl.cfg
// text it carries and starts a new domain from it as create does (name,
// memory, disks and vifs checked first), with pv-hv --restore FILE instead
// of a boot: the guest resumes and reconnects its front-ends to the new
// back-ends.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "config/domain_config.h"
#include "domain_manager.h"
#include "pv/log.h"
#include "pv/unique_fd.h"
#include "save/domain_stream.h"
#include "save_call.h"

namespace pv::pvd {
namespace A = pv::admin;
namespace fs = std::filesystem;

namespace {
constexpr uint32_t kDefaultSuspendTimeoutMs = 60'000;
constexpr uint32_t kMaxSuspendTimeoutMs = 600'000;  // pv-hv's own cap

// What a user can act on, for pv-hv's final status of a save op.
std::string save_failure(int32_t status, const std::string& name, uint32_t timeout_ms) {
  switch (-status) {
    case ETIMEDOUT:
      return "domain '" + name + "' did not suspend within " + std::to_string(timeout_ms / 1000) +
             " s (its kernel does not take control/shutdown = suspend, or is busy); it keeps running";
    case EBUSY:
      return "another save or checkpoint of domain '" + name + "' is under way";
    case EIO:
      return "pv-hv could not write the save stream (see the domain's console log); the domain keeps running";
    case ESRCH:
      return "domain '" + name + "' ended while the save waited for it";
    default:
      return "pv-hv refused the save: " + std::string(std::strerror(-status));
  }
}

// The toolstack's part of the stream's configuration record, in a memfd.
}  // namespace

UniqueFd toolstack_record(const registry::DomainRecord& rec) {
  state::DomainConfig t;
  t.set_name(rec.name());
  t.set_uuid(rec.uuid());
  t.set_config_text(rec.config_text());
  t.set_memory_target_mib(rec.memory_target_mib());
  t.set_memory_max_mib(rec.memory_max_mib());
  t.set_vcpus_online(rec.vcpus_online());
  t.set_cpu_weight(rec.cpu_weight());
  t.set_cpu_cap_set(rec.cpu_cap_set());
  t.set_cpu_cap(rec.cpu_cap());
  const std::string bytes = t.SerializeAsString();
  if (bytes.size() > ctl::kMaxToolstackRecord) throw UserError("the domain's configuration is too long to save");
  UniqueFd fd(::memfd_create("pvd-save-config", MFD_CLOEXEC));
  if (!fd) throw_errno("memfd_create");
  if (::write(fd.get(), bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size())) throw_errno("write(memfd)");
  return fd;
}

bool sync_dir_of(const std::string& path) {
  UniqueFd dir(::open(fs::path(path).parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  return dir && ::fsync(dir.get()) == 0;
}

void DomainManager::save_domain(Domain& d, const A::SaveRequest& r, ReplyFn reply) {
  const std::string& name = d.rec.name();
  if (!d.proc || d.rec.state() != A::STATE_RUNNING)
    return reply(error_reply(A::ERROR_INVALID_STATE, "domain '" + name + "' is not running"));
  if (d.saving) return reply(error_reply(A::ERROR_INVALID_STATE, "a save of domain '" + name + "' is under way"));
  const std::string& path = r.path();
  if (path.empty() || path[0] != '/' || path.back() == '/')
    return reply(error_reply(A::ERROR_BAD_REQUEST, "save: '" + path + "' is not an absolute file path"));
  const uint32_t timeout_ms = r.timeout_ms() ? r.timeout_ms() : kDefaultSuspendTimeoutMs;
  if (timeout_ms > kMaxSuspendTimeoutMs)
    return reply(error_reply(A::ERROR_BAD_REQUEST, "save: a suspend timeout is at most 600 s"));
  struct stat st{};
  if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    return reply(error_reply(A::ERROR_BAD_REQUEST, "save: " + path + " exists and is not a regular file"));
  const std::string partial = path + ".partial";
  UniqueFd out(::open(partial.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!out)
    return reply(error_reply(A::ERROR_BAD_REQUEST, "save: cannot create " + partial + ": " + std::strerror(errno)));
  UniqueFd config;
  try {
    config = toolstack_record(d.rec);
  } catch (const std::exception& e) {
    ::unlink(partial.c_str());
    return reply(error_reply(A::ERROR_INTERNAL, std::string("save: ") + e.what()));
  }

  const uint32_t domid = d.rec.domid();
  const bool checkpoint = r.checkpoint();
  const std::string node = "/local/domain/" + std::to_string(domid) + "/control/shutdown";
  auto stream = std::make_shared<UniqueFd>(std::move(out));
  auto armed = [this, node, name] {
    if (!xenstore_.write(node, "suspend")) log::warning("save: cannot write " + node);
    log::info("domain " + name + ": asked to suspend for a save");
  };
  auto done = [this, domid, name, path, partial, checkpoint, timeout_ms, node, stream, reply](
                  int32_t status, const std::string& lost) {
    auto it = domains_.find(domid);
    Domain* dom = it == domains_.end() ? nullptr : it->second.get();
    if (dom) dom->saving = false;
    const bool ok = lost.empty() && status == 0;
    if (!ok) {
      ::unlink(partial.c_str());
      if (dom) {
        dom->saving_ends_it = false;
        // A request the guest never took must not suspend it later, with no
        // save waiting: that would end the domain.
        if (auto v = xenstore_.read(node); v && *v == "suspend") xenstore_.write(node, "");
      }
      const std::string why = lost.empty() ? save_failure(status, name, timeout_ms) : "save of '" + name + "': " + lost;
      log::warning("domain " + name + ": " + why);
      return reply(error_reply(status == -ETIMEDOUT ? A::ERROR_NOT_ACKNOWLEDGED : A::ERROR_INVALID_STATE, why));
    }
    // The stream is whole and on disk (pv-hv synced it): FILE appears at once.
    if (::rename(partial.c_str(), path.c_str()) != 0 || !sync_dir_of(path)) {
      const std::string why = "the domain was saved to " + partial + " but it cannot be renamed to " + path + ": " +
                              std::strerror(errno) + (checkpoint ? "" : " (restore it from " + partial + ")");
      log::error("domain " + name + ": " + why);
      return reply(error_reply(A::ERROR_INTERNAL, why));
    }
    log::info("domain " + name + (checkpoint ? ": checkpointed to " : ": saved to ") + path);
    A::Reply rep;
    if (checkpoint || !dom) {
      if (dom) *rep.mutable_domain() = info(*dom);
      return reply(rep);
    }
    // xl save: the domain is gone when the save returns.
    dom->on_gone.push_back([reply](A::Reply gone) { reply(std::move(gone)); });
  };
  try {
    d.saving = true;
    d.saving_ends_it = !checkpoint;
    SaveCall::start(io_, registry_.control_socket(domid), checkpoint ? ctl::Op::kCheckpointToFile : ctl::Op::kSaveToFile,
                    timeout_ms, {stream->get(), config.get()}, armed, done);
  } catch (const std::exception& e) {
    d.saving = d.saving_ends_it = false;
    ::unlink(partial.c_str());
    return reply(error_reply(A::ERROR_INTERNAL, "save of '" + name + "': " + e.what()));
  }
}

void DomainManager::restore_domain(const A::RestoreRequest& r, ReplyFn reply) {
  const std::string& path = r.path();
  if (path.empty() || path[0] != '/')
    return reply(error_reply(A::ERROR_BAD_REQUEST, "restore: '" + path + "' is not an absolute file path"));
  restore_from_file(path, r.name(), nullptr, std::move(reply));
}

void DomainManager::restore_from_file(const std::string& path, const std::string& name, const SpecEdit& edit,
                                      ReplyFn reply) {
  auto bad = [&](const std::string& why) { reply(error_reply(A::ERROR_BAD_SAVE_FILE, "restore " + path + ": " + why)); };
  UniqueFd in(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) return bad(std::strerror(errno));
  state::DomainConfig saved;
  try {
    saved = save::read_domain_config(in.get());
  } catch (const std::exception& e) {
    return bad(e.what());
  }
  if (saved.config_text().empty())
    return bad("the stream carries no domain configuration (it was written by pv-hv alone, not by pvctl save); "
               "pv-hv --restore runs it without pvd's devices");
  const std::string source = path + " (saved configuration)";
  auto parsed = config::parse_domain_config(saved.config_text(), source);
  if (!parsed.ok() || !parsed.config) {
    std::string why;
    for (const auto& e : parsed.errors) why += (why.empty() ? "" : "\n") + e.to_string();
    return bad("its configuration does not parse: " + why);
  }
  config::DomainConfig spec = *parsed.config;
  if (!name.empty()) spec.name = name;
  // The domain's shape is the stream's: pv-hv takes it from there.
  spec.memory_mib = saved.memory_bytes() >> 20;
  spec.maxmem_mib = saved.maxmem_bytes() >> 20;
  spec.vcpus = saved.vcpus();
  if (spec.maxvcpus < spec.vcpus) spec.maxvcpus = spec.vcpus;
  if (edit)
    if (const std::string why = edit(spec); !why.empty()) return reply(error_reply(A::ERROR_INTERNAL, why));
  std::string warnings;
  for (const auto& w : parsed.warnings) warnings += (warnings.empty() ? "" : "\n") + w.to_string();
  // The record keeps the text with the name it runs under.
  const std::string text =
      spec.name == parsed.config->name && !edit ? saved.config_text() : config::to_string(spec);
  registry::DomainRecord carried;  // pvd's changes since create, as they were at the save
  carried.set_memory_target_mib(saved.memory_target_mib());
  carried.set_memory_max_mib(saved.memory_max_mib());
  carried.set_vcpus_online(saved.vcpus_online());
  carried.set_cpu_weight(saved.cpu_weight());
  carried.set_cpu_cap_set(saved.cpu_cap_set());
  carried.set_cpu_cap(saved.cpu_cap());
  launch(spec, text, path, warnings, Launch{path, saved.uuid(), carried}, std::move(reply));
}

}  // namespace pv::pvd
