#!/bin/bash
# Lab test: a second lab starts beside a running one without touching it, and the
# namespace of a run that died (with a process still inside) is removed by the next `up`.
set -u
state=$1
[ "$(id -u)" = 0 ] || { echo "SKIP: lab tests need root (network namespaces, TAP)"; exit 77; }
labctl=(/usr/bin/python3 "$(dirname "$0")/labctl.py")
first_ns=$(. "$state/lab.env"; echo "$LAB_NS")

pass=0 fail=0
check() {
  local name=$1; shift
  if "$@"; then pass=$((pass + 1)); echo "PASS $name"; else fail=$((fail + 1)); echo "FAIL $name"; fi
}
has_ns() { ip netns list | awk '{print $1}' | grep -qx "$1"; }
# mx1.example.test's address depends on how many servers the domain files declare before it.
mx1=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["servers"]["mx1.example.test"])' \
      "$state/lab.json")
answers_dns() { [ "$(ip netns exec "$1" dig +short +time=2 +tries=1 @192.0.2.1 A mx1.example.test)" = "$mx1" ]; }

# A leftover as a killed run leaves it: a lab-named namespace whose owner PID is gone,
# with a process still running inside.
true & dead=$!; wait $dead
leftover="stsmlab-$dead-0bad00"
second=$(mktemp -d /tmp/stsmail-lab2.XXXXXX)
cleanup() {
  "${labctl[@]}" down --state "$second" > /dev/null 2>&1
  if has_ns "$leftover"; then
    kill $(ip netns pids "$leftover") 2>/dev/null; ip netns del "$leftover"
  fi
  rm -rf "$second"
}
trap cleanup EXIT
ip netns add "$leftover"
ip netns exec "$leftover" sleep 300 & sleeper=$!

"${labctl[@]}" up --state "$second"
check "second lab starts while the first runs" [ $? -eq 0 ]
second_ns=$(. "$second/lab.env"; echo "$LAB_NS")
check "the labs have different namespaces" eval '[ -n "$second_ns" ] && [ "$second_ns" != "$first_ns" ]'
check "leftover namespace removed" eval '! has_ns "$leftover"'
wait $sleeper 2>/dev/null; sleeper_status=$?
check "process inside the leftover was killed" [ $sleeper_status -ge 128 ]   # a sleep that ran out gives 0
check "second lab answers DNS" answers_dns "$second_ns"

"${labctl[@]}" down --state "$second"
check "second lab removed" eval '! has_ns "$second_ns"'
check "first lab untouched" has_ns "$first_ns"
check "first lab still answers DNS" answers_dns "$first_ns"

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
