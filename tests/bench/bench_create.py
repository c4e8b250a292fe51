#!/usr/bin/env python3
"""Benchmark 6: `pvctl create` to guest READY, one domain and fifty in a row,
vs pv-hv started directly.

Starts pvd (state, sockets and config files in a fresh /tmp directory).
One domain: wall time from spawning `pvctl create FILE` until `READY` appears
in the domain's console log (<state>/domains/<id>.console.log, polled every
--poll-ms), then `pvctl destroy`; median of --runs runs. Reference in the same
run, interleaved: `pv-hv` spawned directly to its READY line on stdout (as
bench_boot.py does), same guest, memory and command line.
Fifty in a row: --count domains created one after another, each `pvctl
create` issued once the previous domain is READY, all kept running, then
destroyed one by one; domains per second = count / (first create spawned ->
last READY). Reference: --count pv-hv processes spawned the same way, each
after the previous one's READY, all kept running, then killed.
Guests run `watchdog=3600` (boot, READY, arm a watchdog, block), 64 MiB,
1 vCPU, so they stay up until destroyed. Ratios = toolstack time / direct
pv-hv time (no goal; reported).
"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # write nothing outside /tmp
import benchlib as b  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--runs", type=int, default=5, help="single-domain runs (median)")
ap.add_argument("--count", type=int, default=50, help="domains in the in-a-row test")
ap.add_argument("--memory", type=int, default=64, help="MiB per domain")
ap.add_argument("--poll-ms", type=float, default=0.5, help="console-log poll interval")
a = ap.parse_args()
b.need_built()

CMDLINE = "watchdog=3600"
tmp = b.make_tmpdir("pv-bench-create.")
pvd, admin, _ = b.start_pvd(tmp)
domains_dir = os.path.join(tmp, "state", "domains")
PV_ARGV = [b.PV_HV, "--kernel", b.GUEST, "--memory", f"{a.memory}M", "--vcpus", "1", "--cmdline", CMDLINE]


def pvctl(*args, timeout=30):
    r = subprocess.run([b.PVCTL, "--socket", admin, *args], capture_output=True, text=True, timeout=timeout,
                       start_new_session=True)
    if r.returncode != 0:
        raise RuntimeError(f"pvctl {' '.join(args)} exited {r.returncode}: {r.stderr.strip()}")
    return r.stdout


def config(name):
    path = os.path.join(tmp, name + ".cfg")
    with open(path, "w") as f:
        f.write(f'name = "{name}"\ntype = "pvh"\nmemory = {a.memory}\nvcpus = 1\nkernel = "{b.GUEST}"\n'
                f'extra = "{CMDLINE}"\non_poweroff = "destroy"\non_crash = "preserve"\n')
    return path


def wait_ready(domid, timeout=30):
    """Polls the domain's console log until a READY line; returns the time."""
    log = os.path.join(domains_dir, f"{domid}.console.log")
    deadline, pos, buf, f = time.monotonic() + timeout, 0, b"", None
    try:
        while True:
            if f is None:
                try:
                    f = open(log, "rb")
                except FileNotFoundError:
                    pass
            if f is not None:
                chunk = f.read()
                if chunk:
                    buf += chunk
                    if re.search(rb"(^|\n)READY\r?\n", buf):
                        return time.monotonic()
            if time.monotonic() > deadline:
                raise TimeoutError(f"domain {domid}: no READY in {log} within {timeout}s; tail {buf[-300:]!r}")
            time.sleep(a.poll_ms / 1000)
    finally:
        if f is not None:
            f.close()


def create_to_ready(cfg):
    t0 = time.monotonic()
    out = pvctl("create", cfg)
    m = re.search(r"\(id (\d+)\)", out)
    if not m:
        raise RuntimeError(f"pvctl create printed no id: {out!r}")
    t_created = time.monotonic()
    t1 = wait_ready(int(m.group(1)))
    return int(m.group(1)), t0, t_created, t1


def direct_to_ready():
    t0 = time.monotonic()
    p = b.spawn(PV_ARGV)
    t1, _ = b.wait_for_line(p, r"^READY", 30)
    return p, t0, t1


# Warm-up (page cache, pvd's first domain).
p, _, _ = direct_to_ready()
b.kill(p)
domid, *_ = create_to_ready(config("warmup"))
pvctl("destroy", str(domid))

# One domain, interleaved with the reference.
one, one_cmd, ref = [], [], []
for i in range(a.runs):
    domid, t0, tc, t1 = create_to_ready(config(f"one{i}"))
    one.append((t1 - t0) * 1000)
    one_cmd.append((tc - t0) * 1000)
    pvctl("destroy", str(domid))
    p, t0, t1 = direct_to_ready()
    ref.append((t1 - t0) * 1000)
    b.kill(p)

# Fifty in a row: reference first, then through pvd.
procs = []
t_start = time.monotonic()
try:
    for i in range(a.count):
        p, _, t_last = direct_to_ready()
        procs.append(p)
    ref_total = t_last - t_start
finally:
    for p in procs:
        b.kill(p)

cfgs = [config(f"row{i}") for i in range(a.count)]
ids = []
t_start = time.monotonic()
for cfg in cfgs:
    domid, _, _, t_last = create_to_ready(cfg)
    ids.append(domid)
row_total = t_last - t_start
listed = len([l for l in pvctl("list").splitlines()[1:] if l.strip()])
t_d = time.monotonic()
for domid in ids:
    pvctl("destroy", str(domid))
destroy_total = time.monotonic() - t_d
left = len([l for l in pvctl("list").splitlines()[1:] if l.strip()])
if pvd.poll() is not None:
    sys.exit(f"bench_create: pvd died during the run (rc={pvd.returncode})")
b.kill(pvd)

m1, mc, mr = b.median(one), b.median(one_cmd), b.median(ref)
print(f"pvctl create -> READY in console log: median {m1:.1f} ms  ({b.spread(one)}) ms; "
      f"of which `pvctl create` itself returned after median {mc:.1f} ms")
print(f"pv-hv spawned directly -> READY:      median {mr:.1f} ms  ({b.spread(ref)}) ms")
print(f"ratio one domain pvctl/direct = {m1 / mr:.2f}x  (toolstack overhead {m1 - mr:.1f} ms)")
dps, ref_dps = a.count / row_total, a.count / ref_total
print(f"{a.count} domains in a row through pvctl: {row_total:.2f} s to the last READY = {dps:.1f} domains/s "
      f"({row_total / a.count * 1000:.1f} ms each); {listed} listed at the end; destroying them took "
      f"{destroy_total:.2f} s ({destroy_total / a.count * 1000:.1f} ms each); {left} left")
print(f"{a.count} pv-hv spawned directly in a row: {ref_total:.2f} s = {ref_dps:.1f} domains/s "
      f"({ref_total / a.count * 1000:.1f} ms each)")
print(f"ratio {a.count} in a row pvctl/direct (time per domain) = {ref_dps / dps:.2f}x")
if listed != a.count or left != 0:
    sys.exit(f"bench_create: expected {a.count} domains listed and 0 left, got {listed} and {left}")
b.result("`pvctl create` to guest READY vs pv-hv spawned directly (one domain, median)",
         f"{m1:.1f} ms", f"{mr:.1f} ms", f"{m1 / mr:.2f}x", "(reported)", "-")
b.result(f"{a.count} domains in a row, `pvctl create` to READY, all kept ({a.memory} MiB each)",
         f"{dps:.1f} domains/s", f"{ref_dps:.1f} domains/s (pv-hv direct)", f"{ref_dps / dps:.2f}x", "(reported)", "-")
