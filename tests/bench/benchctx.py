"""What the speed bench (tests/bench/speed.py) hands to each peer it runs beside stsmail
(tests/bench/peers.py: Postfix + postfix-mta-sts-resolver, msmtp, swaks).

The topology (tests/bench/benchnet.py): the lab (tests/lab/labctl.py) in its own namespace,
and a client namespace `client_ns` joined to it by a routed veth pair with a delay line on
the ingress of both ends. Kernel clients run in `client_ns` and use `client_addr`; DNS is
the lab's `lab_env["dns"]` (192.0.2.1), reached through the route. `/etc/netns/<client_ns>/
resolv.conf` points at it, so `ip netns exec client_ns ...` tools resolve lab names.

A peer: constructed as Peer(ctx); setup(), teardown(), send(cold, tag, wrap=None) -> dict
with at least {"t_start": time.monotonic(), "t_done": time.monotonic()}; send blocks until
the message whose Subject holds `tag` is in its Maildir (ctx.maildir_for(domain)/new, or
ctx.relay_maildir()/new for msmtp). t_start: just before the client is started (or the
message injected); t_done: when the file is seen.

Measurement hooks the runner uses:
- single-process peers (msmtp, swaks): `wrap` is None or a list the peer puts in front of
  its command, inside the namespace: ["ip", "netns", "exec", ns, *wrap, *cmd]. The runner
  passes ["/usr/bin/time", "-f", "...", "-o", FILE] in timed runs (peak RSS, CPU time) and
  ["valgrind", "--tool=callgrind", ...] in one untimed run (instructions).
- group peers (Postfix): `cgroup` attribute, None or {"cpuacct": Path, "memory": Path}
  from ctx.cgroup_dirs(name), the cgroup v1 groups all its processes run in; the runner
  reads cpuacct.usage and memory.max_usage_in_bytes (it writes 0 to both before a run).
  PostfixSender.send ignores `wrap`.
- throughput: PostfixSender.send_many(count, tag) -> {"t_start", "t_done"}: injects
  `count` messages (Subjects "<tag> 1" .. "<tag> <count>") to ctx.rcpt and returns when
  all are in the Maildir.
- `name` attribute: a short label for the report ("Postfix + resolver", "msmtp", "swaks").
"""

from dataclasses import dataclass, field
from pathlib import Path

CGROUP_V1 = Path("/sys/fs/cgroup")


@dataclass
class BenchCtx:
    client_ns: str                       # the client namespace (kernel clients run here)
    lab_env: dict                        # the lab's lab.json (namespace, dns, servers, ca, ...)
    lab_state: Path                      # the lab's --state directory
    work: Path                           # scratch directory for this bench run
    ca_pem: Path                         # the lab CA (PEM) every lab server chains to
    client_addr: str = "198.51.100.2"    # the client namespace's address on the veth
    relay: dict = field(default_factory=lambda: {"host": "submit.relay.test", "port": 587,
                                                 "user": "printer", "password": "s3cret-lab"})
    mx_domain: str = "example.test"      # MTA-STS enforce, MX mx1.example.test (lab Postfix)
    sender: str = "bench@client.bench.test"
    rcpt: str = "ops@example.test"       # direct-MX recipient (Postfix Maildir example.test)
    relay_rcpt: str = "ops@example.test" # relay recipient (stored by the relay's sink)

    def maildir_for(self, domain):
        """The Maildir (with new/ below it) where mail to `domain` lands in the lab: the lab
        Postfix stores per domain. For the relay use relay_maildir()."""
        return Path(self.lab_env["postfix_maildir"]) / domain

    def relay_maildir(self):
        """Where the relay (the lab's sink on submit.relay.test) stores what it accepts."""
        return Path(self.lab_env["sink_maildir"]) / self.relay["host"]

    def relay_addr(self):
        return self.lab_env["servers"][self.relay["host"]]

    def cgroup_dirs(self, name):
        """Creates (empty) cgroup v1 cpuacct and memory groups stsmbench-<name>; returns
        {"cpuacct": Path, "memory": Path}. Write a PID to <dir>/cgroup.procs to move it in.
        When the bench ends the runner removes the groups whose name holds client_ns (so
        make `name` hold it: runs side by side must not remove each other's)."""
        dirs = {}
        for ctl in ("cpuacct", "memory"):
            d = CGROUP_V1 / ctl / f"stsmbench-{name}"
            d.mkdir(exist_ok=True)
            dirs[ctl] = d
        return dirs

    def in_ns(self, *cmd):
        """argv running cmd in the client namespace."""
        return ["ip", "netns", "exec", self.client_ns, *map(str, cmd)]
