#!/bin/bash
# Lab test: `stsmail probe` reaches the lab's real servers through lwIP over TAP: DHCP
# lease, lwIP's resolver against dnsmasq, TCP to Postfix and to the sink, and the
# failures a user can meet (unknown name, closed port).
set -u
stsmail=$1 state=$2
[ "$(id -u)" = 0 ] || { echo "SKIP: lab tests need root (network namespaces, TAP)"; exit 77; }
. "$state/lab.env"

pass=0 fail=0
out="" err="" rc=0
probe() {   # probe ARGS...: run stsmail probe in the lab on its TAP, capture everything
  out=$(ip netns exec "$LAB_NS" timeout 60 "$stsmail" probe --tap "$LAB_TAP_HOST" --timeout 10 \
        "$@" 2>"$state/probe.err")
  rc=$?
  err=$(cat "$state/probe.err")
}
check() {   # check NAME CONDITION...
  local name=$1; shift
  if "$@"; then pass=$((pass + 1)); echo "PASS $name"
  else fail=$((fail + 1)); echo "FAIL $name"; echo "  status=$rc stdout=[$out]"; echo "  stderr=[$err]"
  fi
}
matches() { printf '%s\n' "$1" | grep -Eq "$2"; }

probe mx1.example.test 25
check "DHCP, DNS and TCP to Postfix" [ $rc -eq 0 ]
check "Postfix greeting printed" matches "$out" '^220 mx1\.example\.test ESMTP Postfix'
addr=$(printf '%s\n' "$err" | sed -n 's/.* up as \([0-9.]*\)\/24 (DHCP).*/\1/p')
check "address leased from the lab pool" matches "$addr" '^192\.0\.2\.1[0-9][0-9]$'
check "Postfix saw the lwIP address" grep -q "connect from unknown\[$addr\]" "$LAB_STATE/log/postfix.log"

probe smtp.example.test 25
check "a CNAME resolves to its target" matches "$out" '^220 mx1\.example\.test '

probe mx2.example.test 25
check "the sink answers" [ $rc -eq 0 ]
check "sink greeting printed" matches "$out" '^220 mx2\.example\.test '

probe --ip 192.0.2.77/24 --dns "$LAB_DNS" mx1.example.test 25
check "static address" [ $rc -eq 0 ]
check "static address used" matches "$err" 'up as 192\.0\.2\.77/24 \(static\)'

probe nope.example.test 25
check "unknown name exits 68" [ $rc -eq 68 ]
check "unknown name is named" matches "$err" 'nope\.example\.test.*name not resolved'

probe mx1.example.test 26
check "closed port exits 69" [ $rc -eq 69 ]
check "refusal is reported" matches "$err" 'connection refused'

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
