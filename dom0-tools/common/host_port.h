// "HOST:PORT", "[V6]:PORT", "HOST" or "[V6]" (pvctl migrate's target, pvd's
// --migrate-listen) into its parts.
#pragma once
#include <cstdint>
#include <string>

namespace pv::admin {

// False when `s` is none of those, or the port is not 1..65535; a port not
// given is `default_port`.
bool split_host_port(const std::string& s, uint16_t default_port, std::string& host, uint16_t& port);

}  // namespace pv::admin
