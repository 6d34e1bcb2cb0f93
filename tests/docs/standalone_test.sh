#!/usr/bin/env bash
# The project stands alone: its docs, headers, tools, examples, benchmarks, scripts and tests
# never send a reader to a design or spec file outside the repository (a design document, a
# spec folder, a sibling checkout). Facts belong in docs/ (ARCHITECTURE.md, kernels/*.md).
# Usage: standalone_test.sh SOURCE_DIR
set -euo pipefail
root="$1"
cd "$root"
pattern='shared/(specs|seed)|\.\./shared|/work/|\bspecs/|\bDESIGN\.md|\bSTYLE\.md'
self="tests/docs/standalone_test.sh"
paths=(README.md docs include src kernels tools examples bench scripts tests .ci CMakeLists.txt cmake)
if hits=$(grep -rnE "$pattern" "${paths[@]}" 2>/dev/null | grep -v "^$self:"); then
  echo "references to files outside the repository:"
  echo "$hits"
  exit 1
fi
echo "standalone: no references outside the repository in ${paths[*]}"
