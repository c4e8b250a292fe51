#!/usr/bin/env python3
"""Benchmark 5: xenstore operations through pvd's dom0 socket vs a bare
Unix-socket round trip.

Builds tests/bench/xs_bench_client.cpp into a temporary directory with the
system C++ compiler, starts pvd (state in the same directory), and runs the
client against pvd's xenstored dom0 socket. The client speaks the xenstore
wire protocol itself (16-byte header + payload): N sequential XS_READs of one
node, N sequential XS_WRITEs of it (value --value-bytes long), and --watch-n
watch events (connection A watches a node, connection B writes it; latency is
from B's send to A's receipt of the XS_WATCH_EVENT). Reference, in the same
client and interleaved with the above in every round: an echo thread on a
socketpair echoing a message the size of the WRITE request (header + path +
value). Round 0 is a warm-up and is not counted; the figures are medians over
the remaining rounds of each round's mean (read, write, echo) or median
(watch) latency. Ratios: latency / echo round trip (no goal; reported).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

sys.dont_write_bytecode = True  # write nothing outside /tmp
import benchlib as b  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("-n", type=int, default=20000, help="READs, WRITEs and echoes per round")
ap.add_argument("--watch-n", type=int, default=2000, help="watch events per round")
ap.add_argument("--rounds", type=int, default=5, help="counted rounds (plus one warm-up)")
ap.add_argument("--value-bytes", type=int, default=32)
ap.add_argument("--cxx", default=os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++") or "c++")
a = ap.parse_args()
b.need_built()

tmp = b.make_tmpdir("pv-bench-xs.")
client = os.path.join(tmp, "xs_bench_client")
src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "xs_bench_client.cpp")
cc = subprocess.run([a.cxx, "-O2", "-std=c++20", "-pthread", "-I", os.path.join(b.REPO, "hv", "abi"), "-o", client, src],
                    capture_output=True, text=True, timeout=300)
if cc.returncode != 0:
    sys.exit(f"bench_xenstore: compiling {src} failed:\n{cc.stderr[-2000:]}")

pvd, _, xs_sock = b.start_pvd(tmp)
argv = [client, xs_sock, str(a.n), str(a.watch_n), str(a.rounds + 1), str(a.value_bytes)]
p = b.spawn(argv)
try:
    out, err = p.communicate(timeout=540)
except subprocess.TimeoutExpired:
    b.kill(p)
    sys.exit("bench_xenstore: client did not finish within 540 s")
b.kill(p)
out, err = out.decode(errors="replace"), err.decode(errors="replace")
if p.returncode != 0:
    sys.exit(f"bench_xenstore: client exited {p.returncode}\n{out}\n{err}")
if pvd.poll() is not None:
    sys.exit(f"bench_xenstore: pvd died during the run (rc={pvd.returncode})")
b.kill(pvd)

per = {}
for r, kind, mean, med in re.findall(r"^round (\d+) (\w+) ns_per_op=(\d+) median_ns=(\d+)$", out, re.M):
    if int(r) == 0:
        continue  # warm-up
    per.setdefault(kind, []).append((float(mean) / 1000, float(med) / 1000))
for k in ("echo", "read", "write", "watch"):
    if len(per.get(k, [])) != a.rounds:
        sys.exit(f"bench_xenstore: expected {a.rounds} rounds of {k}, client printed:\n{out}")

echo = b.median([m for m, _ in per["echo"]])
rd = b.median([m for m, _ in per["read"]])
wr = b.median([m for m, _ in per["write"]])
wt = b.median([md for _, md in per["watch"]])
msg = 16 + len("/bench/xs/node") + 1 + a.value_bytes
print(f"bare echo round trip ({msg}-byte message, socketpair to a thread): {echo:.1f} us  "
      f"(per round: {', '.join(f'{m:.1f}' for m, _ in per['echo'])})")
print(f"XS_READ:  {rd:.1f} us/op = {1e6 / rd:,.0f} ops/s  ({rd / echo:.2f}x echo)  "
      f"(per round: {', '.join(f'{m:.1f}' for m, _ in per['read'])})")
print(f"XS_WRITE: {wr:.1f} us/op = {1e6 / wr:,.0f} ops/s  ({wr / echo:.2f}x echo)  "
      f"(per round: {', '.join(f'{m:.1f}' for m, _ in per['write'])})")
print(f"watch event (write sent -> XS_WATCH_EVENT received, median): {wt:.1f} us  ({wt / echo:.2f}x echo)  "
      f"(per round: {', '.join(f'{md:.1f}' for _, md in per['watch'])})")
print(f"({a.rounds} rounds of {a.n} reads/writes/echoes and {a.watch_n} watch events, after one warm-up round)")
b.result("xenstore READ / WRITE via pvd's dom0 socket vs bare Unix-socket echo",
         f"{1e6 / rd:,.0f} / {1e6 / wr:,.0f} ops/s ({rd:.1f} / {wr:.1f} us)", f"echo {echo:.1f} us",
         f"{rd / echo:.2f}x / {wr / echo:.2f}x", "(reported)", "-")
b.result("xenstore watch event latency (write sent -> event received) vs bare echo",
         f"{wt:.1f} us", f"echo {echo:.1f} us", f"{wt / echo:.2f}x", "(reported)", "-")
