#!/usr/bin/env bash
# Summarises a ctest run: how many ctest entries passed, were skipped or failed; why each
# skipped entry did not run; tests that skipped inside entries that passed; and the backends the
# backend tests ran on. Every skipped test prints "[ skip why ] Suite.Name: reason"
# (tests/support/test_main.cpp), so no skip goes unnamed here.
# Usage: test-summary.sh CTEST_CONSOLE_LOG LAST_TEST_LOG
#   CTEST_CONSOLE_LOG  what ctest printed (its "Test #N: name ... Passed" lines)
#   LAST_TEST_LOG      the build's Testing/Temporary/LastTest.log (every test's output)
set -uo pipefail
console="$1" last="$2"

# "12/56 Test #11: backends.cuda.cuda_backend_test .....***Skipped   0.02 sec" -> "name status"
results() {
  sed -nE 's/^ *[0-9]+\/[0-9]+ +Test +#[0-9]+: +([^ ]+)[ .]+(\*\*\*)?(.*[^ ]) +[0-9.]+ sec *$/\1 \3/p' \
    "$console"
}
count() { results | awk -v s="$1" '$2 == s' | wc -l; }

# "name<TAB>Suite.Name: reason" for every skipped test, from every entry's output.
skips() {
  [ -r "$last" ] || return 0
  awk '/^[0-9]+\/[0-9]+ Test: / { entry = $3 }
       /^\[ skip why \] [A-Za-z0-9_\/]+\.[A-Za-z0-9_\/]+: / { print entry "\t" substr($0, 14) }' "$last"
}

# The reasons of entry $1's skipped tests, one line each with its number of tests.
reasons_of() {
  skips | awk -F'\t' -v e="$1" '$1 == e { sub(/^[^:]*: /, "", $2); print $2 }' | sort | uniq -c |
    sed -E 's/^ *([0-9]+) (.*)$/      \1 skipped: \2/'
}

total=$(results | wc -l)
passed=$(count Passed)
skipped=$(count Skipped)
failed=$((total - passed - skipped))

echo
echo "=== test summary ==="
echo "ctest entries: $passed passed, $skipped skipped (ctest: \"did not run\"), $failed failed, of $total"
if [ "$skipped" -gt 0 ]; then
  echo "skipped entries (every test in them needs what this machine lacks):"
  for entry in $(results | awk '$2 == "Skipped" { print $1 }' | sort); do
    echo "  $entry"
    reasons="$(reasons_of "$entry")"
    echo "${reasons:-      (no reason printed: see its output in $last)}"
  done
fi
inside=$(results | awk '$2 == "Passed" { print $1 }' | sort | while read -r entry; do
  reasons="$(reasons_of "$entry")"
  [ -n "$reasons" ] && printf '  %s (passed; these tests in it skipped)\n%s\n' "$entry" "$reasons"
done)
[ -n "$inside" ] && echo "tests skipped inside passing entries:" && echo "$inside"
if [ "$failed" -gt 0 ]; then
  echo "failed entries:"
  results | awk '$2 != "Passed" && $2 != "Skipped" { print "  " $1 " (" substr($0, index($0, $2)) ")" }'
fi
if [ -r "$last" ]; then
  ran=$(grep -h '^\[ backends \] ran on: ' "$last" | sort | uniq -c | sort -rn | head -n 3 |
    sed -E 's/^ *([0-9]+) \[ backends \] ran on: (.*)$/  \2 (\1 tests)/')
  [ -n "$ran" ] && echo "backend tests ran on:" && echo "$ran"
fi
exit 0
