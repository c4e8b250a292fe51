// The PV console: the shared ring page (public/io/console.h) and the
// HYPERVISOR_console_io hypercall (CONSOLEIO_*).
#pragma once
#include "xen.h"

namespace xen::console {

namespace op {
inline constexpr uint32_t write = 0;
inline constexpr uint32_t read = 1;
}  // namespace op

using ring_idx = uint32_t;
inline constexpr uint32_t kInSize = 1024;
inline constexpr uint32_t kOutSize = 2048;

// Indices run freely; the position in a ring is idx & (size - 1).
struct interface {
  char in[kInSize];    // dom0 -> guest
  char out[kOutSize];  // guest -> dom0
  ring_idx in_cons, in_prod;
  ring_idx out_cons, out_prod;
};
static_assert(offsetof(interface, in_cons) == 3072);
static_assert(offsetof(interface, out_prod) == 3084);
static_assert(sizeof(interface) <= kPageSize);

}  // namespace xen::console

// ---- Xen's spellings (public/xen.h CONSOLEIO_*, public/io/console.h); see xen.h ----
namespace xen {
inline constexpr uint32_t CONSOLEIO_write = console::op::write;
inline constexpr uint32_t CONSOLEIO_read = console::op::read;
using XENCONS_RING_IDX = console::ring_idx;
// The ring page under Xen's name. (Xen's struct continues with a
// `uint8_t connection` byte at offset 3088, XENCONSOLE_*, not modelled here.)
using xencons_interface = console::interface;
inline constexpr uint8_t XENCONSOLE_CONNECTED = 0;
inline constexpr uint8_t XENCONSOLE_DISCONNECTED = 1;
}  // namespace xen
