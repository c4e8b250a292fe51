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
