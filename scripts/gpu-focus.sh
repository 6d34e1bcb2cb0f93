#!/usr/bin/env bash
# A focused GPU lease for work on a few kernels: build (scripts/gpu-check.sh's build), the ctest
# entries matching TESTS on CUDA, then tile bench of KERNELS with their PyTorch references
# (eager and cuBLAS) in the same run, and torch.compile only for the kernels in COMPILED.
#
#   TESTS="sampl|gemm_test" KERNELS="sample gemm" COMPILED="add_rms_norm" scripts/gpu-focus.sh
#
# Each part has its own time limit, so the command returns within the device tool's 10 minutes
# and what finished is kept. Results under $OUT: build.txt, ctest.txt, bench.txt (the table),
# bench.json, references.json, compiled.json, logs.txt.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="${OUT:-$root/gpu-focus-out}"
mkdir -p "$out"
build="${BUILD_DIR:-$root/build-gpu}"
start=$SECONDS
stamp() { echo "gpu-focus: $1 after $((SECONDS - start)) s"; }
# The device tool returns only a few files: the logs go into one, the case list goes.
finish() {
  for f in "$out"/*.log; do [ -f "$f" ] && { echo "=== $f"; cat "$f"; } >>"$out/logs.txt"; done
  rm -f "$out"/*.log "$out/cases.json"
}
trap finish EXIT
trap 'exit 143' TERM INT

OUT="$out/build" STAGES="" BUILD_DIR="$build" "$root/scripts/gpu-check.sh" >"$out/build.txt" 2>&1
rc=$?
tail -n 3 "$out/build.txt"
[ "$rc" -eq 2 ] && exit 2
rm -rf "$out/build"
stamp "build"

if [ -n "${TESTS:-}" ]; then
  MT_BACKEND=cuda timeout "${TEST_SECONDS:-150}" ctest --test-dir "$build" -j 16 -R "$TESTS" \
    --output-on-failure >"$out/ctest.txt" 2>&1
  grep -E "tests passed|tests failed|\*\*\*|Failed|Timeout" "$out/ctest.txt" | tail -n 30
  stamp "tests"
fi

if [ -n "${KERNELS:-}" ]; then
  tile="$build/tools/tile/tile"
  # shellcheck disable=SC2086  # KERNELS is a list of names
  "$tile" bench $KERNELS --list-cases "$out/cases.json" >/dev/null 2>&1
  timeout "${REFERENCE_SECONDS:-100}" python3 "$root/bench/references.py" --cases "$out/cases.json" \
    --out "$out/references.json" --no-compile --reps 20 >"$out/references.log" 2>&1
  refs=()
  [ -s "$out/references.json" ] && refs=(--references "$out/references.json")
  # shellcheck disable=SC2086
  timeout "${BENCH_SECONDS:-150}" "$tile" bench $KERNELS "${refs[@]}" --json "$out/bench.json" \
    >"$out/bench.txt" 2>"$out/bench.log"
  grep -v '^tile bench: \[' "$out/bench.txt"
  stamp "bench"
  if [ -n "${COMPILED:-}" ]; then
    timeout "${COMPILE_SECONDS:-90}" python3 "$root/bench/references.py" --cases "$out/cases.json" \
      --out "$out/compiled.json" --kernels "$COMPILED" --reps 20 >"$out/compiled.log" 2>&1
    python3 "$root/bench/show_references.py" "$out/compiled.json" 2>&1 || tail -n 5 "$out/compiled.log"
    stamp "torch.compile references"
  fi
fi
