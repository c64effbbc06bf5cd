#!/bin/bash
# Speed bench (issue 12): stsmail side by side with Postfix + postfix-mta-sts-resolver,
# msmtp and swaks over a 50 ms-each-way delay line, RUNS runs of each (default 7),
# alternating. Writes docs/performance.md and docs/performance-timeline.svg.
# Needs root (it starts its own lab, a client namespace, iptables rules in both, cgroups).
# Not part of the test suite. Installs what it needs (toolchain/install-packages.sh bench).
# Usage: bash tests/bench/speed.sh [RUNS]
#   STSMAIL=path/to/stsmail uses that binary instead of building build/host;
#   STSMAIL_REV=REV names the revision it was built from, for the report.
#   THROUGHPUT_RUNS=N runs the 100-message comparison N times (default RUNS).
# The captures and results.json stay in /tmp/stsmail-speed.*/run; after editing
# tests/bench/performance_bounds.md, `python3 tests/bench/speed.py --render THAT_DIR`
# writes the report again from them without measuring.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
[ "$(id -u)" = 0 ] || { echo "speed: run as root (namespaces, iptables, cgroups)" >&2; exit 1; }
runs=${1:-7}
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "speed: RUNS must be a positive number, not '$runs'" >&2; exit 64; }

toolchain/install-packages.sh bench >&2
if [ -z "${STSMAIL:-}" ]; then
  toolchain/build.sh host >&2
  STSMAIL=build/host/firmware/app/stsmail
fi
work=$(mktemp -d /tmp/stsmail-speed.XXXXXX)
chmod 755 "$work"   # the lab's Postfix daemons (users postfix, nobody) reach their files below
cc -O2 -Wall -Wextra -o "$work/delay_line" tests/bench/delay_line.c -lnetfilter_queue
/usr/bin/python3 tests/bench/speed.py --stsmail "$STSMAIL" --delay-line "$work/delay_line" --runs "$runs" \
  ${THROUGHPUT_RUNS:+--throughput-runs "$THROUGHPUT_RUNS"} --work "$work/run" \
  --command "bash tests/bench/speed.sh $runs" --revision "${STSMAIL_REV:-$(git describe --always --dirty)}"
echo "speed: captures, logs and raw results in $work/run" >&2
