#!/usr/bin/env python3
"""Benchmark 7: virtual disk I/O (blkback in pv-backd, the guest's blkfront)
against fio on the host, same backing file, same run.

Workloads: 4 KiB random read at queue depth 1 and 32, 1 MiB sequential read
and write at queue depth 4. Backing stores: a file on the local disk
(--disk-dir, default /var/tmp) and one on tmpfs (/dev/shm), each a 64 MiB
raw image filled with random bytes (so reads hit allocated blocks).

For each store, three measurements of each workload:
 - host: `fio --ioengine=io_uring --direct=1` on the file (--direct=0 if the
   file system refuses O_DIRECT), --runtime seconds; the reference.
 - guest: pvguest's `blkio=` tool in a domain created through pvd (the disk
   as `format=raw, vdev=xvda, access=rw, target=FILE`), one command per
   workload. Host CPU per I/O is read from /proc deltas between the guest's
   result lines: pv-backd (all threads), pv-hv's vCPU threads (the guest's
   emulated instructions, KVM/PVM) and pv-hv's other threads (event-channel
   relay, timers, console).
 - blkback alone: build/bin/blkback_bench, a synthetic front-end in the
   host driving one BlkQueue (same code as pv-backd) with the same
   workload, when that binary was built: the back-end's cost without the
   emulated guest.
Each store gets --rounds rounds of all three, interleaved workload by
workload (fio, blkback alone, then a fresh domain running only that
workload); medians are reported. For the guest runs the back-end's own
view is printed too, from the device's statistics/: service time per
request (taken off the ring -> response queued), kicks and notifications
per request. fio's CPU time is its whole process tree's (wait4 rusage, so
io_uring's io-wq workers count too).
Ratios are guest/host and blkback/host IOPS (MB/s for sequential). Goals
(issue 5): 4 KiB QD32 >= 85% of host IOPS, sequential >= 90% of host MB/s.
Writes only under a fresh /tmp directory, the --disk-dir image and a
/dev/shm image, all removed at the end (also on error or Ctrl-C).
"""
import argparse
import atexit
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # write nothing outside /tmp
import benchlib as b  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--disk-dir", default="/var/tmp", help="directory on the local disk for the image")
ap.add_argument("--stores", default="disk,tmpfs", help="which stores: disk,tmpfs")
ap.add_argument("--size-mib", type=int, default=64, help="image size")
ap.add_argument("--runtime", type=float, default=2, help="seconds per fio / blkback_bench run")
ap.add_argument("--rounds", type=int, default=3, help="rounds (fio, blkback alone, guest); medians reported")
ap.add_argument("--scale", type=float, default=1.0, help="multiplies the guest's I/O counts")
ap.add_argument("--vcpus", type=int, default=2)
a = ap.parse_args()
b.need_built()
if not os.path.exists(b.PVD):
    sys.exit(f"missing {b.PVD}: build first")
BLKQ = os.path.join(b.BUILD, "bin", "blkback_bench")
BACKD = os.path.join(b.BUILD, "bin", "pv-backd")
if not os.path.exists(BACKD):
    sys.exit(f"missing {BACKD}: build first")

# name, fio rw, block size, queue depth, guest I/O count
WORKLOADS = [
    ("4k randread qd1", "randread", 4096, 1, 2000),
    ("4k randread qd32", "randread", 4096, 32, 4000),
    ("1m seq read qd4", "read", 1 << 20, 4, 128),
    ("1m seq write qd4", "write", 1 << 20, 4, 128),
]
TICK = os.sysconf("SC_CLK_TCK")

_files = []


def _cleanup():
    for f in _files:
        try:
            if os.path.isdir(f):
                for n in os.listdir(f):
                    os.unlink(os.path.join(f, n))
                os.rmdir(f)
            else:
                os.unlink(f)
        except OSError:
            pass


atexit.register(_cleanup)


def make_image(path, mib):
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))
        f.flush()
        os.fsync(f.fileno())


# ---- host reference: fio ----
def run_counted(argv, timeout):
    """Runs argv to completion; returns (returncode, stdout)."""
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        out, _ = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        return -1, ""
    return p.returncode, out


def children_cpu():
    """CPU seconds of every reaped child, all its threads included (also
    io_uring's io-wq workers, which fio's own usr/sys figures miss)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def fio(path, rw, bs, qd, direct):
    argv = ["fio", "--name=ref", f"--filename={path}", "--ioengine=io_uring", f"--direct={direct}", f"--rw={rw}",
            f"--bs={bs}", f"--iodepth={qd}", f"--runtime={a.runtime}", "--time_based", "--output-format=json",
            f"--size={a.size_mib}M", "--randrepeat=0", "--norandommap"]
    c0 = children_cpu()
    rc, out = run_counted(argv, a.runtime * 10 + 60)
    cpu = children_cpu() - c0
    if rc != 0:
        return None
    job = json.loads(out[out.index("{"):])["jobs"][0]
    side = job["write"] if rw == "write" else job["read"]
    secs = job["job_runtime"] / 1000.0
    ios = side["total_ios"]
    return {"iops": ios / secs, "mbps": side["io_bytes"] / secs / 1e6, "ios": ios,
            "cpu_us": cpu / max(ios, 1) * 1e6, "direct": direct}


def host_ref(path, rw, bs, qd):
    return fio(path, rw, bs, qd, 1) or fio(path, rw, bs, qd, 0)


# ---- blkback alone ----
def blkq(path, rw, bs, qd):
    if not os.path.exists(BLKQ):
        return None
    argv = [BLKQ, "--file", path, "--rw", rw, "--bs", str(bs), "--qd", str(qd), "--seconds", str(a.runtime)]
    rc, out = run_counted(argv, a.runtime * 10 + 60)
    m = re.search(r"iops=([0-9.]+) mbps=([0-9.]+) backend_cpu_us_per_io=([0-9.]+) frontend_cpu_us_per_io=([0-9.]+)",
                  out)
    if rc != 0 or not m:
        print(f"  blkback_bench failed: {out.strip()}")
        return None
    return {"iops": float(m[1]), "mbps": float(m[2]), "cpu_us": float(m[3]), "fe_cpu_us": float(m[4])}


# ---- guest ----
def task_cpu_ns(pid, want=None):
    """CPU time (ns, from schedstat) of pid's threads; want(comm) selects."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return 0
    for t in tasks:
        try:
            comm = open(f"/proc/{pid}/task/{t}/comm").read().strip()
            if want and not want(comm):
                continue
            total += int(open(f"/proc/{pid}/task/{t}/schedstat").read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def pv_hv_pid(state):
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\0")
        except OSError:
            continue
        if cmd and os.path.basename(cmd[0]) == b"pv-hv" and any(state.encode() in c for c in cmd):
            return int(pid)
    return None


def cpu_snapshot(backd, hv):
    return (task_cpu_ns(backd), task_cpu_ns(hv, lambda c: c.startswith("vcpu")),
            task_cpu_ns(hv, lambda c: not c.startswith("vcpu")))


def xs_read(xs_sock, path):
    r = subprocess.run(["/usr/bin/xenstore-read", path], capture_output=True, text=True, timeout=10,
                       env={**os.environ, "XENSTORED_PATH": xs_sock, "XENSTORED_RUNDIR": "/nonexistent"})
    return r.stdout.strip() if r.returncode == 0 else ""


def guest_workload(tmp, admin, xs_sock, image, cmd, verbose):
    """One domain running `blkio=info;<cmd>`; returns its result with host
    CPU per I/O (from /proc between the info and result lines) and the
    back-end's counters per I/O (statistics/, read once they settled)."""
    state = os.path.join(tmp, "state")
    cfg = os.path.join(tmp, "blk.cfg")
    with open(cfg, "w") as f:
        f.write(f'name = "blk"\ntype = "pvh"\nmemory = 128\nvcpus = {a.vcpus}\nkernel = "{b.GUEST}"\n'
                f'extra = "blkio=info;{cmd} idle"\n'
                f"disk = ['format=raw, vdev=xvda, access=rw, target={image}']\n")
    r = subprocess.run([b.PVCTL, "--socket", admin, "create", cfg], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"pvctl create: {r.stderr.strip()}")
    domid = int(re.search(r"\(id ([0-9]+)\)", r.stdout)[1])
    try:
        log = os.path.join(state, "domains", f"{domid}.console.log")
        backd = int(open(os.path.join(state, "pv-backd.pid")).read())
        hv = pv_hv_pid(state + "/")
        seen, snap = 0, None
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            text = open(log, errors="replace").read() if os.path.exists(log) else ""
            lines = [l for l in text.splitlines() if l.startswith("BLKIO ")]
            for l in lines[seen:]:
                now = cpu_snapshot(backd, hv)
                if l.startswith("BLKIO info"):
                    if verbose:
                        print("  guest: " + l)
                    snap = now
                elif l.startswith("BLKIO op=") and snap:
                    m = dict(kv.split("=", 1) for kv in l.split()[1:] if "=" in kv)
                    d = [(x - y) / 1e3 for x, y in zip(now, snap)]
                    ios = max(int(m["ios"]), 1)
                    res = {"iops": int(m["iops"]), "mbps": float(m["mbps"]), "errors": int(m["errors"]),
                           "backd_us": d[0] / ios, "vcpu_us": d[1] / ios, "hvother_us": d[2] / ios}
                    time.sleep(0.8)  # statistics/ is refreshed every 500 ms
                    be = f"/local/domain/0/backend/vbd/{domid}/51712/statistics/"
                    st = {k: float(xs_read(xs_sock, be + k) or 0) for k in
                          ("requests", "service_us", "kicks", "notifies")}
                    reqs = max(st["requests"], 1)
                    res.update({"service_us": st["service_us"] / reqs, "kicks": st["kicks"] / reqs,
                                "notifies": st["notifies"] / reqs})
                    return res
                elif l.startswith("BLKIO DONE"):
                    raise RuntimeError(f"guest finished without a result:\n{text[-2000:]}")
            seen = len(lines)
            time.sleep(0.002)
        raise TimeoutError(f"guest did not finish: {open(log).read()[-2000:] if os.path.exists(log) else ''}")
    finally:
        subprocess.run([b.PVCTL, "--socket", admin, "destroy", str(domid)], capture_output=True, timeout=60)


def guest_cmd(rw, bs, qd, count):
    kind = "read" if "read" in rw else "write"
    order = "rand" if rw.startswith("rand") else "seq"
    return f"{kind},{order},bs={bs // 1024}k,qd={qd},count={max(8, int(count * a.scale))}"


def pct(x, ref):
    return f"{100.0 * x / ref:.1f}%" if ref else "n/a"


def med(rows, key):
    vals = [r[key] for r in rows if r]
    return b.median(vals) if vals else 0.0


def main():
    tmp = b.make_tmpdir("pv-bench-blk.")
    _, admin, xs_sock = b.start_pvd(tmp)
    stores = []
    for s in a.stores.split(","):
        if s == "disk":
            d = tempfile.mkdtemp(prefix="pv-bench-blk.", dir=a.disk_dir)
            _files.append(d)
            stores.append(("disk", "local disk (" + a.disk_dir + ")", os.path.join(d, "disk.img")))
        elif s == "tmpfs":
            fd, p = tempfile.mkstemp(prefix="pv-bench-blk.", suffix=".img", dir="/dev/shm")
            os.close(fd)
            _files.append(p)
            stores.append(("tmpfs", "tmpfs (/dev/shm)", p))
    for store, label, image in stores:
        make_image(image, a.size_mib)
        print(f"=== {label}: {a.size_mib} MiB image {image}, {a.rounds} rounds (medians)")
        host = [[] for _ in WORKLOADS]
        alone = [[] for _ in WORKLOADS]
        guest = [[] for _ in WORKLOADS]
        for r in range(a.rounds):
            for i, (_, rw, bs, qd, count) in enumerate(WORKLOADS):
                host[i].append(host_ref(image, rw, bs, qd))
                alone[i].append(blkq(image, rw, bs, qd))
                guest[i].append(guest_workload(tmp, admin, xs_sock, image, guest_cmd(rw, bs, qd, count),
                                               verbose=(r == 0 and i == 0)))
        print(f"  {'workload':<18} {'host fio':>14} {'guest':>12} {'guest/host':>10} {'blkback alone':>14} "
              f"{'alone/host':>10} | CPU us/IO: {'fio':>6} {'backd':>6} {'hv-vcpu':>8} {'hv-other':>8} "
              f"{'alone':>6}")
        for i, (name, rw, bs, qd, _) in enumerate(WORKLOADS):
            seq = bs >= (1 << 20)
            unit = "MB/s" if seq else "IOPS"
            key = "mbps" if seq else "iops"
            hv_, gv = med(host[i], key), med(guest[i], key)
            have_q = any(alone[i])
            qv = med(alone[i], key)
            direct = "" if all(h and h["direct"] for h in host[i]) else " (fio direct=0)"
            qcol = f"{qv:.0f} {unit}" if have_q else "n/a"
            print(f"  {name:<18} {hv_:>9.0f} {unit:<4} {gv:>7.0f} {unit:<4} {pct(gv, hv_):>10} {qcol:>14} "
                  f"{pct(qv, hv_) if have_q else 'n/a':>10} |            {med(host[i], 'cpu_us'):>6.1f} "
                  f"{med(guest[i], 'backd_us'):>6.1f} {med(guest[i], 'vcpu_us'):>8.1f} "
                  f"{med(guest[i], 'hvother_us'):>8.1f} {med(alone[i], 'cpu_us'):>6.1f}{direct}")
            goal, verdict = "-", "reported"
            if name == "4k randread qd32" or seq:
                need = 0.90 if seq else 0.85
                goal = f">= {int(need * 100)}% of host {unit}"
                verdict = "guest " + ("met" if gv >= need * hv_ else "NOT met")
                if have_q:
                    verdict += ", blkback alone " + ("met" if qv >= need * hv_ else "NOT met")
            print(f"RESULT|blk {name} ({store})|guest {gv:.0f} {unit}; blkback alone {qcol}; CPU/IO pv-backd "
                  f"{med(guest[i], 'backd_us'):.1f} us, guest vCPU {med(guest[i], 'vcpu_us'):.0f} us|fio {hv_:.0f} "
                  f"{unit} ({med(host[i], 'cpu_us'):.1f} us CPU/IO)|guest {pct(gv, hv_)}, alone "
                  f"{pct(qv, hv_) if have_q else 'n/a'}|{goal}|{verdict}")
        print(f"  back-end view of the guest runs: {'workload':<18} {'service us/IO':>13} {'kicks/IO':>9} "
              f"{'notifies/IO':>11}")
        for i, (name, *_rest) in enumerate(WORKLOADS):
            print(f"  {'':<32} {name:<18} {med(guest[i], 'service_us'):>13.1f} {med(guest[i], 'kicks'):>9.3f} "
                  f"{med(guest[i], 'notifies'):>11.3f}")
    print(f"(host: {os.cpu_count()} CPUs; guest {a.vcpus} vCPUs. CPU us/IO: fio = the fio process with all its "
          "threads; backd = pv-backd; hv-vcpu = pv-hv's vCPU threads (the emulated guest); hv-other = pv-hv's "
          "other threads; alone = blkback_bench's queue thread and io-wq workers)")


main()
