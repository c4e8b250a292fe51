// pvguest: console output (COM1, console_io, PV console ring).
#include "console.h"

#include <stdarg.h>
#include <xen/console.h>
#include <xen/event_channel.h>
#include <xen/hvm.h>
#include <xen/sched.h>

#include "arch.h"
#include "hypercall.h"
#include "lib.h"
#include "pvtime.h"

namespace con {
namespace {
bool have_hypercalls = false;
volatile xen::console::interface* ring = nullptr;
xen::evtchn_port_t ring_port = 0;
arch::SpinLock lock;

void serial_putc(char c) {
  for (int i = 0; i < 100000 && !(arch::inb(0x3fd) & 0x20); i++) arch::pause();
  arch::outb(0x3f8, uint8_t(c));
}

void notify() {
  xen::evtchn::send s{ring_port};
  hv::evtchn_op(xen::evtchn::op::send, &s);
}

void ring_write(const char* s, size_t n) {
  using xen::console::kOutSize;
  size_t done = 0;
  while (done < n) {
    uint32_t cons = ring->out_cons;
    uint32_t prod = ring->out_prod;
    arch::mb();
    if (prod - cons >= kOutSize) {  // full: kick the host and wait
      notify();
      hv::sched_op(xen::sched::op::yield, nullptr);
      continue;
    }
    while (done < n && prod - cons < kOutSize) {
      ring->out[prod & (kOutSize - 1)] = s[done++];
      prod++;
    }
    arch::wmb();
    ring->out_prod = prod;
  }
  notify();
}

void raw_write(const char* s, size_t n) {
  if (ring) {
    ring_write(s, n);
  } else if (have_hypercalls) {
    hv::console_io(xen::console::op::write, n, s);
  } else {
    for (size_t i = 0; i < n; i++) serial_putc(s[i]);
  }
}
// lib::vsnprintf into buf, the length clamped to what fits.
int format(char* buf, size_t size, const char* fmt, va_list ap) {
  int n = lib::vsnprintf(buf, size, fmt, ap);
  if (n > int(size) - 1) n = int(size) - 1;
  return n;
}
}  // namespace

void serial_write(const char* s) {
  for (; *s; s++) {
    if (*s == '\n') serial_putc('\r');
    serial_putc(*s);
  }
}

void enable_hypercall_console() { have_hypercalls = true; }

bool ring_init() {
  xen::hvm::param_arg p{xen::DOMID_SELF, 0, xen::hvm::param::CONSOLE_PFN, 0};
  if (hv::hvm_op(xen::hvm::op::get_param, &p) != 0 || p.value == 0) return false;
  uint64_t pfn = p.value;
  p.index = xen::hvm::param::CONSOLE_EVTCHN;
  p.value = 0;
  if (hv::hvm_op(xen::hvm::op::get_param, &p) != 0 || p.value == 0) return false;
  ring_port = xen::evtchn_port_t(p.value);
  ring = reinterpret_cast<volatile xen::console::interface*>(pfn << xen::kPageShift);
  return true;
}

bool ring_active() { return ring != nullptr; }

void write(const char* s, size_t n) {
  uint64_t f = arch::lock_irqsave(lock);
  raw_write(s, n);
  arch::unlock_irqrestore(lock, f);
}

void printf(const char* fmt, ...) {
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  int n = format(buf, sizeof buf, fmt, ap);
  va_end(ap);
  write(buf, size_t(n));
}

void emergency(const char* fmt, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, fmt);
  int n = format(buf, sizeof buf, fmt, ap);
  va_end(ap);
  if (have_hypercalls) {
    hv::console_io(xen::console::op::write, size_t(n), buf);
  } else {
    serial_write(buf);
  }
}

void flush(uint64_t timeout_ns) {
  if (!ring) return;
  uint64_t end = pvclock::now() + timeout_ns;
  while (ring->out_cons != ring->out_prod && pvclock::now() < end) {
    notify();
    hv::sched_op(xen::sched::op::yield, nullptr);
  }
}

}  // namespace con
