"""stsmail runs on the lab's host TAP for the attacker scripts (test_dns_attacks.py,
test_policy_host.py): settings that ask the scripted DNS server first, sends, and what the
attacker's SMTP sink got. Each script gives its own file prefix, so their settings and
cache files in the lab's state directory never meet."""

import json
import subprocess

SCRIPTED, LAB_DNS = "192.0.2.2", "192.0.2.1"
ATTACKER_MX = "mx.atk-hosts.test"
RUN_TIMEOUT_S = 120


def short(text, n=600):
    """`text` stripped, its middle cut out when it is longer than n characters."""
    text = text.strip()
    return text if len(text) <= n else text[:n // 2] + " ... " + text[-n // 2:]


def print_errors(*errs):
    """Prints each run's stderr (shortened), separated by ---, for a failed scenario."""
    parts = []
    for err in errs:
        parts += [short(err, 1500), "\n---\n"]
    print(*parts[:-1])


class HostTapRuns:
    def __init__(self, stsmail, state, lab, prefix):
        self.stsmail, self.state, self.lab, self.prefix = stsmail, state, lab, prefix
        self.ns, self.tap = lab["namespace"], lab["taps"]["host"]

    def settings(self, name, cache=False, servers=(SCRIPTED, LAB_DNS)):
        """A settings file for sender `name` (the scripted server first: dnsmasq answers the
        lab's other names); with `cache`, an MTA-STS cache file of its own, emptied."""
        doc = {"network": {"interface": self.tap, "dns": list(servers)},
               "mail": {"from": f"{name}@printer.lab.test"}, "tls": {"trust_store": self.lab["trust_store"]}}
        if cache:
            doc["mta_sts"] = {"cache_file": f"{self.prefix}-{name}.bin"}
            (self.state / f"{self.prefix}-{name}.bin").unlink(missing_ok=True)
        path = self.state / f"{self.prefix}-{name}.json"
        path.write_text(json.dumps(doc))
        return path

    def run(self, *args):
        """stsmail ARGS in the lab's namespace: (exit status, stdout, stderr)."""
        res = subprocess.run(["ip", "netns", "exec", self.ns, "timeout", str(RUN_TIMEOUT_S), self.stsmail,
                              *map(str, args)], capture_output=True, text=True)
        return res.returncode, res.stdout, res.stderr

    def send(self, path, to, subject):
        return self.run("send", "--settings", path, "--to", to, "--subject", subject)

    def send_twice(self, sender, to, subject):
        """Two sends sharing one emptied cache file (subjects "SUBJECT 1" and "SUBJECT 2"):
        the first fetches and caches the policy, the second meets what changed since."""
        path = self.settings(sender, cache=True)
        return self.send(path, to, f"{subject} 1"), self.send(path, to, f"{subject} 2")

    def attacker_saw(self, sender):
        """True when the attacker's SMTP sink got anything past EHLO from this sender."""
        log = self.state / "log" / f"sink-{ATTACKER_MX}.log"
        return log.exists() and sender in log.read_text()
