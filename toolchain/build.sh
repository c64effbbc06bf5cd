#!/bin/bash
# Everything a build needs, from a fresh Debian 12 machine: packages, dependency sources,
# then configure and build each preset named (default: host mps2-an385 lm3s6965evb).
# Usage: toolchain/build.sh [PRESET...]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

toolchain/install-packages.sh
toolchain/fetch-deps.sh
presets=("$@")
[ ${#presets[@]} -gt 0 ] || presets=(host mps2-an385 lm3s6965evb)
for preset in "${presets[@]}"; do
  echo "build: $preset"
  cmake --preset "$preset" > "build-$preset.log" 2>&1 || { cat "build-$preset.log"; exit 1; }
  cmake --build --preset "$preset" -j "$(nproc)" >> "build-$preset.log" 2>&1 ||
    { tail -50 "build-$preset.log"; echo "build: $preset failed (log: build-$preset.log)" >&2; exit 1; }
  mv "build-$preset.log" "build/$preset/build.log"
done
