#!/usr/bin/python3
"""Lab test: MTA-STS end to end through `stsmail send` and `stsmail check` (lwIP over TAP,
the lab's DNS, HTTPS policy servers and SMTP servers). One lab domain per scenario; see
domains/sts-*.test.json.
Usage: test_sts.py STSMAIL LAB_STATE_DIR"""

import json
import re
import subprocess

import labtest
from labtest import check

stsmail, state, lab = labtest.start()
ns, tap = lab["namespace"], lab["taps"]["host"]


def settings(strict=None):
    doc = {"network": {"interface": tap}, "mail": {"from": "alerts@printer.lab.test"},
           "tls": {"trust_store": lab["trust_store"]}}
    if strict is not None:
        doc["mta_sts"] = {"strict_cname": strict}
    path = state / f"sts-{'-'.join(strict or ['default'])}.json"
    path.write_text(json.dumps(doc))
    return path


def run(*args):
    res = subprocess.run(["ip", "netns", "exec", ns, "timeout", "120", stsmail, *args],
                         capture_output=True, text=True)
    return res.returncode, res.stdout, res.stderr


def send(to, strict=None):
    return run("send", "--settings", str(settings(strict)), "--to", to, "--subject", f"sts test {to}")


def check_json(domain, *extra):
    rc, out, err = run("check", "--settings", str(settings()), *extra, domain)
    try:
        return rc, json.loads(out), err
    except json.JSONDecodeError:
        return rc, None, out + err


def sink_saw(host, rcpt):
    log = state / "log" / f"sink-{host}.log"
    return log.exists() and rcpt in log.read_text()


def kept_out(err, host):
    """The policy kept `host` out by name: skipped when the policy came before the MX answer,
    or, when the route came first (it usually does: MX and A take two round trips, the
    policy five), connected meanwhile and refused before MAIL FROM (no TLS handshake)."""
    return (f"MX {host} skipped: not in the MTA-STS policy" in err and f"connecting to {host}" not in err) or (
        f"MX {host} refused before MAIL FROM: not in the MTA-STS policy" in err
        and f"{host}: TLS verified" not in err)


rc, out, err = send("ops@example.test")
check("enforce: delivered to a matching MX over verified TLS", rc == 0 and "delivered by mx1.example.test" in out
      and re.search(r"example.test: MTA-STS policy id 20261130T000000 .*mode enforce", err)
      and "mx1.example.test: TLS verified" in err, f"{rc}\n{out}{err}")

rc, out, err = send("x@sts-mismatch.test")
check("enforce, MX not in the policy: deferred, nothing sent to it",
      rc == 75 and "sts_no_usable_mx" in out and kept_out(err, "mx2.example.test")
      and not sink_saw("mx2.example.test", "x@sts-mismatch.test"),
      f"{rc}\n{out}{err}")

rc, out, err = send("y@sts-second.test")
check("enforce, first MX mismatching, second matching: delivered by the second",
      rc == 0 and "delivered by mx1.example.test" in out and kept_out(err, "mx2.example.test"),
      f"{rc}\n{out}{err}")

rc, out, err = send("z@sts-testing.test")
check("testing, MX not in the policy: delivered, the would-be failure logged",
      rc == 0 and "delivered by mx2.example.test" in out
      and re.search(r"MTA-STS testing: MX mx2.example.test would be (skipped|refused) under enforce \(not in", err),
      f"{rc}\n{out}{err}")

rc, out, err = send("a@sts-strip-enforce.test")
check("enforce, STARTTLS stripped: deferred", rc == 75 and "tls_not_offered" in out
      and not sink_saw("nostarttls.sts-hosts.test", "a@sts-strip-enforce.test"), f"{rc}\n{out}{err}")
rc, out, err = send("b@sts-strip-testing.test")
check("testing, STARTTLS stripped: delivered, recorded", rc == 0 and "delivered" in out
      and "would be refused under enforce" in err, f"{rc}\n{out}{err}")
rc, out, err = send("c@sts-badcert-enforce.test")
check("enforce, certificate for another name: deferred, no plaintext retry",
      rc == 75 and "tls_name_mismatch" in out and "without STARTTLS" not in err, f"{rc}\n{out}{err}")
rc, out, err = send("d@sts-badcert-testing.test")
# Opportunistic TLS (RFC 7435): an unverified certificate keeps the session encrypted.
check("testing, certificate for another name: delivered encrypted but unverified, recorded, no plaintext",
      rc == 0 and "delivered" in out
      and "badcert.sts-hosts.test: TLS encrypted but NOT verified (tls_name_mismatch)" in err
      and "MTA-STS testing: refused under enforce" in err and "without STARTTLS" not in err,
      f"{rc}\n{out}{err}")

for domain, status in (("sts-404.test", "sts_http_status"), ("sts-redirect.test", "sts_http_status"),
                       ("sts-ctype.test", "sts_content_type"), ("sts-big.test", "capacity")):
    rc, out, err = send(f"p@{domain}")
    check(f"policy server {domain}: no policy ({status}), delivered as without MTA-STS",
          rc == 0 and f"MTA-STS record id 1, but no policy: {status}" in err and "delivered" in out,
          f"{rc}\n{out}{err}")

rc, out, err = send("q@sts-cname.test")
check("CNAMEs everywhere are fine under RFC 8461", rc == 0 and "delivered by alias.sts-cname.test" in out,
      f"{rc}\n{out}{err}")
rc, out, err = send("q@sts-cname.test", ["mx"])
check("strict scope mx: the CNAME'd MX is skipped, deferred", rc == 75 and
      "scope mx" in err and "sts_no_usable_mx" in out, f"{rc}\n{out}{err}")
rc, out, err = send("q@sts-cname.test", ["policy_host"])
check("strict scope policy_host: policy unusable, deferred", rc == 75 and "scope policy_host" in out,
      f"{rc}\n{out}{err}")
rc, out, err = send("q@sts-cname.test", ["txt"])
check("strict scope txt: policy unusable, deferred", rc == 75 and "scope txt" in out, f"{rc}\n{out}{err}")

# The policy cache survives a restart of the host simulation (a new process each send).
cached = state / "sts-cache-test.json"
cached.write_text(json.dumps({"network": {"interface": tap}, "mail": {"from": "alerts@printer.lab.test"},
                              "tls": {"trust_store": lab["trust_store"]},
                              "mta_sts": {"cache_file": "sts-cache-test.bin"}}))
access = state / "nginx" / "access.log"
gets = lambda: access.read_text().count("GET /.well-known/mta-sts.txt")
rc1, out1, err1 = run("send", "--settings", str(cached), "--to", "ops@sts-second.test", "--subject", "cache 1")
before = gets()
rc2, out2, err2 = run("send", "--settings", str(cached), "--to", "ops@sts-second.test", "--subject", "cache 2")
check("policy cache survives a restart: second send uses it without fetching",
      rc1 == 0 and rc2 == 0 and "(fetched from mta-sts.sts-second.test)" in err1 and "(cached " in err2
      and gets() == before and (state / "sts-cache-test.bin").exists(), f"{err1}\n{err2}")

# A new TXT id whose policy cannot be fetched: the cached policy stays in force. The
# scripted DNS server is asked directly (dnsmasq would cache its rotating answers).
rotate = state / "sts-rotate-test.json"
rotate.write_text(json.dumps({"network": {"interface": tap, "dns": ["192.0.2.2", "192.0.2.1"]},
                              "mail": {"from": "alerts@printer.lab.test"}, "tls": {"trust_store": lab["trust_store"]},
                              "mta_sts": {"cache_file": "sts-rotate-test.bin"}}))
rc1, out1, err1 = run("send", "--settings", str(rotate), "--to", "r@sts-rotate.test", "--subject", "rotate 1")
rc2, out2, err2 = run("send", "--settings", str(rotate), "--to", "r@sts-rotate.test", "--subject", "rotate 2")
check("TXT id changes, the fetch fails: the cached policy stays in force",
      rc1 == 0 and rc2 == 0 and "policy id rotate1 (fetched" in err1
      and re.search(r"policy id rotate1 \(cached \d+s ago; the new policy could not be fetched", err2)
      and "mode enforce" in err2, f"{err1}\n{err2}")

# Stale-cache healing: the domain moved its MX and policy without a new id.
heal = state / "sts-heal-test.json"
heal.write_text(json.dumps({"network": {"interface": tap, "dns": ["192.0.2.2", "192.0.2.1"]},
                            "mail": {"from": "alerts@printer.lab.test"}, "tls": {"trust_store": lab["trust_store"]},
                            "mta_sts": {"cache_file": "sts-heal-test.bin"}}))
rc1, out1, err1 = run("send", "--settings", str(heal), "--to", "h@sts-heal.test", "--subject", "heal 1")
rc2, out2, err2 = run("send", "--settings", str(heal), "--to", "h@sts-heal.test", "--subject", "heal 2")
check("stale cached policy: the live one is fetched once and delivery proceeds",
      rc1 == 0 and "delivered by mx2.example.test" in out1 and rc2 == 0 and "delivered by mx1.example.test" in out2
      and "fetching the live policy once" in err2 and "replaces the cached one" in err2, f"{out1}{err1}\n{out2}{err2}")

# A slow policy server: the first MX is connected at once and held before MAIL FROM.
slow = state / "sts-slow-test.json"
slow.write_text(json.dumps({"network": {"interface": tap}, "mail": {"from": "alerts@printer.lab.test"},
                            "tls": {"trust_store": lab["trust_store"]}, "mta_sts": {"fetch_timeout": 5}}))
rc, out, err = run("send", "--settings", str(slow), "--to", "a@sts-slow.test", "--subject", "slow policy")
check("slow policy server: connected meanwhile, MAIL only after the enforce decision",
      rc == 0 and "connecting while the MTA-STS policy is looked up" in err
      and err.index("connecting to mx1.example.test") < err.index("MTA-STS policy id slow1")
      and "delivered by mx1.example.test" in out, f"{rc}\n{out}{err}")
check("slow policy server: one TLS handshake at a time (STARTTLS waits for the policy fetch)",
      "mx1.example.test: STARTTLS accepted; the handshake waits for the MTA-STS lookup" in err
      and err.index("the handshake waits") < err.index("MTA-STS policy id slow1")
      < err.index("mx1.example.test: TLS verified"), err)
rc, out, err = run("send", "--settings", str(slow), "--to", "b@sts-slow-mismatch.test", "--subject", "slow mismatch")
postfix_log = (state / "log" / "postfix.log").read_text()
check("slow policy that excludes the MX: the held connection is refused before MAIL FROM",
      rc == 75 and "refused before MAIL FROM" in err and "sts_no_usable_mx" in out
      and "sts-slow-mismatch.test" not in postfix_log, f"{rc}\n{out}{err}")
rc, out, err = run("send", "--settings", str(slow), "--to", "c@sts-timeout.test", "--subject", "policy timeout")
check("policy server slower than the fetch timeout: no policy, delivered",
      rc == 0 and "no policy: timeout" in err and "delivered" in out, f"{rc}\n{out}{err}")

rc, report, err = check_json("example.test")
check("check example.test: policy and verdicts", rc == 0 and report is not None
      and report["txt"]["id"] == "20261130T000000" and report["policy"]["mode"] == "enforce"
      and [v["rfc8461"] for v in report["verdicts"]] == ["matches", "matches"]
      and [v["exchange_online"] for v in report["verdicts"]] == ["matches", "matches"], f"{rc} {report} {err}")

rc, report, err = check_json("sts-cname.test", "--strict-cname", "mx,policy_host,txt")
v = report["verdicts"][0] if report else {}
check("check sts-cname.test: RFC 8461 passes, every strict scope fails",
      rc == 0 and v.get("rfc8461") == "matches" and v.get("strict_cname") ==
      {"mx": "fails", "policy_host": "fails", "txt": "fails"} and v.get("usable") is False
      and report["txt"]["cname"] and report["policy"]["host_cname"], f"{rc} {report} {err}")
check("check sts-cname.test: the policy lists the MX name only, so the Exchange reading "
      "(the CNAME target against the policy) fails",
      rc == 0 and v.get("exchange_online") == "not_in_policy" and v.get("canonical_name") == "real-mx.sts-cname.test",
      f"{rc} {report} {err}")

rc, report, err = check_json("sts-cname-target.test")
v = report["verdicts"][0] if report else {}
check("check sts-cname-target.test: the policy lists the CNAME target only: RFC 8461 fails, "
      "the Exchange reading passes, exit status unchanged",
      rc == 0 and v.get("host") == "alias.sts-cname-target.test" and v.get("rfc8461") == "not_in_policy"
      and v.get("exchange_online") == "matches" and v.get("canonical_name") == "mx1.example.test"
      and v.get("usable") is False and v.get("strict_cname", {}).get("mx") == "fails", f"{rc} {report} {err}")
rc, out, err = send("t@sts-cname-target.test")
check("policy listing only the MX's CNAME target: stsmail follows RFC 8461, deferred",
      rc == 75 and "sts_no_usable_mx" in out and "not in the MTA-STS policy" in err, f"{rc}\n{out}{err}")

rc, report, err = check_json("sts-404.test")
check("check sts-404.test: why there is no policy", rc == 0 and report["policy"]["status"] == "sts_http_status"
      and report["policy"]["http_status"] == 404 and report["verdicts"][0]["rfc8461"] == "no_policy"
      and report["verdicts"][0]["exchange_online"] == "no_policy",
      f"{rc} {report} {err}")

labtest.finish()
