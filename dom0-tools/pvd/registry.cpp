#include "registry.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "pv/error.h"
#include "pv/files.h"
#include "pv/log.h"

namespace pv::pvd {
namespace fs = std::filesystem;

Registry::Registry(std::string state_dir) : state_dir_(std::move(state_dir)), dir_(state_dir_ + "/domains") {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  if (ec) throw SystemError("cannot create " + dir_, ec.value());
  fs::permissions(dir_, fs::perms::owner_all, ec);
}

std::string Registry::record_path(uint32_t domid) const { return dir_ + "/" + std::to_string(domid) + ".rec"; }
std::string Registry::console_log(uint32_t domid) const { return dir_ + "/" + std::to_string(domid) + ".console.log"; }
std::string Registry::status_file(uint32_t domid) const { return dir_ + "/" + std::to_string(domid) + ".status"; }
std::string Registry::xenstore_link(uint32_t domid) const { return dir_ + "/" + std::to_string(domid) + ".xs.sock"; }
std::string Registry::console_socket(uint32_t domid) const {
  return dir_ + "/" + std::to_string(domid) + ".console.sock";
}

std::string Registry::backend_link(uint32_t domid) const { return dir_ + "/" + std::to_string(domid) + ".be.sock"; }

void Registry::save(const registry::DomainRecord& rec) const {
  write_file_atomically(record_path(rec.domid()), rec.SerializeAsString(), 0600);
}

void Registry::remove(uint32_t domid) const {
  for (const auto& p :
       {record_path(domid), status_file(domid), console_log(domid), xenstore_link(domid), console_socket(domid),
        backend_link(domid)})
    ::unlink(p.c_str());
}

std::vector<registry::DomainRecord> Registry::load_all() const {
  return load_records<registry::DomainRecord>(dir_, "domain record", [](const auto&, const std::string&) { return true; });
}

uint32_t Registry::last_domid() const {
  const std::string text = read_file(state_dir_ + "/last-domid");
  try {
    const unsigned long v = std::stoul(text);
    if (v <= UINT32_MAX) return static_cast<uint32_t>(v);
  } catch (const std::exception&) {
  }
  if (!text.empty()) log::warning("ignoring unreadable " + state_dir_ + "/last-domid");
  return 0;
}

void Registry::save_last_domid(uint32_t domid) const {
  write_file_atomically(state_dir_ + "/last-domid", std::to_string(domid) + "\n", 0600);
}

std::string Registry::read_status(uint32_t domid) const {
  std::ifstream f(status_file(domid));
  std::string line;
  std::getline(f, line);
  return line;
}

}  // namespace pv::pvd
