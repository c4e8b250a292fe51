#!/usr/bin/env bash
# Runs every benchmark in tests/bench (on demand; not part of ctest) and prints
# their figures and a results table. Writes only under a fresh /tmp directory,
# unless --update-docs is given: then the results table in docs/benchmarks.md
# (between the bench-results markers) is rewritten with this run's figures.
#
#   bash tests/bench/run-all.sh [--update-docs]
# Environment: PV_BUILD_DIR (default <repo>/build) selects the build to test.
set -u -o pipefail
export PYTHONDONTWRITEBYTECODE=1
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
update_docs=0
for arg in "$@"; do
  case "$arg" in
    --update-docs) update_docs=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "run-all.sh: unknown argument $arg" >&2; exit 2 ;;
  esac
done

out="$(mktemp -d /tmp/pv-bench.XXXXXX)"
echo "run-all: logs in $out"
failed=0
# Each benchmark kills what it starts; the timeout is a last resort (SIGTERM
# lets the benchmark clean up, SIGKILL 10 s later if it does not).
for b in bench_hypercall bench_evtchn bench_boot bench_memory bench_xenstore bench_create bench_net bench_blk bench_balloon bench_density bench_qcow2 bench_qcow2_backend; do
  echo "=== $b"
  if ! timeout -k 10 600 python3 "$here/$b.py" 2>&1 | tee "$out/$b.log"; then
    echo "run-all: $b FAILED (see $out/$b.log)"
    failed=1
  fi
done

date="$(date -u +%Y-%m-%d)"
table="$out/table.md"
python3 - "$out" "$date" "$(uname -n)" "$(nproc)" "$(uname -r)" > "$table" <<'PY'
import glob, sys
out, date, host, ncpu, kernel = sys.argv[1:]
print(f"Run of {date} (UTC) on {host} ({ncpu} CPUs, kernel {kernel}), `bash tests/bench/run-all.sh`:")
print()
print("| Benchmark | Measured | Reference (same run) | Ratio | Goal | Verdict |")
print("|---|---|---|---|---|---|")
for log in sorted(glob.glob(out + "/bench_*.log")):
    for line in open(log, errors="replace"):
        if line.startswith("RESULT|"):
            print("| " + " | ".join(line.rstrip("\n").split("|")[1:]) + " |")
PY
echo "=== results"
cat "$table"

if [ "$update_docs" = 1 ]; then
  doc="$repo/docs/benchmarks.md"
  python3 - "$doc" "$table" <<'PY'
import sys
doc, table = sys.argv[1], open(sys.argv[2]).read().rstrip("\n")
begin, end = "<!-- bench-results:begin -->", "<!-- bench-results:end -->"
s = open(doc).read()
i, j = s.index(begin), s.index(end)
open(doc, "w").write(s[:i + len(begin)] + "\n" + table + "\n" + s[j:])
print(f"run-all: updated {doc}")
PY
fi
exit "$failed"
