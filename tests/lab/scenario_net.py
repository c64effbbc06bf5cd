"""Side-by-side scenarios in the lab (test_mitm.py, test_hostile_smtp.py): extra TAP devices
on the lab bridge, one static address per scenario, and one scripted server in the lab's
namespace that picks its behaviour by the client's address and logs one JSON-lines file per
client address. side_by_side() removes every TAP it added and stops the server (by its
process) whatever happens inside it."""

import contextlib
import json
import shutil
import signal
import subprocess
import time
from pathlib import Path

import labtest

LAB_DIR = Path(__file__).resolve().parent
LISTEN_WAIT_S = 10


def start(mx, work_name):
    """labtest.start() for a test whose server stands in for `mx`: returns (stsmail, state
    dir, lab, the MX's address, STATE/WORK_NAME emptied, with an empty log/ folder in it)."""
    stsmail, state, lab = labtest.start()
    work = state / work_name
    shutil.rmtree(work, ignore_errors=True)
    (work / "log").mkdir(parents=True)
    return stsmail, state, lab, lab["servers"][mx], work


def in_ns(ns, *cmd):
    """Runs a command in the lab's namespace; returns the CompletedProcess (text)."""
    return subprocess.run(["ip", "netns", "exec", ns, *map(str, cmd)], capture_output=True, text=True)


def client_address(first, i):
    """Scenario i's static address: 192.0.2.<first + i>, outside the servers and the DHCP pool."""
    return f"192.0.2.{first + i}"


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@contextlib.contextmanager
def side_by_side(ns, taps, server, server_args, out_path, address):
    """Adds `taps` to the lab bridge, starts the lab script `server` (a file name in this
    folder) with `server_args` in the namespace, its output in `out_path`, waits up to 10 s
    for port 25 of `address` to listen, and yields the server's Popen (the caller checks
    it is still running)."""
    proc = None
    try:
        for tap in taps:
            in_ns(ns, "ip", "tuntap", "add", "dev", tap, "mode", "tap")
            in_ns(ns, "ip", "link", "set", tap, "master", "br0", "up")
        proc = subprocess.Popen(["ip", "netns", "exec", ns, "/usr/bin/python3", LAB_DIR / server,
                                 *map(str, server_args)],
                                stdout=open(out_path, "wb"), stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + LISTEN_WAIT_S
        while f"{address}:25 " not in in_ns(ns, "ss", "-Hlnt").stdout + " " and time.monotonic() < deadline:
            time.sleep(0.1)
        yield proc
    finally:
        if proc is not None:
            _stop(proc)
        for tap in taps:
            in_ns(ns, "ip", "link", "del", tap)


def client_records(log_dir, address):
    """The server's records about one client address (LOG_DIR/<address>.jsonl), oldest first."""
    log = log_dir / f"{address}.jsonl"
    return [json.loads(l) for l in log.read_text().splitlines()] if log.exists() else []
