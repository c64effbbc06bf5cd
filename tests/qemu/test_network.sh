#!/bin/bash
# Lab test: the firmware on QEMU mps2-an385, its LAN9118 on the lab's TAP, gets a DHCP
# lease, sets its clock from the lab's NTP server (named by DHCP), and resolves the MX
# hosts of a lab domain with stsmail's DNS client.
set -u -o pipefail
elf=$1 state=$2
[ "$(id -u)" = 0 ] || { echo "SKIP: lab tests need root (network namespaces, TAP)"; exit 77; }
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$state/lab.env"
head -c 64 /dev/urandom > "$state/fw-seed.bin"
printf '{"mail": {"from": "alerts@fw.lab.test", "to": ["ops@example.test"]}}' > "$state/fw-settings.json"
out=$(ip netns exec "$LAB_NS" "$top/toolchain/qemu-mps2.sh" --nic "$LAB_TAP_QEMU" --timeout 90 \
      --settings "$state/fw-settings.json" --seed "$state/fw-seed.bin" "$elf" 2>&1 | tr -d '\r')
rc=$?
printf '%s\n' "$out"
pass=0 fail=0
check() { if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $*"; fi; }
check [ $rc -eq 0 ]
check grep -Eq '^network up: 192\.0\.2\.1[0-9][0-9] \(DHCP\), DNS 192\.0\.2\.1, MAC ' <<< "$out"
clock=$(sed -n 's/^clock set by NTP: \(.*\) UTC$/\1/p' <<< "$out")
skew=$(( $(date -u +%s) - $(date -u -d "${clock:-1970-01-01}" +%s) ))
check [ -n "$clock" ]
check [ "${skew#-}" -le 120 ]   # the lab's chronyd serves this machine's clock
check grep -q '^MX of example.test: list$' <<< "$out"
check grep -q '^  MX 10 mx1.example.test 192.0.2.10$' <<< "$out"
check grep -q '^  MX 20 mx2.example.test 192.0.2.11$' <<< "$out"
check grep -q 'DHCPACK(br0) 192.0.2.1[0-9][0-9] 52:54:00:12:34:56' "$LAB_STATE/log/dnsmasq-queries.log"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
