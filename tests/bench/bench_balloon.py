#!/usr/bin/env python3
"""Benchmark: the time to balloon 1 GiB out of a domain and back in.

A private pvd runs a domain of 1 GiB + 128 MiB in the `balloon` mode; the
time is from `pvctl mem-set` to the guest's `BALLOON reached` line in the
console log, down to 128 MiB and back up (--rounds times). The reference,
measured in the same run, is a host process doing the same host work pv-hv
does for it: a memfd of the same size, 1 GiB of it punched out with
fallocate(PUNCH_HOLE|KEEP_SIZE) in 2 MiB runs (one per 512-frame
decrease_reservation), then punched again in 2 MiB runs (populate_physmap
punches what it hands back, so it reads as zero), in the same state as the
guest's memory (not touched). ratio = balloon time / reference time: the cost
of the guest's frame lists, the hypercalls and the xenstore round trip.
"""
import argparse
import ctypes
import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # write nothing outside /tmp
import benchlib as b  # noqa: E402

MIB = 1 << 20
ap = argparse.ArgumentParser(description=__doc__)
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--timeout", type=float, default=300.0, help="seconds per balloon step")
a = ap.parse_args()
b.need_built()

LOW_MIB, HIGH_MIB = 128, 1152
libc = ctypes.CDLL(None, use_errno=True)
FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE = 1, 2


def punch(fd, off, length):
    if libc.fallocate(fd, FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE, ctypes.c_long(off), ctypes.c_long(length)):
        raise OSError(ctypes.get_errno(), "fallocate(PUNCH_HOLE)")


def reference_round():
    fd = os.memfd_create("bench-balloon-ref")
    try:
        os.ftruncate(fd, HIGH_MIB * MIB)
        t0 = time.monotonic()
        for off in range(LOW_MIB * MIB, HIGH_MIB * MIB, 2 * MIB):  # out
            punch(fd, off, 2 * MIB)
        t1 = time.monotonic()
        for off in range(LOW_MIB * MIB, HIGH_MIB * MIB, 2 * MIB):  # back
            punch(fd, off, 2 * MIB)
        t2 = time.monotonic()
    finally:
        os.close(fd)
    return t1 - t0, t2 - t1


def console_has(path, needle, since):
    try:
        with open(path, errors="replace") as f:
            return f.read()[since:].find(needle) >= 0
    except FileNotFoundError:
        return False


def log_size(path):
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return 0


tmp = b.make_tmpdir("pv-bench-balloon.")
pvd, admin, _ = b.start_pvd(tmp)
cfg = os.path.join(tmp, "bal.cfg")
with open(cfg, "w") as f:
    f.write(f'name = "bal"\nkernel = "{b.GUEST}"\nmemory = {HIGH_MIB}\nvcpus = 1\nextra = "balloon"\n')


def pvctl(*args):
    r = subprocess.run([b.PVCTL, "--socket", admin, *args], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"pvctl {' '.join(args)}: {r.stderr}")
    return r.stdout


pvctl("create", cfg)
domid = pvctl("domid", "bal").strip()
log = os.path.join(tmp, "state", "domains", f"{domid}.console.log")
deadline = time.monotonic() + 60
while not console_has(log, f"BALLOON reached target_kib={HIGH_MIB * 1024}", 0):
    if time.monotonic() > deadline:
        sys.exit(f"the guest did not start ballooning: {open(log).read()[-400:] if os.path.exists(log) else 'no log'}")
    time.sleep(0.05)


def step(mib):
    since = log_size(log)
    t0 = time.monotonic()
    pvctl("mem-set", "bal", str(mib))
    end = t0 + a.timeout
    while not console_has(log, f"BALLOON reached target_kib={mib * 1024}", since):
        if time.monotonic() > end:
            sys.exit(f"mem-set {mib}: not reached in {a.timeout}s")
        time.sleep(0.01)
    return time.monotonic() - t0


outs, ins, ref_outs, ref_ins = [], [], [], []
for r in range(a.rounds):
    outs.append(step(LOW_MIB))
    ins.append(step(HIGH_MIB))
    ro, ri = reference_round()
    ref_outs.append(ro)
    ref_ins.append(ri)
    print(f"round {r}: balloon out {outs[-1]*1000:.0f} ms, in {ins[-1]*1000:.0f} ms; "
          f"reference out {ro*1000:.1f} ms, in {ri*1000:.1f} ms")

guest = b.median(outs) + b.median(ins)
ref = b.median(ref_outs) + b.median(ref_ins)
print(f"balloon 1 GiB out+in: {guest*1000:.0f} ms (out {b.spread([x*1000 for x in outs])} ms, "
      f"in {b.spread([x*1000 for x in ins])} ms)")
print(f"reference (host fallocate, same runs): {ref*1000:.1f} ms")
b.result("balloon 1 GiB out+in", f"{guest*1000:.0f} ms", f"{ref*1000:.1f} ms host fallocate", f"{guest/ref:.1f}x",
         "-", "measured")
