// The migration channel's framing, inside TLS (docs/save-format.md,
// "Migration"). All integers little-endian.
//
//   source -> target  offer:  magic "PVMIGRT1", u32 version (1),
//                             u32 name length (1..64), the domain's name
//   target -> source  answer: magic "PVMIGANS", u32 status (0 ready / OK,
//                             1 refused), u32 message length (<= 4096), text
//   source -> target  stream: u64 length (<= kMaxStreamBytes), the save
//                             stream's bytes (CRC-framed by its own format)
//   target -> source  answer: as above, once restored (OK) or not.
//
// The offer's answer comes before the source suspends the guest: a target
// that refuses (a domain of that name there, a peer it does not trust) costs
// the guest nothing.
#pragma once
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace pv::pvd::migrate {

inline constexpr char kOfferMagic[8] = {'P', 'V', 'M', 'I', 'G', 'R', 'T', '1'};
inline constexpr char kAnswerMagic[8] = {'P', 'V', 'M', 'I', 'G', 'A', 'N', 'S'};
inline constexpr uint32_t kVersion = 1;
inline constexpr uint32_t kMaxName = 64;
inline constexpr uint32_t kMaxMessage = 4096;
inline constexpr uint64_t kMaxStreamBytes = uint64_t{256} << 30;  // a 256 GiB domain
inline constexpr size_t kOfferFixed = 16;                         // magic, version, name length
inline constexpr size_t kAnswerFixed = 16;                        // magic, status, message length
inline constexpr uint16_t kDefaultPort = 8002;

std::string encode_offer(const std::string& name);
// The name length from an offer's fixed part, or why it is refused.
struct Parsed {
  uint64_t value = 0;
  std::string error;  // non-empty: refused
};
Parsed parse_offer_fixed(const char (&fixed)[kOfferFixed]);
// Domain names as pvd takes them: 1-64 of [A-Za-z0-9_.-], not starting with '.'.
bool valid_domain_name(const std::string& name);

std::string encode_answer(bool ok, const std::string& message);
// The message length from an answer's fixed part; `ok` is set.
Parsed parse_answer_fixed(const char (&fixed)[kAnswerFixed], bool& ok);

std::string encode_length(uint64_t n);
Parsed parse_length(const char (&bytes)[8]);

}  // namespace pv::pvd::migrate
