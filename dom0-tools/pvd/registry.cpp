#include "registry.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
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
std::string Registry::control_socket(uint32_t domid) const { return dir_ + "/" + std::to_string(domid) + ".ctl.sock"; }

void Registry::save(const registry::DomainRecord& rec) const {
  write_file_atomically(record_path(rec.domid()), rec.SerializeAsString(), 0600);
}

std::string Registry::kept_console_log(uint32_t domid, const std::string& name) const {
  // A name is the user's (xl.cfg): only its safe characters reach a path.
  std::string safe;
  for (const char c : name) safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  return state_dir_ + "/console-logs/" + safe + "." + std::to_string(domid) + ".log";
}

void Registry::remove(uint32_t domid, const std::string& name) const {
  keep_console_log(domid, name);
  for (const auto& p :
       {record_path(domid), status_file(domid), console_log(domid), xenstore_link(domid), console_socket(domid),
        backend_link(domid), control_socket(domid)})
    ::unlink(p.c_str());
}

void Registry::keep_console_log(uint32_t domid, const std::string& name) const {
  std::error_code ec;
  if (fs::file_size(console_log(domid), ec) == 0 || ec) return;
  const std::string dir = state_dir_ + "/console-logs";
  fs::create_directories(dir, ec);
  fs::rename(console_log(domid), kept_console_log(domid, name), ec);
  if (ec) return log::warning("cannot keep the console log of domain " + std::to_string(domid) + ": " + ec.message());
  // The newest kKeptConsoleLogs stay.
  std::vector<fs::directory_entry> logs;
  for (const auto& e : fs::directory_iterator(dir, ec)) logs.push_back(e);
  if (logs.size() <= kKeptConsoleLogs) return;
  std::sort(logs.begin(), logs.end(), [](const auto& a, const auto& b) {
    std::error_code e1, e2;
    return a.last_write_time(e1) > b.last_write_time(e2);
  });
  for (size_t i = kKeptConsoleLogs; i < logs.size(); i++) fs::remove(logs[i].path(), ec);
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
