// pvguest: cooperative suspend (suspend.h).
#include "suspend.h"

#include <xen/sched.h>

#include "console.h"
#include "hypercall.h"
#include "pvtime.h"
#include "xenbus.h"

namespace suspend {
volatile uint64_t resumed = 0, cancelled = 0;

namespace {
Device devices[kMaxDevices];
unsigned nr_devices = 0;
}  // namespace

bool register_device(const Device& d) {
  if (nr_devices >= kMaxDevices) return false;
  devices[nr_devices++] = d;
  return true;
}

long run() {
  con::printf("SUSPEND quiescing %u device(s)\n", nr_devices);
  for (unsigned i = 0; i < nr_devices; i++) devices[i].quiesce(devices[i].arg);
  const uint64_t before = pvclock::now();
  con::printf("SUSPEND calling SCHEDOP_shutdown(suspend) at %lu ms\n", (unsigned long)(before / 1000000));
  con::flush(1000000000ull);
  xen::sched::shutdown s{xen::shutdown::suspend};
  const long rc = hv::sched_op(xen::sched::op::shutdown, &s);
  if (rc == 0) {
    k::resume_platform();
    xenbus::resume();
    resumed = resumed + 1;
  } else {
    cancelled = cancelled + 1;
  }
  const uint64_t after = pvclock::now();
  con::printf("SUSPEND %s rc=%ld after %lu ms (guest time %lu -> %lu ms)\n",
              rc == 0 ? "resumed" : rc == 1 ? "cancelled" : "failed", rc,
              (unsigned long)((after - before) / 1000000), (unsigned long)(before / 1000000),
              (unsigned long)(after / 1000000));
  for (unsigned i = 0; i < nr_devices; i++) devices[i].resume(devices[i].arg, rc != 0);
  return rc;
}

}  // namespace suspend
