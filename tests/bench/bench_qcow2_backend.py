#!/usr/bin/env python3
"""Benchmark: pv-backd's qcow2 against its raw, and against QEMU's qcow2
(`qemu-img bench`) on the same image, without a VM (issue 14).

The guest here is emulated, so its own I/O rate (bench_qcow2.py) says little
about the back-end. This drives the real blkback queue (build/bin/
blkback_bench: a synthetic front-end in the same process, real grants, ring
and io_uring, O_DIRECT) on three images in one fresh directory under /tmp,
--size-mib each:
 - raw: filled with random bytes (the reference);
 - qcow2 allocated: `qemu-img convert -O qcow2` of it (every cluster there);
 - qcow2 fresh: `qemu-img create -f qcow2`, made again before each write run
   (every write allocates).
Workloads: 4 KiB at queue depth 32, random and sequential, read and write;
1 MiB sequential at queue depth 8, read and write. Each runs --rounds times,
image by image interleaved; medians of IOPS. Ratios:
 - qcow2 / raw (ours): goal >= 0.90 (issue 14);
 - ours / qemu-img bench on the same qcow2 images, allocated and fresh
   (`-t none -i io_uring`, the same depth and size; sequential only, as
   qemu-img bench has no random mode): QEMU's own qcow2 driver as the
   reference, which pays the same host file system costs (a fresh image's
   writes make the file system allocate blocks, a raw file's do not).
Both sides share the machine's CPUs with their own submitters (our
synthetic front-end runs in the same process as blkback), so the ratios,
not the absolute figures, are the point.
"""
import argparse
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # write nothing outside /tmp
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib as b  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--size-mib", type=int, default=512)
ap.add_argument("--seconds", type=float, default=2.0, help="per blkback_bench run")
ap.add_argument("--rounds", type=int, default=3)
args = ap.parse_args()

BLKQ = os.path.join(b.BUILD, "bin", "blkback_bench")
if not os.path.exists(BLKQ):
    sys.exit(f"missing {BLKQ}: build first")
if subprocess.run(["qemu-img", "--version"], capture_output=True).returncode != 0:
    sys.exit("qemu-img is needed (apt-get install qemu-utils)")

tmp = b.make_tmpdir("pv-bench-qcow2be.")
raw, alloc, fresh = (os.path.join(tmp, n) for n in ("raw.img", "alloc.qcow2", "fresh.qcow2"))
size = args.size_mib << 20


def sh(argv):
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(argv)}: {r.stderr.strip()}")
    return r.stdout


with open(raw, "wb") as f:
    for _ in range(args.size_mib):
        f.write(os.urandom(1 << 20))
    os.fsync(f.fileno())
sh(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, alloc])


def new_fresh():
    if os.path.exists(fresh):
        os.unlink(fresh)
    sh(["qemu-img", "create", "-q", "-f", "qcow2", fresh, str(size)])


def ours(path, fmt, rw, bs, qd):
    out = sh([BLKQ, "--file", path, "--format", fmt, "--rw", rw, "--bs", str(bs), "--qd", str(qd),
              "--seconds", str(args.seconds)])
    m = re.search(r"iops=([0-9.]+)", out)
    if not m or "errors=0" not in out:
        sys.exit(f"blkback_bench: {out.strip()}")
    return float(m.group(1))


def qemu(path, fmt, rw, bs, qd, count):
    argv = ["qemu-img", "bench", "-f", fmt, "-t", "none", "-i", "io_uring", "-d", str(qd), "-s", str(bs),
            "-c", str(count)]
    if rw == "write":
        argv.append("-w")
    out = sh(argv + [path])
    m = re.search(r"Run completed in ([0-9.]+) seconds", out)
    if not m:
        sys.exit(f"qemu-img bench: {out.strip()}")
    return count / float(m.group(1))


WORKLOADS = [  # (name, rw for blkback_bench, rw for qemu-img bench or None, bs, qd)
    ("4k randread qd32", "randread", None, 4096, 32),
    ("4k randwrite qd32", "randwrite", None, 4096, 32),
    ("4k read qd32", "read", "read", 4096, 32),
    ("4k write qd32", "write", "write", 4096, 32),
    ("1m read qd8", "read", "read", 1 << 20, 8),
    ("1m write qd8", "write", "write", 1 << 20, 8),
]

print(f"images: {args.size_mib} MiB each in {tmp}; {args.rounds} rounds of {args.seconds} s; medians of IOPS")
print(f"{'workload':18} {'raw':>8} {'q-alloc':>8} {'q-fresh':>8} {'qemu-al':>8} {'qemu-fr':>8} "
      f"{'alloc/raw':>9} {'fresh/raw':>9} {'al/qemu':>7} {'fr/qemu':>7}")
worst = None
for name, rw, qrw, bs, qd in WORKLOADS:
    r_raw, r_alloc, r_fresh, q_alloc, q_fresh = [], [], [], [], []
    write = rw.endswith("write")
    for _ in range(args.rounds):
        r_raw.append(ours(raw, "raw", rw, bs, qd))
        r_alloc.append(ours(alloc, "qcow2", rw, bs, qd))
        if write or not os.path.exists(fresh):
            new_fresh()  # reads of a fresh image read unallocated clusters (zeros)
        r_fresh.append(ours(fresh, "qcow2", rw, bs, qd))
        if qrw:
            # About as many requests as ours did in the same time, at least 2000.
            q_alloc.append(qemu(alloc, "qcow2", qrw, bs, qd, max(2000, int(b.median(r_alloc) * args.seconds))))
            if write:
                new_fresh()
            q_fresh.append(qemu(fresh, "qcow2", qrw, bs, qd, max(2000, int(b.median(r_fresh) * args.seconds))))
    raw_m, alloc_m, fresh_m = b.median(r_raw), b.median(r_alloc), b.median(r_fresh)
    qa = b.median(q_alloc) if q_alloc else None
    qf = b.median(q_fresh) if q_fresh else None
    ra, rf = alloc_m / raw_m, fresh_m / raw_m

    def col(v, w, fmt):
        return f"{v:{w}{fmt}}" if v else f"{'-':>{w}}"
    print(f"{name:18} {raw_m:8.0f} {alloc_m:8.0f} {fresh_m:8.0f} {col(qa, 8, '.0f')} {col(qf, 8, '.0f')} "
          f"{ra:9.2f} {rf:9.2f} {col(qa and alloc_m / qa, 7, '.2f')} {col(qf and fresh_m / qf, 7, '.2f')}")
    worst = min(worst, ra, rf) if worst is not None else min(ra, rf)
    b.result(f"qcow2 backend {name}", f"{alloc_m:.0f}/{fresh_m:.0f} IOPS (alloc/fresh)",
             f"raw {raw_m:.0f}" + (f", qemu-img bench {qa:.0f}/{qf:.0f}" if qa else ""), f"{min(ra, rf):.2f}",
             ">= 0.90 of raw", "met" if min(ra, rf) >= 0.9 else "NOT met")
print(f"worst qcow2/raw ratio: {worst:.2f} (goal >= 0.90)")
