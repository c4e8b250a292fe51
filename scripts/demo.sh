#!/usr/bin/env bash
# The main job: installs what is missing, builds, and boots a domain on the
# reference guest kernel with its console on this terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
echo "== booting build/guest/pvguest.elf (2 vCPUs, 64 MiB) =="
exec build/bin/pv-hv --kernel build/guest/pvguest.elf --memory 64M --vcpus 2 --name demo --cmdline "selftest"
