"""What every lab test script shares: the command line (STSMAIL LAB_STATE_DIR), the skip
without root, the running lab's description (lab.json, written by labctl.py), and the
PASS/FAIL bookkeeping that ends in the exit status ctest reads."""

import contextlib
import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

_results = []


def start():
    """Exits with 77 (skipped) without root; returns (stsmail, state dir, lab description)."""
    if os.geteuid() != 0:
        print("SKIP: lab tests need root (network namespaces, TAP)")
        sys.exit(77)
    state = Path(sys.argv[2])
    return sys.argv[1], state, json.loads((state / "lab.json").read_text())


def udp_payloads(pcap):
    """(seconds, payload) of each IPv4 UDP datagram in `pcap`, the bytes of a file that
    tcpdump -w wrote from an Ethernet interface."""
    out, at = [], 24                                    # pcap global header
    while at + 16 <= len(pcap):
        sec, usec, caplen = struct.unpack_from("<III", pcap, at)
        frame = pcap[at + 16:at + 16 + caplen]
        at += 16 + caplen
        if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00" or frame[14 + 9] != 17:
            continue
        out.append((sec + usec / 1e6, frame[14 + (frame[14] & 0x0F) * 4 + 8:]))
    return out


class Capture:
    """What capture() recorded: `data`, the pcap's bytes, once the block has ended."""
    data = b""


@contextlib.contextmanager
def capture(ns, iface, bpf, pcap):
    """Records the frames matching `bpf` on `iface` of namespace `ns` while the block runs
    (tcpdump -w `pcap`, listening before the block starts, given 0.3 s after it for the
    last frames). Yields a Capture whose `data` holds the file's bytes afterwards; the
    file is removed."""
    proc = subprocess.Popen(["ip", "netns", "exec", ns, "tcpdump", "-U", "--immediate-mode", "-n",
                             "-Z", "root", "-i", iface, "-w", str(pcap), bpf],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    proc.stderr.readline()   # "listening on ...": it captures from now on
    result = Capture()
    try:
        yield result
    finally:
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        result.data = pcap.read_bytes() if pcap.exists() else b""
        pcap.unlink(missing_ok=True)


def record(ok, line):
    """Counts one result whose PASS/FAIL line the caller wrote."""
    _results.append(bool(ok))
    print(line)


def check(name, ok, detail=""):
    record(ok, f"{'PASS' if ok else 'FAIL'} {name}" + ("" if ok else f"\n  {detail}"))


def scenario(name, attack, expected, observed, ok):
    """Counts one adversarial or fault scenario and, when STSM_SCENARIO_LOG names a file,
    appends it there as one JSON line for the reliability report (tests/reliability)."""
    check(name, ok, f"expected {expected}; observed {observed}")
    log = os.environ.get("STSM_SCENARIO_LOG")
    if log:
        row = {"name": name, "attack": attack, "expected": expected, "observed": observed,
               "pass": bool(ok), "test": Path(sys.argv[0]).stem}
        with open(log, "a") as f:
            f.write(json.dumps(row) + "\n")


def finish():
    passed = sum(_results)
    print(f"{passed} passed, {len(_results) - passed} failed")
    sys.exit(0 if _results and all(_results) else 1)   # a run that checked nothing fails
