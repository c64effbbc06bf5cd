#!/bin/bash
# Measures the firmware's footprint on every board and prints it as Markdown, the boards
# side by side (docs/footprint.md holds a copy): static sizes per component from each -Os
# image's linker map, and the run-time peaks each firmware reports after delivering an
# alert in the lab (the largest of RUNS boots, in case timing moves a peak).
# Needs root (the lab). Usage: tests/bench/footprint.sh [RUNS]
# FOOTPRINT_BUILD_DIR=DIR builds each board's preset in DIR/<board> instead of
# build/<board> (toolchain/build.sh), e.g. to leave a shared tree's builds alone.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
[ "$(id -u)" = 0 ] || { echo "footprint: run as root (the lab uses network namespaces)" >&2; exit 1; }
runs=${1:-3}
boards=(mps2-an385 lm3s6965evb)

toolchain/install-packages.sh >&2
toolchain/fetch-deps.sh >&2
declare -A build
for board in "${boards[@]}"; do
  build[$board]=${FOOTPRINT_BUILD_DIR:-build}/$board
  cmake --preset "$board" -B "${build[$board]}" >&2
  cmake --build "${build[$board]}" -j 2 >&2
done
bundle=${build[mps2-an385]}/trust/ca-certificates.bin
[ -f "$bundle" ] || { echo "footprint: the build made no $bundle (Debian's bundle in the device's format)" >&2; exit 1; }

state=$(mktemp -d /tmp/stsmail-footprint.XXXXXX)
labctl() { /usr/bin/python3 tests/lab/labctl.py "$@"; }
cleanup() { labctl down --state "$state" >&2 || true; rm -rf "$state"; }
trap cleanup EXIT
labctl up --state "$state" >&2
. "$state/lab.env"
head -c 64 /dev/urandom > "$state/fw-seed.bin"
printf '{"mail": {"from": "alerts@fw.lab.test", "to": ["ops@example.test"]}}' > "$state/fw-settings.json"
specs=()
for board in "${boards[@]}"; do
  log=$state/$board.log
  for i in $(seq "$runs"); do
    # The console's texts are ids (STSM_TEXT_IDS): the decoder the QEMU tests build turns
    # them back into prose; the footprint lines are plain text either way.
    elf=${build[$board]}/firmware/app/stsmail-fw.elf
    ip netns exec "$LAB_NS" toolchain/qemu-board.sh --board "$board" --nic "$LAB_TAP_QEMU" --timeout 120 \
      --settings "$state/fw-settings.json" --seed "$state/fw-seed.bin" --trust "$LAB_TRUST_STORE" \
      "$elf" | tr -d '\r' | "${build[$board]}/tests/qemu/stsm-decode-log" --elf "$elf" >> "$log" ||
      { echo "footprint: $board: boot $i failed; log:" >&2; cat "$log" >&2; exit 1; }
  done
  grep -c '^ops@example.test: delivered' "$log" | grep -qx "$runs" ||
    { echo "footprint: $board: not every boot delivered; log:" >&2; cat "$log" >&2; exit 1; }
  specs+=("$board=${build[$board]}/firmware/app/stsmail-fw.map,$log,${build[$board]}/compile_commands.json")
done

echo "Measured $(date -u +%Y-%m-%d) with \`tests/bench/footprint.sh $runs\` on $(git describe --always --dirty);"
echo "lwIP $(sed -n 's/^lwip //p' .deps/VERSIONS 2>/dev/null), Mbed TLS $(sed -n 's/^mbedtls //p' .deps/VERSIONS 2>/dev/null),"
echo "cJSON $(sed -n 's/^cjson //p' .deps/VERSIONS 2>/dev/null); $(arm-none-eabi-gcc --version | head -1), -Os (MinSizeRel)."
echo "Peaks are the largest over $runs boots of each board, each raising its alert into an empty"
echo "outbox and delivering it to the lab's enforce MTA-STS domain."
echo
/usr/bin/python3 tests/bench/footprint.py --bundle "$bundle" --trust "$LAB_TRUST_STORE" "${specs[@]}"
