// pvguest: pvclock, wallclock and per-vCPU timers.
#include <xen/event_channel.h>
#include <xen/vcpu.h>

#include "arch.h"
#include "events.h"
#include "hypercall.h"
#include "kernel.h"
#include "pvtime.h"

namespace pvclock {

uint64_t read(const volatile xen::vcpu_time_info* t) {
  uint32_t v;
  uint64_t ns;
  do {
    v = t->version;
    arch::rmb();
    uint64_t delta = arch::rdtsc_ordered() - t->tsc_timestamp;
    int8_t shift = t->tsc_shift;
    if (shift >= 0) delta <<= shift;
    else delta >>= -shift;
    ns = t->system_time + uint64_t((unsigned __int128)delta * t->tsc_to_system_mul >> 32);
    arch::rmb();
  } while ((v & 1) || v != t->version);
  return ns;
}

uint64_t now() {
  if (!k::shinfo) return 0;
  unsigned cpu = k::this_cpu();
  const xen::vcpu_info* vi = k::cpus[cpu].vi ? k::cpus[cpu].vi : &k::shinfo->vcpu_info[cpu];
  return read(&vi->time);
}

bool wallclock(uint64_t& sec, uint32_t& nsec) {
  volatile xen::shared_info* s = k::shinfo;
  uint32_t v;
  do {
    v = s->wc_version;
    arch::rmb();
    sec = (uint64_t(s->wc_sec_hi) << 32) | s->wc_sec;
    nsec = s->wc_nsec;
    arch::rmb();
  } while ((v & 1) || v != s->wc_version);
  return sec != 0;
}

void spin_ns(uint64_t ns) {
  uint64_t end = now() + ns;
  while (now() < end) arch::pause();
}

}  // namespace pvclock

namespace timer {

long set_singleshot(uint64_t abs_ns, uint32_t flags) {
  xen::vcpu::set_singleshot_timer t{abs_ns, flags, 0};
  return hv::vcpu_op(xen::vcpu::op::set_singleshot_timer, k::this_cpu(), &t);
}
long stop_singleshot() { return hv::vcpu_op(xen::vcpu::op::stop_singleshot_timer, k::this_cpu(), nullptr); }
long set_periodic(uint64_t period_ns) {
  xen::vcpu::set_periodic_timer t{period_ns};
  return hv::vcpu_op(xen::vcpu::op::set_periodic_timer, k::this_cpu(), &t);
}
long stop_periodic() { return hv::vcpu_op(xen::vcpu::op::stop_periodic_timer, k::this_cpu(), nullptr); }

bool bind_timer_virq(unsigned cpu) {
  xen::evtchn::bind_virq b{xen::virq::TIMER, cpu, 0};
  if (hv::evtchn_op(xen::evtchn::op::bind_virq, &b) != 0) return false;
  k::cpus[cpu].timer_port = b.port;
  evt::set_binding(b.port, cpu);
  return evt::unmask(b.port) == 0;
}

void on_timer(unsigned cpu) {
  k::cpus[cpu].timer_last_ns = pvclock::now();
  arch::atomic_inc(&k::cpus[cpu].timer_fires);
}

}  // namespace timer
