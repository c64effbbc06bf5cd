#!/bin/bash
# Lab test (finding 7 and the SNTP floor): the firmware must not replay its random stream.
# Two boots from the same factory seed and the same flash store do exactly the same work
# (MTA-STS off, so both resolve the MX and deliver over STARTTLS to the lab's Postfix);
# the wire, captured on QEMU's TAP, must show different DNS query IDs and a different TLS
# ClientHello random. Before the fix the updated seed stayed in RAM and both boots sent
# the same bytes. Then a store whose device record holds a clock floor ten years ahead:
# the firmware refuses the lab NTP server's time as earlier than one it has seen.
set -u -o pipefail
elf=$1 state=$2
[ "$(id -u)" = 0 ] || { echo "SKIP: lab tests need root (network namespaces, TAP)"; exit 77; }
top=$(cd "$(dirname "$0")/../.." && pwd)
. "$(dirname "$0")/decode_log.sh"
. "$(dirname "$0")/footprint_check.sh"
. "$state/lab.env"
dir=$(mktemp -d "$state/seed-clock.XXXXXX")
dump_pid=""
cleanup() { [ -z "$dump_pid" ] || kill "$dump_pid" 2>/dev/null; }
trap cleanup EXIT
head -c 64 /dev/urandom > "$dir/seed.bin"
printf '{"mail": {"from": "alerts@fw.lab.test", "to": ["ops@example.test"]}, "mta_sts": {"enabled": false}}' \
  > "$dir/settings.json"

boot() {   # boot NAME [STORE]: runs the firmware while tcpdump records QEMU's TAP
  local name=$1 store=${2:-$dir/store.bin}
  ip netns exec "$LAB_NS" tcpdump -i "$LAB_TAP_QEMU" --immediate-mode -U -s 0 -w "$dir/$name.pcap" \
    'udp port 53 or tcp port 25' 2>"$dir/$name.tcpdump" &
  dump_pid=$!
  for _ in $(seq 50); do grep -q 'listening on' "$dir/$name.tcpdump" && break; sleep 0.1; done
  ip netns exec "$LAB_NS" "$top/toolchain/qemu-mps2.sh" --nic "$LAB_TAP_QEMU" --timeout 120 \
    --settings "$dir/settings.json" --seed "$dir/seed.bin" --trust "$LAB_TRUST_STORE" \
    --store "$store" "$elf" > "$dir/$name.out" 2>&1
  echo $? > "$dir/$name.rc"
  sleep 0.3   # the last segments reach the capture
  kill "$dump_pid"; wait "$dump_pid" 2>/dev/null; dump_pid=""
  tr -d '\r' < "$dir/$name.out" | decode
}

# What the firmware sent: the IDs of its DNS queries and the random of each ClientHello.
wire() {
  python3 - "$1" <<'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert struct.unpack("<I", data[:4])[0] == 0xa1b2c3d4, "not a little-endian pcap"
at, ids, randoms = 24, [], []
while at + 16 <= len(data):
    caplen = struct.unpack("<I", data[at + 8:at + 12])[0]
    frame = data[at + 16:at + 16 + caplen]
    at += 16 + caplen
    if len(frame) < 34 or frame[12:14] != b"\x08\x00":
        continue
    ip = frame[14:]
    ihl, proto, src = (ip[0] & 15) * 4, ip[9], ip[12:16]
    if src[:3] != bytes([192, 0, 2]) or not 100 <= src[3] <= 199:   # the device (DHCP pool)
        continue
    l4 = ip[ihl:]
    if proto == 17 and struct.unpack("!H", l4[2:4])[0] == 53 and len(l4) >= 12 and not l4[10] & 0x80:
        ids.append("%04x" % struct.unpack("!H", l4[8:10])[0])
    elif proto == 6:
        payload = l4[(l4[12] >> 4) * 4:]
        # TLS handshake record, first message a ClientHello: the random follows its
        # 4-byte header and 2-byte version. Its first 4 bytes may be the time (TLS 1.2).
        if len(payload) >= 43 and payload[0] == 0x16 and payload[1] == 3 and payload[5] == 1:
            randoms.append(payload[15:43].hex())
print("dns_ids", " ".join(ids))
print("client_randoms", " ".join(randoms))
PY
}

rm -f "$dir/store.bin"   # a new device: nothing in flash yet
out1=$(boot first)
out2=$(boot second)
printf '%s\n' "$out1"; echo "-- second boot, same factory seed, same flash"; printf '%s\n' "$out2"
w1=$(wire "$dir/first.pcap") w2=$(wire "$dir/second.pcap")
printf 'first boot on the wire:\n%s\nsecond boot on the wire:\n%s\n' "$w1" "$w2"
ids1=$(sed -n 's/^dns_ids //p' <<< "$w1") ids2=$(sed -n 's/^dns_ids //p' <<< "$w2")
r1=$(sed -n 's/^client_randoms //p' <<< "$w1") r2=$(sed -n 's/^client_randoms //p' <<< "$w2")

pass=0 fail=0
check() { if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $*"; fi; }
check [ "$(cat "$dir/first.rc")" = 0 ]
check [ "$(cat "$dir/second.rc")" = 0 ]
check grep -q '^random: factory seed (no device record yet)$' <<< "$out1"
check grep -q '^random: seed from the device record$' <<< "$out2"
check footprint_ok "$elf" "$out1"
check footprint_ok "$elf" "$out2"
check grep -Eq '^ops@example.test: delivered by mx1.example.test: 250 ' <<< "$out1"
check grep -Eq '^ops@example.test: delivered by mx1.example.test: 250 ' <<< "$out2"
# Both boots did the same work, so the old code sent the very same IDs and randoms.
# (One query may be all a boot needs: the MX answer's additional section gives the
# host's address, and the route asks no AAAA on an IPv4-only build.)
check [ "$(wc -w <<< "$ids1")" -ge 1 ]
check [ "$(wc -w <<< "$ids1")" = "$(wc -w <<< "$ids2")" ]
check [ -n "$r1" ]
check [ -n "$r2" ]
check [ "$ids1" != "$ids2" ]
first1=${ids1%% *} first2=${ids2%% *}
check [ "$first1" != "$first2" ]
check [ "${r1%% *}" != "${r2%% *}" ]
shared=$(comm -12 <(tr ' ' '\n' <<< "$ids1" | sort -u) <(tr ' ' '\n' <<< "$ids2" | sort -u) | wc -l)
check [ "$shared" -le 1 ]   # 16-bit IDs: a chance collision is possible, a replay is not

# A device record whose clock floor lies ten years ahead: the NTP time is refused.
python3 - "$dir/future-store.bin" <<'PY'
import os, struct, sys, time, zlib
store = bytearray(b"\xff" * 32 * 1024)   # mps2_an385.ld: the store is 32 KiB, erased
data = os.urandom(64) + struct.pack(">I", int(time.time()) + 10 * 365 * 86400)
seq_len = struct.pack(">II", 1, len(data))
record = struct.pack(">I", 0x53544652) + seq_len + struct.pack(">I", zlib.crc32(seq_len + data)) + data
store[:len(record)] = record   # slot 0 of the device record (stsm_flash_record.h)
open(sys.argv[1], "wb").write(store)
PY
out3=$(boot future "$dir/future-store.bin")
printf -- '-- a clock floor ten years ahead\n%s\n' "$out3"
check [ "$(cat "$dir/future.rc")" = 75 ]
check grep -q '^random: seed from the device record$' <<< "$out3"
check footprint_ok "$elf" "$out3"
check grep -Eq '^clock: NTP time .* is before .*, which this device has already seen: ignored$' <<< "$out3"
check grep -q "^the NTP server's time is not believable" <<< "$out3"
check bash -c '! grep -q "^clock set by NTP" <<< "$1"' _ "$out3"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ] || { echo "captures and outputs kept in $dir"; exit 1; }
rm -rf "$dir"
