#!/usr/bin/python3
"""Hostile SMTP server for the lab (test_hostile_smtp.py).

Binds port 25 of an MX address and misbehaves in the way the client's address asks (the
test gives every device its own static address), so the scenarios of one test run side by
side. Apart from its one misbehaviour it is an ordinary minimal SMTP server without
STARTTLS: it accepts any sender, recipient and message and stores nothing.

  honest               no misbehaviour (the control)
  no_crlf_stream       a greeting that never ends: bytes without CR or LF, forever
  no_crlf_stall        a greeting line without CRLF, then silence
  huge_reply           a 10 MB multi-line greeting (1 KiB lines), sent as fast as it is read
  many_continuations   an EHLO reply of 5000 continuation lines
  nul_bytes            NUL bytes inside the greeting line
  slowloris_greeting   a multi-line greeting sent one byte every --trickle seconds, forever
  slowloris_data_end   the reply to the end of the message, one byte every --trickle seconds
  code_199, code_600, code_999, code_abc
                       MAIL FROM answered with that code (outside 200-599)
  data_before_greeting two unsolicited 250 replies before the 220 greeting
  rst_mid_data         a TCP reset (SO_LINGER 0) after the first KiB of the message

Every line the client sends and every event is logged as one JSON object per line in
LOG_DIR/<client address>.jsonl. --config is a JSON object {"<client address>": "<behaviour>"};
other clients are refused.
"""

import json
import socket
import struct
import sys
import time
from pathlib import Path

import per_client_server
from per_client_server import arguments

LINE_MAX = 4096
HOLD_MAX_S = 180           # no connection is kept longer than this, whatever the client does
HUGE_BYTES = 10 * 1024 * 1024
CONTINUATIONS = 5000


class Session(per_client_server.Session):
    def __init__(self, sock, client, behaviour, log, args):
        super().__init__(sock, client, log)
        self.behaviour, self.args = behaviour, args
        self.started = time.monotonic()

    def trickle(self, data):
        """Sends `data` one byte at a time, --trickle seconds apart, repeating it forever."""
        sent = 0
        while time.monotonic() - self.started < HOLD_MAX_S:
            self.send(data[sent % len(data):sent % len(data) + 1])
            sent += 1
            time.sleep(self.args.trickle)
        self.note(event="gave_up", bytes=sent)

    def hold(self):
        """Keeps the connection open, reading and discarding, until the client closes it."""
        self.sock.settimeout(1)
        while time.monotonic() - self.started < HOLD_MAX_S:
            try:
                if not self.sock.recv(4096):
                    return
            except socket.timeout:
                continue

    def greet(self):
        b = self.behaviour
        if b == "no_crlf_stream":
            self.send(b"220 ")
            chunk, total = b"x" * 1024, 0
            while time.monotonic() - self.started < HOLD_MAX_S:
                self.send(chunk)
                total += len(chunk)
                time.sleep(0.01)
            return False
        if b == "no_crlf_stall":
            self.send(b"220 mx.hostile-mx.test ESMTP ready, but never a line end")
            self.hold()
            return False
        if b == "huge_reply":
            line = b"220-" + b"h" * 1018 + b"\r\n"
            block = line * 64
            for _ in range(HUGE_BYTES // len(block)):
                self.send(block)
            self.send(b"220 mx.hostile-mx.test that was 10 MB\r\n")
            self.note(event="huge_reply_sent")
            return True
        if b == "nul_bytes":
            self.send(b"220 mx.hostile-mx.test\x00ESMTP\x00\x00ready\r\n")
            return True
        if b == "slowloris_greeting":
            self.trickle(b"220-mx.hostile-mx.test slow\r\n")
            return False
        if b == "data_before_greeting":
            self.send(b"250 2.0.0 OK\r\n250 2.0.0 OK\r\n220 mx.hostile-mx.test ESMTP\r\n")
            return True
        self.send(b"220 mx.hostile-mx.test ESMTP\r\n")
        return True

    def run(self):
        if not self.greet():
            return
        while True:
            line = self.reader.readline(LINE_MAX)
            if not line:
                self.note(event="client_closed")
                return
            self.note(event="client_line", text=line[:200].decode("latin-1"))
            verb = line.split(b" ")[0].strip().upper()
            b = self.behaviour
            if verb in (b"EHLO", b"HELO"):
                if b == "many_continuations":
                    lines = b"".join(b"250-X-HOSTILE-%05d\r\n" % i for i in range(CONTINUATIONS))
                    self.send(b"250-mx.hostile-mx.test\r\n" + lines + b"250 HELP\r\n")
                else:
                    self.send(b"250-mx.hostile-mx.test\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n")
            elif verb == b"MAIL":
                if b.startswith("code_"):
                    self.send(b.split("_", 1)[1].encode() + b" hostile reply code\r\n")
                else:
                    self.send(b"250 2.1.0 OK\r\n")
            elif verb == b"RCPT":
                self.send(b"250 2.1.5 OK\r\n")
            elif verb == b"DATA":
                self.send(b"354 go ahead\r\n")
                if not self.read_message():
                    return
            elif verb in (b"RSET", b"NOOP"):
                self.send(b"250 2.0.0 OK\r\n")
            elif verb == b"QUIT":
                self.send(b"221 2.0.0 bye\r\n")
                return
            else:
                self.send(b"502 5.5.2 not implemented\r\n")

    def read_message(self):
        size = 0
        while True:
            line = self.reader.readline(LINE_MAX)
            if not line:
                self.note(event="client_closed", during="data", bytes=size)
                return False
            size += len(line)
            if self.behaviour == "rst_mid_data" and size >= 1024:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.note(event="reset", after_bytes=size)
                self.close()
                return False
            if line == b".\r\n":
                self.note(event="message", bytes=size)
                if self.behaviour == "slowloris_data_end":
                    self.trickle(b"250-2.0.0 still thinking\r\n")
                    return False
                self.send(b"250 2.0.0 accepted\r\n")
                return True


def main():
    ap = arguments(__doc__, "JSON: client address -> behaviour")
    ap.add_argument("--trickle", type=float, default=2.0, help="seconds between slowloris bytes")
    args = ap.parse_args()
    config = json.loads(Path(args.config).read_text())
    per_client_server.serve_sessions("hostile_smtp", args, config,
                                     lambda sock, client, behaviour, log: Session(sock, client, behaviour, log, args))


if __name__ == "__main__":
    sys.exit(main())
