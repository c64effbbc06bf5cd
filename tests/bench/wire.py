"""What the speed bench reads from its captures (tcpdump -w on the client end of the veth):
packets and bytes, TCP connections per server port, and a per-phase timeline of one
delivery (DNS, policy fetch, TCP, greeting, EHLO, STARTTLS, TLS, AUTH, transaction).

The capture point is the client's veth. Outgoing packets are seen when the client sends
them; incoming ones BEFORE the client's ingress delay line holds them, so their times are
moved by `delay_s` to when the client gets them."""

import struct
from dataclasses import dataclass, field

CLIENT_NETS = ("198.51.100.", "203.0.113.")
SMTP_PORTS = (25, 465, 587)


@dataclass
class Pkt:
    t: float              # client's view (incoming moved by the delay)
    out: bool             # sent by the client
    length: int           # frame bytes
    proto: str = ""       # "tcp", "udp" or "" (not IPv4 TCP/UDP)
    src: str = ""
    dst: str = ""
    sport: int = 0
    dport: int = 0
    flags: int = 0
    seq: int = 0
    payload: bytes = b""


def read_pcap(path, delay_s):
    """Every frame of a pcap file (Ethernet) as a Pkt, in time order."""
    data = open(path, "rb").read()
    if len(data) < 24:
        return []
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xa1b2c3d4, 0xa1b23c4d):
        end = "<"
    else:
        end = ">"
        magic = struct.unpack(">I", data[:4])[0]
    nano = magic == 0xa1b23c4d
    linktype = struct.unpack(end + "I", data[20:24])[0]
    pkts, at = [], 24
    while at + 16 <= len(data):
        sec, frac, incl, orig = struct.unpack(end + "IIII", data[at:at + 16])
        frame = data[at + 16:at + 16 + incl]
        at += 16 + incl
        t = sec + frac / (1e9 if nano else 1e6)
        pkts.append(_parse(frame, t, orig, linktype, delay_s))
    pkts.sort(key=lambda p: p.t)
    return pkts


def _parse(frame, t, orig, linktype, delay_s):
    if linktype == 1:          # Ethernet
        if len(frame) < 14 or frame[12:14] != b"\x08\x00":
            return Pkt(t, True, orig)
        ip = frame[14:]
    elif linktype == 113:      # Linux cooked (-i any)
        if len(frame) < 16 or frame[14:16] != b"\x08\x00":
            return Pkt(t, True, orig)
        ip = frame[16:]
    else:
        return Pkt(t, True, orig)
    if len(ip) < 20 or ip[0] >> 4 != 4:
        return Pkt(t, True, orig)
    ihl = (ip[0] & 15) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    src = ".".join(map(str, ip[12:16]))
    dst = ".".join(map(str, ip[16:20]))
    out = src.startswith(CLIENT_NETS)
    p = Pkt(t if out else t + delay_s, out, orig, src=src, dst=dst)
    body = ip[ihl:total]
    if ip[9] == 6 and len(body) >= 20:
        p.proto = "tcp"
        p.sport, p.dport, p.seq = struct.unpack("!HHI", body[:8])
        off = (body[12] >> 4) * 4
        p.flags = body[13]
        p.payload = body[off:]
    elif ip[9] == 17 and len(body) >= 8:
        p.proto = "udp"
        p.sport, p.dport = struct.unpack("!HH", body[:4])
        p.payload = body[8:]
    return p


def totals(pkts):
    return {"packets": len(pkts), "bytes": sum(p.length for p in pkts)}


SYN, ACK, FIN, RST = 0x02, 0x10, 0x01, 0x04


@dataclass
class Conn:
    client: tuple
    server: tuple
    syn: float = None
    synack: float = None
    # (time, bytes) per direction, in stream order, retransmissions dropped
    up: list = field(default_factory=list)
    down: list = field(default_factory=list)
    end: float = None


def tcp_conns(pkts):
    """TCP connections opened in the capture (by a SYN from the client), in start order."""
    conns, by_key, next_seq = [], {}, {}
    for p in pkts:
        if p.proto != "tcp":
            continue
        key = (p.src, p.sport, p.dst, p.dport) if p.out else (p.dst, p.dport, p.src, p.sport)
        if p.out and p.flags & SYN and not p.flags & ACK:
            c = Conn((p.src, p.sport), (p.dst, p.dport), syn=p.t)
            conns.append(c)
            by_key[key] = c
            next_seq[(key, True)] = (p.seq + 1) & 0xffffffff
            continue
        c = by_key.get(key)
        if c is None:
            continue
        if not p.out and p.flags & SYN and p.flags & ACK:
            c.synack = c.synack or p.t
            next_seq[(key, False)] = (p.seq + 1) & 0xffffffff
            continue
        if p.flags & (FIN | RST):
            c.end = c.end or p.t
        if p.payload:
            want = next_seq.get((key, p.out))
            if want is not None and ((p.seq - want) & 0xffffffff) > 0x7fffffff:
                continue       # a retransmission of bytes already counted
            (c.up if p.out else c.down).append((p.t, p.payload))
            next_seq[(key, p.out)] = (p.seq + len(p.payload)) & 0xffffffff
    return conns


def dns_exchanges(pkts):
    """(t_query, t_answer or None, qtype) for every DNS query the client sent over UDP."""
    queries, out = {}, []
    for p in pkts:
        if p.proto != "udp" or 53 not in (p.sport, p.dport) or len(p.payload) < 12:
            continue
        qid = p.payload[:2]
        qtype = _qtype(p.payload)
        if p.out and p.dport == 53:
            rec = [p.t, None, qtype]
            out.append(rec)
            queries[(p.sport, qid)] = rec
        elif not p.out and p.sport == 53:
            rec = queries.get((p.dport, qid))
            if rec and rec[1] is None:
                rec[1] = p.t
    return [tuple(r) for r in out]


QTYPES = {1: "A", 28: "AAAA", 15: "MX", 16: "TXT", 5: "CNAME"}


def _qtype(msg):
    at = 12
    while at < len(msg) and msg[at] != 0:
        if msg[at] & 0xc0:
            at += 1
            break
        at += msg[at] + 1
    at += 1
    if at + 2 > len(msg):
        return "?"
    return QTYPES.get(struct.unpack("!H", msg[at:at + 2])[0], "?")


def _records(chunks):
    """TLS records in a direction's stream: (time of the segment holding the record's
    first byte, content type, handshake type or None, record body's first bytes)."""
    stream, times = b"", []
    for t, b in chunks:
        times.append((len(stream), t))
        stream += b
    out, at = [], 0

    def time_at(off):
        t0 = times[0][1]
        for start, t in times:
            if start > off:
                break
            t0 = t
        return t0
    while at + 5 <= len(stream):
        ctype = stream[at]
        if ctype not in (20, 21, 22, 23):
            break
        length = struct.unpack("!H", stream[at + 3:at + 5])[0]
        body = stream[at + 5:at + 5 + length]
        out.append((time_at(at), ctype, body[0] if ctype == 22 and body else None, body[:200]))
        at += 5 + length
    return out


def _tls13(server_hello_body):
    """True when a ServerHello selects TLS 1.3 (supported_versions 0x0304)."""
    b = server_hello_body
    try:
        at = 4 + 2 + 32
        at += 1 + b[at]               # session id
        at += 2 + 1                   # cipher suite, compression
        ext_len = struct.unpack("!H", b[at:at + 2])[0]
        at += 2
        end = at + ext_len
        while at + 4 <= end and at + 4 <= len(b):
            etype, elen = struct.unpack("!HH", b[at:at + 4])
            if etype == 43 and elen == 2:
                return b[at + 4:at + 6] == b"\x03\x04"
            at += 4 + elen
    except (IndexError, struct.error):
        pass
    return False


def tls_phase(up, down):
    """(start, end, version) of the TLS handshake in these chunk lists (the streams as
    they start at the ClientHello), or None. The handshake ends for the client when it
    has both sent its Finished and seen the server's: TLS 1.3 at its first encrypted
    record; TLS 1.2 at the later of the two ChangeCipherSpec records."""
    ur, dr = _records(up), _records(down)
    if not ur or ur[0][1] != 22:
        return None
    start = ur[0][0]
    hello = next((r for r in dr if r[1] == 22 and r[2] == 2), None)
    if hello is None:
        return None
    if _tls13(hello[3]):
        fin = next((r[0] for r in ur if r[1] == 23), None)
        return (start, fin, "1.3") if fin else None
    ccs_up = next((r[0] for r in ur if r[1] == 20), None)
    ccs_down = next((r[0] for r in dr if r[1] == 20), None)
    if ccs_up is None or ccs_down is None:
        return None
    return start, max(ccs_up, ccs_down), "1.2"


def _turns(up, down):
    """Client bursts and the first server data after each: [(t_sent, t_answered)]. A
    burst is what the client sends before the server's next data."""
    turns = []
    for t, _ in up:
        if turns and (turns[-1][1] is None or t < turns[-1][1]):
            continue
        turns.append((t, next((d for d, _ in down if d > t), None)))
    return turns


def smtp_phases(c, auth):
    """[(phase, start, end)] of one SMTP connection (server speaks first)."""
    out = []
    if c.synack:
        out.append(("TCP", c.syn, c.synack))
    if not c.down:
        return out
    greet = c.down[0][0]
    out.append(("greeting", c.synack or c.syn, greet))
    # Plaintext commands up to STARTTLS, matched to the first server data after each.
    starttls_reply = None
    plain_up = []
    for t, b in c.up:
        if b[:1] == b"\x16":
            break
        plain_up.append((t, b))
    for t, b in plain_up:
        answer = next((d for d, _ in c.down if d > t), None)
        word = b.split(None, 1)[0].upper().decode(errors="replace") if b.strip() else "?"
        name = {"EHLO": "EHLO", "HELO": "EHLO", "STARTTLS": "STARTTLS"}.get(word, "transaction")
        out.append((name, t, answer))
        if name == "STARTTLS":
            starttls_reply = answer
    implicit = not plain_up and c.up and c.up[0][1][:1] == b"\x16"
    if starttls_reply is None and not implicit:
        return out
    first = next((i for i, (_, b) in enumerate(c.up) if b[:1] == b"\x16"), None)
    if first is None:
        return out
    up_tls = c.up[first:]
    down_tls = [x for x in c.down if x[0] > (starttls_reply or 0)]
    tls = tls_phase(up_tls, down_tls)
    if tls is None:
        return out
    out.append((f"TLS {tls[2]}", tls[0], tls[1]))
    # TLS 1.3: the client's Finished may share a segment with its first command.
    after_up = [x for x in up_tls if x[0] >= tls[1]]
    after_down = [x for x in down_tls if x[0] > tls[1]]
    turns = _turns(after_up, after_down)
    names = ["EHLO", "AUTH"] if auth else ["EHLO"]
    rest = []
    for i, (t0, t1) in enumerate(turns):
        if i < len(names):
            out.append((names[i], t0, t1 or t0))
        else:
            rest.append((t0, t1 or t0))
    if rest:
        out.append(("transaction", rest[0][0], max(t for _, t in rest)))
    return out


def https_phases(c):
    out = []
    if c.synack:
        out.append(("policy TCP", c.syn, c.synack))
    tls = tls_phase(c.up, c.down)
    if tls:
        out.append(("policy TLS", tls[0], tls[1]))
        last = max((t for t, _ in c.down), default=tls[1])
        out.append(("policy HTTP", tls[1], last))
    return out


def timeline(pkts, auth=False):
    """[(phase, start, end)] of everything in a capture, in client time."""
    out = [("DNS", q, a if a else q) for q, a, _ in dns_exchanges(pkts)]
    for c in tcp_conns(pkts):
        port = c.server[1]
        if port == 443:
            out += https_phases(c)
        elif port in SMTP_PORTS:
            out += smtp_phases(c, auth)
        elif port == 53:
            out.append(("DNS", c.syn, c.end or c.syn))
    # A phase whose end the capture does not show (no answer) is left out.
    return sorted((x for x in out if x[1] is not None and x[2] is not None), key=lambda x: x[1])


def connections(pkts, ports=SMTP_PORTS):
    """How many TCP connections the client opened to these server ports."""
    return sum(1 for c in tcp_conns(pkts) if c.server[1] in ports)
