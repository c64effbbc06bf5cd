#!/usr/bin/python3
"""Lab test: hostile SMTP servers (hostile_smtp.py on port 25 of mx.hostile-mx.test, the
only MX of hostile-mx.test, which has no MTA-STS policy). The server never ends a line,
sends a 10 MB reply, thousands of continuation lines, NUL bytes, trickles a reply one byte
every few seconds forever (slowloris, at the greeting and after the message), answers
MAIL FROM with codes outside 200-599, talks before its greeting, or resets the connection
in the middle of DATA. Each delivery must end in bounded wall time, within the delivery's
overall deadline (/delivery/attempt_timeout, 20 s here, with /delivery/timeout_percent at
10 so that the per-reply timeouts alone would take longer), with a temporary failure:
exit 75, the recipient reported deferred, so the alert is kept. A control scenario against
the same server behaving well shows the harness delivers.

Scenarios run side by side: each gets its own static address on its own TAP device,
added to the lab bridge by this script; the server picks its behaviour by that address.
Usage: test_hostile_smtp.py STSMAIL LAB_STATE_DIR"""

import concurrent.futures
import json
import subprocess
import time

import labtest
import scenario_net
from scenario_net import client_address, client_records, side_by_side

MX = "mx.hostile-mx.test"
stsmail, state, lab, MX_ADDR, work = scenario_net.start(MX, "hostile")
ns = lab["namespace"]
RCPT = "ops@hostile-mx.test"
FIRST_ADDRESS = 230                     # 192.0.2.230 and up: outside the servers and the DHCP pool
ATTEMPT_TIMEOUT_S = 20                  # /delivery/attempt_timeout
TIMEOUT_PERCENT = 10                    # per-reply timeouts: greeting 30 s, after the message 60 s
MARGIN_S = 8                            # start-up, DNS, and the report after the deadline
TRICKLE_S = 2.0                         # slowloris: one byte every this many seconds

SCENARIOS = {
    "no_crlf_stream": "the greeting never ends: bytes without CR or LF, 100 KiB/s, forever",
    "no_crlf_stall": "a greeting line without CRLF, then silence",
    "huge_reply": "a 10 MB multi-line greeting (1 KiB lines)",
    "many_continuations": "an EHLO reply of 5000 continuation lines",
    "nul_bytes": "NUL bytes inside the greeting line",
    "slowloris_greeting": f"a multi-line greeting sent one byte every {TRICKLE_S:g} s, forever",
    "slowloris_data_end": f"the reply to the end of the message sent one byte every {TRICKLE_S:g} s, forever",
    "code_199": "MAIL FROM answered with code 199",
    "code_600": "MAIL FROM answered with code 600",
    "code_999": "MAIL FROM answered with code 999",
    "code_abc": "MAIL FROM answered with code \"abc\"",
    "data_before_greeting": "two unsolicited 250 replies before the 220 greeting",
    "rst_mid_data": "TCP reset (SO_LINGER 0) after the first KiB of the message",
    "honest": "control: the same server behaving well",
}


def run_one(i, behaviour):
    tap, address = f"stsm-host{i}", client_address(FIRST_ADDRESS, i)
    path = work / f"{behaviour}.json"
    path.write_text(json.dumps({
        "device": {"ehlo_name": "printer.lab.test"},
        "network": {"interface": tap, "address": f"{address}/24", "dns": [lab["dns"]]},
        "mail": {"from": "alerts@printer.lab.test"}, "tls": {"trust_store": lab["trust_store"]},
        "delivery": {"mode": "mx", "tls_level": "may", "attempt_timeout": ATTEMPT_TIMEOUT_S,
                     "timeout_percent": TIMEOUT_PERCENT}}))
    started = time.monotonic()
    # A body of about 7 KiB (the limit is 8 KiB), so that the reset lands while it is being sent.
    body = "".join(f"line {n:05d} of a long alert body, padded to about sixty characters.\n"
                   for n in range(110))
    res = subprocess.run(["ip", "netns", "exec", ns, "timeout", str(ATTEMPT_TIMEOUT_S * 3), stsmail, "send",
                          "--settings", path, "--to", RCPT, "--subject", f"hostile {behaviour}",
                          "--body-file", "-"], input=body, capture_output=True, text=True)
    return dict(behaviour=behaviour, address=address, rc=res.returncode, out=res.stdout, err=res.stderr,
                wall=time.monotonic() - started)


# What the server must have seen for a scenario to count: a deferral for another reason (no
# connection, say) proves nothing about the hostile behaviour.
REACHED = {"many_continuations": ("client_line", "EHLO"), "slowloris_data_end": ("message", None),
           "rst_mid_data": ("reset", None),
           **{f"code_{c}": ("client_line", "MAIL") for c in ("199", "600", "999", "abc")}}


def reached(behaviour, records):
    event, verb = REACHED.get(behaviour, ("connect", None))
    return any(e.get("event") == event and (verb is None or e.get("text", "").upper().startswith(verb))
               for e in records)


def judge(r):
    b, rc, out, err, wall = r["behaviour"], r["rc"], r["out"], r["err"], r["wall"]
    records = client_records(work / "log", r["address"])
    result = next((l for l in out.splitlines() if l.startswith(f"{RCPT}: ")), "(no result line)")
    messages = sum(1 for e in records if e.get("event") == "message")
    connections = sum(e.get("event") == "connect" for e in records)
    observed = (f"exit {rc} after {wall:.1f}s ({result}); server saw {connections} connection(s), "
                f"{messages} whole message(s)")
    bound = ATTEMPT_TIMEOUT_S + MARGIN_S
    if b == "honest":
        expected = "delivered (exit 0)"
        ok = rc == 0 and result.startswith(f"{RCPT}: delivered") and messages == 1
    else:
        expected = f"deferred (exit 75, the alert kept) within {bound} s"
        ok = rc == 75 and result.startswith(f"{RCPT}: deferred") and wall <= bound
    if not reached(b, records):
        ok = False
        observed += "; the server never got as far as its misbehaviour"
    if not ok:
        observed += f"; stderr tail: {' | '.join(err.strip().splitlines()[-3:])[-400:]}"
    labtest.scenario(f"hostile.{b}", SCENARIOS[b], expected, observed, bool(ok))


plan = list(SCENARIOS)
taps = [f"stsm-host{i}" for i in range(len(plan))]
(work / "server.json").write_text(json.dumps({client_address(FIRST_ADDRESS, i): b for i, b in enumerate(plan)}))
server_args = ("--listen", MX_ADDR, "--config", work / "server.json", "--log-dir", work / "log",
               "--trickle", TRICKLE_S)
with side_by_side(ns, taps, "hostile_smtp.py", server_args, work / "server.out", MX_ADDR) as server:
    labtest.check("hostile server listening on the MX's port 25", server.poll() is None,
                  (work / "server.out").read_text())
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(len(plan)) as pool:
        results = list(pool.map(run_one, range(len(plan)), plan))
    for r in results:
        judge(r)
    print(f"NOTE {len(plan)} deliveries side by side took {time.monotonic() - started:.1f} s")

labtest.finish()
