"""The speed bench's network: the lab (tests/lab/labctl.py, its own state directory) and a
client namespace joined to it by a ROUTED veth pair (iptables does not see bridged frames
here), with a delay line on the ingress of both veth ends.

    lab namespace                         client namespace
    192.0.2.0/24 servers, DNS  --veth--   198.51.100.2 (kernel clients: Postfix, msmtp, swaks)
    198.51.100.1 (bvlab)                  forwarding on; TAPs stap0..stap2, one per stsmail
    route 203.0.113.0/24 via .2           process that may run at once (lwIP holds its TAP),
                                          each ROUTED on its own /30: stapN is 203.0.113.(4N+1),
                                          stsmail on it 203.0.113.(4N+2) with that gateway

The TAPs are not bridged: a TAP's carrier comes up when stsmail opens it, and a bridge
port follows that state change asynchronously; stsmail's first ARP request, sent at once,
was then dropped now and again (about 1 run in 7), costing lwIP's 1 s ARP retry.

Each end's ingress: `iptables-legacy -t mangle -A PREROUTING -i <veth> -j NFQUEUE` served
by tests/bench/delay_line.c holding every packet DELAY_MS. Never on egress (TCP small
queues would stall the third segment of every burst).

BenchNet.up() / down(): down() stops every process it started by PID, deletes the client
namespace and its /etc/netns/<ns> files, and takes the lab down; it is safe to call after a
partial up()."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
LABCTL = BENCH_DIR.parent / "lab" / "labctl.py"

LAB_VETH, CLIENT_VETH = "bvlab", "bvcli"
LAB_SIDE, CLIENT_SIDE = "198.51.100.1", "198.51.100.2"
TAPS = 3
LAB_NET, TAP_NET = "192.0.2.0/24", "203.0.113.0/24"
QUEUE_LAB, QUEUE_CLIENT = 11, 12


class NetError(Exception):
    pass


def run(cmd, check=True):
    res = subprocess.run([str(c) for c in cmd], capture_output=True, text=True)
    if check and res.returncode != 0:
        raise NetError(f"{' '.join(map(str, cmd))}: exit {res.returncode}: {(res.stderr or res.stdout).strip()}")
    return res.stdout


class BenchNet:
    def __init__(self, work, delay_line_bin, delay_ms=50):
        self.work = Path(work)
        self.lab_state = self.work / "lab"
        self.delay_line_bin = delay_line_bin
        self.delay_ms = delay_ms
        self.client_ns = f"stsmbench-{os.getpid()}"
        self.lab = None
        self.delays = []            # (Popen, log path)
        self.lab_started = False
        self.ns_made = False
        self.veth_made = False

    # -- bring up ---------------------------------------------------------------------------
    def up(self):
        self.work.mkdir(parents=True, exist_ok=True)
        self.lab_started = True
        run(["/usr/bin/python3", LABCTL, "up", "--state", self.lab_state, "--owner", os.getpid()])
        self.lab = json.loads((self.lab_state / "lab.json").read_text())
        lab_ns, ns = self.lab["namespace"], self.client_ns
        lab = lambda *c: run(["ip", "netns", "exec", lab_ns, *c])
        cli = lambda *c: run(["ip", "netns", "exec", ns, *c])

        run(["ip", "netns", "add", ns])
        self.ns_made = True
        etc = Path("/etc/netns") / ns
        etc.mkdir(parents=True, exist_ok=True)
        (etc / "resolv.conf").write_text(f"nameserver {self.lab['dns']}\n")
        # The machine's own name resolves locally, as in /etc/hosts (swaks asks for it; a DNS
        # query the lab refuses would cost it two round trips that are not the protocol's).
        (etc / "hosts").write_text(f"127.0.0.1 localhost\n127.0.1.1 {socket.gethostname()}\n")
        cli("ip", "link", "set", "lo", "up")
        cli("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1",
            "net.ipv4.ip_forward=1")

        # The pair is made inside the client namespace and one end moved: no name in the
        # root namespace to collide with another run's.
        cli("ip", "link", "add", CLIENT_VETH, "type", "veth", "peer", "name", LAB_VETH)
        self.veth_made = True
        cli("ip", "link", "set", LAB_VETH, "netns", lab_ns)
        cli("ip", "addr", "add", f"{CLIENT_SIDE}/24", "dev", CLIENT_VETH)
        cli("ip", "link", "set", CLIENT_VETH, "up")
        cli("ip", "route", "add", LAB_NET, "via", LAB_SIDE)
        lab("ip", "addr", "add", f"{LAB_SIDE}/24", "dev", LAB_VETH)
        lab("ip", "link", "set", LAB_VETH, "up")
        lab("ip", "route", "add", TAP_NET, "via", CLIENT_SIDE)

        for i in range(TAPS):
            cli("ip", "tuntap", "add", "dev", f"stap{i}", "mode", "tap")
            cli("ip", "addr", "add", f"203.0.113.{4 * i + 1}/30", "dev", f"stap{i}")
            cli("ip", "link", "set", f"stap{i}", "up")
        # Offloads would hand lwIP or the capture super-segments the wire never carries.
        for ns_name, dev in ((ns, CLIENT_VETH), (lab_ns, LAB_VETH)):
            run(["ip", "netns", "exec", ns_name, "ethtool", "-K", dev, "tso", "off", "gso", "off", "gro", "off"],
                check=False)

        for ns_name, dev, q in ((lab_ns, LAB_VETH, QUEUE_LAB), (ns, CLIENT_VETH, QUEUE_CLIENT)):
            self._start_delay(ns_name, q)
            run(["ip", "netns", "exec", ns_name, "iptables-legacy", "-t", "mangle", "-A", "PREROUTING",
                 "-i", dev, "-j", "NFQUEUE", "--queue-num", q])
        # The lab's dnsmasq listens on its address (listen-address, so no local-subnets-only
        # rule) and must answer the routed client subnets too.
        answer = run(["ip", "netns", "exec", ns, "dig", "+short", "+time=2", "+tries=2", f"@{self.lab['dns']}",
                      "MX", "example.test"], check=False)
        if "mx1.example.test" not in answer:
            raise NetError(f"the lab's DNS does not answer the client namespace: {answer.strip()!r}")
        return self

    def _start_delay(self, ns, queue):
        log = self.work / f"delay_line-{queue}.log"
        p = subprocess.Popen(["ip", "netns", "exec", ns, self.delay_line_bin, str(queue), str(self.delay_ms)],
                             stdout=subprocess.PIPE, stderr=open(log, "w"), stdin=subprocess.DEVNULL, text=True)
        self.delays.append((p, log))
        line = p.stdout.readline()
        if "ready" not in line:
            p.wait(5)
            raise NetError(f"delay_line on queue {queue} did not start: {log.read_text().strip()}")

    # -- measurements ------------------------------------------------------------------------
    def rtt_ms(self, count=20):
        """Median, min and max RTT in ms from the client namespace to the lab's DNS address,
        by `ping -U` (user-to-user times: kernel timestamps would miss a user-space delay)."""
        out = run(["ip", "netns", "exec", self.client_ns, "ping", "-U", "-n", "-c", count, "-i", "0.2",
                   self.lab["dns"]])
        times = sorted(float(t) for t in re.findall(r"time=([\d.]+) ms", out))
        if not times:
            raise NetError(f"ping got no replies: {out[-300:]}")
        return {"median": times[len(times) // 2], "min": times[0], "max": times[-1], "n": len(times)}

    def stsmail_network(self, tap=0):
        """The /network settings of a stsmail process on TAP stap<tap> of the client namespace
        (one process per TAP at a time)."""
        return {"interface": f"stap{tap}", "address": f"203.0.113.{4 * tap + 2}/30",
                "gateway": f"203.0.113.{4 * tap + 1}", "dns": [self.lab["dns"]]}

    # -- tear down ---------------------------------------------------------------------------
    def down(self):
        errors = []
        for p, _ in self.delays:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p, _ in self.delays:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.delays = []
        if self.ns_made:
            ns = self.client_ns
            left = [int(x) for x in run(["ip", "netns", "pids", ns], check=False).split()]
            for sig in (signal.SIGTERM, signal.SIGKILL):
                for pid in left:
                    try:
                        os.kill(pid, sig)
                    except ProcessLookupError:
                        pass
                deadline = time.monotonic() + 3
                while left and time.monotonic() < deadline:
                    left = [int(x) for x in run(["ip", "netns", "pids", ns], check=False).split()]
                    time.sleep(0.1)
            run(["ip", "netns", "del", ns], check=False)
            shutil.rmtree(Path("/etc/netns") / ns, ignore_errors=True)
            self.ns_made = False
        if self.lab_started:
            try:
                run(["/usr/bin/python3", LABCTL, "down", "--state", self.lab_state])
            except NetError as e:
                errors.append(str(e))
            self.lab_started = False
        if errors:
            raise NetError("; ".join(errors))
