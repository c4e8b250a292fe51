// pvguest: console output. Three paths, in boot order:
//  1. COM1 polling (no Xen host / fatal early errors),
//  2. HYPERVISOR_console_io write (hypercall page installed),
//  3. the PV console ring (CONSOLE_PFN page + CONSOLE_EVTCHN).
#pragma once
#include <stddef.h>
#include <stdint.h>

namespace con {
void serial_write(const char* s);
void enable_hypercall_console();          // after the hypercall page exists
bool ring_init();                         // HVM params CONSOLE_PFN / CONSOLE_EVTCHN
void write(const char* s, size_t n);      // locked; best path available
void printf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void emergency(const char* fmt, ...) __attribute__((format(printf, 1, 2)));  // lock-free
void flush(uint64_t timeout_ns);          // wait for the host to drain the ring
bool ring_active();
}  // namespace con
