#!/usr/bin/python3
"""Scriptable SMTP sink for the lab (aiosmtpd, Debian's python3-aiosmtpd).

Accepts mail for any recipient and stores each message in a Maildir, adding X-Lab-*
headers that record the envelope and whether the session was encrypted. It exists for
behaviours Postfix cannot be told to show; each is a command-line switch. Every command
that matters to a test (AUTH, MAIL, DATA) is logged on standard output.
"""

import argparse
import asyncio
import ssl
import sys

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox
from aiosmtpd.smtp import SMTP, AuthResult


def log(msg):
    print(msg, flush=True)


class RecordingMailbox(Mailbox):
    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # aiosmtpd reads pipelined commands correctly but does not say so. A real
        # submission service (Postfix's) offers PIPELINING (RFC 2920), and without it every
        # client pays a round trip for each of MAIL, RCPT and DATA here; the bench compares
        # clients on this server. This hook replaces aiosmtpd's own setting of the name.
        session.host_name = hostname
        return responses[:-1] + ["250-PIPELINING", responses[-1]]

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        log(f"MAIL from={address} options={mail_options} tls={session.ssl is not None}")
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        tls = session.ssl is not None
        header = (f"X-Lab-Mail-From: {envelope.mail_from}\r\n"
                  f"X-Lab-Rcpt-To: {', '.join(envelope.rcpt_tos)}\r\n"
                  f"X-Lab-TLS: {'yes' if tls else 'no'}\r\n"
                  f"X-Lab-Auth: {session.authenticated and 'yes' or 'no'}\r\n").encode()
        envelope.content = header + envelope.original_content
        log(f"DATA from={envelope.mail_from} to={envelope.rcpt_tos} tls={tls} "
            f"bytes={len(envelope.original_content)}")
        return await super().handle_DATA(server, session, envelope)


class RefusingStartTLS(SMTP):
    """Offers STARTTLS and then refuses it (RFC 3207 454)."""
    refusal = "454 4.7.0 TLS not available due to temporary reason"

    async def smtp_STARTTLS(self, arg):
        log("STARTTLS refused")
        await self.push(self.refusal)


def make_authenticator(user, password):
    def authenticate(server, session, envelope, mechanism, auth_data):
        ok = (getattr(auth_data, "login", b"") == user.encode()
              and getattr(auth_data, "password", b"") == password.encode())
        log(f"AUTH {mechanism} user={getattr(auth_data, 'login', b'').decode(errors='replace')} "
            f"{'ok' if ok else 'refused'} tls={session.ssl is not None}")
        return AuthResult(success=ok)
    return authenticate


async def greeting_only(address, port, greeting):
    """A server that says one line and hangs up (a 421 "too busy", say)."""
    async def client(reader, writer):
        log(f"connection: sent {greeting!r} and closed")
        writer.write(greeting.encode() + b"\r\n")
        await writer.drain()
        writer.close()
    server = await asyncio.start_server(client, address, port)
    async with server:
        await server.serve_forever()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", required=True, help="IPv4 address to listen on")
    ap.add_argument("--port", type=int, default=25)
    ap.add_argument("--hostname", required=True, help="name in the greeting and EHLO reply")
    ap.add_argument("--cert", required=True, help="PEM certificate chain")
    ap.add_argument("--key", required=True, help="PEM private key")
    ap.add_argument("--maildir", required=True)
    ap.add_argument("--require-starttls", action="store_true", help="refuse mail commands until STARTTLS")
    ap.add_argument("--no-starttls", action="store_true", help="do not offer STARTTLS")
    ap.add_argument("--refuse-starttls", action="store_true", help="offer STARTTLS, answer it with 454")
    ap.add_argument("--implicit-tls", action="store_true", help="TLS from the first byte (port 465)")
    ap.add_argument("--auth", metavar="USER:PASSWORD", help="require AUTH with these credentials")
    ap.add_argument("--greeting", help="only send this line (e.g. '421 busy') and close")
    args = ap.parse_args()

    if args.greeting:
        log(f"listening {args.listen}:{args.port}, greeting only")
        asyncio.run(greeting_only(args.listen, args.port, args.greeting))
        return

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    options = {"hostname": args.listen, "port": args.port, "server_hostname": args.hostname}
    if args.implicit_tls:
        options["ssl_context"] = ctx
    elif not args.no_starttls:
        options["tls_context"] = ctx
        options["require_starttls"] = args.require_starttls
    if args.auth:
        user, password = args.auth.split(":", 1)
        options["authenticator"] = make_authenticator(user, password)
        options["auth_required"] = True
        # aiosmtpd only knows about TLS it started itself (STARTTLS); an implicit-TLS
        # listener is encrypted from the first byte, so AUTH may be offered at once.
        options["auth_require_tls"] = not args.implicit_tls

    class LabController(Controller):
        def factory(self):
            if args.refuse_starttls:
                return RefusingStartTLS(self.handler, **self.SMTP_kwargs)
            return super().factory()

    controller = LabController(RecordingMailbox(args.maildir), **options)
    controller.start()
    log(f"listening {args.listen}:{args.port} as {args.hostname}")
    loop = asyncio.new_event_loop()
    try:
        loop.run_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    sys.exit(main())
