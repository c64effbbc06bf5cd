#!/usr/bin/python3
"""Lab test: `stsmail dns` through lwIP over TAP against the lab's DNS servers: dnsmasq
(MX order, implicit and null MX, TXT, CNAMEs at MX targets, NXDOMAIN versus NODATA) and
the scripted responder (SERVFAIL, REFUSED, silence, truncation, spoofed replies, server
rotation); and nothing lost behind ARP: a cold `stsmail send` in MX mode asks the MX and
the _mta-sts TXT together before the MAC address of the DNS server is known, and both must
leave at once, each once, none waiting for the retry timer (tcpdump on the TAP interface).
Usage: test_dns.py STSMAIL LAB_STATE_DIR"""

import json
import os
import re
import subprocess

from dnslib import QTYPE, DNSRecord

import labtest
from labtest import check

SCRIPTED = "192.0.2.2"

stsmail, state, lab = labtest.start()
ns, tap, servers = lab["namespace"], lab["taps"]["host"], lab["servers"]


def dns(*args):
    """Runs stsmail dns in the lab; returns (exit status, parsed JSON or None, stderr)."""
    res = subprocess.run(["ip", "netns", "exec", ns, "timeout", "60", stsmail, "dns", "--tap", tap,
                          *args], capture_output=True, text=True)
    try:
        report = json.loads(res.stdout)
    except json.JSONDecodeError:
        report = None
    return res.returncode, report, res.stderr


def hosts(report):
    return [(h["name"], h["preference"], h["cname"], h["canonical_name"], h["addresses"])
            for h in report["hosts"]]


def responder_log():
    return (state / "log" / "dns-responder.log").read_text()


# --- dnsmasq, the DHCP-provided server -------------------------------------------------
rc, r, err = dns("mx", "example.test")
check("MX example.test: ordered hosts with addresses, through the DHCP-provided server",
      rc == 0 and r["server"] == "192.0.2.1" and r["mx"] == "list" and hosts(r) == [
          ("mx1.example.test", 10, False, "mx1.example.test", [servers["mx1.example.test"]]),
          ("mx2.example.test", 20, False, "mx2.example.test", [servers["mx2.example.test"]])],
      f"{rc} {r} {err}")

rc, r, err = dns("mx", "implicit.test")
check("no MX records: implicit MX is the domain itself",
      rc == 0 and r["mx"] == "implicit" and hosts(r) == [
          ("implicit.test", 0, False, "implicit.test", [servers["implicit.test"]])], f"{rc} {r}")

rc, r, err = dns("mx", "nullmx.test")
check("null MX reported, no hosts, exit 0", rc == 0 and r["mx"] == "null" and r["hosts"] == [],
      f"{rc} {r}")

rc, r, err = dns("mx", "nope.test")
check("MX of a missing domain: no_domain", rc == 0 and r["mx"] == "no_domain", f"{rc} {r}")

rc, r, err = dns("mx", "cname-mx.test")
check("MX target that is a CNAME: flagged, MX name kept, target's address",
      rc == 0 and hosts(r) == [("alias.cname-mx.test", 10, True, "mx1.example.test",
                                [servers["mx1.example.test"]])], f"{rc} {r}")

rc, r, err = dns("mx", "chain.test")
check("MX target behind a chain of two CNAMEs",
      rc == 0 and hosts(r) == [("mail.chain.test", 10, True, "mx2.example.test",
                                [servers["mx2.example.test"]])], f"{rc} {r}")

rc, r, err = dns("txt", "_mta-sts.example.test")
check("TXT record", rc == 0 and r["outcome"] == "answer" and
      r["records"] == ["v=STSv1; id=20261130T000000;"], f"{rc} {r}")

rc, r, err = dns("a", "smtp.example.test")
check("A through a CNAME shows the chain", rc == 0 and r["cname_chain"] == ["mx1.example.test"]
      and r["records"] == [servers["mx1.example.test"]], f"{rc} {r}")

rc, r, err = dns("a", "nope.example.test")
check("NXDOMAIN is an answer (exit 0)", rc == 0 and r["outcome"] == "nxdomain", f"{rc} {r}")

rc, r, err = dns("aaaa", "mx1.example.test")
check("NODATA is an answer (exit 0)", rc == 0 and r["outcome"] == "nodata", f"{rc} {r}")

# --- the scripted responder, asked directly --------------------------------------------
rc, r, err = dns("--dns", SCRIPTED, "a", "servfail.scripted.test")
check("SERVFAIL: temporary failure, exit 75", rc == 75 and r["status"] == "dns_server_failure"
      and r["last_error_rcode"] == 2, f"{rc} {r}")

rc, r, err = dns("--dns", SCRIPTED, "a", "refused.scripted.test")
check("REFUSED: temporary failure, exit 75", rc == 75 and r["last_error_rcode"] == 5, f"{rc} {r}")

rc, r, err = dns("--dns", SCRIPTED, "a", "silent.scripted.test")
tries = len(re.findall(r"udp .* silent\.scripted\.test\. A", responder_log()))
check("silent server: timeout after retries, exit 75",
      rc == 75 and r["status"] == "timeout" and tries == 4, f"{rc} {r} tries={tries}")

rc, r, err = dns("--dns", SCRIPTED, "a", "truncated.scripted.test")
log = responder_log()
check("truncated answer asked again over TCP",
      rc == 0 and r["records"] == ["192.0.2.94"] and
      re.search(r"tcp .* truncated\.scripted\.test\. A", log), f"{rc} {r}")

rc, r, err = dns("--dns", SCRIPTED, "txt", "truncated.scripted.test")
check("TXT only over TCP", rc == 0 and r["records"] == ["only over TCP"], f"{rc} {r}")

rc, r, err = dns("--dns", SCRIPTED, "a", "spoofed.scripted.test")
check("spoofed replies (wrong ID, wrong port, wrong question) are dropped",
      rc == 0 and r["records"] == ["192.0.2.99"], f"{rc} {r}")

rc, r, err = dns("--dns", SCRIPTED, "--dns", "192.0.2.1", "a", "mx1.example.test")
check("rotation: a server that refuses, then the next one answers",
      rc == 0 and r["server"] == "192.0.2.1" and r["records"] == [servers["mx1.example.test"]],
      f"{rc} {r}")

rc, r, err = dns("--dns", "192.0.2.9", "--dns", "192.0.2.1", "a", "mx1.example.test")
check("rotation: an unreachable server, then the next one answers",
      rc == 0 and r["server"] == "192.0.2.1", f"{rc} {r}")

# Only our device's queries (DHCP pool 192.0.2.100-199), not dnsmasq's forwarded ones.
queries = re.findall(r"udp \('192\.0\.2\.1\d\d', (\d+)\) id=(\d+) ", responder_log())
ports = {int(p) for p, _ in queries}
ids = {int(i) for _, i in queries}
check("queries come from random high ports with random IDs",
      len(queries) >= 8 and len(ports) >= 6 and len(ids) >= 6 and min(ports) >= 49152,
      f"{len(queries)} queries, ports {sorted(ports)}, ids {sorted(ids)}")

# --- nothing lost behind ARP ------------------------------------------------------------
def dns_on_wire(run):
    """Runs run() under tcpdump on the TAP interface; returns its result and the DNS
    datagrams seen, as (seconds, "query" or "answer", id, name, type)."""
    with labtest.capture(ns, tap, "udp port 53", state / f"dns-arp-{os.getpid()}.pcap") as cap:
        result = run()
    data = cap.data
    seen = []
    for t, payload in labtest.udp_payloads(data):
        try:
            msg = DNSRecord.parse(payload)
        except Exception:
            continue
        q = msg.questions[0] if msg.questions else None
        seen.append((t, "answer" if msg.header.qr else "query", msg.header.id,
                     str(q.qname).rstrip(".").lower() if q else "", QTYPE.get(q.qtype) if q else ""))
    return result, seen


mx_settings = state / f"dns-arp-{os.getpid()}.json"
mx_settings.write_text(json.dumps({
    "device": {"ehlo_name": "printer.lab.test"}, "network": {"interface": tap},
    "mail": {"from": "alerts@printer.lab.test", "to": ["ops@example.test"]},
    "delivery": {"mode": "mx"}, "tls": {"trust_store": lab["trust_store"]}}))
(rc, out, err), seen = dns_on_wire(lambda: (lambda r: (r.returncode, r.stdout, r.stderr))(
    subprocess.run(["ip", "netns", "exec", ns, "timeout", "60", stsmail, "send", "--settings",
                    str(mx_settings), "--subject", "cold ARP"], input="toner low\n",
                   capture_output=True, text=True)))
mx_settings.unlink(missing_ok=True)
queries = [s for s in seen if s[1] == "query"]
t0 = queries[0][0] if queries else 0.0
timeline = "\n  ".join(f"{(t - t0) * 1000:7.1f} ms {kind:6} {typ:4} {name}" for t, kind, _, name, typ in seen)
check("cold MX send: delivered", rc == 0 and "delivered by" in out, f"{rc}\n{out}{err}")
burst = {}
for want in (("MX", "example.test"), ("TXT", "_mta-sts.example.test")):
    asked = [q for q in queries if (q[4], q[3]) == want]
    answered = [s for s in seen if s[1] == "answer" and (s[4], s[3]) == want]
    burst[want] = (asked, answered)
check("cold start: MX and _mta-sts TXT each asked once, both on the wire within 200 ms, "
      "answered within 500 ms (none behind ARP or the 1 s retry)",
      all(len(a) == 1 and a[0][0] - t0 < 0.2 and len(r) == 1 and r[0][0] - t0 < 0.5
          for a, r in burst.values()), f"DNS on the wire:\n  {timeline}")
questions = [(q[4], q[3]) for q in queries]
check("no DNS question asked twice during the delivery (no retry)",
      len(questions) >= 2 and len(set(questions)) == len(questions), f"DNS on the wire:\n  {timeline}")
print(f"DNS on the wire in a cold MX send:\n  {timeline}")

labtest.finish()
