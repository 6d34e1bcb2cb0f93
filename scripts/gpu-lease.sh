#!/usr/bin/env bash
# One GPU lease as four commands of at most 10 minutes each, run back to back on a warm machine
# (it is let go after 30 idle seconds):
#
#   scripts/gpu-lease.sh correctness   # build; then the CUDA test suite and the engine's checks
#                                      # against transformers, side by side (nothing timed)
#   scripts/gpu-lease.sh fuzz          # the differential fuzzer alone: 10 000 generated programs,
#                                      # the interpreter against CUDA (FUZZ_COUNT, FUZZ_SEED)
#   scripts/gpu-lease.sh bench         # alone: tile bench of the whole library with the PyTorch
#                                      # references (eager, cuBLAS) in the same run, then
#                                      # torch.compile for the kernels whose goal names it
#   scripts/gpu-lease.sh engine        # alone: the engine's decode and prefill benchmark beside
#                                      # transformers, then the decode step's kernel profile
#
# Each phase stops its parts by LEASE_SECONDS (default 540) so the command returns within the
# device tool's limit; what a part finished is in its log. A summary is printed; the phase's
# files are packed into $OUT/<phase>.tgz, and the few that matter most (the bench table and JSON,
# the references, the roofline, the decode table, the fuzz report) are copied beside it, because
# the device tool returns only a handful of files. The parts are scripts/gpu-check.sh (build,
# test, bench, fuzz stages) and scripts/engine-check.sh. Every phase after the first reuses the
# build (SKIP_BUILD).
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
top="${OUT:-$root/gpu-lease-out}"
phase="${1:?usage: gpu-lease.sh correctness|fuzz|bench|engine}"
out="$top/$phase"
mkdir -p "$out"
# On every exit: the key files beside the phase's archive, then the archive.
pack() {
  for f in bench/bench-table.txt bench/bench.json bench/references.json bench/roofline.svg \
    compiled.json engine/decode.md engine/profile-as-stored/step-profile.md \
    engine/profile-int4/step-profile.md fuzz/fuzz-report.txt; do
    [ -f "$out/$f" ] && cp "$out/$f" "$top/$phase-$(echo "$f" | tr / -)"
  done
  tar czf "$top/$phase.tgz" -C "$top" "$phase" 2>/dev/null && rm -rf "$out"
}
trap pack EXIT
trap 'exit 143' TERM INT
start=$SECONDS
limit="${LEASE_SECONDS:-540}"
left() { echo $((limit - (SECONDS - start))); }
export BUILD_DIR="${BUILD_DIR:-$root/build-gpu}"

case "$1" in
  correctness)
    OUT="$out/build" STAGES="" "$root/scripts/gpu-check.sh" >"$out/build.txt" 2>&1
    build_rc=$?
    tail -n 4 "$out/build.txt"
    [ "$build_rc" -eq 2 ] && exit 2
    budget=$(($(left) - 15))
    echo "gpu-lease: build done after $((SECONDS - start)) s; $budget s for the checks"
    OUT="$out/engine" ENGINE_STAGES="check sample" timeout "$budget" \
      "$root/scripts/engine-check.sh" >"$out/engine.txt" 2>&1 &
    engine_pid=$!
    OUT="$out/test" SKIP_BUILD=1 STAGES=test JOBS=12 TEST_BUDGET="$budget" \
      "$root/scripts/gpu-check.sh" >"$out/test.txt" 2>&1
    wait "$engine_pid"
    sed -n '/=== gpu-check summary/,$p' "$out/test.txt"
    echo "--- engine checks"
    cat "$out/engine.txt"
    ;;
  fuzz)
    OUT="$out/fuzz" SKIP_BUILD=1 STAGES=fuzz JOBS=16 FUZZ_TIMEOUT="$(($(left) - 10))" \
      "$root/scripts/gpu-check.sh" >"$out/fuzz.txt" 2>&1
    sed -n '/^fuzz (/,$p' "$out/fuzz.txt"
    head -n 12 "$out/fuzz/fuzz-report.txt" 2>/dev/null
    ;;
  bench)
    # torch.compile of all ~370 cases would take longer than the lease: eager and cuBLAS for
    # every case, then torch.compile only for the kernels whose goal names it.
    REFERENCE_ARGS="${REFERENCE_ARGS:---no-compile --reps 20}" SKIP_BUILD=1 STAGES=bench \
      OUT="$out/bench" timeout "$(($(left) - 100))" "$root/scripts/gpu-check.sh" \
      >"$out/bench.txt" 2>&1
    echo "gpu-lease: bench done after $((SECONDS - start)) s"
    sed -n '/=== gpu-check summary/,$p' "$out/bench.txt" | head -n 420
    "$BUILD_DIR/tools/tile/tile" bench --list-cases "$out/cases.json" >/dev/null 2>&1
    timeout "$(($(left) - 5))" python3 "$root/bench/references.py" --cases "$out/cases.json" \
      --out "$out/compiled.json" --kernels "${COMPILED_KERNELS:-add_rms_norm}" --reps 20 \
      >"$out/compiled.log" 2>&1
    echo "--- torch.compile references (${COMPILED_KERNELS:-add_rms_norm})"
    python3 "$root/bench/show_references.py" "$out/compiled.json" 2>&1 || tail -n 20 "$out/compiled.log"
    ;;
  engine)
    OUT="$out/engine" ENGINE_STAGES="bench" timeout "$(($(left) - 90))" \
      "$root/scripts/engine-check.sh" >"$out/engine.txt" 2>&1
    cat "$out/engine.txt" "$out/engine/decode.md" 2>/dev/null
    OUT="$out/engine" ENGINE_STAGES="profile" timeout "$(($(left) - 5))" \
      "$root/scripts/engine-check.sh" >>"$out/engine.txt" 2>&1
    cat "$out"/engine/profile-*/step-profile.md 2>/dev/null
    ;;
  *)
    echo "usage: gpu-lease.sh correctness|fuzz|bench|engine" >&2
    exit 2
    ;;
esac
