#!/usr/bin/env bash
# Builds everything and runs the whole test suite with ctest on every available backend.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
"$root/scripts/build.sh"
ctest --test-dir "$build" --output-on-failure -j "${JOBS:-$(nproc)}" "$@"
