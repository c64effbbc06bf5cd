#!/usr/bin/python3
"""Build an stsmail trust store blob (see firmware/core/stsm_trust_store.h) from PEM
certificates: Debian's ca-certificates bundle for products, the lab CA for tests.

Usage: mktrust.py [--max-bytes N] OUTPUT PEM-FILE...
Each PEM file may hold many certificates. Each becomes an anchor: its subject and its
public key (SubjectPublicKeyInfo), nothing else. Anchors with the same subject and key
are stored once. Prints how many anchors went in and the blob's size; with --max-bytes,
fails (exit 1, nothing written) when the blob would be larger.
"""

import base64
import re
import struct
import sys

MAGIC = b"STSMTA02"
SUBJECT_MAX = 1024   # STSM_TRUST_SUBJECT_MAX
KEY_MAX = 1100       # STSM_TRUST_KEY_MAX
UTF8, PRINTABLE = 0x0C, 0x13
NAME_VALUE_TAGS = {0x1E, UTF8, 0x14, PRINTABLE, 0x16, 0x1C, 0x03}


def der_element(data, pos, end=None):
    """Returns (start, content_start, end) of the DER element at pos."""
    end = len(data) if end is None else end
    if pos + 2 > end:
        raise ValueError("truncated DER")
    first = data[pos + 1]
    if first < 0x80:
        length, head = first, 2
    else:
        n = first & 0x7F
        if n == 0 or n > 4 or pos + 2 + n > end:
            raise ValueError("bad DER length")
        length, head = int.from_bytes(data[pos + 2:pos + 2 + n], "big"), 2 + n
    stop = pos + head + length
    if stop > end:
        raise ValueError("DER element runs past its container")
    return pos, pos + head, stop


def subject_and_key(cert):
    """The raw subject Name and SubjectPublicKeyInfo of a DER certificate."""
    _, body, _ = der_element(cert, 0)               # Certificate
    _, pos, tbs_end = der_element(cert, body)       # tbsCertificate
    if cert[pos] == 0xA0:                           # [0] version
        pos = der_element(cert, pos, tbs_end)[2]
    for _ in range(4):                              # serial, signature, issuer, validity
        pos = der_element(cert, pos, tbs_end)[2]
    s_start, _, s_end = der_element(cert, pos, tbs_end)      # subject
    k_start, _, k_end = der_element(cert, s_end, tbs_end)    # subjectPublicKeyInfo
    if cert[s_start] != 0x30 or cert[k_start] != 0x30:
        raise ValueError("no subject Name and key where expected")
    return cert[s_start:s_end], cert[k_start:k_end]


def name_key(name):
    """The reader's name order (stsm_trust_store.h): equal keys exactly when Mbed TLS's
    x509_name_cmp() finds the Names equal."""
    _, pos, end = der_element(name, 0)
    if end != len(name) or pos == end:
        raise ValueError("subject is not one non-empty SEQUENCE")
    key = []
    while pos < end:
        _, set_pos, set_end = der_element(name, pos, end)
        if name[pos] != 0x31 or set_pos == set_end:
            raise ValueError("RDN is not a non-empty SET")
        while set_pos < set_end:
            _, atv, atv_end = der_element(name, set_pos, set_end)
            _, oid, oid_end = der_element(name, atv, atv_end)
            if name[set_pos] != 0x30 or name[atv] != 0x06 or oid_end >= atv_end:
                raise ValueError("malformed attribute")
            tag = name[oid_end]
            _, val, val_end = der_element(name, oid_end, atv_end)
            if tag not in NAME_VALUE_TAGS or val_end != atv_end:
                raise ValueError("attribute value of an unsupported type")
            value = name[val:val_end]
            if tag in (UTF8, PRINTABLE):
                tag, value = UTF8, value.lower()   # bytes.lower() folds ASCII letters only
            key.append((1 if atv_end < set_end else 0, oid_end - oid, name[oid:oid_end],
                        tag, len(value), value))
            set_pos = atv_end
        pos = set_end
    return key


def read_pem(path):
    text = open(path, encoding="ascii", errors="replace").read()
    blocks = re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END CERTIFICATE-----", text, re.S)
    if not blocks:
        raise SystemExit(f"mktrust: {path}: no certificates")
    return [base64.b64decode("".join(b.split())) for b in blocks]


def build(certs):
    anchors = {}
    for cert in certs:
        subject, key = subject_and_key(cert)
        if len(subject) > SUBJECT_MAX or len(key) > KEY_MAX:
            raise SystemExit(f"mktrust: an anchor's subject ({len(subject)} bytes) or key "
                             f"({len(key)} bytes) is over the reader's limits")
        anchors[(subject, key)] = None
    # Name order, then bytes, so that the blob is the same for the same input.
    ordered = sorted(anchors, key=lambda a: (name_key(a[0]), a[0], a[1]))
    table_len = 16 + 4 * len(ordered)
    table, data = b"", b""
    for subject, key in ordered:
        table += struct.pack(">I", table_len + len(data))
        data += struct.pack(">HH", len(subject), len(key)) + subject + key
    total = table_len + len(data)
    return MAGIC + struct.pack(">II", len(ordered), total) + table + data, len(ordered)


def main():
    args = sys.argv[1:]
    max_bytes = None
    if len(args) >= 2 and args[0] == "--max-bytes":
        max_bytes, args = int(args[1]), args[2:]
    if len(args) < 2:
        raise SystemExit(__doc__)
    certs = []
    for path in args[1:]:
        certs += read_pem(path)
    blob, count = build(certs)
    size = f"{len(blob)} bytes ({len(blob) / 1024:.1f} KiB)"
    if max_bytes is not None and len(blob) > max_bytes:
        raise SystemExit(f"mktrust: {count} anchors take {size}, over --max-bytes {max_bytes}")
    with open(args[0], "wb") as f:
        f.write(blob)
    print(f"mktrust: {count} anchors from {len(certs)} certificates, {size} -> {args[0]}")


if __name__ == "__main__":
    main()
