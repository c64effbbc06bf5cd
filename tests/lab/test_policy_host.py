#!/usr/bin/python3
"""Lab test: an attacker at the MTA-STS policy host (adversarial suite, issue 10): a redirect
to the attacker's policy server, a certificate for another name, a body cut short by a FIN
without TLS close_notify (finding 2), an oversized mx pattern (finding 1) and a policy
with more mx lines than stsmail keeps (finding 6), each with and, where it matters,
without a cached enforce policy. Domains: domains/atk-*.test.json (served by the scripted
DNS server, asked first). Each case is one scenario of the reliability report.
Usage: test_policy_host.py STSMAIL LAB_STATE_DIR"""

import json
import re
import subprocess

import labtest
from host_tap_runs import ATTACKER_MX, HostTapRuns, print_errors, short
from labtest import check, scenario

stsmail, state, lab = labtest.start()
ns, servers = lab["namespace"], lab["servers"]
runs = HostTapRuns(stsmail, state, lab, "policy-host")
settings, run, send, attacker_saw = runs.settings, runs.run, runs.send, runs.attacker_saw


def no_policy_reason(err):
    m = re.search(r"but no policy: ([a-z0-9_]+)", err)
    return m.group(1) if m else None


def exited(rc):
    """How a run ended, for the report: a crash shows as a signal."""
    return f"killed by signal {-rc}" if rc < 0 else f"exit {rc}"


def cached_policy_stays(name, sender, to, subject, policy_id, attack, expected):
    """Two sends sharing a cache file: the first fetches enforce policy `policy_id`; by the
    second the TXT id has changed and the new policy cannot be fetched, so the cached one
    must stay in force: the attacker's MX skipped, delivered by mx1.example.test."""
    (rc1, out1, err1), (rc2, out2, err2) = runs.send_twice(sender, to, subject)
    ok = (rc1 == 0 and f"policy id {policy_id} (fetched" in err1 and rc2 == 0
          and re.search(rf"policy id {policy_id} \(cached \d+s ago; the new policy could not be fetched", err2)
          and f"MX {ATTACKER_MX} skipped: not in the MTA-STS policy" in err2
          and "delivered by mx1.example.test" in out2 and not attacker_saw(sender))
    scenario(name, attack, expected,
             f"send 1 {exited(rc1)}, send 2 {exited(rc2)}: {short(out2)}; attacker got mail: {attacker_saw(sender)}",
             ok)
    if not ok:
        print_errors(err1, err2)


# --- a redirect to the attacker's policy server -----------------------------------------
sender = "redirect"
rc, out, err = send(settings(sender), "r@atk-redirect.test", "policy redirect")
ok = (rc == 0 and no_policy_reason(err) == "sts_http_status" and "delivered by mx1.example.test" in out
      and "mode enforce" not in err)
scenario("policy.redirect",
         "the policy host answers 302 to https://policy.atk-hosts.test/... (a valid attacker policy whose mx "
         "excludes the real MX)",
         "the redirect is not followed: no policy (sts_http_status), delivered as without MTA-STS",
         f"{exited(rc)}, no policy: {no_policy_reason(err)}, {short(out)}", ok)

cached_policy_stays(
    "policy.redirect_cached_policy_stays", "redirect-cached", "r@atk-redirect-cached.test", "policy redirect cached",
    "rc1",
    "under a cached enforce policy the TXT id changes and the policy host redirects to the attacker's; "
    "an attacker's MX appears at a better preference",
    "redirect not followed, the cached enforce policy stays: the attacker's MX skipped, delivered by "
    "mx1.example.test")

# --- a certificate for another name -------------------------------------------------------
sender = "badname"
rc, out, err = send(settings(sender), "b@atk-badname.test", "policy bad name")
ok = rc == 0 and no_policy_reason(err) == "tls_name_mismatch" and "delivered by mx1.example.test" in out
scenario("policy.wrong_name_certificate",
         "mta-sts.<domain> resolves to the attacker's policy server, whose valid lab certificate names only "
         "policy.atk-hosts.test (its policy would exclude the real MX)",
         "the fetch fails (tls_name_mismatch): no policy, delivered as without MTA-STS",
         f"{exited(rc)}, no policy: {no_policy_reason(err)}, {short(out)}", ok)

# --- finding 2: a body cut short by a FIN without close_notify ----------------------------
# First make sure the lab server really does what the scenario claims.
# (Python's default context ignores an unexpected EOF: OP_IGNORE_UNEXPECTED_EOF is cleared.)
probe = ("import socket,ssl,sys; ctx=ssl.create_default_context(cafile=sys.argv[2]);"
         "ctx.options&=~getattr(ssl,'OP_IGNORE_UNEXPECTED_EOF',0);"
         "s=ctx.wrap_socket(socket.create_connection((sys.argv[1],443),5),server_hostname='mta-sts.atk-trunc.test',suppress_ragged_eofs=False);"
         "s.sendall(b'GET /.well-known/mta-sts.txt HTTP/1.1\\r\\nHost: mta-sts.atk-trunc.test\\r\\n\\r\\n');"
         "d=b''\n"
         "try:\n"
         " while True:\n"
         "  c=s.recv(4096)\n"
         "  if not c: print('CLEAN'); break\n"
         "  d+=c\n"
         "except ssl.SSLError as e: print('NO_CLOSE_NOTIFY' if 'EOF' in str(e).upper() else repr(e))\n"
         "print(repr(d.split(b'\\r\\n\\r\\n',1)[-1]))\n"
         "print('content-length' in d.split(b'\\r\\n\\r\\n',1)[0].decode().lower())")
res = subprocess.run(["ip", "netns", "exec", ns, "/usr/bin/python3", "-c", probe, servers["policy-cut.atk-dns.test"],
                      lab["ca"]], capture_output=True, text=True, timeout=30)
lines = res.stdout.splitlines()
check("lab: the cutting policy server ends with a FIN and no close_notify, no Content-Length, after "
      "'mx: *.atk-hosts.test'",
      len(lines) == 3 and lines[0] == "NO_CLOSE_NOTIFY" and lines[1].endswith("mx: *.atk-hosts.test'")
      and lines[2] == "False", res.stdout + res.stderr)

sender = "trunc"
rc, out, err = send(settings(sender), "t@atk-trunc.test", "policy truncated")
reason = no_policy_reason(err)
ok = rc == 0 and reason is not None and "policy id trunc1" not in err and "delivered by" in out
scenario("policy.truncated_body",
         "200 text/plain without Content-Length, connection closed by a FIN without close_notify right after "
         "'mx: *.atk-hosts.test' of 'mx: *.atk-hosts.test.mail.example.test' (the cut pattern names the MX)",
         "the cut body is refused (failed fetch): no policy, delivery as without MTA-STS",
         f"{exited(rc)}, no policy: {reason}, policy accepted: {'policy id trunc1' in err}", ok)
if not ok:
    print_errors(err)

cached_policy_stays(
    "policy.truncated_body_cached_policy_stays", "trunc-cached", "t@atk-trunc-cached.test", "policy truncated cached",
    "tc1",
    "under a cached enforce policy the TXT id changes and the new policy's body is cut to "
    "'mx: *.atk-hosts.test' (FIN, no close_notify); an attacker's MX matching the cut pattern appears",
    "the cut body is refused, the cached enforce policy stays: the attacker's MX skipped, delivered by "
    "mx1.example.test")

# --- finding 1: an oversized mx pattern ----------------------------------------------------
name253 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])
name251 = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 59])
sender = "long-mx"
rc, out, err = send(settings(sender), "l@atk-long-mx.test", "policy long mx")
reason = no_policy_reason(err)
ok = rc == 0 and reason == "sts_policy_invalid" and "delivered by mx1.example.test" in out
scenario("policy.oversized_mx",
         "the policy's mx line is '*.' followed by a 253-character name (255 characters in all)",
         "the policy is refused as invalid (sts_policy_invalid) without a crash: no policy, delivered as without "
         "MTA-STS",
         f"{exited(rc)}, no policy: {reason}, {short(out)}", ok)

policy_file = state / "policy-host-long.txt"
policy_file.write_text(f"version: STSv1\r\nmode: enforce\r\nmax_age: 86400\r\nmx: *.{name253}\r\n")
rc, out, err = run("policy", "parse", str(policy_file))
ok = rc == 65 and re.match(rf"{re.escape(str(policy_file))}:4: ", err.strip() or out.strip()) is not None \
    and len((err or out).strip().splitlines()) == 1
scenario("policy.oversized_mx_offline_parse",
         "`stsmail policy parse` on a policy whose mx is '*.' and a 253-character name",
         "exit 65 with one line FILE:4: reason",
         f"{exited(rc)}: {short(err or out, 300)}", ok)

policy_file = state / "policy-host-max.txt"
policy_file.write_text(f"version: STSv1\r\nmode: enforce\r\nmax_age: 86400\r\nmx: *.{name251}\r\n")
rc, out, err = run("policy", "parse", str(policy_file))
try:
    parsed = json.loads(out)
except json.JSONDecodeError:
    parsed = None
ok = rc == 0 and parsed is not None and f"*.{name251}" in json.dumps(parsed)
scenario("policy.longest_mx_offline_parse",
         "`stsmail policy parse` on an mx pattern of exactly 253 characters ('*.' and a 251-character name)",
         "accepted whole (exit 0, the full pattern in the JSON)", f"{exited(rc)}: {short(err or out, 300)}", ok)

sender = "max-mx"
(rc1, out1, err1), (rc2, out2, err2) = runs.send_twice(sender, "m@atk-max-mx.test", "policy longest mx")
ok = (rc1 == 0 and "policy id max1 (fetched" in err1 and "delivered by mx1.example.test" in out1
      and rc2 == 0 and re.search(r"policy id max1 \(cached \d+s ago\)", err2) and "damaged" not in err2
      and "delivered by mx1.example.test" in out2)
scenario("policy.longest_mx_through_cache_file",
         "an enforce policy with a 253-character mx pattern is cached to the cache file and read back by the next run",
         "the next run loads it intact and uses it (no 'damaged' cache, no refetch)",
         f"send 1 {exited(rc1)}, send 2 {exited(rc2)}; cache damaged: {'damaged' in err2}", ok)
if not ok:
    print_errors(err1, err2)

# --- finding 6: more mx lines than stsmail keeps -------------------------------------------
def enforce_policy_fetched(name, sender, to, subject, policy_id, attack, expected, rc_wanted, in_out, in_err):
    """One send that fetches enforce policy `policy_id` and uses it: exits rc_wanted, with
    `in_out` in its report and a match of the regular expression `in_err` in its log."""
    rc, out, err = send(settings(sender), to, subject)
    ok = (rc == rc_wanted and re.search(rf"policy id {policy_id} \(fetched[^\n]*mode enforce", err) is not None
          and re.search(in_err, err) is not None and in_out in out)
    scenario(name, attack, expected, f"{exited(rc)}, no policy: {no_policy_reason(err)}, {short(out)}", ok)
    if not ok:
        print_errors(err)


enforce_policy_fetched(
    "policy.mx_40_lines_match_in_kept", "mx40-first", "f@atk-mx40-first.test", "policy 40 mx first", "first40",
    "an enforce policy with 40 mx lines; the MX is listed first",
    "the policy is used (not 'no policy'): delivered to the matching MX over verified TLS",
    0, "delivered by mx1.example.test", r"mx1\.example\.test: TLS verified")
enforce_policy_fetched(
    "policy.mx_40_lines_match_beyond_kept", "mx40-last", "l@atk-mx40-last.test", "policy 40 mx last", "last40",
    "an enforce policy with 40 mx lines; the MX is listed 40th, past the 32 stsmail keeps",
    "fail closed: the policy is in force, the MX counts as not matching (logged), deferred (exit 75)",
    # Skipped when the policy comes before the MX answer; connected meanwhile and refused
    # before MAIL FROM when the MX answer comes first (it usually does).
    75, "sts_no_usable_mx", r"MX mx1\.example\.test (skipped|refused before MAIL FROM): not in the MTA-STS policy")

labtest.finish()
