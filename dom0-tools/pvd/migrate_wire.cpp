#include "migrate_wire.h"
#include "file_names.h"

#include <cstring>

namespace pv::pvd::migrate {

namespace {
void put32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
}
uint64_t get(const char* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t{static_cast<unsigned char>(p[i])} << (8 * i);
  return v;
}
}  // namespace

bool valid_domain_name(const std::string& n) {
  return pvd::is_file_name_word(n, kMaxName);
}

std::string encode_offer(const std::string& name) {
  std::string s(kOfferMagic, sizeof kOfferMagic);
  put32(s, kVersion);
  put32(s, static_cast<uint32_t>(name.size()));
  return s + name;
}

Parsed parse_offer_fixed(const char (&f)[kOfferFixed]) {
  if (std::memcmp(f, kOfferMagic, sizeof kOfferMagic) != 0) return {0, "not a pvd migration offer (bad magic)"};
  if (const uint64_t v = get(f + 8, 4); v != kVersion)
    return {0, "migration protocol version " + std::to_string(v) + " (this pvd speaks " + std::to_string(kVersion) + ")"};
  const uint64_t n = get(f + 12, 4);
  if (n == 0 || n > kMaxName) return {0, "a domain name of " + std::to_string(n) + " bytes (1 to 64 allowed)"};
  return {n, ""};
}

std::string encode_answer(bool ok, const std::string& message) {
  const std::string m = message.substr(0, kMaxMessage);
  std::string s(kAnswerMagic, sizeof kAnswerMagic);
  put32(s, ok ? 0 : 1);
  put32(s, static_cast<uint32_t>(m.size()));
  return s + m;
}

Parsed parse_answer_fixed(const char (&f)[kAnswerFixed], bool& ok) {
  if (std::memcmp(f, kAnswerMagic, sizeof kAnswerMagic) != 0) return {0, "the target's answer is not a pvd migration answer"};
  const uint64_t status = get(f + 8, 4), n = get(f + 12, 4);
  if (status > 1 || n > kMaxMessage) return {0, "the target's answer is malformed"};
  ok = status == 0;
  return {n, ""};
}

std::string encode_length(uint64_t n) {
  std::string s;
  put32(s, static_cast<uint32_t>(n));
  put32(s, static_cast<uint32_t>(n >> 32));
  return s;
}

Parsed parse_length(const char (&b)[8]) {
  const uint64_t n = get(b, 8);
  if (n == 0 || n > kMaxStreamBytes)
    return {0, "a save stream of " + std::to_string(n) + " bytes (1 byte to 256 GiB allowed)"};
  return {n, ""};
}

}  // namespace pv::pvd::migrate
