#!/usr/bin/python3
"""Lab test: an MTA-STS enforce policy covers a relay whatever its TLS setting (issue 10,
finding 3). The relay nostarttls.sts-hosts.test offers no STARTTLS (as if stripped on the
path); its policy domain sts-strip-enforce.test enforces `*.sts-hosts.test`. A relay reached
with STARTTLS is connected to beside its policy fetch (issue 12): the handshake, and so AUTH,
still come only after the policy (submit.relay.test, enforce, lists itself).
Usage: test_relay_policy.py STSMAIL LAB_STATE_DIR"""

import json
import subprocess

import labtest
from labtest import scenario

stsmail, state, lab = labtest.start()
ns, tap = lab["namespace"], lab["taps"]["host"]
RELAY = "nostarttls.sts-hosts.test"


def send(to, relay, name=None):
    path = state / f"relay-policy-{name or relay.get('policy_domain', 'none')}.json"
    path.write_text(json.dumps({
        "network": {"interface": tap}, "mail": {"from": "alerts@printer.lab.test"},
        "tls": {"trust_store": lab["trust_store"]},
        "delivery": {"mode": "relay", "relay": dict({"host": RELAY, "port": 25, "tls": "none"}, **relay)}}))
    res = subprocess.run(["ip", "netns", "exec", ns, "timeout", "120", stsmail, "send", "--settings", str(path),
                          "--to", to, "--subject", f"relay policy {to}"], capture_output=True, text=True)
    return res.returncode, res.stdout, res.stderr


def sink_log(host=RELAY):
    log = state / "log" / f"sink-{host}.log"
    return log.read_text() if log.exists() else ""


def sink_saw(rcpt):
    return rcpt in sink_log()


rc, out, err = send("enforced@example.test", {"policy_domain": "sts-strip-enforce.test"})
scenario("relay.tls_none.enforce_policy.no_starttls",
         "relay with /delivery/relay/tls none, no STARTTLS offered, enforce policy on its domain",
         "deferred (exit 75, tls_not_offered), nothing past EHLO in plaintext",
         f"exit {rc}: {out.strip()[:160]}",
         rc == 75 and "tls_not_offered" in out and not sink_saw("enforced@example.test"))

# The weaker mode still works as documented where no policy covers the relay.
rc, out, err = send("plain@example.test", {"policy_domain": "nopolicy.relay-policy.test"})
scenario("relay.tls_none.no_policy.no_starttls",
         "relay with /delivery/relay/tls none, no STARTTLS offered, no MTA-STS policy",
         "delivered in plaintext, as the explicit setting allows, and logged",
         f"exit {rc}: {out.strip()[:160]}",
         rc == 0 and sink_saw("plain@example.test") and "TLS is not required by settings" in err)

# STARTTLS relay with AUTH under its own enforce policy: the policy is applied before the
# handshake, AUTH goes over TLS. Whether the connection opened before the policy came depends
# on which answer wins (nearly always the relay's address); the order of what matters does not.
rc, out, err = send("starttls@example.test", {"host": "submit.relay.test", "port": 587, "tls": "starttls",
                    "auth": {"user": "printer", "password": "s3cret-lab"}}, name="submit")
policy_at = err.find("submit.relay.test: MTA-STS policy id relay1")
tls_at = err.find("submit.relay.test: TLS verified")
auth = [line for line in sink_log("submit.relay.test").splitlines() if line.startswith("AUTH ")]
scenario("relay.starttls.enforce.policy_before_tls",
         "relay with STARTTLS and AUTH, connected while its enforce policy is fetched",
         "delivered; the policy applied before the TLS handshake; AUTH only over TLS",
         f"exit {rc}; connected {'before' if 'connecting while the MTA-STS policy' in err else 'after'} "
         f"the policy came; policy at {policy_at}, TLS at {tls_at}; {auth[-1:] or 'no AUTH'}",
         rc == 0 and 0 <= policy_at < tls_at and auth and all("tls=True" in a for a in auth))

labtest.finish()
