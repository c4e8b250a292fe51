#!/usr/bin/env python3
"""Benchmark: how many idle 128 MiB domains a host holds with ballooning and
free-page reporting, against the same without (issue 13).

The host is a simulated one of --budget MiB (default 1024), so the bench
cannot take this machine down: its free memory is --budget less what every
pv-hv of the run holds, measured from /proc (the sum of their VmRSS), and
the bench writes it to pvd's --balancer-host-free-file (the balancer's
documented test aid) twice a second. A domain is "held" if, once it and the
others have settled, that free memory is still at least --reserve MiB;
domains are created one at a time until one is not held, or --max (40)
run. pvd admits everything (--mem-overcommit 100): the limit measured is the
host's memory, not the admission policy's count of targets.

Each domain is the same idle guest: 128 MiB, it uses --used MiB once (writes
every page: as a guest that booted and ran something) and frees it, then
runs its balloon driver and idles (pvguest `touchfree=MIB balloon`). The
variants, measured in the same run, one after the other:
  without    pvd's balancer off, no free-page reporting: the reference;
  balloon    pvd --balancer on (low water --reserve + 128 MiB): idle domains
             are ballooned toward their working set as the host runs short;
  balloon+fpr  the balancer and free-page reporting (`pagereport`): freed
             pages go back to the host as they are freed.
ratio = domains held with balloon+fpr / without. Everything the bench starts
(pvd, pv-hv, cgroups, files under /tmp) is removed at the end, on error and
on Ctrl-C.
"""
import argparse
import os
import subprocess
import sys
import threading
import time

sys.dont_write_bytecode = True  # write nothing outside /tmp
import benchlib as b  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--budget", type=int, default=1024, help="MiB of the simulated host (default 1024)")
ap.add_argument("--reserve", type=int, default=64, help="MiB that must stay free (default 64)")
ap.add_argument("--max", type=int, default=40, help="at most this many domains per variant (default 40)")
ap.add_argument("--memory", type=int, default=128, help="MiB per domain (default 128)")
ap.add_argument("--used", type=int, default=96, help="MiB each guest writes once and frees (default 96)")
ap.add_argument("--variants", default="without,balloon,balloon+fpr")
ap.add_argument("--settle", type=float, default=60.0, help="seconds a step may take to settle (default 60)")
a = ap.parse_args()
b.need_built()
if a.max < 1 or a.max > 200:
    sys.exit("--max: 1 to 200")
if a.used >= a.memory:
    sys.exit("--used must be below --memory")
MIB = 1 << 20
KIB = 1024


def mem_available_mib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    return 0


def pv_hv_pids(tmp):
    out = []
    needle = tmp.encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if needle in cmd and os.path.basename(cmd.split(b"\0")[0]) == b"pv-hv":
            out.append(int(pid))
    return out


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def held_mib(tmp):
    return sum(rss_kib(p) for p in pv_hv_pids(tmp)) / KIB


class HostFeeder:
    """Writes the simulated host's free MiB for pvd twice a second."""

    def __init__(self, tmp):
        self.tmp, self.path, self.stop = tmp, os.path.join(tmp, "host-free-mib"), False
        self.write()
        self.t = threading.Thread(target=self.run, daemon=True)
        self.t.start()

    def free(self):
        return a.budget - held_mib(self.tmp)

    def write(self):
        tmp = self.path + ".new"
        with open(tmp, "w") as f:
            f.write(f"{max(0, int(self.free()))}\n")
        os.replace(tmp, self.path)

    def run(self):
        while not self.stop:
            self.write()
            time.sleep(0.5)


def console(tmp, domid):
    try:
        with open(os.path.join(tmp, "state", "domains", f"{domid}.console.log"), errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""


def run_variant(name):
    balancer = name != "without"
    extra = f"touchfree={a.used} balloon" + (" pagereport" if name == "balloon+fpr" else "")
    tmp = b.make_tmpdir(f"pv-bench-density-{name.replace('+', '-')}.")
    feeder = HostFeeder(tmp)
    args = ["--mem-overcommit", "100"]
    if balancer:
        low = a.reserve + 128
        args += ["--balancer", "on", "--balancer-interval", "0.5", "--balancer-low-water", f"{low}M",
                 "--balancer-high-water", f"{low + 64}M", "--balancer-floor", "32M", "--balancer-margin", "16M",
                 "--balancer-host-free-file", feeder.path]
    pvd, admin, _ = b.start_pvd(tmp, extra_args=args)

    def pvctl(*args):
        r = subprocess.run([b.PVCTL, "--socket", admin, *args], capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise RuntimeError(f"pvctl {' '.join(args)}: {r.stderr.strip()}")
        return r.stdout

    held, steps = 0, []
    try:
        for n in range(1, a.max + 1):
            if mem_available_mib() < 2048:
                print(f"{name}: this machine has under 2 GiB available: stopping early")
                break
            cfg = os.path.join(tmp, f"d{n}.cfg")
            with open(cfg, "w") as f:
                f.write(f'name = "d{n}"\nkernel = "{b.GUEST}"\nmemory = {a.memory}\nvcpus = 1\nextra = "{extra}"\n')
            pvctl("create", cfg)
            domid = pvctl("domid", f"d{n}").strip()
            end = time.monotonic() + a.settle
            while "TOUCHFREE done" not in console(tmp, domid) or "BALLOON reached" not in console(tmp, domid):
                if time.monotonic() > end:
                    raise TimeoutError(f"d{n} did not settle: {console(tmp, domid)[-400:]}")
                time.sleep(0.1)
            if "FAILED" in console(tmp, domid):
                raise RuntimeError(f"d{n}: {console(tmp, domid)[-400:]}")
            # Settled: what the pv-hvs hold has not moved by 1 MiB in 3 s
            # (the balancer, when on, has done what it does).
            last, since = held_mib(tmp), time.monotonic()
            while time.monotonic() - since < 3 and time.monotonic() < end:
                time.sleep(0.5)
                now = held_mib(tmp)
                if abs(now - last) >= 1:
                    last, since = now, time.monotonic()
            free = a.budget - held_mib(tmp)
            steps.append((n, a.budget - free, free))
            if free < a.reserve:
                break
            held = n
    finally:
        feeder.stop = True
        feeder.t.join()
        b.kill(pvd)
        b.kill_procs_naming(tmp)
    per = steps[min(held, len(steps)) - 1][1] / max(held, 1) if steps else 0
    print(f"{name}: {held} domains held in {a.budget} MiB (" +
          ", ".join(f"{n}: {h:.0f} MiB" for n, h, _ in steps[:3]) +
          (f", ... {steps[-1][0]}: {steps[-1][1]:.0f} MiB" if len(steps) > 3 else "") +
          f"; {per:.1f} MiB per domain)" + (" (the --max cap)" if held == a.max else ""))
    sys.stdout.flush()
    return held, per


variants = [v for v in a.variants.split(",") if v]
for v in variants:
    if v not in ("without", "balloon", "balloon+fpr"):
        sys.exit(f"unknown variant {v}")
runs = {v: run_variant(v) for v in variants}
counts = {v: held for v, (held, _) in runs.items()}
if "without" in counts and "balloon+fpr" in counts and counts["without"]:
    ratio = counts["balloon+fpr"] / counts["without"]
    capped = "≥" if counts["balloon+fpr"] == a.max else ""
    per = f"; {runs['balloon+fpr'][1]:.1f} against {runs['without'][1]:.1f} MiB held per domain"
    b.result(f"idle {a.memory} MiB domains in {a.budget} MiB", f"{capped}{counts['balloon+fpr']} with balloon+fpr"
             + (f" ({counts['balloon']} balloon only)" if "balloon" in counts else "") + per,
             f"{counts['without']} without", f"{capped}{ratio:.1f}x", "-", "measured")
