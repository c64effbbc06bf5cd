#!/bin/bash
# Run a firmware image on QEMU's mps2-an385 board. The one place QEMU is started, so the
# network rule holds everywhere: the NIC is either unplugged (-nic none) or attached to
# a lab TAP device; QEMU never gets its default user-mode network.
# UART0 is this script's stdout; the firmware's semihosting exit status is its status.
#
# Files for the provisioning area (settings, entropy seed) are loaded into memory with
# --load FILE@ADDRESS, as a factory would program them into flash.
#
# Usage: toolchain/qemu-mps2.sh --nic none|TAP [--timeout SECONDS] [--load FILE@ADDR]... ELF
set -euo pipefail

nic="" timeout_s=60 loads=()
while [ $# -gt 1 ]; do
  case "$1" in
    --nic) nic=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --load) loads+=(-device "loader,file=${2%@*},addr=${2##*@}"); shift 2 ;;
    *) break ;;
  esac
done
[ $# -eq 1 ] && [ -n "$nic" ] || { echo "usage: $0 --nic none|TAP [--timeout SECONDS] ELF" >&2; exit 64; }
elf=$1
[ -f "$elf" ] || { echo "qemu-mps2: no such image: $elf" >&2; exit 66; }

if [ "$nic" = none ]; then
  nic_opt=(-nic none)
else
  nic_opt=(-nic "tap,ifname=$nic,script=no,downscript=no")
fi

exec timeout "$timeout_s" qemu-system-arm -M mps2-an385 -display none -monitor none \
  -serial stdio "${nic_opt[@]}" -semihosting-config enable=on,target=native "${loads[@]}" -kernel "$elf"
