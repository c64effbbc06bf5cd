#!/bin/bash
# The firmware validates provisioned settings exactly as the host does (same code, same
# messages) and refuses to use the network without an entropy seed. NIC unplugged.
set -u -o pipefail
elf=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
pass=0 fail=0
run() {   # run NAME EXPECTED-STATUS EXPECTED-LINE LOADS...
  local name=$1 want_rc=$2 want=$3; shift 3
  local out rc
  out=$("$top/toolchain/qemu-mps2.sh" --nic none --timeout 30 "$@" "$elf" 2>/dev/null | tr -d '\r'); rc=$?
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
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
