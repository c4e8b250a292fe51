#!/usr/bin/env python3
"""Benchmark 3: exec of pv-hv to READY vs QEMU microvm to its first console line.

Wall time from spawn (fork+exec by this script) to the moment the line is read
from the child's stdout pipe; median of --runs runs, interleaved. QEMU boots
the same pvguest.elf (PVH entry); on QEMU the guest finds no Xen signature,
prints one line on COM1 and exits through isa-debug-exit. `-accel kvm` is
tried first (both on the same KVM); if QEMU cannot use KVM here it falls back
to `-accel tcg` and says so. Goal: pv-hv faster than QEMU.
"""
import argparse
import shutil
import sys
import time

sys.dont_write_bytecode = True  # write nothing outside /tmp
import benchlib as b  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--runs", type=int, default=10)
ap.add_argument("--qemu", default=shutil.which("qemu-system-x86_64") or "qemu-system-x86_64")
a = ap.parse_args()
b.need_built()

PV_ARGV = [b.PV_HV, "--kernel", b.GUEST, "--memory", "64M", "--vcpus", "1", "--cmdline", ""]
QEMU_LINE = r"pvguest: no Xen signature found"


def qemu_argv(accel):
    return [a.qemu, "-M", "microvm", "-accel", accel, "-m", "64M", "-kernel", b.GUEST, "-nographic",
            "-no-reboot", "-nodefaults", "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]


def time_to_line(argv, pattern, timeout=30):
    t0 = time.monotonic()
    p = b.spawn(argv)
    try:
        t, _ = b.wait_for_line(p, pattern, timeout)
        return t - t0
    finally:
        b.kill(p)


if not shutil.which(a.qemu):
    sys.exit(f"bench_boot: {a.qemu} not found (scripts/setup.sh installs qemu-system-x86)")

accel = None
for cand in ("kvm", "tcg"):
    try:
        time_to_line(qemu_argv(cand), QEMU_LINE)
        accel = cand
        break
    except (RuntimeError, TimeoutError) as e:
        print(f"qemu -accel {cand} failed: {str(e)[:300]}", file=sys.stderr)
if not accel:
    sys.exit("bench_boot: QEMU could not boot the guest with kvm or tcg")
time_to_line(PV_ARGV, r"^READY")  # warm the page cache for both

pv_ready, pv_first, qm = [], [], []
for _ in range(a.runs):
    # pv-hv: first console line and READY from the same run.
    t0 = time.monotonic()
    p = b.spawn(PV_ARGV)
    try:
        t1, _ = b.wait_for_line(p, r"^pvguest: ", 30)
        t2, _ = b.wait_for_line(p, r"^READY", 30)
    finally:
        b.kill(p)
    pv_first.append((t1 - t0) * 1000)
    pv_ready.append((t2 - t0) * 1000)
    qm.append(time_to_line(qemu_argv(accel), QEMU_LINE) * 1000)

mr, mf, mq = b.median(pv_ready), b.median(pv_first), b.median(qm)
print(f"pv-hv spawn -> READY:               median {mr:.1f} ms  ({b.spread(pv_ready)}) ms")
print(f"pv-hv spawn -> first console line:  median {mf:.1f} ms")
print(f"qemu microvm (-accel {accel}) spawn -> first console line: median {mq:.1f} ms  ({b.spread(qm)}) ms")
ratio = mr / mq
print(f"ratio pv-hv READY / qemu first line = {ratio:.2f}x  (goal < 1: {'met' if ratio < 1 else 'NOT met'})")
b.result(f"Exec to READY vs QEMU microvm first line (accel {accel})", f"{mr:.1f} ms", f"{mq:.1f} ms", f"{ratio:.2f}x",
         "< 1x", "met" if ratio < 1 else "not met")
