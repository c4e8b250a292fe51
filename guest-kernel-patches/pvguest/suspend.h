// pvguest: cooperative suspend, as a Xen HVM/PVH guest does it (Linux's
// drivers/xen/manage.c do_suspend and arch/x86/xen/suspend_hvm.c): quiesce
// the front-ends, SCHEDOP_shutdown(SHUTDOWN_suspend), and on return either
// carry on (1: cancelled, Xen's suspend_cancel, e.g. after a checkpoint) or
// re-establish what the host did not carry (0: resumed in a new pv-hv).
#pragma once
#include <stdint.h>

namespace suspend {

// A front-end's part: quiesce() before the hypercall (hold or disconnect
// its rings); resume(cancelled) after it (cancelled: the same back-end
// connection goes on; otherwise reconnect from xenstore).
struct Device {
  const char* name;
  void (*quiesce)(void* arg);
  void (*resume)(void* arg, bool cancelled);
  void* arg;
};
inline constexpr unsigned kMaxDevices = 8;
bool register_device(const Device& d);  // false when the table is full

// control/shutdown=suspend: returns the hypercall's result (0 resumed,
// 1 cancelled, < 0 an error: the domain carries on as if cancelled).
long run();

// How many suspends returned, by result (for the console report).
extern volatile uint64_t resumed, cancelled;

}  // namespace suspend

namespace k {
// After a resume in a new pv-hv: shared_info, every vCPU's vcpu_info, the
// callback and upcall vectors, timer VIRQs, the console ring and the
// grant table set up again (main.cpp).
void resume_platform();
}  // namespace k
