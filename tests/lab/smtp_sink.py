#!/usr/bin/python3
"""Scriptable SMTP sink for the lab (aiosmtpd, Debian's python3-aiosmtpd).

Accepts mail for any recipient, offers STARTTLS with the given certificate and stores each
message in a Maildir, adding X-Lab-* headers that record the envelope and whether the
session was encrypted. It exists for behaviours Postfix cannot be told to show; each
behaviour is a command-line switch.
"""

import argparse
import asyncio
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox


class RecordingMailbox(Mailbox):
    async def handle_DATA(self, server, session, envelope):
        tls = session.ssl is not None
        header = (f"X-Lab-Mail-From: {envelope.mail_from}\r\n"
                  f"X-Lab-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n"
                  f"X-Lab-TLS: {'yes' if tls else 'no'}\r\n").encode()
        envelope.content = header + envelope.original_content
        print(f"DATA from={envelope.mail_from} to={envelope.rcpt_tos} tls={tls} "
              f"bytes={len(envelope.original_content)}", flush=True)
        return await super().handle_DATA(server, session, envelope)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", required=True, help="IPv4 address to listen on (port 25)")
    ap.add_argument("--hostname", required=True, help="name in the greeting and EHLO reply")
    ap.add_argument("--cert", required=True, help="PEM certificate chain for STARTTLS")
    ap.add_argument("--key", required=True, help="PEM private key")
    ap.add_argument("--maildir", required=True)
    ap.add_argument("--require-starttls", action="store_true",
                    help="refuse mail commands until STARTTLS")
    args = ap.parse_args()

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    controller = Controller(RecordingMailbox(args.maildir), hostname=args.listen, port=25,
                            server_hostname=args.hostname, tls_context=ctx,
                            require_starttls=args.require_starttls)
    controller.start()
    print(f"listening {args.listen}:25 as {args.hostname}", flush=True)
    loop = asyncio.new_event_loop()
    try:
        loop.run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
