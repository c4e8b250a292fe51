#!/usr/bin/env bash
# The whole test suite: installs what is missing, builds (plain and with
# AddressSanitizer + UBSan), and runs every unit and end-to-end test in both.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPV_SANITIZE=ON >/dev/null
cmake --build build-sanitize
jobs=$(nproc)
echo "== tests: sanitizer build =="
ctest --test-dir build-sanitize --output-on-failure -j "$jobs"
echo "== tests: release build =="
ctest --test-dir build --output-on-failure -j "$jobs"
