// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), as iSCSI, ext4 and
// Xen's own migration stream use it: what the save stream checksums its
// records with.
#pragma once
#include <cstddef>
#include <cstdint>

namespace pv {

// crc32c(data) == crc32c_update(0, data); feeding a buffer in pieces gives
// the same value as feeding it whole.
uint32_t crc32c_update(uint32_t crc, const void* data, size_t len);
inline uint32_t crc32c(const void* data, size_t len) { return crc32c_update(0, data, len); }

}  // namespace pv
