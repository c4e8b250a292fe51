// pvguest: control/shutdown (Linux's drivers/xen/manage.c) and the `idle`
// mode that waits for it.
#include "control.h"

#include <xen/sched.h>

#include "console.h"
#include "hypercall.h"
#include "kernel.h"
#include "lib.h"
#include "modes.h"
#include "vcpu_hotplug.h"
#include "suspend.h"
#include "xenbus.h"

namespace control {
namespace {
constexpr uint64_t kIdleWaitNs = 60000000000ull;  // re-arm the poll every minute
constexpr unsigned kMaxRetries = 16;              // transaction conflicts (EAGAIN)

struct Command {
  const char* name;
  uint32_t reason;
};
constexpr Command kCommands[] = {
    {"poweroff", xen::shutdown::poweroff},
    {"halt", xen::shutdown::poweroff},
    {"reboot", xen::shutdown::reboot},
    {"suspend", xen::shutdown::suspend},
};

// As Linux's shutdown_handler: read the request in a transaction and
// acknowledge a known one by writing "" back; an empty or unreadable node
// is no request.
void on_shutdown(const char*, const char*, void*) {
  char value[128];
  const Command* cmd = nullptr;
  int rc = 0;
  for (unsigned attempt = 0;; attempt++) {
    uint32_t tx;
    if ((rc = xenbus::transaction_start(tx)) != 0) {
      con::printf("xenbus: control/shutdown: transaction_start: %s\n", xenbus::error_name(rc));
      return;
    }
    if (xenbus::read("control/shutdown", value, sizeof value, nullptr, tx) != 0 || !value[0]) {
      xenbus::transaction_end(tx, false);
      return;
    }
    cmd = nullptr;
    for (const auto& c : kCommands)
      if (lib::strcmp(value, c.name) == 0) cmd = &c;
    if (cmd && (rc = xenbus::write("control/shutdown", "", tx)) != 0)
      con::printf("xenbus: control/shutdown: acknowledging: %s\n", xenbus::error_name(rc));
    rc = xenbus::transaction_end(tx, true);
    if (rc != -int(xen::XEN_EAGAIN) || attempt + 1 >= kMaxRetries) break;
  }
  con::printf("xenbus: control/shutdown=%s\n", value);
  if (rc) con::printf("xenbus: control/shutdown: transaction_end: %s\n", xenbus::error_name(rc));
  if (!cmd) {
    con::printf("xenbus: ignoring shutdown request '%s'\n", value);
    return;
  }
  // A suspend comes back (resumed or cancelled); everything else ends here.
  if (cmd->reason == xen::shutdown::suspend) {
    suspend::run();
    return;
  }
  k::shutdown(cmd->reason);
}
}  // namespace

bool start(bool vcpu_hotplug) {
  if (!xenbus::init()) {
    con::printf("xenbus: no xenstore ring advertised (HVM_PARAM_STORE_PFN/STORE_EVTCHN)\n");
    return false;
  }
  // Watch first, as Linux's setup_shutdown_watcher. xenstored fires a new
  // watch once right away, so a request written before now is still seen.
  int rc = xenbus::watch("control/shutdown", "control/shutdown", on_shutdown);
  if (rc) {
    con::printf("xenbus: watch control/shutdown failed: %s\n", xenbus::error_name(rc));
    if (rc == -int(xen::XEN_ETIMEDOUT)) return false;  // no server: do not queue more
  }
  static const char* const features[] = {"control/feature-poweroff", "control/feature-reboot",
                                         "control/feature-suspend"};
  for (const char* f : features) {
    int w = xenbus::write(f, "1");
    if (w) con::printf("xenbus: write %s failed: %s\n", f, xenbus::error_name(w));
  }
  if (rc == 0) con::printf("xenbus: watching control/shutdown\n");
  if (rc == 0 && vcpu_hotplug) hotplug::start();  // cpu/N/availability, as Linux's cpu_hotplug.c
  return rc == 0;
}

}  // namespace control

// `idle`: block until control/shutdown asks for something. Without a
// server (or with a broken ring) there is nothing to obey: just block.
[[noreturn]] void run_idle() {
  control::start();
  con::printf("pvguest: idle\n");
  bool reported = false;
  for (;;) {
    if (xenbus::connected()) {
      int rc = xenbus::wait_events(control::kIdleWaitNs);
      if (rc >= 0) continue;
      if (!reported) con::printf("xenbus: %s; idling without xenstore\n", xenbus::error_name(rc));
      reported = true;
    }
    hv::sched_op(xen::sched::op::block, nullptr);
  }
}
