#!/usr/bin/python3
"""Lab test: an MTA-STS enforce policy covers a relay whatever its TLS setting (issue 10,
finding 3). The relay nostarttls.sts-hosts.test offers no STARTTLS (as if stripped on the
path); its policy domain sts-strip-enforce.test enforces `*.sts-hosts.test`.
Usage: test_relay_policy.py STSMAIL LAB_STATE_DIR"""

import json
import subprocess

import labtest
from labtest import scenario

stsmail, state, lab = labtest.start()
ns, tap = lab["namespace"], lab["taps"]["host"]
RELAY = "nostarttls.sts-hosts.test"


def send(to, relay):
    path = state / f"relay-policy-{relay.get('policy_domain', 'none')}.json"
    path.write_text(json.dumps({
        "network": {"interface": tap}, "mail": {"from": "alerts@printer.lab.test"},
        "tls": {"trust_store": lab["trust_store"]},
        "delivery": {"mode": "relay", "relay": dict({"host": RELAY, "port": 25, "tls": "none"}, **relay)}}))
    res = subprocess.run(["ip", "netns", "exec", ns, "timeout", "120", stsmail, "send", "--settings", str(path),
                          "--to", to, "--subject", f"relay policy {to}"], capture_output=True, text=True)
    return res.returncode, res.stdout, res.stderr


def sink_saw(rcpt):
    log = state / "log" / f"sink-{RELAY}.log"
    return log.exists() and rcpt in log.read_text()


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

labtest.finish()
