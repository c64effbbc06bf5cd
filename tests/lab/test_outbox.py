#!/usr/bin/python3
"""Lab test: the outbox of the host simulation (stsmail enqueue, queue list|flush|drop, run)
against a scripted MX, outbox_smtp.py on port 25 of mx.outbox.test (domains/outbox.test.json:
the only MX of outbox.test, no MTA-STS policy, delivered to at tls_level "may"). The MX's
address is added to the lab bridge by this script, so until the server starts the MX is
down: connections to it are refused.

Scenarios (each device has its own TAP, static address, settings and store file, and the
server answers it as its scenario asks, so they run side by side):
  server down, then up (and SIGKILL during the retry wait): delivered after retries, once
  451, then 250: delivered once after a retry, the queue empty afterwards
  550 for one recipient of two: that one failed (reason kept, never retried), the other
      delivered once
  SIGKILL mid-DATA (the server holds its reply to the final dot), restart: delivered at
      least once and at most twice (the documented exception), the queue empty
  enqueue while run is running: picked up and delivered within seconds
  queue flush after a 451 with a minute's retry wait: delivered within seconds
  a domain hourly cap of 3 with 5 different keys: 3 delivered, 2 kept queued, none dropped
  outbox full: enqueue exits 75, every earlier message intact; drop makes room
  a storm of 1000 raises of one key within the coalescing window: exactly the first alert
      at once and one summary after the window, the raises adding up to 1000
Usage: test_outbox.py STSMAIL LAB_STATE_DIR"""

import calendar
import concurrent.futures
import json
import re
import shutil
import signal
import subprocess
import threading
import time

import labtest
import scenario_net
from scenario_net import client_records, in_ns, side_by_side

stsmail, state, lab = labtest.start()
ns = lab["namespace"]
work = state / "outbox"
shutil.rmtree(work, ignore_errors=True)
(work / "log").mkdir(parents=True)

DECL = json.loads((scenario_net.LAB_DIR / "domains" / "outbox.test.json").read_text())
MX_ADDR = next(r["address"] for r in DECL["records"] if r["type"] == "A" and r["name"] == "mx.outbox.test")
RCPT = "ops@outbox.test"
BAD_RCPT = "nosuchuser@outbox.test"      # outbox_smtp.py refuses it with 550 5.1.1
# Static addresses: outside the servers, the DHCP pool, and the other adversarial tests'
# clients (test_mitm 200 and up, test_hostile_smtp 230-243); the MX is .250.
CLIENTS = [f"192.0.2.{n}" for n in (244, 245, 246, 247, 248, 249, 251, 252, 253)]
HOLD_S = 12                              # hold_data_end_first: the held reply
STORM = 1000
STORM_WINDOW_S = 60                      # /outbox/coalesce_window of the storm: 1000 enqueues
                                         # beside a run took 4-19 s here, 32 s under ASan
CAP = 3                                  # /outbox/domain_hourly_cap of the cap scenario
RESULT = re.compile(r"^message (\d+) to (\S+): (delivered|failed|gave_up): (.*)$")
TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)")

procs = []                               # every `stsmail run` started, stopped in the finally
procs_lock = threading.Lock()


def epoch(text):
    """Seconds since 1970 of a queue list time ("YYYY-MM-DD hh:mm:ss UTC"); None for null."""
    m = TIME.search(text or "")
    return calendar.timegm(tuple(map(int, m.groups())) + (0, 0, 0)) if m else None


def wait_for(pred, timeout_s, step_s=0.2):
    """pred()'s first true value within timeout_s, else None."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = pred()
        if value or time.monotonic() >= deadline:
            return value or None
        time.sleep(step_s)


class Device:
    """One simulated device: its settings, store file, TAP and address, and its `run`s."""

    def __init__(self, name, i, behaviour, **outbox):
        self.name, self.tap, self.address, self.behaviour = name, f"stsm-ob{i}", CLIENTS[i], behaviour
        self.settings = work / f"{name}.json"
        self.settings.write_text(json.dumps({
            "device": {"ehlo_name": f"{name}.lab.test"},
            "network": {"interface": self.tap, "address": f"{self.address}/24", "dns": [lab["dns"]]},
            "mail": {"from": f"alerts@{name}.lab.test", "to": [RCPT]},
            "tls": {"trust_store": lab["trust_store"]},
            "delivery": {"mode": "mx", "tls_level": "may"},
            "outbox": {"store_file": f"{name}.bin", "retry_first": 1, "retry_max": 2, "coalesce_window": 0,
                       **outbox}}))
        self.runs = []                   # (Popen, stdout path, stderr path)

    def stsmail(self, *args, body=None):
        res = subprocess.run([stsmail, *map(str, args)], input=body, capture_output=True, text=True, timeout=60)
        return res.returncode, res.stdout, res.stderr

    def enqueue(self, subject, key=None, to=(), severity=None, body="an alert from the outbox lab test\n"):
        """`stsmail enqueue` (outside the lab: it needs no network): (exit, stdout, stderr)."""
        args = ["enqueue", "--settings", self.settings, "--subject", subject, "--body-file", "-"]
        args += ["--key", key] if key else []
        args += ["--severity", severity] if severity else []
        for a in to:
            args += ["--to", a]
        return self.stsmail(*args, body=body)

    def queue(self):
        """`stsmail queue list` parsed; None when it fails or prints no JSON array."""
        rc, out, err = self.stsmail("queue", "list", "--settings", self.settings)
        try:
            doc = json.loads(out) if rc == 0 else None
        except json.JSONDecodeError:
            doc = None
        if not isinstance(doc, list):
            print(f"NOTE {self.name}: queue list exit {rc}: {err.strip()[-300:]} {out.strip()[:300]}")
            return None
        return doc

    def start_run(self):
        n = len(self.runs) + 1
        out, err = work / f"{self.name}-run{n}.out", work / f"{self.name}-run{n}.err"
        # `ip netns exec` execs the command: the Popen's pid is stsmail's own.
        p = subprocess.Popen(["ip", "netns", "exec", ns, stsmail, "run", "--settings", str(self.settings)],
                             stdout=open(out, "w"), stderr=open(err, "w"), stdin=subprocess.DEVNULL)
        with procs_lock:
            procs.append(p)
        self.runs.append((p, out, err))
        return p

    def running(self):
        return self.runs[-1][0]

    def kill_run(self):
        p = self.running()
        p.send_signal(signal.SIGKILL)
        p.wait()
        return p.returncode

    def stop_run(self, timeout_s=30):
        """SIGTERM to the running `run`: its exit status (None when it did not end in time)."""
        p = self.running()
        if p.poll() is not None:
            return p.returncode
        p.send_signal(signal.SIGTERM)
        try:
            return p.wait(timeout_s)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            return None

    def results(self):
        """Every `run`'s result lines so far: [(id, address, state, reason)]."""
        rows = []
        for _, out, _ in self.runs:
            for line in out.read_text().splitlines():
                m = RESULT.match(line)
                if m:
                    rows.append((int(m.group(1)), m.group(2), m.group(3), m.group(4)))
        return rows

    def stderr_tail(self):
        if not self.runs:
            return ""
        return " | ".join(self.runs[-1][2].read_text().strip().splitlines()[-3:])[-400:]

    def records(self, event=None):
        return [r for r in client_records(work / "log", self.address) if event is None or r.get("event") == event]

    def pending(self, queue):
        """Messages of a queue list that still have a pending recipient."""
        return [m for m in queue or [] if any(t.get("state") == "pending" for t in m.get("to", []))]


def scenario(name, attack, expected, observed, ok, device=None):
    if not ok and device is not None:
        observed += f"; run stderr: {device.stderr_tail()}"
    labtest.scenario(f"outbox.{name}", attack, expected, observed, bool(ok))


def one_message(device):
    """The device's first queued message, or None."""
    q = device.queue()
    return q[0] if q else None


def after_attempts(device, min_attempts):
    """The device's message once `min_attempts` attempts have ended with an error."""
    m = one_message(device)
    return m if m and m.get("attempts", 0) >= min_attempts and m.get("last_error") else None


def in_retry_wait(device, min_attempts):
    """after_attempts(), while the next attempt is still at least a second away."""
    m = after_attempts(device, min_attempts)
    at = epoch(m.get("next_attempt")) if m else None
    return m if at is not None and at >= time.time() + 1 else None


def delivered(device, timeout_s, step_s=0.2):
    """The device's "delivered" result lines once there is one (within timeout_s), else None."""
    return wait_for(lambda: [r for r in device.results() if r[2] == "delivered"], timeout_s, step_s)


def wind_up(device, settle_s=2):
    """A scenario's end: after settle_s (room for a copy too many, or a retry that should not
    come), (what the server received, the queue list, the SIGTERM exit of `run`)."""
    time.sleep(settle_s)
    messages, rest = device.records("message"), device.queue()
    return messages, rest, device.stop_run()


# ---- scenarios --------------------------------------------------------------------------

def down_before_server(d):
    """Server down: the first attempts are refused; SIGKILL during a retry wait loses
    nothing. Runs before the server starts; returns what down_after_server() needs."""
    rc, out, err = d.enqueue("server down, then up", key="down")
    ident = out.strip()
    stored = one_message(d)
    d.start_run()
    waiting = wait_for(lambda: in_retry_wait(d, 1), 30)
    killed_rc = d.kill_run() if waiting else None
    after_kill = one_message(d)
    intact = bool(waiting and after_kill and after_kill.get("id") == waiting.get("id")
                  and after_kill.get("attempts") == waiting.get("attempts")
                  and after_kill.get("subject") == "server down, then up"
                  and after_kill.get("body_bytes") == waiting.get("body_bytes")
                  and [t.get("state") for t in after_kill.get("to", [])] == ["pending"]
                  and after_kill.get("last_error"))
    observed = (f"enqueue exit {rc} (id {ident!r}); before the kill attempts "
                f"{waiting and waiting.get('attempts')}, last_error {waiting and waiting.get('last_error')!r}, "
                f"next_attempt {waiting and waiting.get('next_attempt')}; SIGKILL exit {killed_rc}; after it: "
                f"{json.dumps(after_kill)[:400]}")
    scenario("kill_in_retry_wait", "stsmail run killed with SIGKILL while it waits to retry (MX down)",
             "the message still queued, intact (id, subject, body size, attempts, last error, recipient pending)",
             observed, rc == 0 and stored and intact, d)
    d.start_run()
    second = wait_for(lambda: in_retry_wait(d, 2), 30)
    return rc, ident, second


def down_after_server(d, before, server_up_at):
    rc, ident, second = before
    line = delivered(d, 30)
    delivered_after = time.monotonic() - server_up_at
    messages, rest, stop_rc = wind_up(d)
    observed = (f"attempts while down {second and second.get('attempts')} (last error "
                f"{second and second.get('last_error')!r}); result {line}; {delivered_after:.1f} s after the "
                f"server came up; server received {len(messages)} message(s); queue afterwards {rest}; "
                f"SIGTERM exit {stop_rc}")
    ok = (rc == 0 and second is not None and line and line[0][0] == int(ident or 0) and len(messages) == 1
          and messages[0].get("subject") == "server down, then up" and rest == [] and stop_rc == 0)
    scenario("server_down_then_up", "the MX refuses connections (nothing listens) for the first attempts, then comes up",
             "attempts >= 2 while down, then delivered exactly once; queue empty; run exits 0 on SIGTERM",
             observed, ok, d)


def temp_then_ok(d):
    rc, out, _ = d.enqueue("451 then 250", key="t451")
    d.start_run()
    deferred = wait_for(lambda: after_attempts(d, 1), 20, 0.1)
    line = delivered(d, 30)
    messages, rest, stop_rc = wind_up(d)
    rcpts = [(r.get("connection"), r.get("code")) for r in d.records("rcpt")]
    observed = (f"enqueue exit {rc}; RCPT replies (connection, code) {rcpts}; after the 451 the queue said "
                f"attempts {deferred and deferred.get('attempts')}, last_error "
                f"{deferred and deferred.get('last_error')!r}; result {line}; server received "
                f"{len(messages)} message(s); queue afterwards {rest}; SIGTERM exit {stop_rc}")
    ok = (rc == 0 and rcpts[:1] == [(1, 451)] and rcpts[-1:] and rcpts[-1][1] == 250 and deferred
          and "451" in deferred.get("last_error", "") and line and len(messages) == 1 and rest == []
          and stop_rc == 0)
    scenario("451_then_250", "the first connection answers RCPT with 451 4.3.0, the retry gets 250",
             "the 451 kept as last_error, then delivered exactly once; queue empty", observed, ok, d)


def fail_one_of_two(d):
    rc, out, _ = d.enqueue("550 for one of two", key="t550", to=(BAD_RCPT, RCPT))
    d.start_run()
    both = wait_for(lambda: len(d.results()) >= 2 and d.results(), 30)
    messages, rest, stop_rc = wind_up(d, 4)     # longer than retry_max: a retry would have come
    results = {r[1]: r for r in d.results()}
    rcpts = [(r.get("address"), r.get("code")) for r in d.records("rcpt")]
    bad, good = results.get(BAD_RCPT), results.get(RCPT)
    observed = (f"enqueue exit {rc}; results {both}; RCPT replies {rcpts}; messages received "
                f"{[(m.get('rcpts'), m.get('subject')) for m in messages]}; queue afterwards {rest}; "
                f"SIGTERM exit {stop_rc}")
    ok = (rc == 0 and bad and bad[2] == "failed" and "550" in bad[3] and good and good[2] == "delivered"
          and len(d.results()) == 2 and rcpts.count((BAD_RCPT, 550)) == 1 and len(rcpts) == 2
          and len(messages) == 1 and messages[0].get("rcpts") == [RCPT] and rest == [] and stop_rc == 0)
    scenario("550_one_of_two", f"RCPT {BAD_RCPT} answered 550 5.1.1, {RCPT} 250, in one message",
             "the first failed with its 550 reason and never asked again, the second delivered exactly once",
             observed, ok, d)


def kill_mid_data(d):
    rc, out, _ = d.enqueue("killed mid-DATA", key="killdata")
    d.start_run()
    held = wait_for(lambda: d.records("holding"), 30)
    killed_rc = d.kill_run() if held else None
    after_kill = one_message(d)
    d.start_run()
    line = delivered(d, HOLD_S + 30)
    messages, rest, stop_rc = wind_up(d)
    observed = (f"enqueue exit {rc}; server held its reply: {bool(held)}; SIGKILL exit {killed_rc}; queue after the "
                f"kill: attempts {after_kill and after_kill.get('attempts')}, recipients "
                f"{after_kill and after_kill.get('to')}; after the restart: {line}; the message arrived "
                f"{len(messages)} time(s); queue afterwards {rest}; SIGTERM exit {stop_rc}")
    ok = (rc == 0 and held and after_kill and [t.get("state") for t in after_kill.get("to", [])] == ["pending"]
          and line and 1 <= len(messages) <= 2 and rest == [] and stop_rc == 0)
    print(f"NOTE kill_mid_data: the message whose DATA was cut arrived {len(messages)} time(s)")
    scenario("kill_mid_data", f"stsmail run killed with SIGKILL after the final dot, while the server holds its "
             f"reply ({HOLD_S} s); run restarted",
             "delivered at least once and at most twice (a message whose DATA was cut mid-flight may "
             "arrive again); queue empty", observed, ok, d)


def enqueue_while_running(d):
    d.start_run()
    started = wait_for(lambda: "working the outbox" in d.runs[-1][2].read_text(), 30)
    time.sleep(1)
    t0 = time.time()
    rc, out, _ = d.enqueue("enqueued while run runs", key="live")
    enqueue_s = time.time() - t0
    got = wait_for(lambda: d.records("message"), 20, 0.05)
    latency = got[0]["t"] - t0 if got else None
    line = delivered(d, 10)
    _, rest, stop_rc = wind_up(d, 0)
    observed = (f"run started: {bool(started)}; enqueue exit {rc} in {enqueue_s:.2f} s; received "
                f"{latency if latency is None else round(latency, 2)} s after enqueue began; result {line}; "
                f"queue afterwards {rest}; SIGTERM exit {stop_rc}")
    print(f"NOTE enqueue_while_running: enqueue took {enqueue_s:.2f} s, delivered "
          f"{latency if latency is None else round(latency, 2)} s after it began")
    ok = started and rc == 0 and latency is not None and latency <= 4 and line and rest == [] and stop_rc == 0
    scenario("enqueue_while_running", "stsmail enqueue beside a running stsmail run (they share the store file)",
             "picked up and delivered within a few seconds (at most 4 s)", observed, ok, d)


def flush_now(d):
    rc, out, _ = d.enqueue("flushed", key="flush")
    d.start_run()
    deferred = wait_for(lambda: in_retry_wait(d, 1), 20, 0.1)
    wait_s = epoch(deferred.get("next_attempt")) - time.time() if deferred else None
    t0 = time.time()
    flush = d.stsmail("queue", "flush", "--settings", d.settings)
    line = delivered(d, 15, 0.05)
    took = time.time() - t0
    messages, rest, stop_rc = wind_up(d, 0)
    observed = (f"enqueue exit {rc}; after the 451 the next attempt was {wait_s and round(wait_s)} s away; "
                f"queue flush exit {flush[0]}; result {line} {took:.1f} s after the flush; server received "
                f"{len(messages)} message(s); queue afterwards {rest}; SIGTERM exit {stop_rc}")
    ok = (rc == 0 and deferred and wait_s > 30 and flush[0] == 0 and line and took < 5 and len(messages) == 1
          and rest == [] and stop_rc == 0)
    scenario("queue_flush", "a 451 deferral with /outbox/retry_first 60 s, then `stsmail queue flush` beside the run",
             "retried and delivered within seconds of the flush, not a minute later", observed, ok, d)


def domain_cap(d):
    ids = []
    for i in range(CAP + 2):
        rc, out, err = d.enqueue(f"cap {i + 1}", key=f"cap-{i + 1}")
        ids.append(out.strip() if rc == 0 else f"exit {rc}: {err.strip()}")
    d.start_run()
    wait_for(lambda: len(d.results()) >= CAP, 30)
    messages, rest, stop_rc = wind_up(d, 5)     # room for any message the cap should have held
    results = d.results()
    after_stop = d.queue()
    held = [(m.get("id"), m.get("subject"), m.get("attempts"), [t.get("state") for t in m.get("to", [])])
            for m in rest or []]
    connections = len(d.records("connect"))
    observed = (f"ids {ids}; results {[(r[0], r[2]) for r in results]}; server received "
                f"{[m.get('subject') for m in messages]} over {connections} connection(s); still queued {held}; "
                f"SIGTERM exit {stop_rc}; queued after it: {len(after_stop or [])}")
    want_held = [(int(i), f"cap {n + 1}", 0, ["pending"]) for n, i in enumerate(ids) if n >= CAP
                 if i.isdigit()]
    ok = (all(i.isdigit() for i in ids) and len(messages) == CAP and len(results) == CAP
          and all(r[2] == "delivered" for r in results)
          and sorted(r[0] for r in results) == [int(i) for i in ids[:CAP]]
          and held == want_held and stop_rc == 0 and len(after_stop or []) == 2)
    scenario("domain_cap", f"{CAP + 2} alerts with different keys to one domain, /outbox/domain_hourly_cap {CAP}",
             f"the {CAP} oldest delivered now, the other 2 still queued (never attempted, never dropped)",
             observed, ok, d)


def outbox_full(d):
    body = "".join(f"filler line {n:03d} of an alert body that fills the outbox quickly.\n" for n in range(24))
    stored, last = [], None
    for i in range(40):
        rc, out, err = d.enqueue(f"full {i + 1}", key=f"full-{i + 1}", body=body)
        if rc != 0:
            last = (rc, err.strip())
            break
        stored.append((int(out.strip()), f"full {i + 1}"))
    q = d.queue() or []
    kept = [(m.get("id"), m.get("subject")) for m in q]
    intact = all(m.get("body_bytes") == len(body) and m.get("attempts") == 0
                 and [t.get("state") for t in m.get("to", [])] == ["pending"] for m in q)
    drop = d.stsmail("queue", "drop", "--settings", d.settings, stored[0][0]) if stored else (None, "", "")
    after_drop = [m.get("id") for m in d.queue() or []]
    again = d.enqueue("full again", key="full-again", body=body)
    observed = (f"{len(stored)} stored, then {last}; queue list {kept} (every body {len(body)} bytes, unattempted: "
                f"{intact}); drop of {stored[0][0] if stored else None}: exit {drop[0]}, queue {after_drop}; "
                f"enqueue after the drop: exit {again[0]}")
    ok = (len(stored) >= 2 and last is not None and last[0] == 75 and "full" in last[1] and kept == stored
          and intact and drop[0] == 0 and after_drop == [i for i, _ in stored[1:]] and again[0] == 0)
    scenario("full", "enqueue into an outbox whose 12 KiB store has no room left (body "
             f"{len(body)} bytes each, when_full refuse)",
             "exit 75 with a message saying the outbox is full; every earlier message listed intact; "
             "queue drop makes room for the next", observed, ok)


def storm(d):
    d.start_run()
    started = wait_for(lambda: "working the outbox" in d.runs[-1][2].read_text(), 30)
    body = work / "storm-body.txt"
    body.write_text("the same alert, raised again and again\n")
    # Two raisers side by side, half the storm each: concurrent enqueues must coalesce under
    # the store's lock too, and the storm ends well inside the window on a loaded machine
    # (one after another, 1000 sanitizer-built processes took 60 s under load).
    loop = ('raise_half() { fails=0; for i in $(seq "$1"); do "$STSMAIL" enqueue --settings "$SETTINGS" --key storm '
            '--subject "storm alert" --body-file "$BODY" || fails=$((fails + 1)); done; echo "$fails" > "$2"; }; '
            'STSMAIL=$1 SETTINGS=$2 BODY=$3; half=$(( $4 / 2 )); raise_half "$half" "$5.a" & '
            'raise_half $(( $4 - half )) "$5.b"; wait; echo $(( $(cat "$5.a") + $(cat "$5.b") )) >&2')
    t0 = time.time()
    res = subprocess.run(["bash", "-c", loop, "storm", stsmail, d.settings, body, str(STORM), work / "storm-fails"],
                         capture_output=True, text=True, timeout=300)
    storm_s = time.time() - t0
    ids = res.stdout.split()
    fails = res.stderr.strip().splitlines()[-1:] or ["?"]
    print(f"NOTE storm: {STORM} enqueue processes took {storm_s:.1f} s ({storm_s / STORM * 1000:.1f} ms each)")
    # The summary waits for the window that opened at the first raise to end.
    wait_for(lambda: len(d.records("message")) >= 2, STORM_WINDOW_S - (time.time() - t0) + 20)
    messages, rest, stop_rc = wind_up(d, 3)     # a third message would come now
    raised = [m.get("raised") or 1 for m in messages]
    times = [round(m["t"] - t0, 1) for m in messages]
    observed = (f"storm of {STORM} took {storm_s:.1f} s, failed enqueues {fails[0]}, {len(set(ids))} distinct "
                f"id(s) {sorted(set(ids))[:5]}; server received {len(messages)} message(s) at {times} s, "
                f"raised counts {raised}; still pending {len(d.pending(rest))}; SIGTERM exit {stop_rc}")
    ok = (started and storm_s < STORM_WINDOW_S and fails == ["0"] and len(ids) == STORM and len(set(ids)) == 2
          and len(messages) == 2 and sum(raised) == STORM and times[0] < 10
          and times[1] >= STORM_WINDOW_S - 1 and messages[1].get("raised") and rest is not None
          and not d.pending(rest) and stop_rc == 0)
    scenario("storm", f"{STORM} enqueues with one --key while run runs, /outbox/coalesce_window {STORM_WINDOW_S} s",
             "exactly 2 messages: the first alert at once, then one summary after the window "
             f"(\"raised N times\"), the raises adding up to {STORM}", observed, ok, d)


def guarded(name, fn, *args):
    """fn(*args); an exception in it is that scenario's failure, not the end of the test."""
    try:
        return fn(*args)
    except Exception as e:   # noqa: BLE001 - every failure is reported as the scenario's
        labtest.scenario(name, "(the scenario itself)", "no error", f"{type(e).__name__}: {e}", False)
        return None


# ---- the run ----------------------------------------------------------------------------

devices = {
    "down": Device("down", 0, "honest", retry_first=4, retry_max=4),
    "t451": Device("t451", 1, "rcpt451_first", retry_first=2, retry_max=2),
    "t550": Device("t550", 2, "honest"),
    "killdata": Device("killdata", 3, "hold_data_end_first", retry_first=2, retry_max=2),
    "live": Device("live", 4, "honest"),
    "cap": Device("cap", 5, "honest", domain_hourly_cap=CAP),
    "full": Device("full", 6, "honest", store_size=12288),
    "flush": Device("flush", 8, "rcpt451_first", retry_first=60, retry_max=60),
    "storm": Device("storm", 7, "honest", coalesce_window=STORM_WINDOW_S, retry_first=60, retry_max=60),
}
taps = [d.tap for d in devices.values()]
(work / "server.json").write_text(json.dumps({d.address: d.behaviour for d in devices.values()}))
server_args = ("--listen", MX_ADDR, "--config", work / "server.json", "--log-dir", work / "log", "--hold", HOLD_S)
started = time.monotonic()
try:
    for tap in taps:
        in_ns(ns, "ip", "tuntap", "add", "dev", tap, "mode", "tap")
        in_ns(ns, "ip", "link", "set", tap, "master", "br0", "up")
    in_ns(ns, "ip", "addr", "add", f"{MX_ADDR}/24", "dev", "br0")
    before = guarded("outbox.kill_in_retry_wait", down_before_server, devices["down"])
    with side_by_side(ns, [], "outbox_smtp.py", server_args, work / "server.out", MX_ADDR) as server:
        up_at = time.monotonic()
        labtest.check("outbox_smtp listening on port 25 of mx.outbox.test", server.poll() is None,
                      (work / "server.out").read_text())
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            jobs = [pool.submit(guarded, f"outbox.{name}", fn, *args) for name, fn, *args in (
                ("server_down_then_up", down_after_server, devices["down"], before or (1, "", None), up_at),
                ("451_then_250", temp_then_ok, devices["t451"]),
                ("550_one_of_two", fail_one_of_two, devices["t550"]),
                ("kill_mid_data", kill_mid_data, devices["killdata"]),
                ("enqueue_while_running", enqueue_while_running, devices["live"]),
                ("domain_cap", domain_cap, devices["cap"]),
                ("full", outbox_full, devices["full"]),
                ("queue_flush", flush_now, devices["flush"]))]
            for job in jobs:
                job.result()
        # Alone: a thousand processes would slow the others' deliveries.
        guarded("outbox.storm", storm, devices["storm"])
finally:
    with procs_lock:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    in_ns(ns, "ip", "addr", "del", f"{MX_ADDR}/24", "dev", "br0")
    for tap in taps:
        in_ns(ns, "ip", "link", "del", tap)
print(f"NOTE the outbox scenarios took {time.monotonic() - started:.1f} s")
labtest.finish()
