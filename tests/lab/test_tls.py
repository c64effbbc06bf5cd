#!/usr/bin/python3
"""Lab test: `stsmail tls-probe` through lwIP over TAP. A sound certificate verifies (with
TLS 1.2+, an ECDHE AEAD suite and a measured arena peak); each broken one is refused with
its own reason; STARTTLS upgrades against Postfix and the sink; bad settings and a
damaged trust store are refused before anything is sent.
Usage: test_tls.py STSMAIL LAB_STATE_DIR"""

import json
import re
import subprocess
from pathlib import Path

import labtest
from labtest import check

stsmail, state, lab = labtest.start()
ns, tap = lab["namespace"], lab["taps"]["host"]

settings = state / "tls-test-settings.json"
settings.write_text(json.dumps({"network": {"interface": tap},
                                "tls": {"trust_store": lab["trust_store"]}}))


def probe(*args, settings_file=settings):
    res = subprocess.run(["ip", "netns", "exec", ns, "timeout", "90", stsmail, "tls-probe",
                          "--settings", str(settings_file), *args], capture_output=True, text=True)
    return res.returncode, res.stdout, res.stderr


rc, out, err = probe("good.tls.test", "443")
peak = re.search(r"arena peak: (\d+) bytes .*arena (\d+) bytes", out)
check("sound certificate verifies", rc == 0 and "verify: ok" in out, f"{rc}\n{out}{err}")
check("TLS 1.2 with an ECDHE AEAD suite",
      "version: TLSv1.2" in out and re.search(r"ciphersuite: TLS-ECDHE-(ECDSA|RSA)-WITH-"
                                               r"(AES-\d+-GCM|CHACHA20-POLY1305)", out), out)
check("peer chain reported", "0: CN=good.tls.test (issuer: CN=stsmail Lab CA)" in out, out)
check("arena peak measured and within the arena",
      peak and 0 < int(peak.group(1)) <= int(peak.group(2)), out)

refusals = [
    ("wrongname.tls.test", "tls_name_mismatch", "certificate for another name"),
    ("expired.tls.test", "tls_expired", "expired certificate"),
    ("future.tls.test", "tls_not_yet_valid", "certificate not yet valid"),
    ("unknownca.tls.test", "tls_untrusted", "certificate from an unknown CA"),
    ("selfsigned.tls.test", "tls_untrusted", "self-signed certificate"),
    ("tls11.tls.test", "tls_version", "server that speaks only TLS 1.1"),
]
for host, reason, what in refusals:
    rc, out, err = probe(host, "443")
    check(f"{what} refused: {reason}", rc == 69 and f"verify: failed: {reason}:" in out
          and "verify: ok" not in out, f"{rc}\n{out}{err}")

rc, out, err = probe("--starttls", "mx1.example.test", "25")
check("STARTTLS upgrade against Postfix verifies", rc == 0 and "verify: ok" in out
      and "0: CN=mx1.example.test" in out, f"{rc}\n{out}{err}")
rc, out, err = probe("--starttls", "mx2.example.test", "25")
check("STARTTLS upgrade against the sink verifies", rc == 0 and "verify: ok" in out, f"{rc}\n{out}{err}")

bad = state / "tls-test-bad.json"
bad.write_text('{"network": {"interface": "tap0", "speed": 100}}')
rc, out, err = probe("good.tls.test", "443", settings_file=bad)
check("unknown settings key refused with its path (exit 78)",
      rc == 78 and "/network/speed: unknown key" in err, f"{rc} {err}")
bad.write_text('{"network": {"interface": "tap0"}, "tls": {"trust_store": 5}}')
rc, out, err = probe("good.tls.test", "443", settings_file=bad)
check("wrong type refused with its path", rc == 78 and "/tls/trust_store: expected a non-empty string"
      in err, f"{rc} {err}")
broken = state / "tls-test-broken.bin"
blob = bytearray(Path(lab["trust_store"]).read_bytes())
blob[-1] ^= 0xFF
blob[20] ^= 0x01   # an offset in the table
broken.write_bytes(bytes(blob))
bad.write_text(json.dumps({"network": {"interface": tap}, "tls": {"trust_store": str(broken)}}))
rc, out, err = probe("good.tls.test", "443", settings_file=bad)
check("damaged trust store refused (exit 78)", rc == 78 and "not a valid trust store" in err,
      f"{rc} {err}")

labtest.finish()
