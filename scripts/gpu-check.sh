#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: builds MetalTile (CMake + Ninja, Release, -j16), runs the whole
# ctest suite on the CUDA backend (MT_BACKEND=cuda), then metaltile_bench, and prints a short
# summary last. Logs go to $OUT (default ./gpu-check-out): build.log, device.log, ctest.log
# (ctest's console), ctest-full.log (every test's output), bench.log and bench.json, and the
# differential fuzzer's fuzz-report.txt (10000 generated programs, interpreter against CUDA).
# Exit status: 0 if everything passed; 1 if a test, the bench or the fuzzer failed (the bench runs
# even after failed tests); 2 if the build failed.
set -uo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
out="${OUT:-$root/gpu-check-out}"
build="${BUILD_DIR:-$root/build-gpu}"
jobs="${JOBS:-16}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"

log() { echo "gpu-check: $*"; }

# --- build -------------------------------------------------------------------------------------
missing=()
for tool in cmake ninja g++; do command -v "$tool" >/dev/null || missing+=("$tool"); done
[ -e /usr/include/gtest/gtest.h ] || missing+=(libgtest-dev)
if [ ${#missing[@]} -gt 0 ]; then
  log "missing ${missing[*]}; trying scripts/install-deps.sh"
  "$root/scripts/install-deps.sh" >"$out/install-deps.log" 2>&1 || log "install-deps failed (see install-deps.log)"
fi

log "building into $build (Release, -j$jobs)"
build_start=$SECONDS
if cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >"$out/build.log" 2>&1 &&
   cmake --build "$build" -j "$jobs" >>"$out/build.log" 2>&1; then
  build_rc=0
else
  build_rc=$?
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
log "running ctest with MT_BACKEND=cuda (-j$jobs)"
test_start=$SECONDS
MT_BACKEND=cuda ctest --test-dir "$build" --output-on-failure --timeout 900 -j "$jobs" \
  >"$out/ctest.log" 2>&1
test_rc=$?
test_s=$((SECONDS - test_start))
cp "$build/Testing/Temporary/LastTest.log" "$out/ctest-full.log" 2>/dev/null || true

# --- bench -------------------------------------------------------------------------------------
log "running metaltile_bench"
bench_start=$SECONDS
"$build/bench/metaltile_bench" --out "$out/bench.json" >"$out/bench.log" 2>&1
bench_rc=$?
bench_s=$((SECONDS - bench_start))

# --- row kernels against the copy roofline and PyTorch -----------------------------------------
log "running metaltile_rows_bench (unchecked and checked) and bench/torch_rows.py"
rows_start=$SECONDS
MT_CUDA_CHECKED=0 "$build/bench/metaltile_rows_bench" --tpg 128,256,512,1024 \
  --out "$out/rows_unchecked.json" >"$out/rows.log" 2>&1
rows_rc=$?
MT_CUDA_CHECKED=1 "$build/bench/metaltile_rows_bench" --tpg 256,512 \
  --out "$out/rows_checked.json" >>"$out/rows.log" 2>&1 || rows_rc=$?
if command -v python3 >/dev/null && python3 -c "import torch" 2>/dev/null; then
  PYTHONUNBUFFERED=1 python3 "$root/bench/torch_rows.py" --out "$out/torch_rows.json" \
    >"$out/torch_rows.log" 2>&1 || rows_rc=$?
else
  echo "torch not importable: PyTorch comparison not run" >"$out/torch_rows.log"
fi
rows_s=$((SECONDS - rows_start))

# --- differential fuzzing: the interpreter against CUDA on generated programs -----------------
log "running metaltile_fuzz --backend cuda (10000 programs)"
fuzz_start=$SECONDS
timeout 1200 "$build/tests/fuzz/metaltile_fuzz" --backend cuda --count 10000 --seed 1 \
  --jobs "$jobs" --out "$out/fuzz-report.txt" >"$out/fuzz.log" 2>&1
fuzz_rc=$?
fuzz_s=$((SECONDS - fuzz_start))

# --- summary -----------------------------------------------------------------------------------
echo
echo "=== gpu-check summary ==="
grep -m1 '^backend:' "$out/device.log" || true
grep -m1 -A1 '^name,' "$out/device.log" | tail -n 1 || true
echo "build: ok (${build_s}s)"
echo "tests (${test_s}s): $(grep -E 'tests passed|tests failed' "$out/ctest.log" | tail -n 1)"
if [ "$test_rc" -ne 0 ]; then
  sed -n '/The following tests FAILED/,$p' "$out/ctest.log" | head -n 30
fi
skipped=$(grep -c 'SKIPPED:' "$out/ctest-full.log" 2>/dev/null || true)
echo "tests that printed SKIPPED: ${skipped:-0} (see $out/ctest-full.log)"
grep -h 'SKIPPED:' "$out/ctest-full.log" 2>/dev/null | sort | uniq -c | head -n 5
echo "bench (${bench_s}s): $([ "$bench_rc" -eq 0 ] && echo ok || echo "FAILED (exit $bench_rc)")"
grep -E '^(copy|dequant|launch) ' "$out/bench.log" || tail -n 20 "$out/bench.log"
echo "row kernels (${rows_s}s): $([ "$rows_rc" -eq 0 ] && echo ok || echo "FAILED (exit $rows_rc)")"
tail -n 30 "$out/rows.log"
tail -n 12 "$out/torch_rows.log"
echo "fuzz (${fuzz_s}s): $([ "$fuzz_rc" -eq 0 ] && echo ok || echo "FAILED (exit $fuzz_rc)")"
sed -n '/^programs:/,/^failing seeds/p' "$out/fuzz-report.txt" 2>/dev/null | head -n 20 ||
  tail -n 5 "$out/fuzz.log"
sed -n '/^tile demo/,$p' "$out/device.log"
echo "logs: $out"

if [ "$test_rc" -ne 0 ] || [ "$bench_rc" -ne 0 ] || [ "$rows_rc" -ne 0 ] || [ "$fuzz_rc" -ne 0 ]; then
  exit 1
fi
exit 0
