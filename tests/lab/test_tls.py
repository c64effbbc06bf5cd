#!/usr/bin/python3
"""Lab test: `stsmail tls-probe` through lwIP over TAP. A sound certificate verifies (TLS 1.3
against nginx and Postfix, TLS 1.2 as the fallback against OpenSSL servers limited to it,
one of them signing with RSA, which OpenSSL does with RSA-PSS when the client lists it
first; AEAD suites, a measured arena peak); each broken one is refused with its own reason
in both versions; STARTTLS upgrades against Postfix and the sink (TLS 1.3 tickets arriving
before the reply to QUIT); a second session to the same host resumes the first (--repeat),
in both versions, and a running device's second delivery to the same MX resumes the
first's session (`stsmail run`, two enqueues); bad settings and a damaged trust store are
refused before anything is sent.
Usage: test_tls.py STSMAIL LAB_STATE_DIR"""

import json
import re
import signal
import subprocess
import time
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
check("TLS 1.3 with an AEAD suite against nginx",
      "version: TLSv1.3\n" in out and re.search(r"ciphersuite: TLS1-3-(AES-\d+-GCM|CHACHA20-POLY1305)", out),
      out)
check("peer chain reported", "0: CN=good.tls.test (issuer: CN=stsmail Lab CA)" in out, out)
check("arena peak measured and within the arena",
      peak and 0 < int(peak.group(1)) <= int(peak.group(2)), out)


def sessions(out):
    """The report of each session of a --repeat run."""
    return out.split("tls-probe ")[1:]


rc, out, err = probe("--repeat", "2", "good.tls.test", "443")
first, second = (sessions(out) + ["", ""])[:2]
check("TLS 1.3: the second session resumes the first (nginx)",
      rc == 0 and "version: TLSv1.3\n" in first and "version: TLSv1.3, resumed\n" in second
      and "verify: ok" in second and "none sent (resumed session)" in second, f"{rc}\n{out}{err}")

for host, what in (("good.tlsv12.test", "an EC key"), ("rsa.tlsv12.test", "an RSA key (RSA-PSS offered last)")):
    rc, out, err = probe(host, "443")
    check(f"TLS 1.2 fallback, {what}: verified with an ECDHE AEAD suite", rc == 0 and "verify: ok" in out
          and "version: TLSv1.2\n" in out and re.search(r"ciphersuite: TLS-ECDHE-(ECDSA|RSA)-WITH-"
                                                         r"(AES-\d+-GCM|CHACHA20-POLY1305)", out),
          f"{rc}\n{out}{err}")
rc, out, err = probe("--repeat", "2", "good.tlsv12.test", "443")
first, second = (sessions(out) + ["", ""])[:2]
check("TLS 1.2: the second session resumes the first",
      rc == 0 and "version: TLSv1.2\n" in first and "version: TLSv1.2, resumed\n" in second
      and "verify: ok" in second, f"{rc}\n{out}{err}")

refusals = [
    ("wrongname.tls.test", "tls_name_mismatch", "certificate for another name"),
    ("expired.tls.test", "tls_expired", "expired certificate"),
    ("future.tls.test", "tls_not_yet_valid", "certificate not yet valid"),
    ("unknownca.tls.test", "tls_untrusted", "certificate from an unknown CA"),
    ("selfsigned.tls.test", "tls_untrusted", "self-signed certificate"),
    ("tls11.tls.test", "tls_version", "server that speaks only TLS 1.1"),
    ("wrongname.tlsv12.test", "tls_name_mismatch", "TLS 1.2: certificate for another name"),
    ("expired.tlsv12.test", "tls_expired", "TLS 1.2: expired certificate"),
    ("unknownca.tlsv12.test", "tls_untrusted", "TLS 1.2: certificate from an unknown CA"),
]
for host, reason, what in refusals:
    rc, out, err = probe(host, "443")
    check(f"{what} refused: {reason}", rc == 69 and f"verify: failed: {reason}:" in out
          and "verify: ok" not in out, f"{rc}\n{out}{err}")

rc, out, err = probe("--starttls", "--repeat", "2", "mx1.example.test", "25")
first, second = (sessions(out) + ["", ""])[:2]
check("STARTTLS upgrade against Postfix verifies, TLS 1.3", rc == 0 and "verify: ok" in first
      and "version: TLSv1.3\n" in first and "0: CN=mx1.example.test" in first, f"{rc}\n{out}{err}")
check("STARTTLS against Postfix: the second session resumes (ticket read before the reply to QUIT)",
      rc == 0 and "version: TLSv1.3, resumed\n" in second and "verify: ok" in second, f"{rc}\n{out}{err}")
rc, out, err = probe("--starttls", "mx2.example.test", "25")
check("STARTTLS upgrade against the sink verifies", rc == 0 and "verify: ok" in out, f"{rc}\n{out}{err}")

rc, out, err = probe("--repeat", "2", "expired.tlsv12.test", "443")
check("a refused certificate is refused again on the next session (nothing kept to resume)",
      rc == 69 and out.count("verify: failed: tls_expired:") == 2 and "verify: ok" not in out,
      f"{rc}\n{out}{err}")


def delivery_resumes():
    """`stsmail run` with two messages enqueued one after the other to example.test (mx1,
    Postfix, under an enforce policy): both verified over TLS 1.3, the second resumed.
    Returns (the TLS lines of the run's log, the run's output)."""
    store = state / "tls-test-outbox.bin"
    store.unlink(missing_ok=True)
    run_settings = state / "tls-test-run.json"
    run_settings.write_text(json.dumps({
        "device": {"ehlo_name": "printer.lab.test"}, "network": {"interface": tap},
        "mail": {"from": "alerts@printer.lab.test", "to": ["ops@example.test"]},
        "tls": {"trust_store": lab["trust_store"]}, "delivery": {"mode": "mx"},
        "outbox": {"store_file": str(store), "coalesce_window": 0}}))
    log_out, log_err = state / "tls-test-run.out", state / "tls-test-run.err"
    run = subprocess.Popen(["ip", "netns", "exec", ns, stsmail, "run", "--settings", str(run_settings)],
                           stdout=open(log_out, "w"), stderr=open(log_err, "w"), stdin=subprocess.DEVNULL)

    def tls_lines():
        return [l for l in log_err.read_text().splitlines() if "mx1.example.test: TLS verified" in l]

    def wait_lines(n, timeout_s=30):
        deadline = time.monotonic() + timeout_s
        while len(tls_lines()) < n and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.2)

    try:
        for i in (1, 2):
            subprocess.run([stsmail, "enqueue", "--settings", str(run_settings), "--subject",
                            f"tls resumption {i}", "--key", f"tls-resumption-{i}", "--body-file", "-"],
                           input="resumption check\n", capture_output=True, text=True, timeout=60)
            wait_lines(i)
            time.sleep(1)   # let the first session end before the second message
    finally:
        run.send_signal(signal.SIGTERM)
        try:
            run.wait(30)
        except subprocess.TimeoutExpired:
            run.kill()
            run.wait()
    return tls_lines(), log_out.read_text() + log_err.read_text()


lines, log = delivery_resumes()
check("stsmail run: the first delivery makes a full TLS 1.3 handshake, the second resumes it",
      len(lines) == 2 and "(TLSv1.3, TLS1-3-" in lines[0] and "(TLSv1.3, resumed, TLS1-3-" in lines[1],
      log[-1500:])

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
blob[20] ^= 0x01   # the first anchor's subject length (after the header and one offset)
broken.write_bytes(bytes(blob))
bad.write_text(json.dumps({"network": {"interface": tap}, "tls": {"trust_store": str(broken)}}))
rc, out, err = probe("good.tls.test", "443", settings_file=bad)
check("damaged trust store refused (exit 78)", rc == 78 and "not a valid trust store" in err,
      f"{rc} {err}")

labtest.finish()
