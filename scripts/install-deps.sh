#!/usr/bin/env bash
# Installs what building and testing MetalTile needs on a fresh Debian/Ubuntu machine.
# Installs only what is missing; needs root (or sudo) the first time.
set -euo pipefail

need=()
command -v cmake >/dev/null || need+=(cmake)
command -v ninja >/dev/null || need+=(ninja-build)
command -v g++ >/dev/null || need+=(g++)
[ -e /usr/include/gtest/gtest.h ] || need+=(libgtest-dev)
[ -e /usr/include/gmock/gmock.h ] || need+=(libgmock-dev)

if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${need[@]}"
fi

# PCRE2 gives the engine's tokenizer its Unicode split patterns. Optional: without it (a machine
# without network, say) the build goes on and tile generate takes token ids only.
if [ ! -e /usr/include/pcre2.h ]; then
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq libpcre2-dev >/dev/null 2>&1 ||
    echo "install-deps: libpcre2-dev not installed (optional: the tokenizer needs it)"
fi
