#!/usr/bin/env python3
"""Benchmark: the guest's disk I/O on qcow2 against raw, same run (issue 14).

Workloads (pvguest's `blkio=`): 4 KiB random read and write at queue depth
32, 1 MiB sequential read and write at queue depth 4. Images, all in one
fresh directory under --dir (default /var/tmp), --size-mib each:
 - raw: a raw file filled with random bytes (the reference);
 - qcow2 allocated: `qemu-img convert -O qcow2` of that raw file (every
   cluster allocated, reads and overwrites hit data clusters);
 - qcow2 fresh: `qemu-img create -f qcow2` (reads of unallocated clusters
   are zeros; writes allocate clusters as they go).
Each workload runs --rounds times on each image in a fresh domain (one
command per domain), interleaved image by image; medians are reported as
ratios qcow2/raw. Goal (issue 14): >= 90% of raw. Writes only under a
fresh directory, removed at the end (also on error or Ctrl-C).
"""
import argparse
import atexit
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # write nothing outside the temp dirs
import benchlib as b  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--dir", default="/var/tmp", help="directory on the local disk for the images")
ap.add_argument("--size-mib", type=int, default=64, help="image size")
ap.add_argument("--rounds", type=int, default=3, help="rounds per workload and image; medians reported")
ap.add_argument("--scale", type=float, default=1.0, help="multiplies the guest's I/O counts")
ap.add_argument("--vcpus", type=int, default=2)
a = ap.parse_args()
b.need_built()
if shutil.which("qemu-img") is None:
    sys.exit("qemu-img is needed (Debian package qemu-utils)")

# name, blkio words, I/O count
WORKLOADS = [
    ("4k randread qd32", "read,rand,bs=4k,qd=32", 4000),
    ("4k randwrite qd32", "write,rand,bs=4k,qd=32", 4000),
    ("1m seq read qd4", "read,seq,bs=1m,qd=4", 128),
    ("1m seq write qd4", "write,seq,bs=1m,qd=4", 128),
]

_dirs = []
atexit.register(lambda: [shutil.rmtree(d, ignore_errors=True) for d in _dirs])


def make_images(d):
    raw = os.path.join(d, "ref.img")
    with open(raw, "wb") as f:
        for _ in range(a.size_mib):
            f.write(os.urandom(1 << 20))
        os.fsync(f.fileno())
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, os.path.join(d, "full.qcow2")],
                   check=True)
    return raw


def fresh_qcow2(d):
    """A new empty qcow2 per run: a fresh image stays fresh only until written."""
    p = os.path.join(d, "fresh.qcow2")
    if os.path.exists(p):
        os.unlink(p)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", p, f"{a.size_mib}M"], check=True)
    return p


def guest(tmp, admin, image, fmt, cmd):
    """One domain running `blkio=<cmd>`; its IOPS and MB/s."""
    cfg = os.path.join(tmp, "q.cfg")
    with open(cfg, "w") as f:
        f.write(f'name = "q"\ntype = "pvh"\nmemory = 128\nvcpus = {a.vcpus}\nkernel = "{b.GUEST}"\n'
                f'extra = "blkio={cmd} idle"\n'
                f"disk = ['format={fmt}, vdev=xvda, access=rw, target={image}']\n")
    r = subprocess.run([b.PVCTL, "--socket", admin, "create", cfg], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"pvctl create: {r.stderr.strip()}")
    domid = int(re.search(r"\(id ([0-9]+)\)", r.stdout)[1])
    log = os.path.join(tmp, "state", "domains", f"{domid}.console.log")
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            text = open(log, errors="replace").read() if os.path.exists(log) else ""
            m = re.search(r"^BLKIO op=\S+ .* iops=([0-9]+) mbps=([0-9.]+) errors=([0-9]+)", text, re.M)
            if m:
                if int(m[3]):
                    raise RuntimeError(f"{m[3]} I/O errors on {fmt}:\n{text[-1500:]}")
                return {"iops": float(m[1]), "mbps": float(m[2])}
            if "BLKIO DONE" in text:
                raise RuntimeError(f"guest finished without a result:\n{text[-1500:]}")
            time.sleep(0.01)
        raise TimeoutError("guest did not finish")
    finally:
        subprocess.run([b.PVCTL, "--socket", admin, "destroy", str(domid)], capture_output=True, timeout=60)


def main():
    tmp = b.make_tmpdir("pv-bench-qcow2.")
    d = tempfile.mkdtemp(prefix="pv-bench-qcow2.", dir=a.dir)
    _dirs.append(d)
    _, admin, _ = b.start_pvd(tmp)
    raw = make_images(d)
    full = os.path.join(d, "full.qcow2")
    print(f"=== {a.size_mib} MiB images in {d}, {a.rounds} rounds (medians); ratios against raw")
    print(f"  {'workload':<18} {'raw':>12} {'qcow2 allocated':>16} {'ratio':>7} {'qcow2 fresh':>12} {'ratio':>7}")
    for name, words, count in WORKLOADS:
        cmd = f"{words},count={max(8, int(count * a.scale))}"
        key = "mbps" if "bs=1m" in words else "iops"
        unit = "MB/s" if key == "mbps" else "IOPS"
        runs = {"raw": [], "full": [], "fresh": []}
        for _ in range(a.rounds):
            runs["raw"].append(guest(tmp, admin, raw, "raw", cmd)[key])
            runs["full"].append(guest(tmp, admin, full, "qcow2", cmd)[key])
            runs["fresh"].append(guest(tmp, admin, fresh_qcow2(d), "qcow2", cmd)[key])
        r, f, n = (b.median(runs[k]) for k in ("raw", "full", "fresh"))
        rf, rn = (f / r if r else 0), (n / r if r else 0)
        print(f"  {name:<18} {r:>7.0f} {unit:<4} {f:>11.0f} {unit:<4} {rf:>6.0%} {n:>7.0f} {unit:<4} {rn:>6.0%}")
        verdict = "met" if min(rf, rn) >= 0.9 else "NOT met"
        b.result(f"qcow2 {name}", f"allocated {f:.0f} {unit}, fresh {n:.0f} {unit}", f"raw {r:.0f} {unit}",
                 f"allocated {rf:.0%}, fresh {rn:.0%}", ">= 90% of raw", verdict)


main()
