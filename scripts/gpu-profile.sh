#!/usr/bin/env bash
# On a machine with an NVIDIA GPU and Nsight Compute: profiles the kernels that `tile bench`
# launches for the named kernels, with the sections that say what limits a kernel (speed of
# light, memory and compute throughput, occupancy, launch shape, warp stall reasons).
#
#   scripts/gpu-profile.sh sample_candidates sample_pick   # kernels as `tile bench` takes them
#
# Knobs: BUILD_DIR (default build-gpu; it must be built: scripts/gpu-check.sh with STAGES=""),
# KERNEL_REGEX (which launched kernels to profile; default: the names given), LAUNCHES
# (profiled launches, default 12), NCU_SET (sections: "basic" keeps it to a few seconds a
# kernel; "full" for the source counters), BENCH_ARGS (extra tile bench options).
# Output: $OUT/profile/profile.txt (the details page of each launch) and profile.ncu-rep.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build-gpu}"
out="${OUT:-$root/gpu-profile-out}/profile"
mkdir -p "$out"
[ $# -gt 0 ] || { echo "usage: gpu-profile.sh KERNEL..." >&2; exit 2; }
regex="${KERNEL_REGEX:-$(IFS='|'; echo "$*")}"
sections=(--section SpeedOfLight --section LaunchStats --section Occupancy
  --section WarpStateStats --section SchedulerStats --section MemoryWorkloadAnalysis)
[ "${NCU_SET:-basic}" = full ] && sections=(--set full)
# Single launches (no graph), one timed run: ncu replays each profiled launch itself.
# shellcheck disable=SC2086
ncu --kernel-name "regex:$regex" --launch-count "${LAUNCHES:-12}" "${sections[@]}" \
  --export "$out/profile" --force-overwrite \
  "$build/tools/tile/tile" bench --no-graph --runs 1 ${BENCH_ARGS:-} "$@" >"$out/ncu.log" 2>&1
rc=$?
ncu --import "$out/profile.ncu-rep" --page details >"$out/profile.txt" 2>&1
# The lines that matter most, per launch, on stdout.
grep -E '^  [a-z_0-9]+.*\(|Duration|Registers Per Thread|Achieved Occupancy|Theoretical Occupancy|Memory Throughput|Compute \(SM\) Throughput|Block Size|Grid Size|Dynamic Shared|Static Shared|One or More Eligible|Issued Warp' \
  "$out/profile.txt" | head -n 400
tail -n 5 "$out/ncu.log"
exit $rc
