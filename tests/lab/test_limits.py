#!/usr/bin/python3
"""Lab test: stsmail's own capacity limits never lose an alert. More MX hosts or records
than it keeps: the best by preference are used; a DNS answer too big to read or a CNAME
chain too long to follow: deferred (exit 75), never failed. See domains/limit-*.test.json.
Usage: test_limits.py STSMAIL LAB_STATE_DIR"""

import json
import subprocess

import labtest
from labtest import scenario

stsmail, state, lab = labtest.start()
ns, tap = lab["namespace"], lab["taps"]["host"]

settings = state / "limits.json"
settings.write_text(json.dumps({"network": {"interface": tap}, "mail": {"from": "alerts@printer.lab.test"},
                                "tls": {"trust_store": lab["trust_store"]}}))


def send(to):
    res = subprocess.run(["ip", "netns", "exec", ns, "timeout", "120", stsmail, "send", "--settings",
                          str(settings), "--to", to, "--subject", f"limits test {to}"],
                         capture_output=True, text=True)
    return res.returncode, res.stdout, res.stderr


def outcome(rc, out):
    return f"exit {rc}: {out.strip()[:160]}"


for domain, count in (("limit-mx12.test", 12), ("limit-mx40.test", 40)):
    rc, out, err = send(f"ops@{domain}")
    scenario(f"limits.mx_{count}_hosts", f"{count} MX records, more than stsmail keeps",
             "delivered by the preferred host (mx2.example.test), exit 0", outcome(rc, out),
             rc == 0 and "delivered by mx2.example.test" in out)

rc, out, err = send("ops@limit-huge.test")
scenario("limits.dns_answer_over_4096", "an MX answer larger than the 4096-byte DNS buffer",
         "deferred (exit 75), not failed", outcome(rc, out), rc == 75 and "deferred" in out)

rc, out, err = send("ops@limit-cname.test")
scenario("limits.cname_chain_9", "the MX target behind 9 CNAMEs (limit 8)",
         "deferred (exit 75), not failed", outcome(rc, out), rc == 75 and "deferred" in out)

labtest.finish()
