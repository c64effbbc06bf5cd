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
and type on (a domain that changed its MX or its policy host). "absent": true makes a
record not exist (so "then": {"absent": true} is a record that disappears, and the reverse
one that appears from the second query on).
A record may carry "forge": replies an off-path attacker sends to the querying client
before (or instead of) the real answer, each carrying the record "forge.answer" (fields
like a record's; default an A record 192.0.2.66):
  kinds     any of "address" (right ID, port and question, but from 192.0.2.3, a source
            address forged with a raw socket), "other_server" (the same from 192.0.2.1:53,
            the lab's other DNS server, which the client did not ask), "port" (from our
            address, another port), "id" (a wrong ID), "question" (the right ID for another
            name), "qtype" (the right ID and name, another query type); default address,
            port, id and question
  count     how many replies of each kind (a flood; "id" replies use distinct wrong IDs)
  real      false: the real answer is never sent (the client must time out)
  delay_s   how long after the forged replies the real answer leaves (default 0.2)
An A record may give "server" instead of "address": the address labctl gave that lab
server (read from --lab-json).
Names outside its zones get REFUSED; names in them without records get NXDOMAIN; a name
with records of other types gets NODATA.
"""

import argparse
import json
import random
import socket
import struct
import socketserver
import sys
import threading
import time
from pathlib import Path

from dnslib import AAAA, CNAME, MX, QTYPE, RCODE, RR, TXT, A, DNSRecord

SPOOF_ADDRESSES = ("192.0.2.66", "192.0.2.67", "192.0.2.68")
FORGED_SOURCE = "192.0.2.3"   # no lab host has it: only a raw socket can send from it
OTHER_SERVER = "192.0.2.1"    # dnsmasq's address (its port 53 is taken: a raw socket again)


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


def current(rec, asked):
    """The record as the asked-th query of its name and type sees it."""
    return {**rec, **rec["then"]} if asked > 1 and "then" in rec else rec


def forging(zone, request):
    """The "forge" declaration of the record asked for, or None."""
    q = request.q
    name = str(q.qname).rstrip(".").lower()
    for rec in zone.lookup(name):
        if "forge" in rec and (rec["type"] == QTYPE[q.qtype] or rec["type"] == "CNAME"):
            return rec["forge"]
    return None


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
    key = (name, q.qtype)
    asked = zone.asked[key] = zone.asked.get(key, 0) + 1
    records = [r for r in zone.lookup(name) if not current(r, asked).get("absent")]
    if not records:
        reply.header.rcode = RCODE.NXDOMAIN
        return reply, None
    behaviour = next((r["behaviour"] for r in records if r.get("behaviour")), None)
    if behaviour == "first_only" and asked > 1:
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
        rec = current(rec, asked)
        if rec["type"] == "CNAME" or QTYPE[q.qtype] == rec["type"]:
            qtype, data = rdata(rec, asked)
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


def udp_checksum(src, dst, segment):
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, len(segment))
    data = pseudo + segment + (b"\0" if len(segment) % 2 else b"")
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return (~total & 0xFFFF) or 0xFFFF


def send_from(src, sport, dst, dport, payload):
    """Sends one UDP datagram with a forged source address (raw socket, IP_HDRINCL; the
    kernel fills in the IP header's length, ID and checksum)."""
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    udp = udp[:6] + struct.pack("!H", udp_checksum(src, dst, udp)) + udp[8:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW) as s:
        s.sendto(ip + udp, (dst, 0))


def forged_reply(request, forge, qname=None, qid=None, qtype=None):
    """A reply to `request` (or to the same ID for another name or type) carrying the
    attacker's record."""
    q = request.q
    if qname is not None or qtype is not None:
        other = DNSRecord.question(qname or str(q.qname), qtype or QTYPE[q.qtype])
        other.header.id = request.header.id
        reply = other.reply()
    else:
        reply = request.reply()
    if qid is not None:
        reply.header.id = qid
    rec = dict(forge.get("answer", {"type": "A", "address": SPOOF_ADDRESSES[0]}))
    qtype, data = rdata(rec)
    reply.add_answer(RR(reply.q.qname, qtype, rdata=data, ttl=300))
    return reply.pack()


def forge_replies(sock, request, client, zone_addr, forge):
    """Sends the attacker's replies of a "forge" declaration; returns how many."""
    kinds = forge.get("kinds", ["address", "port", "id", "question"])
    count = int(forge.get("count", 1))
    sent = 0
    wrong_ids = random.sample([i for i in range(0x10000) if i != request.header.id], count)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other_port:
        other_port.bind((zone_addr, 0))
        for n in range(count):
            for kind in kinds:
                if kind in ("address", "other_server"):
                    source = FORGED_SOURCE if kind == "address" else OTHER_SERVER
                    send_from(source, 53, client[0], client[1], forged_reply(request, forge))
                elif kind == "port":
                    other_port.sendto(forged_reply(request, forge), client)
                elif kind == "id":
                    sock.sendto(forged_reply(request, forge, qid=wrong_ids[n]), client)
                elif kind == "question":
                    name = f"x{n}." + str(request.q.qname).rstrip(".")
                    sock.sendto(forged_reply(request, forge, qname=name), client)
                elif kind == "qtype":
                    other = "AAAA" if QTYPE[request.q.qtype] != "AAAA" else "A"
                    sock.sendto(forged_reply(request, forge, qtype=other), client)
                else:
                    raise ValueError(f"unknown forge kind {kind}")
                sent += 1
    return sent


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
            forge = forging(zone, request)
            if forge is not None:
                sent = forge_replies(sock, request, self.client_address, args.listen, forge)
                log(f"udp {self.client_address} id={request.header.id}: {sent} forged replies sent, "
                    f"real answer {'follows' if forge.get('real', True) else 'withheld'}")
                if not forge.get("real", True):
                    return
                time.sleep(float(forge.get("delay_s", 0.2)))
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
