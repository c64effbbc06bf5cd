#!/bin/bash
# Lab test: the firmware's outbox across reboots. Each boot raises a boot alert through the
# agent, to ops@outbox.test, and works the outbox kept in its flash (--store) until nothing
# is due within 20 s, then halts: exit 0 when the outbox is empty, 75 when messages remain.
# The MX, mx.outbox.test (tests/lab/domains/outbox.test.json), has an address on the lab
# bridge that no lab server holds: this test adds it, so connections to it are refused
# (the MX is down, for this test only) until it starts tests/lab/outbox_smtp.py there.
#   boot 1, MX down: the alert is stored (exit 75)
#   boot 2, MX down: both alerts kept (exit 75); boot 1 halted inside a retry wait
#   boot 3, MX up, after a pause long enough that every stored retry is due within the
#     boot's 20 s (the agent also retries at start what waited before the reboot; the test
#     does not rely on that): all three alerts delivered, each exactly once (counted by this run's
#     token in From's display name, told apart by Message-ID and Date), outbox empty (exit 0)
# /outbox/retry_first = retry_max = 60 s: every retry wait (60 s +-10%) is longer than the
# 20 s the image waits, so boots 1 and 2 make one attempt each and halt; boot 1's retry is
# not due yet during boot 2 (a second attempt there would be followed by boot 2's own retry
# less than 20 s apart, and so on: the image would not halt).
set -u -o pipefail
elf=$1 state=$2
[ "$(id -u)" = 0 ] || { echo "SKIP: lab tests need root (network namespaces, TAP)"; exit 77; }
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/decode_log.sh"
. "$(dirname "$0")/footprint_check.sh"
. "$state/lab.env"
work="$state/fw-outbox"
rm -rf "$work" && mkdir -p "$work/log"
mx=$(/usr/bin/python3 -c 'import json, sys
decl = json.load(open(sys.argv[1]))
print(next(r["address"] for r in decl["records"] if r["type"] == "A" and r["name"] == "mx.outbox.test"))' \
  "$top/tests/lab/domains/outbox.test.json")
server_pid=""
cleanup() {
  [ -z "$server_pid" ] || { kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; }
  ip netns exec "$LAB_NS" ip addr del "$mx/24" dev br0 2>/dev/null
}
trap cleanup EXIT
ip netns exec "$LAB_NS" ip addr add "$mx/24" dev br0 || exit 1

head -c 64 /dev/urandom > "$work/seed.bin"
token="fwob$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"   # finds this run's messages
cat > "$work/settings.json" <<EOF
{"mail": {"from": "alerts@fw.lab.test", "from_name": "$token", "to": ["ops@outbox.test"]},
 "delivery": {"mode": "mx", "tls_level": "may"},
 "outbox": {"retry_first": 60, "retry_max": 60, "coalesce_window": 0}}
EOF
boot() {
  ip netns exec "$LAB_NS" "$top/toolchain/qemu-mps2.sh" --nic "$LAB_TAP_QEMU" --timeout 120 \
    --settings "$work/settings.json" --seed "$work/seed.bin" --trust "$LAB_TRUST_STORE" \
    --store "$work/store.bin" "$elf" 2>&1 | tr -d '\r' | decode
}
started=$(date +%s)
t1=$(date +%s); out1=$(boot); rc1=$?; e1=$(date +%s)
printf '%s\n' "-- boot 1 (MX down), exit $rc1" "$out1"
sleep 2   # the device is off a moment: each boot's alert has a Date of its own
t2=$(date +%s); out2=$(boot); rc2=$?; e2=$(date +%s)
printf '%s\n' "-- boot 2 (MX down), exit $rc2" "$out2"

echo '{"*": "honest"}' > "$work/server.json"
ip netns exec "$LAB_NS" /usr/bin/python3 "$top/tests/lab/outbox_smtp.py" --listen "$mx" \
  --config "$work/server.json" --log-dir "$work/log" > "$work/server.out" 2>&1 < /dev/null &
server_pid=$!
for _ in $(seq 50); do
  ip netns exec "$LAB_NS" ss -Hlnt | grep -q " $mx:25 " && break
  sleep 0.2
done
# Every retry stored is due at most 66 s after boot 2 halted; boot 3 waits 20 s for one.
pause=$(( e2 + 47 - $(date +%s) ))
[ $pause -le 0 ] || sleep $pause
t3=$(date +%s); out3=$(boot); rc3=$?; e3=$(date +%s)
printf '%s\n' "-- boot 3 (MX up), exit $rc3" "$out3"
echo "NOTE boots: $((e1 - t1)) s, $((e2 - t2)) s, $((e3 - t3)) s; whole test $(( $(date +%s) - started )) s"

# Every message the server got with this run's token: "unix-time-of-Date message-id".
received=$(/usr/bin/python3 - "$work/log" "$token" <<'EOF'
import json, sys
from email.utils import parsedate_to_datetime
from pathlib import Path
for log in sorted(Path(sys.argv[1]).glob("*.jsonl")):
    for line in log.read_text().splitlines():
        r = json.loads(line)
        if r.get("event") == "message" and sys.argv[2] in r.get("sender_header", ""):
            try:
                when = int(parsedate_to_datetime(r["date"]).timestamp())
            except (TypeError, ValueError):
                when = 0
            print(when, r.get("message_id") or "(none)")
EOF
)
printf '%s\n' "-- received (Date as unix time, Message-ID):" "$received"

pass=0 fail=0
check() { if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $*"; fi; }
kept() { grep -Eq "^outbox: [0-9]+ delivered, 0 failed, 0 given up, $1 message\(s\) kept for later$" <<< "$2"; }
id_of() { sed -n "s/^outbox: alert '.*' (info) stored as message \([0-9]*\)$/\1/p" <<< "$1"; }
delivered_once() { [ -n "$1" ] && [ "$(grep -c "^outbox: message $1 to ops@outbox.test: delivered$" <<< "$out3")" -eq 1 ]; }
id1=$(id_of "$out1") id2=$(id_of "$out2") id3=$(id_of "$out3")
echo "NOTE boot alerts stored as messages ${id1:-?}, ${id2:-?}, ${id3:-?}"
check [ $rc1 -eq 75 ]
check kept 1 "$out1"
check [ $rc2 -eq 75 ]
check kept 2 "$out2"    # boot 1's alert survived the reboot in its retry wait
check [ $rc3 -eq 0 ]
for o in "$out1" "$out2" "$out3"; do check footprint_ok "$elf" "$o"; done
check grep -Eq '^outbox: 3 delivered, 0 failed, 0 given up, 0 message\(s\) kept for later$' <<< "$out3"
check delivered_once "$id1"   # boot 1's alert, by boot 3
check delivered_once "$id2"
check delivered_once "$id3"
check [ "$(grep -c . <<< "$received")" -eq 3 ]                        # three alerts, no more
check [ "$(cut -d' ' -f2 <<< "$received" | sort -u | grep -c .)" -eq 3 ]   # none twice
in_boot() { awk -v a="$1" -v b="$2" '$1 >= a && $1 <= b' <<< "$received" | grep -c .; }
check [ "$(in_boot "$t1" "$e1")" -eq 1 ]   # boot 1's alert arrived exactly once
check [ "$(in_boot "$t2" "$e2")" -eq 1 ]
check [ "$(in_boot "$t3" "$e3")" -eq 1 ]
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
