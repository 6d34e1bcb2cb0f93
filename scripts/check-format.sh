#!/usr/bin/env bash
# Fails (exit 1) when a C++ or CUDA source tracked by git is not formatted as .clang-format says,
# printing the files; `scripts/check-format.sh --fix` rewrites them instead. Installs
# clang-format when it is missing (Debian/Ubuntu, as root or through sudo).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
if ! command -v clang-format >/dev/null; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq clang-format
fi
mapfile -t files < <(git ls-files '*.cpp' '*.hpp' '*.cuh')
if [ "${1:-}" = "--fix" ]; then
  clang-format -i "${files[@]}"
  exit 0
fi
bad=()
for f in "${files[@]}"; do
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then bad+=("$f"); fi
done
if [ ${#bad[@]} -gt 0 ]; then
  echo "check-format: not formatted ($(clang-format --version)); run scripts/check-format.sh --fix:"
  printf '  %s\n' "${bad[@]}"
  exit 1
fi
echo "check-format: ${#files[@]} files formatted"
