#!/bin/bash
# Run a firmware image on one of QEMU's Cortex-M boards: mps2-an385 (LAN9118) or
# lm3s6965evb (TI Stellaris LM3S6965, its own Ethernet controller). The one place QEMU is
# started, so the network rule holds everywhere: the NIC is either unplugged (-nic none)
# or attached to a lab TAP device; QEMU never gets its default user-mode network.
# UART0 is this script's stdout; the firmware's semihosting exit status is its status.
#
# The provisioning area (the board's linker script: port/mps2-an385/mps2_an385.ld,
# port/lm3s6965/lm3s6965.ld) is loaded the way a factory would program it into flash:
# --settings JSON (a NUL is appended), --seed FILE (64 random bytes, the factory seed),
# --trust BLOB (toolchain/mktrust.py). --store FILE is the device's own flash (the updated
# entropy seed and clock floor, the policy cache, the outbox): loaded when it exists, and
# rewritten by the firmware (through semihosting) whenever it erases or programs that
# flash, so the next boot finds what this one stored. Without --store every boot starts
# from the factory seed again, as a device whose flash is wiped would (lm3s6965evb writes
# its flash through the file, so it gets a temporary one, removed at exit).
#
# Usage: toolchain/qemu-board.sh --board mps2-an385|lm3s6965evb --nic none|TAP
#          [--timeout SECONDS] [--settings FILE] [--seed FILE] [--trust FILE] [--store FILE] ELF
set -euo pipefail

board="" nic="" timeout_s=60 loads=() tmp=() semihosting="enable=on,target=native" store=""
trap '[ ${#tmp[@]} -eq 0 ] || rm -f "${tmp[@]}"' EXIT
while [ $# -gt 1 ]; do
  case "$1" in
    --board) board=$2; shift 2 ;;
    --nic) nic=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --settings) settings=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --trust) trust=$2; shift 2 ;;
    --store) store=$(realpath "$2"); shift 2 ;;
    *) break ;;
  esac
done
usage="usage: $0 --board mps2-an385|lm3s6965evb --nic none|TAP [--timeout SECONDS] [--settings FILE] [--seed FILE] [--trust FILE] [--store FILE] ELF"
[ $# -eq 1 ] && [ -n "$nic" ] || { echo "$usage" >&2; exit 64; }
elf=$1
[ -f "$elf" ] || { echo "qemu-board: no such image: $elf" >&2; exit 66; }

case "$board" in
  mps2-an385)    # mps2_an385.ld
    machine=mps2-an385 nic_model="" SETTINGS_ADDR=0x203D0000 SEED_ADDR=0x203D7000 STORE_ADDR=0x203D8000
    TRUST_ADDR=0x203F0000 ;;
  lm3s6965evb)   # lm3s6965.ld
    machine=lm3s6965evb nic_model=",model=stellaris" SETTINGS_ADDR=0x38000 SEED_ADDR=0x38800 STORE_ADDR=0x39800
    TRUST_ADDR=0x38C00
    if [ -z "$store" ]; then tmp+=("$(mktemp)"); store=${tmp[-1]}; rm -f "$store"; fi ;;
  *) echo "$usage" >&2; exit 64 ;;
esac

if [ -n "${settings:-}" ]; then
  tmp+=("$(mktemp)"); cat "$settings" > "${tmp[-1]}"; printf '\0' >> "${tmp[-1]}"
  loads+=(-device "loader,file=${tmp[-1]},addr=$SETTINGS_ADDR")
fi
[ -z "${seed:-}" ] || loads+=(-device "loader,file=$seed,addr=$SEED_ADDR")
[ -z "${trust:-}" ] || loads+=(-device "loader,file=$trust,addr=$TRUST_ADDR")
if [ -n "$store" ]; then
  case "$store" in *,*) echo "qemu-board: --store: no commas in the path, please: $store" >&2; exit 2 ;; esac
  [ ! -s "$store" ] || loads+=(-device "loader,file=$store,addr=$STORE_ADDR")
  semihosting+=",arg=stsmail-fw,arg=$store"
fi

if [ "$nic" = none ]; then
  nic_opt=(-nic none)
else
  nic_opt=(-nic "tap,ifname=$nic,script=no,downscript=no$nic_model")
fi

timeout "$timeout_s" qemu-system-arm -M "$machine" -display none -monitor none \
  -serial stdio "${nic_opt[@]}" -semihosting-config "$semihosting" "${loads[@]}" -kernel "$elf"
