#!/usr/bin/env bash
# The docs quote the examples rather than paraphrase them: a code block right after a line
#   <!-- quoted from examples/NAME.cpp -->
# in README.md or docs/*.md must appear in that file line for line (leading spaces aside: a
# quote may drop the indentation of the function it comes from), so what a reader copies is
# what ctest builds and runs. README.md must quote at least one example.
# Usage: readme_quotes_test.sh SOURCE_DIR
set -euo pipefail
root="$1"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
failed=0 quotes=0 readme_quotes=0
for doc in "$root/README.md" "$root"/docs/*.md; do
  [ -f "$doc" ] || continue
  # Writes each quoted block to $work/N and lists "N FILE" in $work/list.
  rm -f "$work"/*
  touch "$work/list"
  awk -v dir="$work" '
    /^<!-- quoted from [^ ]+ -->$/ { file = $4; want = 1; next }
    want && /^```/ && !inside { inside = 1; n++; print n, file >> (dir "/list"); next }
    inside && /^```$/ { inside = 0; want = 0; next }
    inside { print >> (dir "/" n); next }
    { want = 0 }' "$doc"
  while read -r n file; do
    quotes=$((quotes + 1))
    [ "$doc" = "$root/README.md" ] && readme_quotes=$((readme_quotes + 1))
    if [ ! -f "$root/$file" ]; then
      echo "${doc#"$root"/}: quotes $file, which does not exist"
      failed=1
    elif [[ $'\n'"$(sed 's/^ *//' "$root/$file")"$'\n' != *$'\n'"$(sed 's/^ *//' "$work/$n")"$'\n'* ]]; then
      echo "${doc#"$root"/}: this block is not in $file line for line:"
      cat "$work/$n"
      failed=1
    fi
  done <"$work/list"
done
if [ "$readme_quotes" -eq 0 ]; then
  echo "README.md quotes no example (expected <!-- quoted from examples/... --> before a block)"
  failed=1
fi
[ "$failed" -eq 0 ] && echo "readme_quotes: $quotes quoted blocks match their examples"
exit "$failed"
