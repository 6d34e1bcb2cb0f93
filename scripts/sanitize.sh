#!/usr/bin/env bash
# Runs NVIDIA compute-sanitizer over the CUDA paths of a built tree, on a machine with a GPU
# (scripts/gpu-check.sh calls it after the benchmarks). The sanitizers slow a kernel 10-100x,
# so they run over a chosen subset, all runs in parallel, each under a time limit:
#   memcheck   (checked mode, the default) the kernel tests (KV cache, rows, attention, RoPE,
#              sampling, embedding, GEMV, quantisation, elementwise, GEMM, the tile layer, the
#              engine's fused append), the CUDA backend test, the threadgroup memory and
#              construct tests and the device-resident API test (less its deliberate
#              out-of-memory allocation, which the sanitizer would report as an API error);
#   memcheck   (unchecked, MT_CUDA_CHECKED=0: no bounds guards, so memcheck sees every access)
#              the examples and `tile bench --smoke` over the whole library;
#   racecheck  the kernels and tests that use threadgroup memory: the row kernels, attention,
#              sampling, GEMM, the tile layer and the threadgroup tests;
#   synccheck  the threadgroup tests, softmax and GEMM (barriers, warp collectives, cp.async);
#   initcheck  the KV-cache and norm tests and the examples (reads of uninitialised memory).
# Usage: sanitize.sh BUILD_DIR OUT_DIR
# Environment: COMPUTE_SANITIZER (default /usr/local/cuda/bin/compute-sanitizer, else PATH),
# SANITIZER_TIMEOUT seconds per run (default 150), SANITIZER_JOBS runs at once (default 16),
# SANITIZE_BACKEND (default cuda; MT_BACKEND of the runs).
# Output: OUT_DIR/<tool>.<run>.log per run, and on stdout one line per run plus a total.
# Exit status: 0 when every run finished with "ERROR SUMMARY: 0 errors" and its program
# succeeded; 1 when a sanitizer reported errors, a run failed, timed out or printed no summary;
# 2 when compute-sanitizer is missing.
set -uo pipefail

build="$1" out="$2"
timeout_s="${SANITIZER_TIMEOUT:-150}"
parallel="${SANITIZER_JOBS:-16}"
backend="${SANITIZE_BACKEND:-cuda}"
mkdir -p "$out"

sanitizer="${COMPUTE_SANITIZER:-/usr/local/cuda/bin/compute-sanitizer}"
if [ ! -x "$sanitizer" ]; then
  sanitizer="$(command -v compute-sanitizer || true)"
fi
if [ -z "$sanitizer" ]; then
  echo "sanitizers: compute-sanitizer not found (set COMPUTE_SANITIZER)"
  exit 2
fi

t="$build/tests"
# tool | MT_CUDA_CHECKED | run name | command (words split on spaces)
runs=(
  "memcheck|1|kv_cache|$t/kernels.ffai.kv_cache_test"
  "memcheck|1|kv_cache_seed|$t/kernels.ffai.kv_cache_seed_test"
  "memcheck|1|softmax|$t/kernels.mlx.softmax_test"
  "memcheck|1|norms|$t/kernels.mlx.norms_test"
  "memcheck|1|reduce|$t/kernels.mlx.reduce_test"
  "memcheck|1|cuda_backend|$t/backends.cuda.cuda_backend_test"
  "memcheck|1|threadgroup_memory|$t/backends.threadgroup_memory_test"
  "memcheck|1|threadgroup_constructs|$t/backends.threadgroup_constructs_test"
  "memcheck|1|device_api|$t/runtime.device_test --gtest_filter=-DeviceBuffer.AllocatingTooMuchIsAnError"
  "memcheck|1|attention|$t/kernels.ffai.attention_test"
  "memcheck|1|attention_quant|$t/kernels.ffai.attention_quant_test"
  "memcheck|1|rope|$t/kernels.ffai.rope_test"
  "memcheck|1|sampling|$t/kernels.ffai.sampling_test"
  "memcheck|1|embedding|$t/kernels.ffai.embedding_test"
  "memcheck|1|gemv|$t/kernels.mlx.gemv_test"
  "memcheck|1|qgemv|$t/kernels.mlx.qgemv_test"
  "memcheck|1|quantized|$t/kernels.mlx.quantized_test"
  "memcheck|1|elementwise|$t/kernels.mlx.elementwise_test"
  "memcheck|1|gemm|$t/kernels.mlx.gemm_test"
  "memcheck|1|tile|$t/backends.tile_test"
  "memcheck|1|qkv_rope_append|$t/kernels.engine.qkv_rope_append_test"
  "memcheck|0|example_quantize_kv_int4|$build/examples/example_quantize_kv_int4"
  "memcheck|0|example_custom_kernel|$build/examples/example_custom_kernel"
  "memcheck|0|bench_smoke|$build/tools/tile/tile bench --smoke --runs 2 --json $out/bench_smoke.json"
  "racecheck|1|softmax|$t/kernels.mlx.softmax_test"
  "racecheck|1|norms|$t/kernels.mlx.norms_test"
  "racecheck|1|reduce|$t/kernels.mlx.reduce_test"
  "racecheck|1|threadgroup_memory|$t/backends.threadgroup_memory_test"
  "racecheck|1|threadgroup_constructs|$t/backends.threadgroup_constructs_test"
  "racecheck|1|attention|$t/kernels.ffai.attention_test"
  "racecheck|1|sampling|$t/kernels.ffai.sampling_test"
  "racecheck|1|gemm|$t/kernels.mlx.gemm_test"
  "racecheck|1|tile|$t/backends.tile_test"
  "synccheck|1|threadgroup_memory|$t/backends.threadgroup_memory_test"
  "synccheck|1|threadgroup_constructs|$t/backends.threadgroup_constructs_test"
  "synccheck|1|softmax|$t/kernels.mlx.softmax_test"
  "synccheck|1|gemm|$t/kernels.mlx.gemm_test"
  "initcheck|1|kv_cache|$t/kernels.ffai.kv_cache_test"
  "initcheck|1|norms|$t/kernels.mlx.norms_test"
  "initcheck|0|example_quantize_kv_int4|$build/examples/example_quantize_kv_int4"
)

# One run: the program under the sanitizer, its log, then its exit status and seconds in
# LOG.status ("RC SECONDS").
run_one() {
  local tool="$1" checked="$2" name="$3" command="$4"
  local log="$out/$tool.$name.log" start=$SECONDS
  # shellcheck disable=SC2086  # the command's words are meant to split
  MT_BACKEND="$backend" MT_CUDA_CHECKED="$checked" timeout --kill-after=10 "$timeout_s" \
    "$sanitizer" --tool "$tool" --print-limit 20 $command >"$log" 2>&1
  echo "$? $((SECONDS - start))" >"$log.status"
}

# The errors of one log: the sum over its "ERROR SUMMARY: N errors" lines (one per process;
# racecheck prints "RACECHECK SUMMARY: H hazards displayed (E errors, W warnings)" instead, and
# its errors and warnings both count), or "none" when it has no such line.
errors_in() {
  grep -hE '=+ (ERROR SUMMARY: [0-9]+ error|RACECHECK SUMMARY: [0-9]+ hazard)' "$1" |
    sed -E -e 's/.*ERROR SUMMARY: ([0-9]+) error.*/\1/' \
      -e 's/.*RACECHECK SUMMARY: .*\(([0-9]+) errors?, ([0-9]+) warnings?\).*/\1 \2/' |
    awk '{ $0 = $1 + $2 }1' |
    awk 'BEGIN { n = 0; seen = 0 } { n += $1; seen = 1 } END { print seen ? n : "none" }'
}

start=$SECONDS
for run in "${runs[@]}"; do
  IFS='|' read -r tool checked name command <<<"$run"
  program="${command%% *}"
  if [ ! -x "$program" ]; then
    echo "missing program $program" >"$out/$tool.$name.log"
    echo "127 0" >"$out/$tool.$name.log.status"
    continue
  fi
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n; done
  run_one "$tool" "$checked" "$name" "$command" &
done
wait

total=0 bad=0
printf '%-10s %-26s %-9s %6s %5s  %s\n' tool run mode errors secs result
for run in "${runs[@]}"; do
  IFS='|' read -r tool checked name _ <<<"$run"
  log="$out/$tool.$name.log"
  rc=1 secs=0
  [ -r "$log.status" ] && read -r rc secs <"$log.status"
  errors="$(errors_in "$log")"
  mode=$([ "$checked" = 1 ] && echo checked || echo unchecked)
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    result="TIMEOUT after ${timeout_s}s"
  elif [ "$rc" -eq 127 ] && [ "$errors" = none ]; then
    result="NOT RUN: $(head -n 1 "$log")"
  elif [ "$errors" = none ]; then
    result="NO ERROR SUMMARY (exit $rc)"
  elif [ "$errors" -gt 0 ]; then
    result="ERRORS"
  elif [ "$rc" -eq 77 ]; then
    result="SKIPPED: its tests did not run (no GPU?), nothing was checked"
  elif [ "$rc" -ne 0 ]; then
    result="PROGRAM FAILED (exit $rc)"
  else
    result="ok"
  fi
  [ "$errors" = none ] || total=$((total + errors))
  [ "$result" = ok ] || bad=$((bad + 1))
  printf '%-10s %-26s %-9s %6s %5s  %s\n' "$tool" "$name" "$mode" "$errors" "$secs" "$result"
done
echo "sanitizers: $total errors in ${#runs[@]} runs, $bad not clean, $((SECONDS - start))s" \
  "($("$sanitizer" --version 2>/dev/null | grep -m1 -oE 'Version [^ ]+' || echo 'version unknown'))"
[ "$bad" -eq 0 ]
