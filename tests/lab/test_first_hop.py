#!/usr/bin/python3
"""Lab test: the first hop's ARP answer lost at start-up costs milliseconds, not lwIP's 1 s
ARP timer (issue 12). Right after stsmail attaches to its TAP the kernel may not have
activated the device's queue yet and drops its ARP reply; lwIP used to ask again only at
its 1 s ARP timer, with the start-up's DNS queries queued behind the answer. Here the lab
drops the first ARP request for the DNS server from this test's static address (an nft
rule in the lab's namespace), and the first DNS query must still leave within 250 ms of
that request (tcpdump on the TAP interface).
Usage: test_first_hop.py STSMAIL LAB_STATE_DIR"""

import json
import os
import struct
import subprocess

import labtest
from labtest import check

stsmail, state, lab = labtest.start()
ns, tap, dns = lab["namespace"], lab["taps"]["host"], lab["dns"]
ADDRESS = "192.0.2.152"              # this test's own: the drop rule matches it alone
TABLE = f"stsm_first_hop_{os.getpid()}"


def nft(*args):
    return subprocess.run(["ip", "netns", "exec", ns, "nft", *args], capture_output=True, text=True)


def wire(pcap):
    """(seconds, "arp", target IP) of each ARP request and (seconds, "dns", "") of each UDP
    datagram to port 53 from ADDRESS, in a pcap tcpdump -w wrote from an Ethernet TAP."""
    out, at = [], 24
    me = bytes(map(int, ADDRESS.split(".")))
    while at + 16 <= len(pcap):
        sec, usec, caplen = struct.unpack_from("<III", pcap, at)
        f = pcap[at + 16:at + 16 + caplen]
        at += 16 + caplen
        t = sec + usec / 1e6
        if len(f) >= 42 and f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x01" and f[28:32] == me:
            out.append((t, "arp", ".".join(map(str, f[38:42]))))
        elif len(f) >= 42 and f[12:14] == b"\x08\x00" and f[23] == 17 and f[26:30] == me:
            udp = 14 + (f[14] & 0x0F) * 4
            if struct.unpack_from("!H", f, udp + 2)[0] == 53:
                out.append((t, "dns", ""))
    return out


settings = state / f"first-hop-{os.getpid()}.json"
settings.write_text(json.dumps({
    "device": {"ehlo_name": "printer.lab.test"},
    "network": {"interface": tap, "address": f"{ADDRESS}/24", "dns": [dns]},
    "mail": {"from": "alerts@printer.lab.test", "to": ["ops@example.test"]},
    "delivery": {"mode": "mx"}, "tls": {"trust_store": lab["trust_store"]}}))

# The first ARP request from ADDRESS for the DNS server is dropped; later ones pass (the
# quota is spent by the first 28-byte request).
setup = subprocess.run(
    ["ip", "netns", "exec", ns, "nft", "-f", "-"], text=True, capture_output=True,
    input=f"table arp {TABLE} {{\n chain input {{ type filter hook input priority 0; policy accept;\n"
          f"  arp operation request arp saddr ip {ADDRESS} arp daddr ip {dns} quota until 40 bytes drop\n }}\n}}\n")
check("the lab drops the first ARP request (nft)", setup.returncode == 0, setup.stderr.strip())

try:
    with labtest.capture(ns, tap, "arp or udp port 53", state / f"first-hop-{os.getpid()}.pcap") as cap:
        res = subprocess.run(["ip", "netns", "exec", ns, "timeout", "60", stsmail, "send", "--settings",
                              str(settings), "--subject", "first hop"], input="toner low\n",
                             capture_output=True, text=True)
finally:
    nft("delete", "table", "arp", TABLE)
    settings.unlink(missing_ok=True)
seen = wire(cap.data)

check("delivered", res.returncode == 0, f"exit {res.returncode}: {res.stdout[-300:]} {res.stderr[-500:]}")
asks = [t for t, kind, target in seen if kind == "arp" and target == dns]
queries = [t for t, kind, _ in seen if kind == "dns"]
check("the first ARP request went unanswered and was asked again", len(asks) >= 2, f"{len(asks)} requests")
gap = (queries[0] - asks[0]) * 1000 if asks and queries else None
check("the first DNS query left within 250 ms of the first ARP request",
      gap is not None and gap < 250, f"{gap if gap is None else round(gap)} ms (lwIP's ARP timer: up to 1000)")
print(f"first ARP request to first DNS query: {gap if gap is None else round(gap, 1)} ms, "
      f"{len(asks)} ARP requests")
labtest.finish()
