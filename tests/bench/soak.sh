#!/bin/bash
# Soak test: N deliveries (default 1000) of the same alert, one after the other, in ONE
# host-simulation process (`stsmail send --repeat N`) to the lab's Postfix, over verified
# STARTTLS under the lab's enforce MTA-STS policy. stsmail reports its levels before the
# first delivery, after it and after the last: the Mbed TLS arena, lwIP's heap and pools,
# the policy cache, resident memory and open descriptors. tests/bench/soak.py turns them
# into `soak: key=value` lines and a verdict: everything back at its starting level
# (the cache and resident memory at their level after the first delivery), nothing grown.
# Needs root (it starts and stops its own lab). Not part of the default test suite.
# Usage: tests/bench/soak.sh [N] [OUTPUT_FILE]
#   STSMAIL=path/to/stsmail uses that binary instead of building build/host.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
[ "$(id -u)" = 0 ] || { echo "soak: run as root (the lab uses network namespaces)" >&2; exit 1; }
n=${1:-1000}
out=${2:-}
[[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "soak: N must be a positive number, not '$n'" >&2; exit 64; }

if [ -z "${STSMAIL:-}" ]; then
  toolchain/build.sh host >&2
  STSMAIL=build/host/firmware/app/stsmail
fi
state=$(mktemp -d /tmp/stsmail-soak.XXXXXX)
labctl() { /usr/bin/python3 tests/lab/labctl.py "$@"; }
cleanup() { labctl down --state "$state" >&2 || true; rm -rf "$state"; }
trap cleanup EXIT
labctl up --state "$state" --owner $$ >&2
. "$state/lab.env"
printf '{"network": {"interface": "%s"}, "mail": {"from": "soak@printer.lab.test"}, "tls": {"trust_store": "%s"}}\n' \
  "$LAB_TAP_HOST" "$LAB_TRUST_STORE" > "$state/soak-settings.json"
printf 'Printer 3F: toner low (soak test).\n' > "$state/body.txt"

rc=0
ip netns exec "$LAB_NS" "$STSMAIL" send --settings "$state/soak-settings.json" --to ops@example.test \
  --subject "soak" --body-file "$state/body.txt" --repeat "$n" > "$state/stdout.log" 2> "$state/stderr.log" || rc=$?
grep -v '^stsmail: soak:' "$state/stderr.log" | head -20 >&2 || true
[ -s "$state/stdout.log" ] && { echo "soak: deliveries that were not delivered:" >&2; head -20 "$state/stdout.log" >&2; }
# Postfix stores asynchronously: give it up to 60 s to catch up.
for _ in $(seq 120); do
  stored=$( (ls "$LAB_POSTFIX_MAILDIR/example.test/new" 2>/dev/null || true) | wc -l)
  [ "$stored" -ge "$n" ] && break
  sleep 0.5
done
# The revision is read before tee opens the record file: a record kept in the tree
# (tests/reliability/soak.txt) would otherwise mark its own run dirty.
rev=$(git describe --always --dirty)
/usr/bin/python3 tests/bench/soak.py "$state/stderr.log" "$rc" "$stored" \
  "tests/bench/soak.sh $n on $rev" | tee ${out:+"$out"}
