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
# as JSON before cJSON's recursion runs the stack over. The texts' pool
# (STSM_SETTINGS_TEXT_POOL, port/<board>/include/stsm_board_config.h): the largest valid
# settings file (every key, texts that fill the pool exactly) parses, and one byte more of
# text is refused naming the pool, at the last text kept.
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
# STSM_SETTINGS_TEXT_POOL, STSM_SETTINGS_PATH_MAX, STSM_SMTP_MAX_RCPT, the settings area
# less the NUL provisioning appends
case "$board" in
  lm3s6965evb) pool=1020 path_max=32 rcpt=2 area=2047 ;;
  *) pool=2040 path_max=200 rcpt=8 area=28671 ;;
esac
/usr/bin/python3 - "$dir" "$pool" "$path_max" "$rcpt" "$area" <<'PY'
import json, sys
d, pool, path_max, rcpt, area = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
# The texts in the order the parser keeps them: (name, longest, kind); the first ones at
# their longest, the rest as short as valid, so that they take `budget` pool bytes (each
# text and its NUL).
keys = ([("ehlo_name", 254, "host"), ("interface", 15, "text"), ("from", 254, "addr"), ("from_name", 64, "text")]
        + [("to%d" % i, 254, "addr") for i in range(rcpt)]
        + [("relay_host", 254, "host"), ("policy_domain", 254, "host"), ("user", 254, "text"),
           ("password", 254, "text"), ("cache_file", path_max, "text"), ("trust_store", path_max, "text"),
           ("store_file", path_max, "text")])
def texts(budget):
    least = lambda kind: 14 if kind == "addr" else 1           # "a@example.test"
    rest, out = sum(least(k) + 1 for _, _, k in keys), {}
    for name, longest, kind in keys:
        rest -= least(kind) + 1
        n = min(longest, budget - sum(len(v) + 1 for v in out.values()) - rest - 1)
        out[name] = "a" * (n - 13) + "@example.test" if kind == "addr" else "x" * n
    assert sum(len(v) + 1 for v in out.values()) == budget
    return out
def settings(t):
    return {
        "device": {"ehlo_name": t["ehlo_name"]},
        "network": {"interface": t["interface"], "address": "192.0.2.11/24", "gateway": "192.0.2.1",
                    "dns": ["192.0.2.1", "192.0.2.2"]},
        "mail": {"from": t["from"], "from_name": t["from_name"], "to": [t["to%d" % i] for i in range(rcpt)]},
        "delivery": {"mode": "mx", "tls_level": "verify", "opportunistic_plaintext": False,
                     "timeout_percent": 1000, "attempt_timeout": 86400,
                     "relay": {"host": t["relay_host"], "port": 65535, "tls": "starttls",
                               "auth": {"user": t["user"], "password": t["password"]},
                               "policy_domain": t["policy_domain"]}},
        "mta_sts": {"enabled": True, "cache_file": t["cache_file"], "fetch_timeout": 600,
                    "relax_content_type": False, "strict_cname": ["mx", "policy_host", "txt"]},
        "outbox": {"retry_first": 86400, "retry_max": 604800, "give_up": 2592000, "coalesce_window": 86400,
                   "domain_hourly_cap": 10000, "when_full": "drop_lower", "store_file": t["store_file"],
                   "store_size": 262144},
        "tls": {"trust_store": t["trust_store"]},
    }
for name, budget in (("largest", pool), ("pool_over", pool + 1)):
    text = json.dumps(settings(texts(budget)), separators=(",", ":"))
    assert len(text) <= area
    open(f"{d}/{name}.json", "w").write(text)
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
expect "the largest valid settings file (texts filling STSM_SETTINGS_TEXT_POOL) parses" 78 \
  'no entropy seed provisioned: refusing to use the network' "$dir/largest.json"
expect "one byte more of text is refused naming the pool" 78 \
  "settings: /outbox/store_file: settings texts \\(STSM_SETTINGS_TEXT_POOL\\) full: the file.s texts need more than $pool bytes" \
  "$dir/pool_over.json"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
