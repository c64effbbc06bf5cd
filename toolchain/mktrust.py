#!/usr/bin/python3
"""Build an stsmail trust store blob (see firmware/core/stsm_trust_store.h) from PEM
certificates: Debian's ca-certificates bundle for products, the lab CA for tests.

Usage: mktrust.py OUTPUT PEM-FILE...
Each PEM file may hold many certificates. Duplicates are stored once. Prints how many
anchors went in.
"""

import base64
import re
import struct
import sys

MAGIC = b"STSMTA01"


def der_element(data, pos):
    """Returns (start, content_start, end) of the DER element at pos."""
    if pos + 2 > len(data):
        raise ValueError("truncated DER")
    first = data[pos + 1]
    if first < 0x80:
        length, head = first, 2
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + 2 + n > len(data):
            raise ValueError("bad DER length")
        length, head = int.from_bytes(data[pos + 2:pos + 2 + n], "big"), 2 + n
    end = pos + head + length
    if end > len(data):
        raise ValueError("DER element runs past its container")
    return pos, pos + head, end


def subject_of(cert):
    """Offset and length of the raw subject Name in a DER certificate."""
    _, body, _ = der_element(cert, 0)               # Certificate
    _, tbs, tbs_end = der_element(cert, body)       # tbsCertificate
    pos = tbs
    if cert[pos] == 0xA0:                           # [0] version
        pos = der_element(cert, pos)[2]
    for _ in range(4):                              # serial, signature, issuer, validity
        pos = der_element(cert, pos)[2]
    start, _, end = der_element(cert, pos)          # subject
    if cert[start] != 0x30 or end > tbs_end:
        raise ValueError("no subject Name where expected")
    return start, end - start


def read_pem(path):
    text = open(path, encoding="ascii", errors="replace").read()
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    if not blocks:
        raise SystemExit(f"mktrust: {path}: no certificates")
    return [base64.b64decode("".join(b.split())) for b in blocks]


def build(certs):
    unique = sorted({c: None for c in certs})
    anchors = []
    for cert in unique:
        off, length = subject_of(cert)
        anchors.append((cert[off:off + length], off, cert))
    # Sort by subject bytes, shorter first on a common prefix (the reader's order).
    anchors.sort(key=lambda a: (a[0], len(a[0])))
    header_len = 16 + 16 * len(anchors)
    table, data = b"", b""
    for subject, off, cert in anchors:
        cert_off = header_len + len(data)
        table += struct.pack(">IIII", cert_off + off, len(subject), cert_off, len(cert))
        data += cert
    total = header_len + len(data)
    return MAGIC + struct.pack(">II", len(anchors), total) + table + data, len(anchors)


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    certs = []
    for path in sys.argv[2:]:
        certs += read_pem(path)
    blob, count = build(certs)
    with open(sys.argv[1], "wb") as f:
        f.write(blob)
    print(f"mktrust: {count} anchors, {len(blob)} bytes -> {sys.argv[1]}")


if __name__ == "__main__":
    main()
