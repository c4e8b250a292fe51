// pvguest: `tick[=MS]`, a counter on the console every MS ms (guest system
// time), obeying control/shutdown in between. Across a save/restore or a
// checkpoint the counter goes on from where it was, and the times it prints
// show how long the domain was away: no burst of ticks makes up for it.
#include <xen/sched.h>

#include "console.h"
#include "control.h"
#include "hypercall.h"
#include "modes.h"
#include "pvtime.h"
#include "suspend.h"
#include "xenbus.h"

[[noreturn]] void run_tick(uint64_t interval_ms) {
  control::start();
  const uint64_t interval = interval_ms * 1000000ull;
  uint64_t n = 0;
  uint64_t next = pvclock::now();
  con::printf("pvguest: ticking every %lu ms\n", (unsigned long)interval_ms);
  for (;;) {
    uint64_t now = pvclock::now();
    if (now >= next) {
      con::printf("TICK %lu t=%lu ms resumed=%lu cancelled=%lu\n", (unsigned long)n++, (unsigned long)(now / 1000000),
                  (unsigned long)suspend::resumed, (unsigned long)suspend::cancelled);
      next += interval;
      if (next <= now) next = now + interval;  // away longer than a tick: no catching up
      continue;
    }
    if (xenbus::connected() && xenbus::wait_events(next - now) >= 0) continue;
    // No xenstore: sleep on a single-shot timer instead.
    timer::set_singleshot(next, 0);
    hv::sched_op(xen::sched::op::block, nullptr);
  }
}
