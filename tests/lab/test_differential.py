#!/usr/bin/python3
"""Lab test: our MTA-STS verdicts against a peer, postfix-mta-sts-resolver (Debian's
`mta-sts-query`), for every lab domain answered by dnsmasq. Both run inside the lab;
differences are only allowed where listed below, each with the reason and who follows
RFC 8461 there. Usage: test_differential.py STSMAIL LAB_STATE_DIR"""

import ast
import json
import re
import subprocess
from pathlib import Path

import labtest

stsmail, state, lab = labtest.start()
ns, tap = lab["namespace"], lab["taps"]["host"]
domains_dir = Path(__file__).resolve().parent / "domains"

# domain -> (ours, theirs, why). Anything else must agree.
EXPECTED = {
    "sts-badid.test": ("none", "valid", "id '2026-11-30' breaks RFC 8461 3.1 (1*32 letters and digits); "
                       "the peer only checks that an id is present"),
    "sts-clamp.test": ("valid", "fetch_error", "max_age above 31557600: RFC 8461 gives no rule; we clamp it "
                       "(safer), the peer rejects the policy"),
}

settings = state / "differential.json"
settings.write_text(json.dumps({"network": {"interface": tap}, "tls": {"trust_store": lab["trust_store"]}}))


def ours(domain):
    res = subprocess.run(["ip", "netns", "exec", ns, "timeout", "90", stsmail, "check", "--settings", str(settings),
                          domain], capture_output=True, text=True)
    report = json.loads(res.stdout)
    policy = report["policy"]
    if report["txt"]["state"] != "valid":
        return "none", None
    if policy["status"] != "ok":
        return "fetch_error", None
    return "valid", (report["txt"]["id"], policy["mode"], sorted(policy["mx"]), policy["max_age"])


def theirs(domain):
    script = (f"mount --bind {state}/resolv.conf /etc/resolv.conf && "
              f"SSL_CERT_FILE={lab['ca']} exec mta-sts-query {domain}")
    res = subprocess.run(["ip", "netns", "exec", ns, "unshare", "-m", "sh", "-c", script],
                         capture_output=True, text=True, timeout=60)
    out = res.stdout.strip()
    m = re.match(r"\(<STSFetchResult\.(\w+): \d+>, (.*)\)$", out)
    if not m:
        return "unparsable", out[-200:]
    kind = {"VALID": "valid", "NONE": "none", "FETCH_ERROR": "fetch_error", "NOT_CHANGED": "valid"}.get(m.group(1), m.group(1))
    if kind != "valid":
        return kind, None
    pm = re.match(r"\('([^']*)', (\{.*\})\)$", m.group(2))
    policy = ast.literal_eval(pm.group(2)) if pm else {}   # the Python dict literal it printed
    return kind, (pm.group(1) if pm else "", policy.get("mode"), sorted(policy.get("mx", [])),
                  int(policy.get("max_age", -1)))


for path in sorted(domains_dir.glob("*.json")):
    decl = json.loads(path.read_text())
    if decl.get("dns") == "scripted":
        continue
    domain = decl["domain"]
    if not any(r.get("type") == "TXT" and r.get("name", "").startswith("_mta-sts.") for r in decl["records"]):
        continue   # no MTA-STS record: both sides can only say "none" (and each run costs seconds)
    if any(srv.get("https", {}).get("delay_s") for srv in decl["servers"]):
        # Slow policy servers test timeouts; each implementation has its own.
        print(f"NOTE {domain}: not compared (its policy server is slow on purpose; timeouts differ)")
        continue
    a, b = ours(domain), theirs(domain)
    if domain in EXPECTED:
        want_a, want_b, why = EXPECTED[domain]
        ok = a[0] == want_a and b[0] == want_b
        labtest.record(ok, f"{'PASS' if ok else 'FAIL'} {domain}: expected difference (ours {a[0]}, peer {b[0]}): {why}")
    else:
        ok = a == b
        labtest.record(ok, f"PASS {domain}: both {a[0]}" if ok else f"FAIL {domain}: ours {a}, peer {b}")

labtest.finish()
