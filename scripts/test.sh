#!/usr/bin/env bash
# Builds everything and runs the whole test suite with ctest on every available backend, then
# summarises: entries passed, skipped (and why, e.g. no GPU) and failed, and the backends that
# ran (scripts/test-summary.sh). The exit status is ctest's.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
"$root/scripts/build.sh"
console="$build/Testing/ctest-console.log"
mkdir -p "$build/Testing"
set +e
ctest --test-dir "$build" --output-on-failure -j "${JOBS:-$(nproc)}" "$@" 2>&1 | tee "$console"
status=${PIPESTATUS[0]}
set -e
"$root/scripts/test-summary.sh" "$console" "$build/Testing/Temporary/LastTest.log"
exit "$status"
