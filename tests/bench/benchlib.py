"""Shared helpers for the on-demand benchmarks in tests/bench (not ctest).

Every process a benchmark starts is put in its own session and killed
(SIGKILL to its process group) when the benchmark ends, on success, on error,
on Ctrl-C and on SIGTERM. Temporary directories made with make_tmpdir() are
removed then too, after killing every process whose command line names the
directory (pvd starts each domain's pv-hv in a session of its own, so killing
pvd's process group does not reach them). Nothing is written outside /tmp.
"""
import atexit
import glob
import os
import re
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("PV_BUILD_DIR", os.path.join(REPO, "build"))
PV_HV = os.path.join(BUILD, "bin", "pv-hv")
GUEST = os.path.join(BUILD, "guest", "pvguest.elf")
PVD = os.path.join(BUILD, "bin", "pvd")
PVCTL = os.path.join(BUILD, "bin", "pvctl")

_children = []
_tmpdirs = []
_slices = []


def _kill_all():
    for p in list(_children):
        kill(p)  # removes it from _children
    for d in _tmpdirs:
        kill_procs_naming(d)
        shutil.rmtree(d, ignore_errors=True)
    _tmpdirs.clear()
    for s in _slices:
        remove_cgroup_slice(s)
    _slices.clear()


def remove_cgroup_slice(name):
    """Removes the cgroup slice pvd made for its domains' CPU shares (its
    per-domain groups first), in every hierarchy it may be in."""
    for d in [f"/sys/fs/cgroup/{name}"] + [os.path.join(m, name) for m in glob.glob("/sys/fs/cgroup/*")]:
        for _ in range(60):
            if not os.path.isdir(d):
                break
            for sub in glob.glob(os.path.join(d, "*/")):
                try:
                    os.rmdir(sub)
                except OSError:
                    pass
            try:
                os.rmdir(d)
                break
            except OSError:
                time.sleep(0.05)


def kill_procs_naming(path):
    """SIGKILLs every process (of ours) whose command line contains `path`,
    a unique directory made by make_tmpdir(): the pv-hv processes pvd started
    for its domains. Returns how many it killed."""
    needle, n = path.encode(), 0
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if needle not in f.read():
                    continue
            os.kill(int(pid), signal.SIGKILL)
            n += 1
        except (OSError, ProcessLookupError):
            pass
    return n


def make_tmpdir(prefix):
    """A fresh directory under /tmp, removed (after killing the processes
    naming it) when the benchmark ends."""
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    _tmpdirs.append(d)
    return d


def _on_signal(signum, _frame):
    _kill_all()
    sys.exit(128 + signum)


atexit.register(_kill_all)
signal.signal(signal.SIGTERM, _on_signal)
signal.signal(signal.SIGINT, _on_signal)
signal.signal(signal.SIGHUP, _on_signal)


def need_built():
    for f in (PV_HV, GUEST):
        if not os.path.exists(f):
            sys.exit(f"missing {f}: build first (cmake -S {REPO} -B {BUILD} -G Ninja && ninja -C {BUILD})")


def spawn(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE):
    """Starts argv in its own process group, stdout piped (unbuffered bytes)."""
    p = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=stderr,
                         start_new_session=True, bufsize=0)
    _children.append(p)
    return p


def kill(p):
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    try:
        p.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    # Close pipes so no fd leaks across many runs.
    for f in (p.stdout, p.stderr):
        if f:
            f.close()
    if p in _children:
        _children.remove(p)


def wait_for_line(p, pattern, timeout):
    """Reads p's stdout until a line matches `pattern` (regex); returns
    (monotonic time that line was read, stdout text so far) or raises.
    Lines already read by an earlier call count (with their read time)."""
    rx = re.compile(pattern)
    if not hasattr(p, "bench_lines"):
        p.bench_lines, p.bench_partial = [], b""
    deadline = time.monotonic() + timeout
    fd = p.stdout.fileno()
    seen = 0
    while True:
        for t, line in p.bench_lines[seen:]:
            if rx.search(line):
                return t, "\n".join(l for _, l in p.bench_lines)
        seen = len(p.bench_lines)
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no line matching {pattern!r} within {timeout}s; got {p.bench_lines[-5:]!r}")
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        chunk = os.read(fd, 65536)
        t = time.monotonic()
        if not chunk:
            err = p.stderr.read().decode(errors="replace") if p.stderr else ""
            raise RuntimeError(f"process exited (rc={p.wait()}) before {pattern!r}; "
                               f"stdout {p.bench_lines[-5:]!r}; stderr {err[-400:]!r}")
        data = p.bench_partial + chunk
        *full, p.bench_partial = data.split(b"\n")
        p.bench_lines += [(t, l.decode(errors="replace").rstrip("\r")) for l in full]


def run_guest(cmdline, timeout=120, memory="64M", vcpus=1):
    """Boots pvguest with `cmdline` to completion; returns its console text."""
    argv = [PV_HV, "--kernel", GUEST, "--memory", memory, "--vcpus", str(vcpus), "--cmdline", cmdline]
    p = spawn(argv)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill(p)
        raise TimeoutError(f"pv-hv did not finish within {timeout}s: {' '.join(argv)}")
    kill(p)
    out = out.decode(errors="replace")
    if p.returncode != 0:
        raise RuntimeError(f"pv-hv exited {p.returncode}\nstdout:\n{out}\nstderr:\n{err.decode(errors='replace')}")
    return out


def start_pvd(tmp, timeout=20, extra_args=()):
    """Starts pvd with its state in tmp/state, its admin socket tmp/pvd.sock
    and its dom0 xenstored socket tmp/xenstored.sock, stderr to tmp/pvd.log,
    its domains' cgroups in a slice of its own (removed at the end), and
    `extra_args`; returns (process, admin socket, xenstored socket) once both
    accept."""
    for f in (PVD, PVCTL):
        if not os.path.exists(f):
            sys.exit(f"missing {f}: build first (cmake -S {REPO} -B {BUILD} -G Ninja && ninja -C {BUILD})")
    state, admin, xs = os.path.join(tmp, "state"), os.path.join(tmp, "pvd.sock"), os.path.join(tmp, "xenstored.sock")
    log = open(os.path.join(tmp, "pvd.log"), "wb")
    slice_name = os.path.basename(tmp.rstrip("/")) + ".slice"
    _slices.append(slice_name)
    p = spawn([PVD, "--state-dir", state, "--socket", admin, "--xenstore-socket", xs, "--pv-hv", PV_HV,
               "--cgroup-slice", slice_name, *extra_args], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    deadline = time.monotonic() + timeout
    pending = [admin, xs]
    while pending:
        if p.poll() is not None:
            raise RuntimeError(f"pvd exited (rc={p.returncode}): {open(os.path.join(tmp, 'pvd.log')).read()[-400:]}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"pvd did not open {pending} within {timeout}s")
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(pending[0])
            pending.pop(0)
        except OSError:
            time.sleep(0.01)
    return p, admin, xs


def bench_values(text, what, unit):
    """All values of `bench <what> <unit>=X` lines in guest output."""
    rx = re.compile(r"^bench %s %s=([0-9.]+)\s*$" % (re.escape(what), re.escape(unit)), re.M)
    return [float(v) for v in rx.findall(text)]


def median(xs):
    return statistics.median(xs)


def spread(xs):
    return f"min {min(xs):.1f} max {max(xs):.1f} over {len(xs)}"


def result(name, figure, reference, ratio, goal, verdict):
    """One machine-readable line for run-all.sh's results table."""
    print(f"RESULT|{name}|{figure}|{reference}|{ratio}|{goal}|{verdict}")
    sys.stdout.flush()
