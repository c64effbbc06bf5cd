#!/bin/bash
# The firmware boots on QEMU mps2-an385 (NIC unplugged), prints its banner over UART0 and
# leaves QEMU with exit status 0 through semihosting.
set -u
elf=$1
top=$(cd "$(dirname "$0")/../.." && pwd)

out=$("$top/toolchain/qemu-mps2.sh" --nic none --timeout 30 "$elf" 2>/tmp/stsm-qemu-boot.$$)
rc=$?
err=$(cat /tmp/stsm-qemu-boot.$$); rm -f /tmp/stsm-qemu-boot.$$
echo "$out"
pass=0 fail=0
check() {
  if [ "$2" = ok ]; then pass=$((pass + 1)); echo "PASS $1"; else fail=$((fail + 1)); echo "FAIL $1"; fi
}
[ $rc -eq 0 ] && r=ok || r=bad; check "exit status 0 (got $rc)" $r
banner='^stsmail [0-9]+\.[0-9]+\.[0-9]+ on mps2-an385: booted \(lwIP 2\.2\.[0-9]+, Mbed TLS 3\.6\.[0-9]+, cJSON 1\.7\.[0-9]+\)'
printf '%s\n' "$out" | tr -d '\r' | grep -Eq "$banner" && r=ok || r=bad; check "banner on UART0" $r
[ $fail -eq 0 ] || echo "qemu stderr: $err"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
