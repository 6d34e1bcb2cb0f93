#!/usr/bin/env bash
# scripts/sanitize.sh without a GPU: a stand-in compute-sanitizer that runs the program and
# prints the real tool's summary line ("========= ERROR SUMMARY: N errors"), over a stand-in
# build tree whose programs are tiny scripts. Checks the error totals, the exit status and each
# way a run can be not clean: errors, a failed program, a skipped binary, a missing summary, a
# timeout, a missing program, and a missing compute-sanitizer.
# Usage: sanitize_test.sh SOURCE_DIR
set -uo pipefail
root="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# The programs sanitize.sh runs, as scripts that exit with $PROBE_EXIT_<name> (default 0).
build="$work/build"
mkdir -p "$build/tests" "$build/examples" "$build/tools/tile"
programs=$(grep -E '^  "[a-z]+\|[01]\|' "$root/scripts/sanitize.sh" | cut -d'|' -f4 | cut -d' ' -f1 | tr -d '"' |
  sed -e "s|^\$t/|$build/tests/|" -e "s|^\$build/|$build/|" | sort -u)
for p in $programs; do
  name=$(basename "$p" | tr -c 'A-Za-z0-9_\n' '_')
  # shellcheck disable=SC2016  # the $ are for the probe script
  printf '#!/bin/sh\nv=$(printenv PROBE_EXIT_%s)\nexit ${v:-0}\n' "$name" >"$p"
  chmod +x "$p"
done

cat >"$work/compute-sanitizer" <<'FAKE'
#!/usr/bin/env bash
if [ "${1:-}" = --version ]; then echo "Version 0.test"; exit 0; fi
tool=memcheck
while [[ ${1:-} == --* ]]; do
  case $1 in --tool) tool=$2; shift 2 ;; --print-limit) shift 2 ;; *) shift ;; esac
done
program=$(basename "$1" | tr -c 'A-Za-z0-9_\n' '_')
v="SLEEP_${tool}_$program"; [ -n "${!v:-}" ] && sleep "${!v}"
"$@"; rc=$?
v="NO_SUMMARY_${tool}_$program"; [ -n "${!v:-}" ] && exit "$rc"
v="ERRORS_${tool}_$program"; n=${!v:-0}
echo "========= ERROR SUMMARY: $n error$([ "$n" = 1 ] || echo s)"
exit "$rc"
FAKE
chmod +x "$work/compute-sanitizer"

# run NAME [VAR=VALUE ...]: sanitize.sh's stdout in $work/NAME.out and its status in $status.
run() {
  local name="$1"
  shift
  env COMPUTE_SANITIZER="$work/compute-sanitizer" SANITIZER_TIMEOUT=5 SANITIZER_JOBS=24 "$@" \
    "$root/scripts/sanitize.sh" "$build" "$work/$name" >"$work/$name.out" 2>&1
  status=$?
}
expect() {  # expect NAME STATUS TEXT...
  local name="$1" want="$2" before="$failures"
  shift 2
  [ "$status" -eq "$want" ] || fail "$name: exit $status, expected $want"
  for text in "$@"; do
    grep -qF -- "$text" "$work/$name.out" || fail "$name: no '$text' in output"
  done
  [ "$failures" -eq "$before" ] || cat "$work/$name.out"
}

run clean
expect clean 0 "sanitizers: 0 errors in" ", 0 not clean"

run errors ERRORS_racecheck_kernels_mlx_softmax_test=3 ERRORS_memcheck_example_custom_kernel=1
expect errors 1 "sanitizers: 4 errors in" ", 2 not clean" \
  "racecheck  softmax                    checked        3" "ERRORS"

run failed PROBE_EXIT_kernels_ffai_kv_cache_test=1
expect failed 1 "PROGRAM FAILED (exit 1)" ", 2 not clean"  # its memcheck and initcheck runs

run skipped PROBE_EXIT_backends_cuda_cuda_backend_test=77
expect skipped 1 "SKIPPED: its tests did not run" ", 1 not clean"

run nosummary NO_SUMMARY_synccheck_kernels_mlx_softmax_test=1
expect nosummary 1 "NO ERROR SUMMARY (exit 0)" ", 1 not clean"

run timeout SANITIZER_TIMEOUT=1 SLEEP_memcheck_example_quantize_kv_int4=3
expect timeout 1 "TIMEOUT after 1s"

rm "$build/examples/example_custom_kernel"
run missing
expect missing 1 "NOT RUN: missing program" ", 1 not clean"

status=0
env COMPUTE_SANITIZER=/nonexistent PATH=/usr/bin:/bin "$root/scripts/sanitize.sh" "$build" \
  "$work/none" >"$work/none.out" 2>&1 || status=$?
expect none 2 "compute-sanitizer not found"

[ "$failures" -eq 0 ] && echo "sanitize_test: every case as expected"
exit "$((failures > 0))"
