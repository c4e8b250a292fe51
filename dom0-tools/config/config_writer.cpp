// to_string(DomainConfig): canonical xl.cfg text, every value explicit, so a
// persisted config does not depend on defaults that might change.
#include "config/domain_config.h"
#include "config/xl_syntax.h"

namespace pv::config {

std::string to_string(const DomainConfig& c) {
  std::string s;
  auto str = [&](const char* key, const std::string& v) { s += std::string(key) + " = " + quote_xl_string(v) + "\n"; };
  auto num = [&](const char* key, std::uint64_t v) { s += std::string(key) + " = " + std::to_string(v) + "\n"; };
  auto act = [&](const char* key, ShutdownAction a) { str(key, std::string(to_string(a))); };

  str("name", c.name);
  str("type", c.type);
  if (!c.uuid.empty()) str("uuid", c.uuid);
  num("memory", c.memory_mib);
  num("maxmem", c.maxmem_mib);
  num("vcpus", c.vcpus);
  num("maxvcpus", c.maxvcpus);
  if (c.cpu_weight != 256) num("cpu_weight", c.cpu_weight);
  if (c.cap) num("cap", c.cap);
  str("kernel", c.kernel);
  if (!c.ramdisk.empty()) str("ramdisk", c.ramdisk);
  if (!c.cmdline.empty()) str("cmdline", c.cmdline);
  act("on_poweroff", c.on_poweroff);
  act("on_reboot", c.on_reboot);
  act("on_watchdog", c.on_watchdog);
  act("on_crash", c.on_crash);
  act("on_soft_reset", c.on_soft_reset);
  if (!c.disks.empty()) {
    s += "disk = [\n";
    for (const auto& d : c.disks) s += "    " + quote_xl_string(to_spec(d)) + ",\n";
    s += "]\n";
  }
  if (!c.vifs.empty()) {
    s += "vif = [\n";
    for (const auto& v : c.vifs) s += "    " + quote_xl_string(to_spec(v)) + ",\n";
    s += "]\n";
  }
  return s;
}

}  // namespace pv::config
