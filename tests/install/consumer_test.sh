#!/usr/bin/env bash
# Installs the built library into a temporary prefix, then builds and runs a consumer project
# with find_package(metaltile); and configures one that uses add_subdirectory (a full build
# there would only compile the library a second time).
set -euo pipefail
build_dir="$1" source_dir="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cmake --install "$build_dir" --prefix "$work/prefix" >/dev/null
cmake -S "$source_dir/tests/install/consumer" -B "$work/find" -G Ninja \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/find" >/dev/null
"$work/find/consumer"
cmake -S "$source_dir/tests/install/consumer" -B "$work/sub" -G Ninja \
  -DMETALTILE_SOURCE_DIR="$source_dir" >/dev/null
echo "add_subdirectory: configured"
