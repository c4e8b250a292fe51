#include "xenstore/wire.h"

#include <array>
#include <cstring>
#include <stdexcept>

namespace pv::xenstore {

std::string encode(const Message& msg) {
  if (msg.payload.size() > kPayloadMax)
    throw std::length_error("xenstore message payload of " + std::to_string(msg.payload.size()) +
                            " bytes exceeds XENSTORE_PAYLOAD_MAX (4096)");
  WireHeader hdr{msg.type, msg.req_id, msg.tx_id, static_cast<uint32_t>(msg.payload.size())};
  std::string out(kHeaderSize + msg.payload.size(), '\0');
  std::memcpy(out.data(), &hdr, kHeaderSize);
  std::memcpy(out.data() + kHeaderSize, msg.payload.data(), msg.payload.size());
  return out;
}

std::string type_name(uint32_t type) {
  static constexpr std::array<const char*, 23> kNames = {
      "CONTROL",   "DIRECTORY",  "READ",        "GET_PERMS",   "WATCH",
      "UNWATCH",   "TRANSACTION_START", "TRANSACTION_END", "INTRODUCE", "RELEASE",
      "GET_DOMAIN_PATH", "WRITE", "MKDIR",      "RM",          "SET_PERMS",
      "WATCH_EVENT", "ERROR",    "IS_DOMAIN_INTRODUCED", "RESUME", "SET_TARGET",
      nullptr,     "RESET_WATCHES", "DIRECTORY_PART"};
  if (type < kNames.size() && kNames[type]) return kNames[type];
  return "UNKNOWN(" + std::to_string(type) + ")";
}

}  // namespace pv::xenstore
