#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: builds MetalTile (CMake + Ninja, Release, -j16), runs the whole
# ctest suite on the CUDA backend (MT_BACKEND=cuda), then `tile bench` over the whole library with
# the PyTorch references (bench/references.py), then compute-sanitizer (memcheck, racecheck,
# synccheck, initcheck) over the kernel and backend tests and the examples (scripts/sanitize.sh
# says which), then the differential fuzzer (10000 generated programs, interpreter against CUDA,
# fuzz-report.txt), and prints a short summary last.
#
# STAGES="test bench sanitize fuzz" (the default) chooses the stages that run after the build, so one
# machine lease can run them as separate commands. Logs go to $OUT/logs (build.log, device.log,
# ctest.log, ctest-full.log, cases.json, bench.log, references.log, sanitizer.log and sanitizer/)
# and are packed into $OUT/logs.tgz at the end (the GPU tool returns at most 8 files); the
# summary (also $OUT/summary.txt), bench-table.txt, bench.json, references.json and roofline.svg
# stay beside it.
# Knobs for a short device lease: SKIP_BUILD=1 (reuse $BUILD_DIR as it is, e.g. for a second
# invocation beside a running one), FUZZ_COUNT / FUZZ_SEED / FUZZ_JOBS / FUZZ_TIMEOUT (the fuzz
# stage's programs, first seed, parallel jobs and seconds; defaults 10000, 1, $JOBS, 1200), TEST_BUDGET (seconds for ctest, default none), REFERENCE_ARGS
# (extra bench/references.py options, e.g. "--no-compile --reps 20"), BENCH_ARGS (extra tile
# bench options, e.g. "--runs 20"), TEST_REGEX (only the ctest entries it matches, ctest -R) and
# BENCH_NAMES (only these kernels or families, with their references) for a focused lease.
# Time: the 40 sanitizer runs go 16 at a time, each limited to SANITIZER_TIMEOUT (150 s), so that
# stage ends within 8 minutes in the worst case (most runs take seconds); the summary prints each
# stage's seconds.
# Exit status: 0 if everything passed; 1 if a test, a benchmark or a sanitizer run failed or a
# sanitizer reported errors (every stage runs even after a failed one); 2 if the build failed.
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out_top="${OUT:-$root/gpu-check-out}"
build="${BUILD_DIR:-$root/build-gpu}"
jobs="${JOBS:-16}"
stages=" ${STAGES-test bench sanitize fuzz} "  # STAGES="" builds only
mkdir -p "$out_top/logs"
out_top="$(cd "$out_top" && pwd)"
out="$out_top/logs"

log() { echo "gpu-check: $*"; }
want() { [[ "$stages" == *" $1 "* ]]; }
test_rc=0
bench_rc=0
san_rc=0
fuzz_rc=0
fuzz_s=0
test_s=0
bench_s=0
san_s=0

# Packs the logs and keeps the summary beside them; runs on every exit.
finish() {
  mv "$out"/{bench-table.txt,bench.json,references.json,roofline.svg,fuzz-report.txt} "$out_top/" \
    2>/dev/null
  tar czf "$out_top/logs.tgz" -C "$out_top" logs 2>/dev/null && rm -rf "$out"
}
trap finish EXIT
trap 'exit 143' TERM INT  # a time limit still packs the logs

# --- build -------------------------------------------------------------------------------------
missing=()
for tool in cmake ninja g++; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ -e /usr/include/gtest/gtest.h ] || missing+=(libgtest-dev)
if [ ${#missing[@]} -gt 0 ]; then
  log "missing ${missing[*]}; trying scripts/install-deps.sh"
  "$root/scripts/install-deps.sh" >"$out/install-deps.log" 2>&1 || log "install-deps failed (see install-deps.log)"
fi

# Warnings are errors first; a compiler newer than CI's may warn where g++ 12 does not, so a failed
# strict build is retried without -Werror (the summary says so) rather than losing the lease.
configure_and_build() {
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DMETALTILE_WERROR="$1" >>"$out/build.log" 2>&1 &&
    cmake --build "$build" -j "$jobs" >>"$out/build.log" 2>&1
}
build_start=$SECONDS
build_note=""
if [ "${SKIP_BUILD:-0}" = 1 ]; then
  log "reusing the build in $build"
  build_rc=0
  build_note=" (reused)"
else
  log "building into $build (Release, -j$jobs)"
  if configure_and_build ON; then
    build_rc=0
  else
    log "the strict build failed; retrying without -Werror"
    grep -m5 'error:' "$out/build.log"
    build_note=" (warnings were errors in the strict build: see build.log)"
    if configure_and_build OFF; then build_rc=0; else build_rc=$?; fi
  fi
fi
build_s=$((SECONDS - build_start))
if [ "$build_rc" -ne 0 ]; then
  tail -n 40 "$out/build.log"
  echo
  echo "=== gpu-check summary ==="
  echo "build: FAILED after ${build_s}s (see $out/build.log)"
  exit 2
fi

# --- device ------------------------------------------------------------------------------------
{
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem \
    --format=csv 2>&1 || echo "nvidia-smi unavailable"
  echo
  "$build/tools/tile/tile" device 2>&1
  echo
  "$build/tools/tile/tile" demo 2>&1
} >"$out/device.log"

# --- tests -------------------------------------------------------------------------------------
if want test; then
  log "running ctest with MT_BACKEND=cuda (-j$jobs)"
  test_start=$SECONDS
  budget=()
  [ -n "${TEST_BUDGET:-}" ] && budget=(timeout "$TEST_BUDGET")
  select_tests=()
  [ -n "${TEST_REGEX:-}" ] && select_tests=(-R "$TEST_REGEX")
  MT_BACKEND=cuda "${budget[@]}" ctest --test-dir "$build" --output-on-failure --timeout 900 -j "$jobs" \
    "${select_tests[@]}" >"$out/ctest.log" 2>&1
  test_rc=$?
  test_s=$((SECONDS - test_start))
  cp "$build/Testing/Temporary/LastTest.log" "$out/ctest-full.log" 2>/dev/null || true
fi

# --- bench: every registered kernel, its reference, the roofline --------------------------------
# tile bench lists the cases, bench/references.py times PyTorch at exactly those shapes (and the
# copy and bf16 matmul roofs), then tile bench measures ours and joins the two.
if want bench; then
  log "running tile bench and bench/references.py"
  bench_start=$SECONDS
  tile="$build/tools/tile/tile"
  # shellcheck disable=SC2086  # BENCH_NAMES is a list of names
  "$tile" bench ${BENCH_NAMES:-} --list-cases "$out/cases.json" >"$out/bench.log" 2>&1
  if command -v python3 >/dev/null && python3 -c "import torch" 2>/dev/null; then
    PYTHONUNBUFFERED=1 timeout 900 python3 "$root/bench/references.py" --cases "$out/cases.json" \
      --out "$out/references.json" ${REFERENCE_ARGS:-} >"$out/references.log" 2>&1 || echo "references.py failed" >>"$out/bench.log"
  else
    echo "torch not importable: references not run" >"$out/references.log"
  fi
  refs=()
  [ -s "$out/references.json" ] && refs=(--references "$out/references.json")
  # shellcheck disable=SC2086
  "$tile" bench ${BENCH_ARGS:-} ${BENCH_NAMES:-} "${refs[@]}" --json "$out/bench.json" --plot "$out/roofline.svg" --overheads \
    >"$out/bench-table.txt" 2>>"$out/bench.log"
  bench_rc=$?
  bench_s=$((SECONDS - bench_start))
fi

# --- compute-sanitizer -------------------------------------------------------------------------
if want sanitize; then
  san_start=$SECONDS
  log "running compute-sanitizer (scripts/sanitize.sh)"
  "$root/scripts/sanitize.sh" "$build" "$out/sanitizer" >"$out/sanitizer.log" 2>&1
  san_rc=$?
  san_s=$((SECONDS - san_start))
fi

# --- differential fuzzing: the interpreter against CUDA on generated programs -----------------
if want fuzz; then
  fuzz_count="${FUZZ_COUNT:-10000}"
  log "running metaltile_fuzz --backend cuda ($fuzz_count programs from seed ${FUZZ_SEED:-1})"
  fuzz_start=$SECONDS
  timeout "${FUZZ_TIMEOUT:-1200}" "$build/tests/fuzz/metaltile_fuzz" --backend cuda \
    --count "$fuzz_count" --seed "${FUZZ_SEED:-1}" --jobs "${FUZZ_JOBS:-$jobs}" \
    --out "$out/fuzz-report.txt" >"$out/fuzz.log" 2>&1
  fuzz_rc=$?
  fuzz_s=$((SECONDS - fuzz_start))
fi

# --- summary -----------------------------------------------------------------------------------
{
echo
echo "=== gpu-check summary ==="
grep -m1 '^backend:' "$out/device.log" || true
grep -m1 -A1 '^name,' "$out/device.log" | tail -n 1 || true
echo "build: ok (${build_s}s)$build_note"
echo "tests (${test_s}s): $(grep -E 'tests passed|tests failed' "$out/ctest.log" | tail -n 1)"
if [ "$test_rc" -ne 0 ]; then
  sed -n '/The following tests FAILED/,$p' "$out/ctest.log" | head -n 30
fi
[ -f "$out/ctest.log" ] && "$root/scripts/test-summary.sh" "$out/ctest.log" "$out/ctest-full.log" | tail -n +3
echo "bench (${bench_s}s): $([ "$bench_rc" -eq 0 ] && echo ok || echo "FAILED (exit $bench_rc)")"
[ -f "$out/bench-table.txt" ] && cat "$out/bench-table.txt"
[ -f "$out/bench.log" ] && grep -h "FAILED\|failed" "$out/bench.log" | head -n 10
sed -n '/^tile demo/,$p' "$out/device.log"
echo "sanitizers (${san_s}s): $([ "$san_rc" -eq 0 ] && echo clean || echo "NOT CLEAN (exit $san_rc)")"
[ -f "$out/sanitizer.log" ] && cat "$out/sanitizer.log"
if want fuzz; then
  echo "fuzz (${fuzz_s}s): $([ "$fuzz_rc" -eq 0 ] && echo ok || echo "FAILED (exit $fuzz_rc)")"
  sed -n '/^programs:/,/^failing seeds/p' "$out/fuzz-report.txt" 2>/dev/null | head -n 20
  grep -h '^metaltile_fuzz:' "$out/fuzz.log" 2>/dev/null | tail -n 20
fi
echo "logs: $out_top/logs.tgz"
} | tee "$out_top/summary.txt"

if [ "$test_rc" -ne 0 ] || [ "$bench_rc" -ne 0 ] || [ "$san_rc" -ne 0 ] || [ "$fuzz_rc" -ne 0 ]; then
  exit 1
fi
exit 0
