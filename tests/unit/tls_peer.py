#!/usr/bin/python3
"""Scripted TLS server for test_conn_tls: a real TLS stack (Python's OpenSSL) whose every
misbehaviour is chosen per connection. It makes a throwaway CA and certificates in
WORKDIR, trust stores for stsmail (toolchain/mktrust.py: trust.bin holds the CA,
trust-cross.bin the CA and another root of the same name), listens on a free
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
# The genuine policy with extension lines: 44 KiB (over the 16 KiB body buffer a device
# once had), and padded to the RFC's 64 KiB cap exactly; an invalid one.
POLICY_HEAD, POLICY_MX = POLICY[:POLICY.index(b"mx:")], POLICY[POLICY.index(b"mx:"):]
POLICY_BIG = POLICY_HEAD + b"".join(b"x-pad-%d: %s\r\n" % (i, b"p" * 100) for i in range(400)) + POLICY_MX
POLICY_AT_CAP = POLICY_HEAD + b"x-pad: " + b"p" * (65536 - len(POLICY) - 9) + b"\r\n" + POLICY_MX
POLICY_INVALID = POLICY.replace(b"mode: enforce", b"mode: enforced")


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=WORK)


CA_EXT = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"


def make_pki():
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]

    def root(name, subject, key=ec):
        openssl("req", "-x509", *key, "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "2",
                "-subj", subject, "-addext", "basicConstraints=critical,CA:TRUE")

    def signed(name, subject, signer, ext_text, dates=None, key=ec):
        """A certificate for `subject` signed by CA `signer`; `dates` = (start, end) for one
        outside today (openssl ca is the tool that writes arbitrary dates)."""
        openssl("req", *key, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject)
        with open(os.path.join(WORK, f"{name}.ext"), "w") as f:
            f.write(ext_text)
        if dates is None:
            openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{signer}.pem", "-CAkey", f"{signer}.key",
                    "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.pem")
            return
        with open(os.path.join(WORK, "ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca = t\n[t]\ndatabase = index.txt\nnew_certs_dir = .\nserial = serial\n"
                    "default_md = sha256\npolicy = any\nunique_subject = no\n[any]\ncommonName = supplied\n")
        open(os.path.join(WORK, "index.txt"), "w").close()
        with open(os.path.join(WORK, "serial"), "w") as f:
            f.write("1000\n")
        openssl("ca", "-batch", "-config", "ca.cnf", "-cert", f"{signer}.pem", "-keyfile", f"{signer}.key",
                "-in", f"{name}.csr", "-out", f"{name}.pem", "-notext", "-extfile", f"{name}.ext",
                "-startdate", dates[0], "-enddate", dates[1])

    def leaf(name, sans, signer="ca", chain=(), key=ec):
        """A server certificate; the file it serves holds it and then `chain`."""
        ext = "subjectAltName=" + ",".join(f"DNS:{s}" for s in sans) + "\n"
        if signer is None:
            openssl("req", *ec, "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", f"/CN={sans[0]}")
            with open(os.path.join(WORK, f"{name}.ext"), "w") as f:
                f.write(ext)
            openssl("x509", "-req", "-in", f"{name}.csr", "-signkey", f"{name}.key", "-days", "2",
                    "-extfile", f"{name}.ext", "-out", f"{name}.pem")
        else:
            signed(name, f"/CN={sans[0]}", signer, ext, key=key)
        if chain:
            with open(os.path.join(WORK, f"{name}.pem"), "a") as out:
                for c in chain:
                    with open(os.path.join(WORK, f"{c}.pem")) as f:
                        out.write(f.read())

    root("ca", "/CN=stsmail test CA")
    # Two more roots named like the test CA, each with its own key: "cross" stands for a
    # cross-signed root (both in one store), "impostor" for a CA that only shares the name.
    # The cross root's key is RSA: an anchor longer than 256 bytes as a certificate.
    root("cross", "/CN=stsmail test CA", key=["-newkey", "rsa:2048", "-nodes"])
    root("impostor", "/CN=stsmail test CA")
    signed("inter", "/CN=stsmail test intermediate", "ca", CA_EXT)
    signed("expinter", "/CN=stsmail expired intermediate", "ca", CA_EXT,
           ("20200101000000Z", "20200201000000Z"))
    leaf("good", HOSTS)
    leaf("wrongname", ["other.test"])
    leaf("selfsigned", HOSTS, signer=None)
    leaf("withroot", HOSTS, chain=["ca"])
    leaf("viainter", HOSTS, signer="inter", chain=["inter"])
    leaf("viaexpinter", HOSTS, signer="expinter", chain=["expinter"])
    leaf("bycross", HOSTS, signer="cross", chain=["cross"])
    leaf("byimpostor", HOSTS, signer="impostor", chain=["impostor"])
    leaf("rsa", HOSTS, key=["-newkey", "rsa:2048", "-nodes"])
    for blob, roots in (("trust.bin", ["ca.pem"]), ("trust-cross.bin", ["ca.pem", "cross.pem"])):
        subprocess.run([sys.executable, MKTRUST, os.path.join(WORK, blob), *(os.path.join(WORK, r) for r in roots)],
                       check=True, capture_output=True)


def context(cert, ciphers=None):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cert == "dual":
        # An RSA and an ECDSA certificate for the same names: OpenSSL keeps one of each
        # and sends the one the client's order (suites in TLS 1.2, signature algorithms
        # in TLS 1.3) picks first.
        for c in ("rsa", "good"):
            ctx.load_cert_chain(os.path.join(WORK, f"{c}.pem"), os.path.join(WORK, f"{c}.key"))
        ctx.options &= ~ssl.OP_CIPHER_SERVER_PREFERENCE   # Python sets it; servers often do not
        return ctx
    ctx.load_cert_chain(os.path.join(WORK, f"{cert}.pem"), os.path.join(WORK, f"{cert}.key"))
    if ciphers:
        ctx.set_ciphers(ciphers)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2   # set_ciphers names TLS 1.2 suites only
    return ctx


# Cases that only serve their own certificate (file <case>.pem) and wait.
CERT_CASES = ("wrongname", "selfsigned", "withroot", "viainter", "viaexpinter", "bycross", "byimpostor", "rsa",
              "dual")


class Peer:
    def __init__(self, sock, case):
        self.sock, self.case = sock, case
        cert = case if case in CERT_CASES else "dual" if case == "dual12" else "good"
        # cbc-only: a suite below our floor (no AEAD), the same in every mode.
        ctx = context(cert, "ECDHE-ECDSA-AES128-SHA256" if case == "cbc-only" else None)
        if case == "dual12":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
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
        if case in ("good", "dual12") or case in CERT_CASES:
            p.drain()
            return
        if case == "count":
            # Counts what the client writes until a line "END", then answers with the count.
            got = b""
            while not got.endswith(b"END\n"):
                try:
                    got += p.tls.read(65536)
                except ssl.SSLWantReadError:
                    p.pull()
            p.send(b"%d\n" % (len(got) - 4))
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
        elif case == "policy-big-chunked":
            # Chunks of 1000 bytes: chunk-size lines fall inside policy lines and CRLFs.
            body = b"".join(b"%x\r\n%s\r\n" % (len(POLICY_BIG[i:i + 1000]), POLICY_BIG[i:i + 1000])
                            for i in range(0, len(POLICY_BIG), 1000))
            p.send(ok + b"Transfer-Encoding: chunked\r\n\r\n" + body + b"0\r\n\r\n")
            p.drain()
        elif case in ("policy-at-cap", "policy-over-cap"):
            body = POLICY_AT_CAP + (b"\n" if case == "policy-over-cap" else b"")
            p.send(ok + b"Content-Length: %d\r\n\r\n" % len(body) + body)
            p.drain()
        elif case == "policy-invalid-nonotify":
            p.send(ok + b"\r\n" + POLICY_INVALID)
        elif case == "policy-invalid-notify":
            p.send(ok + b"\r\n" + POLICY_INVALID)
            p.close_notify()
        elif case == "trickle-policy":
            # One TLS record a byte, 10 ms apart: within the deadline.
            p.send(ok + b"Content-Length: %d\r\n\r\n" % len(POLICY))
            for i in range(len(POLICY)):
                p.send(POLICY[i:i + 1])
                time.sleep(0.01)
            p.drain()
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
