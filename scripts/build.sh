#!/usr/bin/env bash
# Configures and builds MetalTile (library, tile CLI, tests) into ${BUILD_DIR:-build}, of type
# ${BUILD_TYPE:-RelWithDebInfo}, with warnings as errors (METALTILE_WERROR). Arguments go to
# cmake --build (for example --target tile).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
"$root/scripts/install-deps.sh"
launcher=()
# ccache, when installed, makes rebuilds (and builds of other checkouts under the same base) cheap.
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DMETALTILE_WERROR=ON "${launcher[@]}" >/dev/null
cmake --build "$build" -j "${JOBS:-$(nproc)}" "$@"
