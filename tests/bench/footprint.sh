#!/bin/bash
# Measures the firmware's footprint and prints it as Markdown (docs/footprint.md holds a
# copy): static sizes per component from the -Os build's linker map, and the run-time
# peaks the firmware reports after delivering an alert in the lab (the largest of RUNS
# runs, in case timing moves a peak).
# Needs root (the lab). Usage: tests/bench/footprint.sh [RUNS]
# FOOTPRINT_BUILD_DIR=DIR builds the mps2-an385 preset in DIR instead of build/mps2-an385
# (toolchain/build.sh), e.g. to leave a shared tree's build alone.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
[ "$(id -u)" = 0 ] || { echo "footprint: run as root (the lab uses network namespaces)" >&2; exit 1; }
runs=${1:-3}

build=${FOOTPRINT_BUILD_DIR:-}
if [ -n "$build" ]; then
  cmake --preset mps2-an385 -B "$build" >&2
  cmake --build "$build" -j 2 >&2
else
  toolchain/build.sh mps2-an385 >&2
  build=build/mps2-an385
fi
elf=$build/firmware/app/stsmail-fw.elf
state=$(mktemp -d /tmp/stsmail-footprint.XXXXXX)
labctl() { /usr/bin/python3 tests/lab/labctl.py "$@"; }
cleanup() { labctl down --state "$state" >&2 || true; rm -rf "$state"; }
trap cleanup EXIT
labctl up --state "$state" >&2
. "$state/lab.env"
head -c 64 /dev/urandom > "$state/fw-seed.bin"
printf '{"mail": {"from": "alerts@fw.lab.test", "to": ["ops@example.test"]}}' > "$state/fw-settings.json"
for i in $(seq "$runs"); do
  ip netns exec "$LAB_NS" toolchain/qemu-mps2.sh --nic "$LAB_TAP_QEMU" --timeout 120 \
    --settings "$state/fw-settings.json" --seed "$state/fw-seed.bin" --trust "$LAB_TRUST_STORE" \
    "$elf" | tr -d '\r' >> "$state/runs.log" || { cat "$state/runs.log" >&2; exit 1; }
done
grep -c '^ops@example.test: delivered' "$state/runs.log" | grep -qx "$runs" ||
  { echo "footprint: not every run delivered; log:" >&2; cat "$state/runs.log" >&2; exit 1; }

echo "Measured $(date -u +%Y-%m-%d) with \`tests/bench/footprint.sh $runs\` on $(git describe --always --dirty);"
echo "lwIP $(sed -n 's/^lwip //p' .deps/VERSIONS 2>/dev/null), Mbed TLS $(sed -n 's/^mbedtls //p' .deps/VERSIONS 2>/dev/null),"
echo "cJSON $(sed -n 's/^cjson //p' .deps/VERSIONS 2>/dev/null); $(arm-none-eabi-gcc --version | head -1), -Os (MinSizeRel)."
echo "Peaks are the largest over $runs boots, each raising its alert into an empty outbox and"
echo "delivering it to the lab's enforce MTA-STS domain."
echo
/usr/bin/python3 tests/bench/footprint.py "$build/firmware/app/stsmail-fw.map" "$state/runs.log" "$LAB_TRUST_STORE" \
  "$build/compile_commands.json"
