#!/bin/bash
# The offline MTA-STS commands: output and exit status for good and bad input.
set -u
stsmail=$1
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pass=0 fail=0
check() {   # check NAME EXPECTED-STATUS EXPECTED-OUTPUT COMMAND...
  local name=$1 want_rc=$2 want_out=$3; shift 3
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ "$rc" = "$want_rc" ] && [ "$out" = "$want_out" ]; then pass=$((pass + 1)); echo "PASS $name"
  else fail=$((fail + 1)); echo "FAIL $name: status $rc, output [$out]"; fi
}
printf 'version: STSv1\r\nmode: enforce\r\nmx: mx1.example.test\r\nmx: *.example.test\r\nmax_age: 86400\r\n' > "$dir/good"
printf 'version: STSv1\nmode: enforce\nmx: 192.0.2.1\nmax_age: 86400\n' > "$dir/ip"
printf 'version: STSv1\nmode: enforce\nmax_age: 86400\n' > "$dir/nomx"

check "policy parse prints JSON" 0 '{"version":"STSv1","mode":"enforce","max_age":86400,"mx":["mx1.example.test","*.example.test"]}' \
  "$stsmail" policy parse "$dir/good"
check "policy parse names the line" 65 "$dir/ip:3: mx is not a host name in A-label form or '*.' and one" \
  "$stsmail" policy parse "$dir/ip"
check "policy parse: whole-policy errors are line 0" 65 "$dir/nomx:0: no mx (required unless mode is none)" \
  "$stsmail" policy parse "$dir/nomx"
check "policy match: wildcard, one label" 0 "" "$stsmail" policy match "$dir/good" mx9.example.test
check "policy match: two labels do not match" 1 "" "$stsmail" policy match "$dir/good" a.b.example.test
check "policy match on an invalid policy" 65 "$dir/nomx:0: no mx (required unless mode is none)" \
  "$stsmail" policy match "$dir/nomx" mx1.example.test
check "txt parse" 0 '{"id":"20261130T000000"}' "$stsmail" txt parse 'v=STSv1; id=20261130T000000;'
check "txt parse: bad id" 65 "invalid MTA-STS record: id must be 1 to 32 letters and digits" \
  "$stsmail" txt parse 'v=STSv1; id=2026-11-30'
check "txt parse: not a record" 65 "not an MTA-STS record: does not begin with v=STSv1" \
  "$stsmail" txt parse 'id=1; v=STSv1'
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
