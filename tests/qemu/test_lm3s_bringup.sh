#!/bin/bash
# Lab test: the lm3s6965evb bring-up image (firmware/app/stsmail_bringup.c) on QEMU, the
# Stellaris Ethernet controller (drivers/stellaris_enet) on the lab's TAP: a DHCP lease,
# the clock from the lab's NTP server (named by DHCP), and the address of
# mta-sts.example.test from the lab's DNS server, example.test's enforce MTA-STS policy
# over HTTPS verified against the lab's trust store (TCP and TLS through the driver, in
# 64 KiB of SRAM). Two boots on one store file: the first
# starts from the factory seed and writes the device record into flash through
# semihosting (port/lm3s6965/stsm_lm3s_store.c), the second reads it back from flash; a
# boot counter in a flash store (stsm_store.h) on the outbox's area, rewritten until pages
# are reclaimed and erased, counts 1 then 2.
# No lwIP allocation fails, and the painted stack's high-water mark stays STACK_MARGIN
# below the linker script's reserve (footprint_check.sh).
set -u -o pipefail
elf=$1 state=$2
[ "$(id -u)" = 0 ] || { echo "SKIP: lab tests need root (network namespaces, TAP)"; exit 77; }
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$state/lab.env"
# The console in prose: firmware texts written as ids are decoded (decode_log.sh, where
# the tree has it); otherwise the console passes unchanged.
decode() { cat; }
[ ! -f "$(dirname "$0")/decode_log.sh" ] || . "$(dirname "$0")/decode_log.sh"
work="$state/lm3s-bringup"
rm -rf "$work" && mkdir -p "$work"
head -c 64 /dev/urandom > "$work/seed.bin"
printf '{"mail": {"from": "alerts@fw.lab.test", "to": ["ops@example.test"]}}' > "$work/settings.json"
boot() {
  ip netns exec "$LAB_NS" "$top/toolchain/qemu-lm3s.sh" --nic "$LAB_TAP_QEMU" --timeout 120 \
    --settings "$work/settings.json" --seed "$work/seed.bin" --trust "$LAB_TRUST_STORE" \
    --store "$work/store.bin" "$elf" 2>&1 | tr -d '\r' | decode
}
out=$(boot); rc=$?
printf '%s\n' "-- boot 1, exit $rc" "$out"
out2=$(boot); rc2=$?
printf '%s\n' "-- boot 2, exit $rc2" "$out2"

pass=0 fail=0
check() { if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $*"; fi; }
check [ $rc -eq 0 ]
check [ $rc2 -eq 0 ]
check grep -Eq '^stsmail [0-9.]+ on lm3s6965evb: booted ' <<< "$out"
check grep -q '^random: factory seed (no device record yet)$' <<< "$out"
check grep -q '^random: seed from the device record$' <<< "$out2"
check grep -Eq '^bring-up: flash store: boot 1, [1-9][0-9]* pages erased$' <<< "$out"
check grep -Eq '^bring-up: flash store: boot 2, [1-9][0-9]* pages erased$' <<< "$out2"
check [ "$(stat -c %s "$work/store.bin" 2>/dev/null)" = 26624 ]   # lm3s6965.ld: the 26 KiB store
check grep -Eq '^network up: 192\.0\.2\.1[0-9][0-9] \(DHCP\), DNS 192\.0\.2\.1, MAC 52:54:00:12:34:56$' <<< "$out"
clock=$(sed -n 's/^clock set by NTP: \(.*\) UTC$/\1/p' <<< "$out")
skew=$(( $(date -u +%s) - $(date -u -d "${clock:-1970-01-01}" +%s) ))
check [ -n "$clock" ]
check [ "${skew#-}" -le 120 ]   # the lab's chronyd serves this machine's clock: SysTick runs at 1 ms
want=$(ip netns exec "$LAB_NS" dig +short @"$LAB_DNS" mta-sts.example.test A 2>/dev/null | tail -1)
check [ -n "$want" ]
check grep -qx "bring-up: mta-sts.example.test is $want" <<< "$out"
check grep -q '^trust store: 1 anchors$' <<< "$out"
check grep -Eq '^bring-up: MTA-STS policy of example.test fetched over verified HTTPS: mode enforce, [1-9][0-9]* bytes$' <<< "$out"
check grep -Eq '^footprint: mbedtls_arena_peak [1-9][0-9]+ of [0-9]+$' <<< "$out"   # TLS really ran
check grep -q 'DHCPACK(br0) 192.0.2.1[0-9][0-9] 52:54:00:12:34:56' "$LAB_STATE/log/dnsmasq-queries.log"
. "$(dirname "$0")/footprint_check.sh"
check footprint_ok "$elf" "$out"    # no failed lwIP allocation, stack peak STACK_MARGIN below the reserve
check footprint_ok "$elf" "$out2"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
