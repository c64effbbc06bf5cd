#!/usr/bin/python3
"""Scripted SMTP server for the outbox's lab scenarios (test_outbox.py, tests/qemu/test_outbox.sh).

Binds port 25 of mx.outbox.test (domains/outbox.test.json) and answers each client the way
its address asks, so the scenarios of one test run side by side. A minimal SMTP server
without STARTTLS (the devices send at tls_level "may"): it accepts any sender and keeps
several transactions on one connection apart (RSET), as a real MX would.

  honest               250 to everything, except a recipient whose local part starts with
                       "nosuchuser": 550 5.1.1, on every connection
  rcpt451_first        the client's first connection answers every RCPT with 451 4.3.0;
                       later connections as honest
  hold_data_end_first  the client's first connection holds the reply to the end of the
                       message --hold seconds (the message is counted as received when its
                       final dot arrives, as an MTA that has queued it would), then says 250;
                       later connections as honest

Every RCPT (address and reply code) and every whole message (its envelope, Subject,
Message-ID, Date, the count in a coalesced alert's preamble, "raised N times" or "raised
again N times", and its text) is logged as one JSON object per line in
LOG_DIR/<client address>.jsonl, so a test counts what was received across all retries.
--config is a JSON object {"<client address>": "<behaviour>"}; the key "*" serves every
other client; without it other clients are refused.
"""

import json
import re
import socket
import sys
import threading
import time
from pathlib import Path

import per_client_server
from per_client_server import arguments

LINE_MAX = 4096
MESSAGE_MAX = 1024 * 1024
LOGGED_TEXT_MAX = 8192
HOLD_MAX_S = 120
BEHAVIOURS = ("honest", "rcpt451_first", "hold_data_end_first")
RAISED = re.compile(r"raised (?:again )?(\d+) times?\b")   # a coalesced alert's preamble


def header(lines, name):
    """The first header `name` of a message (its lines, unstuffed), unfolded; "" when absent."""
    value, found = [], False
    for line in lines:
        if line == "":
            break
        if found:
            if line[:1] in (" ", "\t"):
                value.append(line.strip())
                continue
            break
        if line.lower().startswith(name.lower() + ":"):
            found = True
            value.append(line.split(":", 1)[1].strip())
    return " ".join(value)


class Session(per_client_server.Session):
    def __init__(self, sock, client, behaviour, number, log, args):
        super().__init__(sock, client, log)
        self.behaviour, self.number, self.args = behaviour, number, args
        self.mail_from, self.rcpts = None, []

    def note(self, **record):
        super().note(connection=self.number, **record)

    def first(self, behaviour):
        return self.behaviour == behaviour and self.number == 1

    def run(self):
        self.send(b"220 mx.outbox.test ESMTP outbox_smtp\r\n")
        while True:
            line = self.reader.readline(LINE_MAX)
            if not line:
                self.note(event="client_closed")
                return
            text = line.decode("latin-1").rstrip("\r\n")
            verb = text.split(" ")[0].upper()
            if verb in ("EHLO", "HELO"):
                self.note(event="client_line", text=text[:200])
                self.send(b"250-mx.outbox.test\r\n250-8BITMIME\r\n250 SIZE 1000000\r\n")
            elif verb == "MAIL":
                self.mail_from, self.rcpts = text[10:].strip(), []
                self.note(event="mail", sender=self.mail_from)
                self.send(b"250 2.1.0 OK\r\n")
            elif verb == "RCPT":
                address = text[8:].strip().strip("<>").split(">")[0]
                if self.first("rcpt451_first"):
                    code, reply = 451, b"451 4.3.0 try again later\r\n"
                elif address.lower().startswith("nosuchuser"):
                    code, reply = 550, b"550 5.1.1 no such user here\r\n"
                else:
                    code, reply = 250, b"250 2.1.5 OK\r\n"
                    self.rcpts.append(address)
                self.note(event="rcpt", address=address, code=code)
                self.send(reply)
            elif verb == "DATA":
                if not self.rcpts:
                    self.send(b"554 5.5.1 no valid recipients\r\n")
                    continue
                self.send(b"354 go ahead\r\n")
                if not self.read_message():
                    return
            elif verb in ("RSET", "NOOP"):
                if verb == "RSET":
                    self.mail_from, self.rcpts = None, []
                self.note(event="client_line", text=verb)
                self.send(b"250 2.0.0 OK\r\n")
            elif verb == "QUIT":
                self.note(event="client_line", text=verb)
                self.send(b"221 2.0.0 bye\r\n")
                return
            else:
                self.note(event="client_line", text=text[:200])
                self.send(b"502 5.5.2 not implemented\r\n")

    def read_message(self):
        lines, size = [], 0
        while True:
            line = self.reader.readline(LINE_MAX)
            if not line:
                self.note(event="client_closed", during="data", bytes=size)
                return False
            size += len(line)
            if size > MESSAGE_MAX:
                self.note(event="too_big", bytes=size)
                return False
            if line == b".\r\n":
                break
            text = line.decode("utf-8", "replace").rstrip("\r\n")
            lines.append(text[1:] if text.startswith(".") else text)
        body = "\n".join(lines)
        raised = RAISED.search(body.replace("=\n", ""))
        self.note(event="message", sender=self.mail_from, rcpts=self.rcpts, bytes=size,
                  subject=header(lines, "Subject"), message_id=header(lines, "Message-ID"),
                  date=header(lines, "Date"), sender_header=header(lines, "From"),
                  raised=int(raised.group(1)) if raised else None, text=body[:LOGGED_TEXT_MAX])
        self.mail_from, self.rcpts = None, []
        if self.first("hold_data_end_first"):
            self.note(event="holding", seconds=self.args.hold)
            time.sleep(min(self.args.hold, HOLD_MAX_S))
        try:
            self.send(b"250 2.0.0 accepted\r\n")
        except OSError as e:
            self.note(event="reply_lost", error=str(e)[:200])
            return False
        self.note(event="accepted")
        return True


def main():
    ap = arguments(__doc__, "JSON: client address (or \"*\") -> behaviour")
    ap.add_argument("--hold", type=float, default=15.0, help="seconds hold_data_end_first holds its reply")
    args = ap.parse_args()
    config = json.loads(Path(args.config).read_text())
    for behaviour in config.values():
        if behaviour not in BEHAVIOURS:
            ap.error(f"unknown behaviour {behaviour!r}")
    numbers, numbers_lock = {}, threading.Lock()

    def open_session(sock, client, behaviour, log):
        with numbers_lock:
            number = numbers[client] = numbers.get(client, 0) + 1
        return Session(sock, client, behaviour, number, log, args)

    per_client_server.serve_sessions("outbox_smtp", args, config, open_session)


if __name__ == "__main__":
    sys.exit(main())
