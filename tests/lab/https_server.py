#!/usr/bin/python3
"""A deliberately slow HTTPS server for the lab: serves one body at one path after a
delay (an MTA-STS policy server that takes its time). nginx serves the ordinary ones.
Usage: https_server.py --listen ADDR --cert CHAIN --key KEY --path PATH --body-file FILE
                       --content-type TYPE --delay SECONDS"""

import argparse
import http.server
import ssl
import sys
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for opt in ("--listen", "--cert", "--key", "--path", "--body-file", "--content-type"):
        ap.add_argument(opt, required=True)
    ap.add_argument("--delay", type=float, default=0.0)
    args = ap.parse_args()
    body = open(args.body_file, "rb").read()

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            time.sleep(args.delay)
            if self.path != args.path:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", args.content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, fmt, *a):
            print(f"{self.client_address[0]} {fmt % a}", flush=True)

    server = http.server.ThreadingHTTPServer((args.listen, 443), Handler)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"listening {args.listen}:443, delay {args.delay}s", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
