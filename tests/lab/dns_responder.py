#!/usr/bin/python3
"""Scripted DNS server for the lab (Debian's python3-dnslib), for the behaviours a real
server cannot be told to show: SERVFAIL, REFUSED, silence, truncation, spoofed replies.

It serves the lab domains declared with "dns": "scripted" (dnsmasq forwards those zones
here, and tests may also ask it directly). Each record may carry a "behaviour":
  servfail, refused   answer with that error code
  silent              never answer
  truncate_udp        over UDP answer with TC set and no records; over TCP answer fully
  spoof_first         before the real answer, send three that a careful client must
                      drop: a wrong ID, the right ID from another source port, and the
                      right ID with another question name (addresses 192.0.2.66-68)
  rotate              (TXT) "{n}" in the strings becomes how many times the name was asked,
                      so each query sees a new MTA-STS id
  first_only          answer the first query, then SERVFAIL (a server that went away)
A record may hold "then": fields that replace its own from the second query of that name
and type on (a domain that changed its MX or its policy host).
An A record may give "server" instead of "address": the address labctl gave that lab
server (read from --lab-json).
Names outside its zones get REFUSED; names in them without records get NXDOMAIN; a name
with records of other types gets NODATA.
"""

import argparse
import json
import socket
import socketserver
import sys
import threading
import time
from pathlib import Path

from dnslib import AAAA, CNAME, MX, QTYPE, RCODE, RR, TXT, A, DNSRecord

SPOOF_ADDRESSES = ("192.0.2.66", "192.0.2.67", "192.0.2.68")


class Zone:
    def __init__(self, domains_dir, servers):
        self.zones, self.records = [], []
        self.asked = {}
        for path in sorted(Path(domains_dir).glob("*.json")):
            decl = json.loads(path.read_text())
            if decl.get("dns") != "scripted":
                continue
            self.zones.append(decl["domain"].lower())
            for rec in decl["records"]:
                rec = dict(rec)
                rec.setdefault("name", decl["domain"])
                for r in (rec, rec.get("then", {})):
                    if "server" in r:
                        r["address"] = servers[r["server"]]
                self.records.append(rec)

    def in_zone(self, name):
        return any(name == z or name.endswith("." + z) for z in self.zones)

    def lookup(self, name):
        return [r for r in self.records if r["name"].lower() == name]


def rdata(rec, count=1):
    t = rec["type"]
    if t == "A":
        return QTYPE.A, A(rec["address"])
    if t == "AAAA":
        return QTYPE.AAAA, AAAA(rec["address"])
    if t == "MX":
        return QTYPE.MX, MX(rec["exchange"] or ".", rec["preference"])
    if t == "TXT":
        return QTYPE.TXT, TXT([x.replace("{n}", str(count)) for x in rec["strings"]])
    if t == "CNAME":
        return QTYPE.CNAME, CNAME(rec["target"])
    raise ValueError(f"unsupported type {t}")


def answer(zone, request, transport):
    """Returns (reply or None, behaviour) for one request."""
    reply = request.reply()
    q = request.q
    name = str(q.qname).rstrip(".").lower()
    if not zone.in_zone(name):
        reply.header.rcode = RCODE.REFUSED
        return reply, None
    records = zone.lookup(name)
    if not records:
        reply.header.rcode = RCODE.NXDOMAIN
        return reply, None
    behaviour = next((r["behaviour"] for r in records if r.get("behaviour")), None)
    key = (name, q.qtype)
    zone.asked[key] = zone.asked.get(key, 0) + 1
    if behaviour == "first_only" and zone.asked[key] > 1:
        reply.header.rcode = RCODE.SERVFAIL
        return reply, behaviour
    if behaviour == "silent":
        return None, behaviour
    if behaviour in ("servfail", "refused"):
        reply.header.rcode = RCODE.SERVFAIL if behaviour == "servfail" else RCODE.REFUSED
        return reply, behaviour
    if behaviour == "truncate_udp" and transport == "udp":
        reply.header.tc = 1
        return reply, behaviour
    for rec in records:
        if zone.asked[key] > 1 and "then" in rec:
            rec = {**rec, **rec["then"]}
        if rec["type"] == "CNAME" or QTYPE[q.qtype] == rec["type"]:
            qtype, data = rdata(rec, zone.asked[key])
            reply.add_answer(RR(q.qname, qtype, rdata=data, ttl=300))
    return reply, behaviour


def log(msg):
    print(f"{time.strftime('%H:%M:%S')} {msg}", flush=True)


def spoof(sock, request, client, zone_addr):
    """Three replies a client must not accept, sent before the real one."""
    q = request.q
    wrong_id = request.reply()
    wrong_id.header.id = (request.header.id + 1) & 0xFFFF
    wrong_id.add_answer(RR(q.qname, QTYPE.A, rdata=A(SPOOF_ADDRESSES[0]), ttl=300))
    sock.sendto(wrong_id.pack(), client)
    other_port = request.reply()
    other_port.add_answer(RR(q.qname, QTYPE.A, rdata=A(SPOOF_ADDRESSES[1]), ttl=300))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((zone_addr, 0))
        s.sendto(other_port.pack(), client)
    other_name = DNSRecord.question("other." + str(q.qname).rstrip("."), QTYPE[q.qtype])
    other_name.header.id = request.header.id
    other_name = other_name.reply()
    other_name.add_answer(RR(other_name.q.qname, QTYPE.A, rdata=A(SPOOF_ADDRESSES[2]), ttl=300))
    sock.sendto(other_name.pack(), client)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", required=True)
    ap.add_argument("--domains", required=True, help="directory of lab domain declarations")
    ap.add_argument("--lab-json", required=True, help="the lab's lab.json (server addresses)")
    args = ap.parse_args()
    zone = Zone(args.domains, json.loads(Path(args.lab_json).read_text())["servers"])

    class Udp(socketserver.BaseRequestHandler):
        def handle(self):
            data, sock = self.request
            try:
                request = DNSRecord.parse(data)
            except Exception as e:  # a test may send garbage on purpose
                log(f"udp {self.client_address}: unparsable query: {e}")
                return
            reply, behaviour = answer(zone, request, "udp")
            log(f"udp {self.client_address} id={request.header.id} {request.q.qname} {QTYPE[request.q.qtype]} "
                f"behaviour={behaviour} reply={'none' if reply is None else RCODE[reply.header.rcode]}")
            if reply is None:
                return
            if behaviour == "spoof_first":
                spoof(sock, request, self.client_address, args.listen)
            sock.sendto(reply.pack(), self.client_address)

    class Tcp(socketserver.BaseRequestHandler):
        def handle(self):
            conn = self.request
            conn.settimeout(5)
            try:
                head = conn.recv(2)
                want = int.from_bytes(head, "big") if len(head) == 2 else 0
                data = b""
                while len(data) < want:
                    chunk = conn.recv(want - len(data))
                    if not chunk:
                        return
                    data += chunk
                request = DNSRecord.parse(data)
            except Exception as e:
                log(f"tcp {self.client_address}: bad query: {e}")
                return
            reply, behaviour = answer(zone, request, "tcp")
            log(f"tcp {self.client_address} {request.q.qname} {QTYPE[request.q.qtype]} "
                f"behaviour={behaviour} reply={'none' if reply is None else RCODE[reply.header.rcode]}")
            if reply is not None:
                packed = reply.pack()
                conn.sendall(len(packed).to_bytes(2, "big") + packed)

    socketserver.ThreadingUDPServer.allow_reuse_address = True
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    udp = socketserver.ThreadingUDPServer((args.listen, 53), Udp)
    tcp = socketserver.ThreadingTCPServer((args.listen, 53), Tcp)
    threading.Thread(target=tcp.serve_forever, daemon=True).start()
    log(f"listening {args.listen}:53 for {', '.join(zone.zones)}")
    udp.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
