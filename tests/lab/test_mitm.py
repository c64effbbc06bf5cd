#!/usr/bin/python3
"""Lab test: a man in the middle in front of the real MX (mitm_proxy.py in front of the
sink on mx.mitm-hosts.test:2525). The proxy strips STARTTLS, answers it with 454, injects
plaintext after its 220 (in the same segment, and in a later one), or terminates TLS with a
self-signed certificate, a lab-CA certificate for a wrong name, or another lab host's own
valid certificate. Each attack runs
  - under an MTA-STS enforce policy (MX mode, mitm-enforce.test),
  - in relay mode with "tls": "starttls" (the relay offers AUTH; credentials must not leave),
  - in relay mode with "tls": "none" under an enforce policy on the relay's domain
    (STARTTLS stripped or refused: the policy still forbids plaintext),
  - without a policy (opportunistic TLS, tls_level "may", mitm-none.test).
Where policy or settings forbid plaintext, no MAIL, RCPT, AUTH or DATA may ever reach the
proxy in plaintext, nothing may be stored, and the alert is deferred (exit 75). Without a
policy: stripped or refused STARTTLS may go plaintext (logged); injected bytes fail the
session; a bad certificate keeps the session encrypted, unverified, and logs why (RFC 7435).
Control scenarios (the proxy holds the genuine certificate) show the harness delivers.

Scenarios run side by side: each gets its own static address on one of a few TAP devices
this script adds to the lab bridge; the proxy picks the attack by the client's address.
Usage: test_mitm.py STSMAIL LAB_STATE_DIR"""

import base64
import concurrent.futures
import email
import email.policy
import json
import re
import secrets
import subprocess
import threading
import time
from pathlib import Path

import labtest
import scenario_net
from scenario_net import client_address, client_records, side_by_side

MX = "mx.mitm-hosts.test"
stsmail, state, lab, MX_ADDR, work = scenario_net.start(MX, "mitm")
ns = lab["namespace"]
SINK_PORT = 2525                        # the real MX behind the proxy (domains/mitm-hosts.test.json)
DNS = lab["dns"]
AUTH = {"user": "printer", "password": "mitm-s3cret-never-in-clear"}
WORKERS = 13                            # devices (TAPs) running at once: two rounds
FIRST_ADDRESS = 200                     # 192.0.2.200 and up: outside the servers and the DHCP pool
ATTEMPT_TIMEOUT_S = 20                  # /delivery/attempt_timeout; a run is killed at twice that
FORBIDDEN = ("MAIL", "RCPT", "DATA", "AUTH", "BDAT")   # over a TLS session that must not be used
BEFORE_TLS = ("EHLO", "HELO", "STARTTLS", "QUIT", "RSET", "NOOP")   # all a client may say in plaintext
token = secrets.token_hex(4)
# The password as it would travel: itself (AUTH LOGIN sends it base64-encoded alone) and in AUTH PLAIN.
SECRETS = (AUTH["password"], base64.b64encode(AUTH["password"].encode()).decode(),
           base64.b64encode(f"\0{AUTH['user']}\0{AUTH['password']}".encode()).decode())
maildir = Path(lab["sink_maildir"]) / MX / "new"


def openssl(*args):
    res = subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, cwd=work)
    if res.returncode != 0:
        raise RuntimeError(f"openssl {args[0]}: {res.stderr.strip()}")


def make_certs():
    """The certificates the proxy may present, as (chain, key) paths."""
    pki = state / "pki"
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")
    # Self-signed, for the right name.
    openssl("req", "-x509", *ec, "-keyout", "self.key", "-out", "self.pem", "-days", "30",
            "-subj", f"/CN={MX}", "-addext", f"subjectAltName=DNS:{MX}")
    # From the lab CA, with the MX's name only in the subject CN and another name in the
    # SAN (RFC 6125: the SAN rules; a client that falls back to the CN is fooled).
    openssl("req", *ec, "-keyout", "wrong.key", "-out", "wrong.csr", "-subj", f"/CN={MX}")
    (work / "wrong.ext").write_text("subjectAltName=DNS:wrong-name.mitm-hosts.test\n"
                                    "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")
    openssl("x509", "-req", "-in", "wrong.csr", "-CA", pki / "ca.pem", "-CAkey", pki / "ca.key",
            "-CAcreateserial", "-CAserial", work / "ca.srl", "-days", "30", "-sha256",
            "-extfile", "wrong.ext", "-out", "wrong.pem")
    (work / "wrong.chain.pem").write_text((work / "wrong.pem").read_text() + (pki / "ca.pem").read_text())
    return {"genuine": (pki / f"{MX}.chain.pem", pki / f"{MX}.key"),
            "self_signed": (work / "self.pem", work / "self.key"),
            "wrong_name": (work / "wrong.chain.pem", work / "wrong.key"),
            # A real lab server's own valid certificate and key: a host the attacker owns.
            "other_host": (pki / "mx1.example.test.chain.pem", pki / "mx1.example.test.key")}


ATTACKS = {
    "strip_starttls": "STARTTLS removed from the EHLO reply",
    "starttls_454": "STARTTLS answered with 454 by the proxy",
    "inject_same_segment": "plaintext replies injected after the 220 to STARTTLS, in the same segment",
    "inject_later_segment": "plaintext replies injected after the 220 to STARTTLS, in a later segment",
    "self_signed": "proxy terminates TLS with a self-signed certificate for the MX name",
    "wrong_name": "proxy terminates TLS with a lab-CA certificate whose SAN is another name (CN is the MX)",
    "other_host": "proxy terminates TLS with another lab host's valid certificate (mx1.example.test)",
    "control": "control: proxy terminates TLS with the MX's genuine certificate",
}
PROXY_ATTACK = {"strip_starttls": "strip", "starttls_454": "refuse454", "inject_same_segment": "inject_same",
                "inject_later_segment": "inject_later"}
MODES = {
    "enforce": "MX mode, enforce policy",
    "relay_starttls": "relay mode, tls starttls, AUTH configured",
    "relay_none_enforce": "relay mode, tls none, enforce policy on the relay's domain",
    "opportunistic": "MX mode, no policy, tls_level may",
}


def scenarios():
    out = []
    for attack in ATTACKS:
        for mode in ("enforce", "relay_starttls", "opportunistic"):
            out.append((attack, mode))
        if attack in ("strip_starttls", "starttls_454"):
            out.append((attack, "relay_none_enforce"))
    return out


def settings_for(mode, tap, address):
    doc = {"device": {"ehlo_name": "printer.lab.test"},
           "network": {"interface": tap, "address": f"{address}/24", "dns": [DNS]},
           "mail": {"from": "alerts@printer.lab.test"}, "tls": {"trust_store": lab["trust_store"]}}
    if mode in ("enforce", "opportunistic"):
        doc["delivery"] = {"mode": "mx", "tls_level": "may", "attempt_timeout": ATTEMPT_TIMEOUT_S}
    elif mode == "relay_starttls":
        doc["delivery"] = {"mode": "relay", "attempt_timeout": ATTEMPT_TIMEOUT_S,
                           "relay": {"host": MX, "port": 25, "tls": "starttls", "auth": AUTH}}
    else:
        doc["delivery"] = {"mode": "relay", "attempt_timeout": ATTEMPT_TIMEOUT_S,
                           "relay": {"host": MX, "port": 25, "tls": "none",
                                     "policy_domain": "mitm-enforce.test"}}
    return doc


def stored(marker):
    for f in maildir.glob("*") if maildir.is_dir() else ():
        if marker.encode() in f.read_bytes():
            return email.message_from_bytes(f.read_bytes(), policy=email.policy.default)
    return None


def verbs(records, phase):
    """Commands the client sent in a phase: in plaintext, everything past EHLO and STARTTLS;
    over TLS, the mail and credential commands."""
    said = [r["text"].split(" ")[0].strip().upper() for r in records
            if r.get("event") == "client_line" and r["phase"] == phase]
    return [v for v in said if (v not in BEFORE_TLS if phase == "plain" else v in FORBIDDEN)]


def after_injection(records):
    """Client lines on a connection after the proxy injected bytes into it (QUIT aside)."""
    injected, lines = set(), []
    for r in records:
        if r.get("event") == "inject":
            injected.add(r["conn"])
        elif (r.get("event") == "client_line" and r["conn"] in injected
              and r["text"].strip().upper() != "QUIT"):
            lines.append(r["text"].strip()[:40])
    return lines


def attack_reached(attack, records):
    """True when some connection got as far as the attack: a scenario that was deferred
    for another reason (DNS, no connection) proves nothing."""
    lines = [r["text"].split(" ")[0].strip().upper() for r in records if r.get("event") == "client_line"]
    if attack == "strip_starttls":
        return "EHLO" in lines
    if attack == "starttls_454":
        return "STARTTLS" in lines
    if attack.startswith("inject"):
        return any(r.get("event") == "inject" for r in records)
    return any(r.get("event") == "tls_handshake" for r in records)


def run_one(attack, mode, tap, address):
    name = f"mitm.{attack}.{mode}"
    marker = f"{name} {token}"
    path = work / f"{attack}-{mode}.json"
    path.write_text(json.dumps(settings_for(mode, tap, address)))
    rcpt = "x@mitm-enforce.test" if mode == "enforce" else "x@mitm-none.test"
    started = time.monotonic()
    res = subprocess.run(["ip", "netns", "exec", ns, "timeout", str(ATTEMPT_TIMEOUT_S * 2), stsmail, "send",
                          "--settings", path, "--to", rcpt, "--subject", marker],
                         capture_output=True, text=True)
    return dict(name=name, attack=attack, mode=mode, address=address, rc=res.returncode,
                out=res.stdout, err=res.stderr, marker=marker, wall=time.monotonic() - started)


def judge(r):
    attack, mode, rc, out, err = r["attack"], r["mode"], r["rc"], r["out"], r["err"]
    records = client_records(work / "log", r["address"])
    if rc == 0:
        deadline = time.monotonic() + 5      # the sink stores asynchronously
        while stored(r["marker"]) is None and time.monotonic() < deadline:
            time.sleep(0.1)
    msg = stored(r["marker"])
    plain, tls = verbs(records, "plain"), verbs(records, "tls")
    handshakes = [r2 for r2 in records if r2.get("event") == "tls_handshake"]
    handshake_ok = any(h["ok"] for h in handshakes)
    conns = len({r2["conn"] for r2 in records if r2.get("event") == "connect"})
    leaked = any(secret in r2.get("text", "") for r2 in records if r2["phase"] == "plain" for secret in SECRETS)
    reached = attack_reached(attack, records)
    injected_then = after_injection(records)
    outcome = out.strip().splitlines()[-1] if out.strip() else "(no result line)"
    observed = (f"exit {rc} in {r['wall']:.1f}s ({outcome}); {conns} connection(s); TLS handshake "
                f"{'completed' if handshake_ok else 'failed' if handshakes else 'none'}; "
                f"plaintext {plain or 'nothing past EHLO'}; over TLS {tls or 'nothing'}; "
                f"stored {'yes' if msg else 'no'}")
    if injected_then:
        observed += f"; after the injection the client sent {injected_then}"
    if leaked:
        observed += "; the relay password crossed in plaintext"
    if not reached:
        observed += "; the attack was never reached (no connection got that far)"
    forbid = mode != "opportunistic"
    if attack == "control":
        expected = "delivered over TLS through the proxy" + (", verified" if forbid else "")
        ok = (rc == 0 and handshake_ok and "MAIL" in tls and not plain and msg is not None
              and (not forbid or re.search(rf"{re.escape(MX)}: TLS verified", err)))
    elif forbid:
        expected = ("deferred (exit 75), no MAIL/RCPT/AUTH/DATA in plaintext, none over the bad TLS "
                    "session, nothing stored, no credentials")
        ok = (rc == 75 and "deferred" in out and not plain and not tls and msg is None and not leaked
              and not injected_then)
    elif attack in ("strip_starttls", "starttls_454"):
        expected = "delivered in plaintext (opportunistic, no policy), and the lack of TLS logged"
        ok = (rc == 0 and "MAIL" in plain and msg is not None
              and re.search(r"without TLS|plaintext|not encrypted", err, re.I))
    elif attack.startswith("inject"):
        expected = ("the injected session fails: no command after the injected bytes on that connection; "
                    "delivered, if at all, on a fresh connection")
        ok = (not injected_then and rc in (0, 75) and (rc != 0 or msg is not None)
              and (rc != 75 or msg is None) and "MAIL" not in tls)
    else:
        expected = ("delivered encrypted but unverified (RFC 7435): TLS handshake completed, MAIL only "
                    "over TLS, the verification failure logged")
        ok = (rc == 0 and handshake_ok and "MAIL" in tls and not plain and msg is not None
              and re.search(rf"{re.escape(MX)}: .*not verified", err, re.I))
    ok = ok and reached
    if not ok:
        observed += f"; stderr tail: {' | '.join(err.strip().splitlines()[-4:])}"
    labtest.scenario(r["name"], f"{ATTACKS[attack]} ({MODES[mode]})", expected, observed, bool(ok))


certs = make_certs()
plan = scenarios()
taps = [f"stsm-mitm{i}" for i in range(WORKERS)]
config = {}
for i, (attack, mode) in enumerate(plan):
    address = client_address(FIRST_ADDRESS, i)
    chain, key = certs["genuine"] if attack in ("control", "inject_same_segment", "inject_later_segment") \
        else certs.get(attack, certs["genuine"])
    config[address] = {"attack": PROXY_ATTACK.get(attack, "cert"), "cert": str(chain), "key": str(key),
                       "advertise_auth": mode == "relay_starttls"}
(work / "proxy.json").write_text(json.dumps(config, indent=1))

proxy_args = ("--listen", MX_ADDR, "--upstream", f"{MX_ADDR}:{SINK_PORT}", "--config", work / "proxy.json",
              "--log-dir", work / "log")
with side_by_side(ns, taps, "mitm_proxy.py", proxy_args, work / "proxy.out", MX_ADDR) as proxy:
    labtest.check("proxy listening on the MX's port 25", proxy.poll() is None,
                  (work / "proxy.out").read_text())

    free = list(taps)
    results = []
    lock = threading.Lock()
    with concurrent.futures.ThreadPoolExecutor(WORKERS) as pool:

        def job(i, attack, mode):
            with lock:
                tap = free.pop()
            try:
                return run_one(attack, mode, tap, client_address(FIRST_ADDRESS, i))
            finally:
                with lock:
                    free.append(tap)
        futures = [pool.submit(job, i, a, m) for i, (a, m) in enumerate(plan)]
        results = [f.result() for f in futures]
    for r in results:
        judge(r)

labtest.finish()
