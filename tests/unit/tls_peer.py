#!/usr/bin/python3
"""Scripted TLS server for test_conn_tls: a real TLS stack (Python's OpenSSL) whose every
misbehaviour is chosen per connection. It makes a throwaway CA and certificates in
WORKDIR, a trust store for stsmail from the CA (toolchain/mktrust.py), listens on a free
port of 127.0.0.1 and prints "PORT <n> TRUST <blob>" once ready. It stops when its stdin
closes (the test ended, or died) and removes WORKDIR.

Each connection starts with one plaintext line naming its case (the test's relay writes
it), then TLS. TLS runs over memory BIOs so that this script decides what reaches the
wire: a close_notify or a bare TCP close, a byte at a time or all at once.

Usage: tls_peer.py MKTRUST WORKDIR"""

import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time

MKTRUST, WORK = sys.argv[1], sys.argv[2]
HOSTS = ["mta-sts.lab.test", "mx.lab.test"]

# The genuine policy, and what is left of it when a FIN is forged after "*.com".
POLICY = b"version: STSv1\r\nmode: enforce\r\nmax_age: 86400\r\nmx: *.com.mail.example.net\r\n"
POLICY_CUT = POLICY[:POLICY.index(b".mail")]


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=WORK)


def make_pki():
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=stsmail test CA")

    def leaf(name, sans, signer=True):
        openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={sans[0]}")
        ext = f"{name}.ext"
        with open(os.path.join(WORK, ext), "w") as f:
            f.write("subjectAltName=" + ",".join(f"DNS:{s}" for s in sans) + "\n")
        if signer:
            openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                    "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", f"{name}.pem")
        else:
            openssl("x509", "-req", "-in", f"{name}.csr", "-signkey", f"{name}.key", "-days", "2",
                    "-extfile", ext, "-out", f"{name}.pem")

    leaf("good", HOSTS)
    leaf("wrongname", ["other.test"])
    leaf("selfsigned", HOSTS, signer=False)
    subprocess.run([sys.executable, MKTRUST, os.path.join(WORK, "trust.bin"), os.path.join(WORK, "ca.pem")],
                   check=True, capture_output=True)


def context(cert, ciphers=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(os.path.join(WORK, f"{cert}.pem"), os.path.join(WORK, f"{cert}.key"))
    if ciphers:
        ctx.set_ciphers(ciphers)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2   # set_ciphers names TLS 1.2 suites only
    return ctx


class Peer:
    def __init__(self, sock, case):
        self.sock, self.case = sock, case
        cert = {"wrongname": "wrongname", "selfsigned": "selfsigned"}.get(case, "good")
        # cbc-only: a suite below our floor (no AEAD), the same in every mode.
        ctx = context(cert, "ECDHE-ECDSA-AES128-SHA256" if case == "cbc-only" else None)
        self.inc, self.out = ssl.MemoryBIO(), ssl.MemoryBIO()
        self.tls = ctx.wrap_bio(self.inc, self.out, server_side=True)

    def flush(self, trickle=0.0):
        data = self.out.read()
        if trickle:
            for i in range(len(data)):
                self.sock.sendall(data[i:i + 1])
                time.sleep(trickle)
        elif data:
            self.sock.sendall(data)

    def pull(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.inc.write(data)

    def handshake(self):
        while True:
            try:
                self.tls.do_handshake()
                self.flush()
                return True
            except ssl.SSLWantReadError:
                self.flush(0.05 if self.case == "trickle-hs" else 0.0)
                self.pull()
            except ssl.SSLError:
                self.flush()   # our alert, if any
                return False

    def read_request(self):
        req = b""
        while b"\r\n\r\n" not in req:
            try:
                req += self.tls.read(4096)
            except ssl.SSLWantReadError:
                self.pull()
        return req

    def send(self, data):
        self.tls.write(data)
        self.flush()

    def close_notify(self):
        try:
            self.tls.unwrap()
        except ssl.SSLWantReadError:
            pass   # ours is out; not waiting for the client's
        self.flush()

    def drain(self):
        """Waits until the client goes away, answering nothing."""
        while self.sock.recv(65536):
            pass


def serve(sock):
    try:
        case = b""
        while not case.endswith(b"\n"):
            c = sock.recv(1)
            if not c:
                return
            case += c
        case = case.decode().strip()
        p = Peer(sock, case)
        if not p.handshake():
            return
        if case in ("good", "wrongname", "selfsigned"):
            p.drain()
            return
        p.read_request()
        ok = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
        if case == "policy-notify":
            p.send(ok + b"\r\n" + POLICY)
            p.close_notify()
        elif case == "policy-cut-nonotify":
            p.send(ok + b"\r\n" + POLICY_CUT)
        elif case == "length-short-notify":
            p.send(ok + b"Content-Length: %d\r\n\r\n" % len(POLICY) + POLICY_CUT)
            p.close_notify()
        elif case == "length-short-nonotify":
            p.send(ok + b"Content-Length: %d\r\n\r\n" % len(POLICY) + POLICY_CUT)
        elif case == "chunked-cut-notify":
            p.send(ok + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % len(POLICY_CUT) + POLICY_CUT + b"\r\n")
            p.close_notify()
        elif case == "trickle-body":
            p.send(ok + b"\r\n")
            while True:
                for i in range(len(POLICY)):
                    p.send(POLICY[i:i + 1])
                    time.sleep(0.1)
        # Whatever the case, the TCP close below carries no close_notify unless sent above.
    except (OSError, EOFError, ssl.SSLError):
        pass
    finally:
        sock.close()


def main():
    make_pki()
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)

    def accept_loop():
        while True:
            sock, _ = listener.accept()
            threading.Thread(target=serve, args=(sock,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    print(f"PORT {listener.getsockname()[1]} TRUST {os.path.join(WORK, 'trust.bin')}", flush=True)
    sys.stdin.read()   # until the test closes our stdin (or dies)


if __name__ == "__main__":
    try:
        main()
    finally:
        shutil.rmtree(WORK, ignore_errors=True)
