#!/bin/bash
# The firmware validates provisioned settings exactly as the host does (same code, same
# messages) and refuses to use the network without an entropy seed. NIC unplugged.
# BOARD: mps2-an385 (default) or lm3s6965evb. Usage: test_settings.sh ELF [BOARD]
set -u -o pipefail
elf=$1 board=${2:-mps2-an385}
. "$(dirname "$0")/decode_log.sh"
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pass=0 fail=0
run() {   # run NAME EXPECTED-STATUS EXPECTED-LINE LOADS...
  local name=$1 want_rc=$2 want=$3; shift 3
  local out rc
  out=$("$top/toolchain/qemu-board.sh" --board "$board" --nic none --timeout 30 "$@" "$elf" 2>/dev/null | tr -d '\r' | decode); rc=$?
  if [ "$rc" = "$want_rc" ] && printf '%s\n' "$out" | grep -qxF -- "$want"; then
    pass=$((pass + 1)); echo "PASS $name"
  else
    fail=$((fail + 1)); echo "FAIL $name: status $rc, output:"; printf '%s\n' "$out" | sed 's/^/  /'
  fi
}
printf '{"network": {"mtu": 1500}}' > "$dir/unknown.json"
printf '{"delivery": {"relay": {"host": "h", "port": "abc"}}}' > "$dir/port.json"
printf '{"mail": {"from": "a@b.test"}}' > "$dir/good.json"

run "unknown key refused like on the host" 78 "settings: /network/mtu: unknown key" \
  --settings "$dir/unknown.json"
run "wrong type refused like on the host" 78 \
  'settings: /delivery/relay/port: expected an integer 1..65535, got "abc"' --settings "$dir/port.json"
run "no entropy seed: the network is not used" 78 "no entropy seed provisioned: refusing to use the network" \
  --settings "$dir/good.json"
# cJSON's parse arena (STSM_SETTINGS_ARENA_SIZE) and nesting: a file too large for the
# arena is refused naming it; brackets nested deeper than CJSON_NESTING_LIMIT are refused
# as JSON before cJSON's recursion runs the stack over; and on mps2-an385 the largest valid
# settings file (every key, each text at its longest, eight recipients) still fits.
expect() {   # expect NAME EXPECTED-STATUS EXTENDED-REGEX FILE
  local out rc
  local qemu=("$top/toolchain/qemu-mps2.sh")
  [ -x "$top/toolchain/qemu-board.sh" ] && qemu=("$top/toolchain/qemu-board.sh" --board "${board:-mps2-an385}")
  out=$("${qemu[@]}" --nic none --timeout 30 --settings "$4" "$elf" 2>/dev/null | tr -d '\r' | decode); rc=$?
  if [ "$rc" = "$2" ] && grep -Eqx -- "$3" <<< "$out"; then
    pass=$((pass + 1)); echo "PASS $1"
  else
    fail=$((fail + 1)); echo "FAIL $1: status $rc, output:"; printf '%s\n' "$out" | sed 's/^/  /'
  fi
}
/usr/bin/python3 - "$dir" <<'PY'
import json, sys
d = sys.argv[1]
addr = lambda: "a" * 241 + "@example.test"                 # 254: STSM_SMTP_ADDRESS_MAX
host = ".".join(["x" * 63] * 3) + "." + "y" * 61           # 253: STSM_HOSTNAME_MAX
settings = {
    "device": {"ehlo_name": host},
    "network": {"interface": "tap0", "address": "192.0.2.11/24", "gateway": "192.0.2.1",
                "dns": ["192.0.2.1", "192.0.2.2"]},
    "mail": {"from": addr(), "from_name": "N" * 64, "to": [addr() for _ in range(8)]},
    "delivery": {"mode": "mx", "tls_level": "verify", "opportunistic_plaintext": False,
                 "timeout_percent": 1000, "attempt_timeout": 86400,
                 "relay": {"host": host, "port": 65535, "tls": "starttls",
                           "auth": {"user": "u" * 254, "password": "p" * 254}, "policy_domain": host}},
    "mta_sts": {"enabled": True, "cache_file": "c" * 200, "fetch_timeout": 600, "relax_content_type": False,
                "strict_cname": ["mx", "policy_host", "txt"]},
    "outbox": {"retry_first": 86400, "retry_max": 604800, "give_up": 2592000, "coalesce_window": 86400,
               "domain_hourly_cap": 10000, "when_full": "drop_lower", "store_file": "s" * 200,
               "store_size": 262144},
    "tls": {"trust_store": "t" * 200},
}
open(f"{d}/largest.json", "w").write(json.dumps(settings))
# 4 KiB of JSON that cJSON needs 80 KiB for (2000 numbers of 40 bytes each): more than any
# parse arena a board has, its own or the TLS arena it lends.
open(f"{d}/too_large.json", "w").write('{"network": {"dns": [' + '0,' * 2000 + '0]}}')
open(f"{d}/nested.json", "w").write('{"mail": {"to": ' + "[" * 1000 + "]" * 1000 + "}}")
PY
if [ "${board:-mps2-an385}" = lm3s6965evb ]; then
  # The 2 KiB settings area holds the first 2047 bytes of the file: cut there, it is refused
  # as JSON, or as too large for the TLS arena the parse borrows if that runs out first.
  expect "a file longer than the settings area is refused" 78 \
    'settings: /: (not valid JSON \(near byte 2047\)|settings too large for the [0-9]+-byte parse arena \(lent by the board: stsm_settings_lend_arena\))' \
    "$dir/too_large.json"
else
  expect "a file too large for the parse arena is refused naming it" 78 \
    'settings: /: settings too large for the [0-9]+-byte parse arena \((STSM_SETTINGS_ARENA_SIZE|lent by the board: stsm_settings_lend_arena)\)' \
    "$dir/too_large.json"
fi
expect "1000 nested brackets are refused as JSON, within the stack" 78 \
  'settings: /: not valid JSON \(near byte [0-9]+\)' "$dir/nested.json"
if [ "${board:-mps2-an385}" = mps2-an385 ]; then
  expect "the largest valid settings file fits the parse arena" 78 \
    'no entropy seed provisioned: refusing to use the network' "$dir/largest.json"
fi
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
