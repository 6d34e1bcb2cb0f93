#!/usr/bin/env bash
# The main job: builds tile and runs `tile demo` on the default backend (CUDA if a GPU is
# usable, else the CPU interpreter). Extra arguments go to `tile demo`.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
"$root/scripts/build.sh" --target tile
"$build/tools/tile/tile" demo "$@"
