#!/bin/bash
# Runs every libFuzzer harness for a while (not part of the test suite).
# Usage: tests/fuzz/run.sh [SECONDS-PER-HARNESS]     (default 60; as root on a fresh machine)
# New inputs go to build/fuzz/corpus/<harness>; crashes to build/fuzz/crash-*. Copy an
# input worth keeping into tests/fuzz/corpus/<harness>/ so it replays in every test run.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
seconds=${1:-60}

for p in clang libclang-rt-14-dev; do
  dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$' ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$p" >/dev/null; }
done
toolchain/build.sh fuzz

for harness in tests/fuzz/corpus/*/; do
  name=$(basename "$harness")
  work=build/fuzz/corpus/$name
  mkdir -p "$work"
  echo "== $name for ${seconds}s"
  (cd build/fuzz && "./tests/fuzz/$name" -max_total_time="$seconds" -print_final_stats=1 \
     "$top/$work" "$top/$harness")
done
