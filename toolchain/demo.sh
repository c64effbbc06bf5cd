#!/bin/bash
# The main job, end to end, from a fresh Debian 12 machine (as root): install and build,
# start the lab, run the host simulation against the lab's real servers through lwIP on a
# TAP device, boot the Cortex-M firmware under QEMU on both boards, show what happened,
# stop the lab.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
[ "$(id -u)" = 0 ] || { echo "demo: run as root (the lab uses network namespaces and TAP devices)" >&2; exit 1; }

toolchain/build.sh host mps2-an385 lm3s6965evb
stsmail=build/host/firmware/app/stsmail
state=$(mktemp -d /tmp/stsmail-demo.XXXXXX)
labctl() { /usr/bin/python3 tests/lab/labctl.py "$@"; }
cleanup() { labctl down --state "$state" || true; }
# Prints the path of the message Postfix stored that holds TEXT, waiting up to 5 s for
# Postfix to hand it to its Maildir; fails when none came.
stored_with() {
  local text=$1 stored=""
  for i in $(seq 50); do
    stored=$(grep -lF -- "$text" "$LAB_POSTFIX_MAILDIR"/example.test/new/* 2>/dev/null | head -n 1) || true
    [ -n "$stored" ] && break
    sleep 0.1
  done
  [ -n "$stored" ] && echo "$stored"
}
trap cleanup EXIT

echo
echo "== $($stsmail version)"
echo "== starting the lab"
labctl up --state "$state"
. "$state/lab.env"
labctl verify --state "$state" | grep -v "^PASS"   # one line per failure, then the totals

echo
echo "== host simulation: lwIP on $LAB_TAP_HOST, DHCP, lwIP's resolver, TCP to the lab's Postfix"
echo "\$ stsmail probe --tap $LAB_TAP_HOST mx1.example.test 25"
ip netns exec "$LAB_NS" timeout 60 "$stsmail" probe --tap "$LAB_TAP_HOST" mx1.example.test 25
echo "-- Postfix's log of that session:"
grep -E 'smtpd\[[0-9]+\]: (connect|disconnect) from' "$LAB_STATE/log/postfix.log" | tail -2

echo
echo "== host simulation: MX hosts of example.test and of cname-mx.test through lwIP (our own DNS client)"
for domain in example.test cname-mx.test; do
  echo "\$ stsmail dns --tap $LAB_TAP_HOST mx $domain"
  ip netns exec "$LAB_NS" timeout 60 "$stsmail" dns --tap "$LAB_TAP_HOST" mx "$domain" 2>/dev/null
done

echo
echo "== host simulation: verified TLS through lwIP and Mbed TLS (STARTTLS with the lab's Postfix)"
printf '{"network": {"interface": "%s"}, "tls": {"trust_store": "%s"}}\n' "$LAB_TAP_HOST" "$LAB_TRUST_STORE" \
  > "$state/settings.json"
echo "\$ stsmail tls-probe --settings settings.json --starttls mx1.example.test 25"
ip netns exec "$LAB_NS" timeout 60 "$stsmail" tls-probe --settings "$state/settings.json" --starttls \
  mx1.example.test 25
echo "\$ stsmail tls-probe --settings settings.json expired.tls.test 443   # must be refused"
ip netns exec "$LAB_NS" timeout 60 "$stsmail" tls-probe --settings "$state/settings.json" \
  expired.tls.test 443 || echo "-- refused, exit status $?"

echo
echo "== host simulation: the MTA-STS view of example.test (what a strict sender would decide)"
echo "\$ stsmail check --settings settings.json --strict-cname mx example.test"
ip netns exec "$LAB_NS" timeout 120 "$stsmail" check --settings "$state/settings.json" --strict-cname mx \
  example.test 2>/dev/null

echo
echo "== host simulation: deliver an alert straight to the MX of example.test (lab Postfix), verified"
echo "   STARTTLS, under example.test's enforce MTA-STS policy (the decision is in the log lines)"
cat > "$state/send.json" <<JSON
{
  "device": {"ehlo_name": "printer.lab.test"},
  "network": {"interface": "$LAB_TAP_HOST"},
  "mail": {"from": "alerts@printer.lab.test", "from_name": "Printer 3F", "to": ["ops@example.test"]},
  "delivery": {"mode": "mx", "tls_level": "verify"},
  "tls": {"trust_store": "$LAB_TRUST_STORE"}
}
JSON
echo "\$ stsmail send --settings send.json --subject 'Toner low (3rd floor)' --body-file -   # body on stdin"
printf 'Cyan toner at 5%%.\nReplace cartridge C-204.\n' |
  ip netns exec "$LAB_NS" timeout 120 "$stsmail" send --settings "$state/send.json" \
    --subject "Toner low (3rd floor)" --body-file -
stored=$(stored_with "Toner low (3rd floor)")
echo "-- stored by Postfix as $stored:"
cat "$stored"

echo
echo "== host simulation: the outbox. An alert raised while the mail server (the lab's Postfix, as"
echo "   the relay, verified STARTTLS) is down is kept (in a flash image file here, in flash on a"
echo "   device) and delivered once the server is back"
postfix_etc="$state/postfix/etc"
cat > "$state/outbox.json" <<JSON
{
  "device": {"ehlo_name": "printer.lab.test"},
  "network": {"interface": "$LAB_TAP_HOST"},
  "mail": {"from": "alerts@printer.lab.test", "from_name": "Printer 3F", "to": ["ops@example.test"]},
  "delivery": {"mode": "relay", "relay": {"host": "mx1.example.test", "port": 25}},
  "tls": {"trust_store": "$LAB_TRUST_STORE"},
  "outbox": {"store_file": "outbox.bin", "retry_first": 5, "retry_max": 10}
}
JSON
echo "\$ postfix stop   # mx1.example.test goes down"
ip netns exec "$LAB_NS" postfix -c "$postfix_etc" stop 2>&1 | sed 's/^/   /'
echo "\$ stsmail enqueue --settings outbox.json --key paper-jam --severity error --subject 'Paper jam (tray 2)'"
echo "Tray 2 jammed at the fuser." |
  "$stsmail" enqueue --settings "$state/outbox.json" --key paper-jam --severity error \
    --subject "Paper jam (tray 2)" --body-file - 2>/dev/null | sed 's/^/   id /'
echo "\$ stsmail run --settings outbox.json &   # works the outbox until SIGTERM"
ip netns exec "$LAB_NS" "$stsmail" run --settings "$state/outbox.json" > "$state/run.out" 2> "$state/run.err" &
run_pid=$!
for i in $(seq 150); do   # the first attempt meets a closed port
  grep -q "deferred after attempt 1" "$state/run.err" && break
  sleep 0.2
done
echo "\$ stsmail queue list --settings outbox.json   # kept, with the reason it is waiting"
"$stsmail" queue list --settings "$state/outbox.json" 2>/dev/null
echo "\$ postfix start   # the MX comes back"
ip netns exec "$LAB_NS" postfix -c "$postfix_etc" start 2>&1 | sed 's/^/   /'
for i in $(seq 150); do   # the next retry is due within 10 s
  grep -q "delivered" "$state/run.out" && break
  sleep 0.2
done
kill -TERM "$run_pid"
wait "$run_pid" || true
echo "-- what stsmail run printed (stdout: one line per recipient's end; stderr: the log):"
cat "$state/run.out"
grep -E "outbox:|connecting|connection|TLS verified|stopped" "$state/run.err" | sed 's/^/   /'
echo "\$ stsmail queue list --settings outbox.json"
"$stsmail" queue list --settings "$state/outbox.json" 2>/dev/null
grep -q "delivered" "$state/run.out"
stored=$(stored_with "Paper jam (tray 2)")
echo "-- stored by Postfix as $stored"

# Boots BOARD's image in QEMU on the lab's TAP with settings whose From name is NAME,
# prints its console (texts for people are ids on the boards, flash being scarce: the host
# decodes them) and the message Postfix stored.
boot_board() {
  local board=$1 name=$2 elf=build/$1/firmware/app/stsmail-fw.elf rc=0 stored
  printf '{"mail": {"from": "alerts@fw.lab.test", "from_name": "%s", "to": ["ops@example.test"]}}' \
    "$name" > "$state/$board-settings.json"
  ip netns exec "$LAB_NS" toolchain/qemu-board.sh --board "$board" --nic "$LAB_TAP_QEMU" --timeout 120 \
    --settings "$state/$board-settings.json" --seed "$state/fw-seed.bin" --trust "$LAB_TRUST_STORE" \
    "$elf" > "$state/$board.console" || rc=$?
  "$stsmail" decode-log --elf "$elf" "$state/$board.console"
  echo "-- QEMU exit status $rc (the firmware's return from main, through semihosting)"
  [ $rc -eq 0 ]
  stored=$(stored_with "$name")
  echo "-- the alert, stored by Postfix as $stored:"
  cat "$stored"
  arm-none-eabi-size "$elf"
}

head -c 64 /dev/urandom > "$state/fw-seed.bin"
echo
echo "== firmware: stsmail on QEMU mps2-an385, its LAN9118 on the lab's $LAB_TAP_QEMU"
echo "   (settings, a fresh entropy seed and the lab's trust store provisioned the way a"
echo "   factory would flash them); it sends an alert to the enforce MTA-STS domain example.test"
boot_board mps2-an385 "Firmware demo"
echo
echo "== firmware: the same app on QEMU lm3s6965evb (TI Stellaris LM3S6965: 256 KiB flash, 64 KiB"
echo "   SRAM, its own Ethernet controller on $LAB_TAP_QEMU; TLS 1.2 only on this board)"
boot_board lm3s6965evb "Small board demo"

echo
echo "== stopping the lab"
trap - EXIT
labctl down --state "$state"
echo "demo: done (lab logs kept in $state)"
