// HYPERVISOR_console_io(cmd, count, buffer): the emergency console. Output
// goes where the console ring goes; reading is dom0's only.
#include <memory>

#include <xen/console.h>

#include "domain.h"
#include "hypercall/hypercall.h"

namespace pv {

inline constexpr uint64_t kMaxConsoleWrite = 64 * 1024;

int64_t do_console_io(Hypercall& hc) {
  switch (hc.arg[0]) {
    case xen::console::op::write: {
      const uint64_t count = hc.arg[1];
      if (count > kMaxConsoleWrite) return -xen::XEN_EINVAL;
      auto buf = std::make_unique<char[]>(count);
      if (!hc.guest.read(hc.arg[2], buf.get(), count)) return -xen::XEN_EFAULT;
      hc.dom.console_out().write(std::string_view(buf.get(), count));
      return 0;
    }
    case xen::console::op::read:
      return -xen::XEN_EPERM;
    default:
      return hc.unimplemented();
  }
}

}  // namespace pv
