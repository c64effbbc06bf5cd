#!/usr/bin/python3
"""An HTTPS server for the lab's policy hosts that nginx cannot play: serves one body at
one path after a delay (an MTA-STS policy server that takes its time), or cuts the body
short the way an attacker on the path would (--truncate-after TEXT: a 200 text/plain
answer without Content-Length whose body stops right after the first TEXT, then the TCP
connection closes without a TLS close_notify). nginx serves the ordinary ones.
Usage: https_server.py --listen ADDR --cert CHAIN --key KEY --path PATH --body-file FILE
                       --content-type TYPE [--delay SECONDS] [--truncate-after TEXT]"""

import argparse
import http.server
import socket
import ssl
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for opt in ("--listen", "--cert", "--key", "--path", "--body-file", "--content-type"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--delay", type=float, default=0.0)
    ap.add_argument("--truncate-after", default=None)
    args = ap.parse_args()
    body = open(args.body_file, "rb").read()
    if args.truncate_after is not None:
        cut = body.find(args.truncate_after.encode())
        if cut < 0:
            ap.error(f"--truncate-after {args.truncate_after!r} is not in the body")
        body = body[:cut + len(args.truncate_after)]

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            time.sleep(args.delay)
            if self.path != args.path:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", args.content_type)
            if args.truncate_after is None:
                self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            if args.truncate_after is not None:
                self.wfile.flush()
                # FIN without close_notify: SSLSocket.shutdown() drops the TLS layer
                # and shuts the TCP socket down underneath it.
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                print(f"{self.client_address[0]} body cut after {len(body)} bytes, "
                      "closed without close_notify", flush=True)

        def log_message(self, fmt, *a):
            print(f"{self.client_address[0]} {fmt % a}", flush=True)

    server = http.server.ThreadingHTTPServer((args.listen, 443), Handler)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"listening {args.listen}:443, delay {args.delay}s"
          + (f", body cut after {args.truncate_after!r}" if args.truncate_after else ""), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
