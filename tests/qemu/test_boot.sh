#!/bin/bash
# The firmware boots on QEMU (NIC unplugged), prints its banner over UART0 and leaves QEMU
# with exit status 0 through semihosting. BOARD: mps2-an385 (default) or lm3s6965evb.
# Usage: test_boot.sh ELF [BOARD]
set -u
elf=$1 board=${2:-mps2-an385}
top=$(cd "$(dirname "$0")/../.." && pwd)

out=$("$top/toolchain/qemu-board.sh" --board "$board" --nic none --timeout 30 "$elf" 2>/tmp/stsm-qemu-boot.$$)
rc=$?
err=$(cat /tmp/stsm-qemu-boot.$$); rm -f /tmp/stsm-qemu-boot.$$
echo "$out"
pass=0 fail=0
check() {
  if [ "$2" = ok ]; then pass=$((pass + 1)); echo "PASS $1"; else fail=$((fail + 1)); echo "FAIL $1"; fi
}
[ $rc -eq 0 ] && r=ok || r=bad; check "exit status 0 (got $rc)" $r
banner='^stsmail [0-9]+\.[0-9]+\.[0-9]+ on '"$board"': booted \(lwIP 2\.2\.[0-9]+, Mbed TLS 3\.6\.[0-9]+, cJSON 1\.7\.[0-9]+\)'
printf '%s\n' "$out" | tr -d '\r' | grep -Eq "$banner" && r=ok || r=bad; check "banner on UART0" $r
[ $fail -eq 0 ] || echo "qemu stderr: $err"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
