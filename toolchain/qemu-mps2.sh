#!/bin/bash
# Run a firmware image on QEMU's mps2-an385 board. The one place QEMU is started, so the
# network rule holds everywhere: the NIC is either unplugged (-nic none) or attached to
# a lab TAP device; QEMU never gets its default user-mode network.
# UART0 is this script's stdout; the firmware's semihosting exit status is its status.
#
# The provisioning area (port/mps2-an385/mps2_an385.ld) is loaded the way a factory would
# program it into flash: --settings JSON (a NUL is appended), --seed FILE (64 random
# bytes, the factory seed), --trust BLOB (toolchain/mktrust.py). --store FILE is the
# device's own flash (the updated entropy seed and clock floor, the policy cache, the outbox): loaded
# when it exists, and rewritten by the firmware (through semihosting) whenever it erases or
# programs that flash, so the next boot finds what this one stored. Without --store every
# boot starts from the factory seed again, as a device whose flash is wiped would.
#
# Usage: toolchain/qemu-mps2.sh --nic none|TAP [--timeout SECONDS] [--settings FILE]
#                               [--seed FILE] [--trust FILE] [--store FILE] ELF
set -euo pipefail

SETTINGS_ADDR=0x203D0000 SEED_ADDR=0x203D7000 STORE_ADDR=0x203D8000 TRUST_ADDR=0x203F0000   # mps2_an385.ld
nic="" timeout_s=60 loads=() tmp="" semihosting="enable=on,target=native"
trap '[ -z "$tmp" ] || rm -f "$tmp"' EXIT
while [ $# -gt 1 ]; do
  case "$1" in
    --nic) nic=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --settings)
      tmp=$(mktemp); cat "$2" > "$tmp"; printf '\0' >> "$tmp"
      loads+=(-device "loader,file=$tmp,addr=$SETTINGS_ADDR"); shift 2 ;;
    --seed) loads+=(-device "loader,file=$2,addr=$SEED_ADDR"); shift 2 ;;
    --trust) loads+=(-device "loader,file=$2,addr=$TRUST_ADDR"); shift 2 ;;
    --store)
      store=$(realpath "$2")
      case "$store" in *,*) echo "qemu-mps2: --store: no commas in the path, please: $store" >&2; exit 2 ;; esac
      [ ! -s "$store" ] || loads+=(-device "loader,file=$store,addr=$STORE_ADDR")
      semihosting+=",arg=stsmail-fw,arg=$store"; shift 2 ;;
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

timeout "$timeout_s" qemu-system-arm -M mps2-an385 -display none -monitor none \
  -serial stdio "${nic_opt[@]}" -semihosting-config "$semihosting" "${loads[@]}" -kernel "$elf"
