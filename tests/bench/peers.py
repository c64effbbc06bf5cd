"""The tools a user would run instead of stsmail, driven by the speed bench (tests/bench/speed.py)
in the client namespace: Postfix + postfix-mta-sts-resolver, msmtp and swaks.

Every peer is built from a BenchCtx (benchctx.py) and offers setup(), teardown() and
send(cold, tag) -> dict. send() injects one message whose Subject holds `tag` and blocks
until that message is in the receiver's Maildir/new (seen with inotify, so the time does
not depend on a polling period). The dict holds t_start and t_done (time.monotonic()) plus
what the peer's own log or the stored message says about the delivery.

What cold and warm mean per peer (nothing on this machine caches DNS: there is no nscd or
systemd-resolved in the client namespace, so every peer asks the lab's dnsmasq each time,
cold or warm):

PostfixSender   Postfix 3.7 as the sending MTA, in a private configuration directory
                (ctx.work/postfix-sender: main.cf, master.cf, queue, data, log), asking
                mta-sts-daemon (postfix-mta-sts-resolver, in-memory cache) for its TLS policy
                through socketmap; smtp_tls_security_level = may, so the enforce policy of
                ctx.mx_domain turns into "secure match=<policy mx patterns>", verified
                against the lab CA.
                cold: both daemons freshly started (Postfix stopped and started, so tlsmgr
                has dropped its TLS session cache and the connection cache is empty;
                mta-sts-daemon restarted, so no policy is cached: its first lookup asks the
                TXT record and fetches the policy over HTTPS).
                warm: right after one delivery to the same domain: the policy is cached
                (within cache_grace, 60 s, mta-sts-daemon does not even ask the TXT record
                again), the TLS session is cached by tlsmgr (resumed), Postfix's smtp
                processes are still running. Postfix never reuses a TLS connection by
                default (smtp_tls_connection_reuse = no; PostfixSender(ctx, tls_reuse=True)
                turns it on, through tlsproxy), so a warm message opens a new TCP
                connection and resumes the TLS session on it.
                t_start: `sendmail` returned (the message is queued; the brief's injection
                time); t_invoked: just before sendmail was started. t_done: the file
                appeared in the lab Postfix's Maildir.
                send_many(n): n messages queued on hold (a header_checks HOLD rule on
                X-Bench-Hold), released together (postsuper -H; postqueue -f) at t_start;
                t_done when the last is stored. Connections and transactions are counted
                from the receiving MX's log.
Msmtp           msmtp to the relay (ctx.relay, STARTTLS + AUTH PLAIN, lab CA).
                msmtp keeps nothing between runs (no TLS session file, no DNS cache), so
                cold and warm are the same command; warm only means the binary and its
                libraries are in the page cache after a run just before.
                t_start: just before msmtp starts; t_done: the file in the relay's Maildir.
Swaks           swaks straight to the MX of ctx.mx_domain (it asks the MX itself, with
                Net::DNS), STARTTLS with --tls-verify against the lab CA. swaks 20201014
                verifies the certificate chain only: it neither checks the host name nor
                sends SNI (no --tls-verify-host in this version), and it knows nothing of
                MTA-STS. It is the floor of one bare transaction in work done, not in round
                trips: it does not pipeline (MAIL, RCPT, DATA wait one reply each). Cold and
                warm are the same command, as for msmtp.

Measuring the client: Postfix is a group of processes, so PostfixSender.cgroup is
{"cpuacct": Path, "memory": Path} (cgroup v1, from ctx.cgroup_dirs) holding master and
all its children, mta-sts-daemon and every sendmail/postdrop it runs. send() zeroes
cpuacct.usage and memory.max_usage_in_bytes just before it injects (the daemons are up
by then, cold or warm: their start is not counted; a cold restart empties the group's
page cache first) and returns them read after delivery as cpu_ns, mem_max_bytes (this
counts page cache too: queue files, logs) and mem_bytes. It also returns rss_hwm_kib,
the sum of every process's own peak RSS (VmHWM of the live ones, /usr/bin/time's figure
for sendmail with its postdrop), comparable to /usr/bin/time's figure for one process;
an upper bound of the group's simultaneous peak, since each process counts the shared
library pages again (with the 20 smtp processes of send_many it overstates a lot: there
mem_max_bytes is the better figure).
Msmtp and Swaks are single processes: argv(cold, tag) is their command (without
`ip netns exec`) and send(cold, tag, wrap=[...]) runs `wrap + argv` (e.g. /usr/bin/time -f
%M -o FILE, or valgrind --tool=callgrind) inside the namespace; msmtp reads the message
from stdin (stdin_bytes(tag)), which send() supplies.
"""

import ctypes
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import time
from email.utils import formatdate
from pathlib import Path

MTA_STS_PORT = 8461          # the resolver's socketmap, on the client namespace's loopback
DELIVERY_TIMEOUT_S = 30
READY_TIMEOUT_S = 20

# inotify (linux/inotify.h); ctypes because the standard library has no binding.
IN_CREATE = 0x100
IN_MOVED_TO = 0x80
IN_NONBLOCK = 0o4000
IN_CLOEXEC = 0o2000000
_EVENT = struct.Struct("iIII")


class PeerError(Exception):
    pass


def safe_tag(tag):
    """The tag as it goes into a Message-ID and a Subject."""
    return re.sub(r"[^A-Za-z0-9._-]", "-", tag)


def message(ctx, tag, rcpt, extra_headers=()):
    """The message every peer sends: a few headers and a one-line body."""
    tag = safe_tag(tag)
    head = [f"From: stsmail bench <{ctx.sender}>", f"To: <{rcpt}>",
            f"Subject: stsmail bench {tag}", f"Message-ID: <{tag}@{ctx.sender.split('@')[1]}>",
            f"Date: {formatdate(localtime=False)}", *extra_headers]
    return ("\r\n".join(head) + "\r\n\r\n" + f"bench message {tag}\r\n").encode()


class MaildirWatch:
    """Waits for messages holding given tags to appear in a Maildir's new/ directory.
    arm() before injecting; wait() returns the monotonic time the file showed up."""

    def __init__(self, maildir):
        self.new = Path(maildir) / "new"
        self.fd = -1
        self.seen = set()
        self._libc = ctypes.CDLL(None, use_errno=True)

    def arm(self):
        """Remember what is already there; start watching when new/ exists."""
        self.seen = set(os.listdir(self.new)) if self.new.is_dir() else set()
        if self.fd < 0 and self.new.is_dir():
            self._watch()

    def _watch(self):
        fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            raise PeerError(f"inotify_init1: {os.strerror(ctypes.get_errno())}")
        if self._libc.inotify_add_watch(fd, str(self.new).encode(), IN_CREATE | IN_MOVED_TO) < 0:
            os.close(fd)
            raise PeerError(f"inotify_add_watch {self.new}: {os.strerror(ctypes.get_errno())}")
        self.fd = fd

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _drain(self):
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        off = 0
        while off + _EVENT.size <= len(data):
            _wd, _mask, _cookie, length = _EVENT.unpack_from(data, off)
            off += _EVENT.size + length

    def _scan(self, tags, found, now):
        for name in os.listdir(self.new):
            if name in self.seen:
                continue
            self.seen.add(name)
            body = (self.new / name).read_bytes()
            for tag in list(tags):
                if tag.encode() in body:
                    found[tag] = (now, self.new / name)
                    tags.discard(tag)

    def wait(self, tags, timeout_s=DELIVERY_TIMEOUT_S, failed=lambda: None):
        """Blocks until a message holding each tag is in new/. Returns {tag: (t, path)}.
        failed() is asked about twice a second: a string it returns ends the wait early."""
        tags, found = set(tags), {}
        deadline = time.monotonic() + timeout_s
        while tags:
            now = time.monotonic()
            reason = failed()
            if reason:
                raise PeerError(f"not delivered to {self.new}: {reason}")
            if now > deadline:
                raise PeerError(f"not delivered to {self.new} within {timeout_s} s: "
                                f"{sorted(tags)[:3]}")
            if self.fd < 0:
                # The receiver makes its Maildir on its first message: poll until it exists.
                if not self.new.is_dir():
                    time.sleep(0.002)
                    continue
                self._watch()
                self._scan(tags, found, time.monotonic())
                continue
            ready, _, _ = select.select([self.fd], [], [], min(0.5, deadline - now))
            now = time.monotonic()
            if ready:
                self._drain()
            self._scan(tags, found, now)
        return found


def run_ns(ctx, *cmd, **kw):
    res = subprocess.run(ctx.in_ns(*cmd), capture_output=True, text=True, **kw)
    if res.returncode != 0:
        raise PeerError(f"{' '.join(map(str, cmd))} failed ({res.returncode}): "
                        f"{(res.stderr or res.stdout).strip()[-500:]}")
    return res.stdout


def listening(ctx, port):
    out = subprocess.run(ctx.in_ns("ss", "-Hlnt", f"sport = :{port}"), capture_output=True,
                         text=True).stdout
    return bool(out.strip())


def receiver_sessions(log, offset, client_addr, mails, timeout_s=5):
    """SMTP sessions the lab Postfix (the MX) logged from client_addr after `offset` in its
    log: (connections, MAIL commands), waiting until `mails` MAIL commands are logged."""
    pattern = re.compile(rf"disconnect from \S*\[{re.escape(client_addr)}\].*? mail=(\d+)")
    deadline = time.monotonic() + timeout_s
    while True:
        with open(log, "rb") as f:
            f.seek(offset)
            found = [int(m.group(1)) for m in pattern.finditer(f.read().decode(errors="replace"))]
        if sum(found) >= mails or time.monotonic() > deadline:
            return len(found), sum(found)
        time.sleep(0.05)


def file_size(path):
    return path.stat().st_size if path.exists() else 0


def proc_hwm_kib(pid):
    """(command name, VmHWM in KiB) of a live process, or None when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    name = re.search(r"^Name:\s*(\S+)", status, re.M)
    hwm = re.search(r"^VmHWM:\s*(\d+) kB", status, re.M)
    if not name or not hwm:          # a zombie or a kernel thread
        return None
    return name.group(1), int(hwm.group(1))


class ClientResolver:
    """/etc/netns/<client ns>/resolv.conf (the lab's DNS) for tools run with ip netns exec,
    made only when the bench topology did not make it, and removed only if made here."""

    def __init__(self, ctx):
        self.dir = Path("/etc/netns") / ctx.client_ns
        self.file = self.dir / "resolv.conf"
        self.dns = ctx.lab_env.get("dns", "192.0.2.1")
        self.made_dir = self.made_file = self.made_parent = False

    def ensure(self):
        if self.file.exists():
            return
        if not self.dir.exists():
            self.made_parent = not self.dir.parent.exists()
            self.dir.mkdir(parents=True)
            self.made_dir = True
        self.file.write_text(f"nameserver {self.dns}\n")
        self.made_file = True

    def remove(self):
        if self.made_file:
            self.file.unlink(missing_ok=True)
            self.made_file = False
        if self.made_dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.made_dir = False
        if self.made_parent:
            try:
                self.dir.parent.rmdir()     # only if nothing else lives there now
            except OSError:
                pass
            self.made_parent = False


# ---------------------------------------------------------------------------------------
# Postfix + postfix-mta-sts-resolver

LOG_LINE = re.compile(r"\s(?P<prog>[\w.-]+)/(?P<svc>[\w-]+)\[(?P<pid>\d+)\]: (?P<msg>.*)$")


class PostfixSender:
    """Postfix as the sending MTA with postfix-mta-sts-resolver, in ctx.client_ns.
    tls_reuse=True sets smtp_tls_connection_reuse = yes (several deliveries per TLS
    connection, through tlsproxy); Postfix's default, and this class's, is no: every
    delivery over TLS opens its own connection, even with a backlog."""

    name = "postfix"

    def __init__(self, ctx, tls_reuse=False):
        self.ctx = ctx
        self.tls_reuse = tls_reuse
        self.lab_log = Path(ctx.lab_state) / "log" / "postfix.log"
        self.dir = Path(ctx.work) / "postfix-sender"
        self.etc = self.dir / "etc"
        self.log = self.dir / "log" / "postfix.log"
        self.sts_yml = self.dir / "mta-sts-daemon.yml"
        self.sts_log = self.dir / "log" / "mta-sts-daemon.log"
        self.cgroup = None
        self.resolver_proc = None
        self.resolv = ClientResolver(ctx)
        self.watch = MaildirWatch(ctx.maildir_for(ctx.mx_domain))
        self.rcpt = ctx.rcpt
        self.running = False

    # -- configuration

    def _write_config(self):
        d, ctx = self.dir, self.ctx
        # A queue left by an earlier run would be delivered along with this run's mail.
        shutil.rmtree(d / "spool", ignore_errors=True)
        for sub in ("etc", "spool", "data", "log"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)
        shutil.chown(d / "data", "postfix")
        host = ctx.sender.split("@")[1]
        (self.etc / "main.cf").write_text(f"""# written by tests/bench/peers.py: the bench's sending Postfix
compatibility_level = 3.6
queue_directory = {d}/spool
data_directory = {d}/data
maillog_file = {self.log}
maillog_file_prefixes = {d}/log
syslog_name = postfix-bench
myhostname = {host}
myorigin = $myhostname
mydestination =
relayhost =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
alias_maps =
alias_database =
biff = no
smtp_address_preference = ipv4
smtp_tls_security_level = may
smtp_tls_CAfile = {ctx.ca_pem}
smtp_tls_loglevel = 1
smtp_tls_policy_maps = socketmap:inet:127.0.0.1:{MTA_STS_PORT}:postfix
smtp_tls_session_cache_database = btree:${{data_directory}}/smtp_scache
smtp_tls_connection_reuse = {"yes" if self.tls_reuse else "no"}
# send_many() injects with this header to hold mail until it releases the whole batch
header_checks = regexp:{self.etc}/header_checks
""")
        (self.etc / "header_checks").write_text("/^X-Bench-Hold: yes/ HOLD bench batch\n")
        # The system's master.cf without the port-25 listener (this Postfix only sends);
        # chroot off everywhere, so its daemons read the namespace's resolv.conf.
        system = Path("/etc/postfix/master.cf").read_text().splitlines()
        kept = [l for l in system if not re.match(r"^smtp\s+inet\s", l)]
        if self.tls_reuse:       # Debian's master.cf has tlsproxy commented out
            kept = [re.sub(r"^#(tlsproxy\s)", r"\1", l) for l in kept]
        (self.etc / "master.cf").write_text("\n".join(kept) + "\n")
        run_ns(ctx, "postconf", "-c", self.etc, "-F", "*/*/chroot = n")
        # The resolver: in-memory cache only, so a restart forgets every policy.
        self.sts_yml.write_text(f"""# written by tests/bench/peers.py
host: 127.0.0.1
port: {MTA_STS_PORT}
reuse_port: true
shutdown_timeout: 2
cache:
  type: internal
  options:
    cache_size: 100
default_zone:
  strict_testing: false
  timeout: 4
zones:
  postfix:
    strict_testing: false
    timeout: 4
""")

    # -- processes

    def _join_cgroup(self):
        """preexec_fn: the child joins this peer's cgroups before exec."""
        for d in self.cgroup.values():
            with open(d / "cgroup.procs", "w") as f:
                f.write(str(os.getpid()))

    def _make_cgroup(self):
        # Named after the namespace: parallel bench runs must not share a group. Made again
        # before every start: another run's clean-up may remove it while it is empty.
        self.cgroup = self.ctx.cgroup_dirs(f"postfix-{self.ctx.client_ns}")

    def _procs(self):
        try:
            return [int(p) for p in (self.cgroup["memory"] / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def _start(self):
        self._make_cgroup()
        if not listening(self.ctx, MTA_STS_PORT):
            env = dict(os.environ, SSL_CERT_FILE=str(self.ctx.ca_pem))
            env.pop("SSL_CERT_DIR", None)
            self.resolver_proc = subprocess.Popen(
                self.ctx.in_ns("mta-sts-daemon", "-c", self.sts_yml, "-l", self.sts_log,
                               "-v", "info"),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                env=env, preexec_fn=self._join_cgroup, start_new_session=True)
            deadline = time.monotonic() + READY_TIMEOUT_S
            while not listening(self.ctx, MTA_STS_PORT):
                if self.resolver_proc.poll() is not None or time.monotonic() > deadline:
                    raise PeerError(f"mta-sts-daemon did not start (see {self.sts_log})")
                time.sleep(0.05)
        if not self.running:
            res = subprocess.run(self.ctx.in_ns("postfix", "-c", self.etc, "start"),
                                 capture_output=True, text=True, preexec_fn=self._join_cgroup)
            if res.returncode != 0:
                tail = self.log.read_text().splitlines()[-3:] if self.log.exists() else []
                raise PeerError(f"postfix start failed: {res.stderr.strip()} {' | '.join(tail)}")
            self.running = True

    def _stop(self):
        """Stops Postfix and the resolver and waits until the cgroup is empty."""
        if self.running:
            subprocess.run(self.ctx.in_ns("postfix", "-c", self.etc, "stop"),
                           capture_output=True, timeout=30)
            self.running = False
        if self.resolver_proc and self.resolver_proc.poll() is None:
            self.resolver_proc.terminate()
            try:
                self.resolver_proc.wait(5)
            except subprocess.TimeoutExpired:
                self.resolver_proc.kill()
                self.resolver_proc.wait()
        self.resolver_proc = None
        deadline = time.monotonic() + 10
        while self._procs():
            if time.monotonic() > deadline:
                # Only processes of this group: they are this peer's.
                for pid in self._procs():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            time.sleep(0.05)

    def reset_counters(self):
        """Zero the group's CPU time and set its memory peak to what it uses now. send() and
        send_many() call it just before injecting, so the figures are those of one send."""
        (self.cgroup["memory"] / "memory.max_usage_in_bytes").write_text("0")
        (self.cgroup["cpuacct"] / "cpuacct.usage").write_text("0")

    def counters(self):
        """{"cpu_ns": cpuacct.usage, "mem_max_bytes": memory.max_usage_in_bytes,
        "mem_bytes": memory.usage_in_bytes} of the group."""
        mem, cpu = self.cgroup["memory"], self.cgroup["cpuacct"]
        return {"cpu_ns": int((cpu / "cpuacct.usage").read_text()),
                "mem_max_bytes": int((mem / "memory.max_usage_in_bytes").read_text()),
                "mem_bytes": int((mem / "memory.usage_in_bytes").read_text())}

    def setup(self):
        self.resolv.ensure()
        self._write_config()
        self._make_cgroup()
        run_ns(self.ctx, "postfix", "-c", self.etc, "check")
        self._start()

    def teardown(self):
        try:
            self._stop()
        finally:
            self.watch.close()
            self.resolv.remove()
            for d in (self.cgroup or {}).values():
                try:
                    d.rmdir()
                except OSError:
                    pass

    def restart_cold(self):
        """Both daemons restarted: no cached policy, no TLS session, no cached connection."""
        if self.running:
            # Nothing left from an earlier (failed) send may ride along. While Postfix
            # runs: without postlogd, postsuper would write the log file itself and may not.
            run_ns(self.ctx, "postsuper", "-c", self.etc, "-d", "ALL")
        self._stop()
        (self.dir / "data" / "smtp_scache.db").unlink(missing_ok=True)
        try:     # the group has no process now: drop the page cache charged to it
            (self.cgroup["memory"] / "memory.force_empty").write_text("0")
        except OSError:
            pass
        self._start()

    # -- sending

    def sendmail_argv(self, rcpt):
        return ["sendmail", "-C", self.etc, "-f", self.ctx.sender, "-oi", "--", rcpt]

    def _inject(self, data):
        """Runs sendmail in the cgroup; returns (t_invoked, t_returned, peak RSS KiB of
        sendmail and its postdrop). sendmail only writes the queue and pokes pickup
        through the queue directory, so it needs no namespace: it runs without `ip netns
        exec`, under /usr/bin/time, whose small size keeps the peak it reports honest."""
        time_out = self.dir / "log" / "sendmail.time"
        t0 = time.monotonic()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", time_out,
                               *self.sendmail_argv(self.rcpt)],
                              input=data, capture_output=True, preexec_fn=self._join_cgroup)
        t1 = time.monotonic()
        if proc.returncode != 0:
            raise PeerError(f"sendmail failed ({proc.returncode}): "
                            f"{proc.stderr.decode(errors='replace').strip()}")
        return t0, t1, int(time_out.read_text().split()[-1])

    def _log_offset(self):
        return file_size(self.log)

    def _failed_since(self, offset):
        """A deferral or bounce logged after offset (sends are one at a time: it is ours)."""
        def check():
            with open(self.log, "rb") as f:
                f.seek(offset)
                m = re.search(r"status=(deferred|bounced) .*", f.read().decode(errors="replace"))
            return m and m.group(0)
        return check

    def _log_lines(self, offset):
        with open(self.log, "rb") as f:
            f.seek(offset)
            text = f.read().decode(errors="replace")
        out = []
        for line in text.splitlines():
            m = LOG_LINE.search(line)
            if m:
                out.append((m["svc"], int(m["pid"]), m["msg"]))
        return out

    def _delivery_log(self, offset, tags, timeout_s=5):
        """Waits for postlogd to write the "status=sent" line of every tagged message.
        Returns {tag: {"queue_id", "tls", "tls_version", "conn_use", "delays", "relay"}}."""
        want = {f"<{safe_tag(t)}@" for t in tags}
        deadline = time.monotonic() + timeout_s
        while True:
            lines = self._log_lines(offset)
            qids = {}
            for svc, _pid, msg in lines:
                m = re.match(r"(\w+): message-id=(<[^@]+@)", msg)
                if svc == "cleanup" and m and m.group(2) in want:
                    qids[m.group(1)] = m.group(2)
            tls_by_pid, result, proxied = {}, {}, None
            for svc, pid, msg in lines:
                m = re.match(r"(\w+) TLS connection established to \S+: (\S+)", msg)
                if svc == "smtp" and m:
                    tls_by_pid[pid] = (m.group(1), m.group(2))
                    continue
                if svc == "tlsproxy" and m:
                    # With tls_reuse, tlsproxy holds the TLS side: not tied to one smtp PID.
                    if proxied is None or m.group(1) != "Verified":
                        proxied = (m.group(1), m.group(2))
                    continue
                m = re.match(r"(\w+): to=<[^>]*>, relay=(\S+), .*?delays=([\d./]+), .*status=(\w+)", msg)
                if svc == "smtp" and m and m.group(1) in qids:
                    if m.group(4) != "sent":
                        raise PeerError(f"postfix: {msg}")
                    conn = re.search(r"conn_use=(\d+)", msg)
                    tls = tls_by_pid.get(pid, proxied or ("none", ""))
                    result[qids[m.group(1)]] = {
                        "queue_id": m.group(1), "relay": m.group(2), "tls": tls[0],
                        "tls_version": tls[1], "smtp_pid": pid,
                        "conn_use": int(conn.group(1)) if conn else 1,
                        "delays": [float(x) for x in m.group(3).split("/")]}
            if len(result) == len(want):
                return result
            if time.monotonic() > deadline:
                raise PeerError(f"postfix log {self.log}: no status=sent for "
                                f"{len(want) - len(result)} of {len(want)} messages")
            time.sleep(0.05)

    def rss_hwm(self, extra_kib=0):
        """Sum of VmHWM (KiB) of the group's live processes, by command name."""
        by_name = {}
        for pid in self._procs():
            got = proc_hwm_kib(pid)
            if got:
                by_name[got[0]] = by_name.get(got[0], 0) + got[1]
        return sum(by_name.values()) + extra_kib, by_name

    def send(self, cold, tag):
        if cold:
            self.restart_cold()
        offset = self._log_offset()
        self.watch.arm()
        self.reset_counters()
        t_invoked, t_start, sendmail_kib = self._inject(message(self.ctx, tag, self.rcpt))
        found = self.watch.wait([tag], failed=self._failed_since(offset))
        t_done, path = found[tag]
        info = self._delivery_log(offset, [tag])[f"<{safe_tag(tag)}@"]
        if info["tls"] != "Verified":
            raise PeerError(f"postfix delivered {tag} over {info['tls']} TLS, not Verified: "
                            "the MTA-STS policy did not apply")
        total, by_name = self.rss_hwm(sendmail_kib)
        return {"t_start": t_start, "t_done": t_done, "t_invoked": t_invoked, "file": str(path),
                "rss_hwm_kib": total, "rss_hwm_by_process_kib": dict(by_name, sendmail=sendmail_kib),
                **self.counters(), **info}

    def send_many(self, n, cold=False, tag="many"):
        """Queues n messages to ctx.rcpt on hold, then releases them together (postsuper -H,
        postqueue -f: the start of the clock) and waits until all n are in the Maildir.
        Returns {"t_start", "t_done", "seconds", "n", "connections", "transactions",
        "tls_handshakes", "max_conn_use", "smtp_processes"}: connections and transactions
        as the receiving MX logged them (its "disconnect from" lines for ctx.client_addr),
        tls_handshakes from this Postfix's log."""
        if cold:
            self.restart_cold()
        tags = [f"{safe_tag(tag)}-{i:04d}" for i in range(n)]
        offset = self._log_offset()      # cleanup logs each message-id as it is queued
        for t in tags:
            self._inject(message(self.ctx, t, self.rcpt, ["X-Bench-Hold: yes"]))
        hold = self.dir / "spool" / "hold"
        deadline = time.monotonic() + 30
        while sum(1 for _ in hold.rglob("*") if _.is_file()) < n:
            if time.monotonic() > deadline:
                raise PeerError(f"only {sum(1 for _ in hold.rglob('*') if _.is_file())} of {n} "
                                "messages reached the hold queue")
            time.sleep(0.05)
        lab_offset = file_size(self.lab_log)
        self.watch.arm()
        self.reset_counters()
        t_start = time.monotonic()
        run_ns(self.ctx, "postsuper", "-c", self.etc, "-H", "ALL")
        run_ns(self.ctx, "postqueue", "-c", self.etc, "-f")
        found = self.watch.wait(tags, timeout_s=DELIVERY_TIMEOUT_S + n,
                                failed=self._failed_since(offset))
        t_done = max(t for t, _ in found.values())
        infos = self._delivery_log(offset, tags)
        # With tls_reuse, smtp and tlsproxy both log each handshake: count tlsproxy's.
        side = "tlsproxy" if self.tls_reuse else "smtp"
        tls = [msg.split()[0] for svc, _p, msg in self._log_lines(offset)
               if svc == side and "TLS connection established to" in msg]
        if any(level != "Verified" for level in tls) or any(
                i["tls"] != "Verified" for i in infos.values()):
            raise PeerError(f"send_many: not every connection was Verified TLS: {set(tls)}")
        conns, mails = receiver_sessions(self.lab_log, lab_offset, self.ctx.client_addr, n)
        return {"t_start": t_start, "t_done": t_done, "seconds": t_done - t_start, "n": n,
                "connections": conns, "transactions": mails, "tls_handshakes": len(tls),
                "max_conn_use": max(i["conn_use"] for i in infos.values()),
                "smtp_processes": len({i["smtp_pid"] for i in infos.values()}),
                "rss_hwm_kib": self.rss_hwm()[0], **self.counters()}


# ---------------------------------------------------------------------------------------
# Single-process peers

class _OneShot:
    """A client that is one process per message: argv(cold, tag) run in the namespace."""

    cgroup = None

    def __init__(self, ctx, maildir, rcpt):
        self.ctx = ctx
        self.dir = Path(ctx.work) / self.name
        self.watch = MaildirWatch(maildir)
        self.rcpt = rcpt
        self.resolv = ClientResolver(ctx)
        self.last_output = ""

    def setup(self):
        self.dir.mkdir(parents=True, exist_ok=True)
        self.resolv.ensure()

    def teardown(self):
        self.watch.close()
        self.resolv.remove()

    def stdin_bytes(self, tag):
        return None

    def check_stored(self, data):
        """Raises PeerError unless the stored message shows the delivery the peer claims."""

    def send(self, cold, tag, wrap=()):
        """Runs wrap + argv(cold, tag) in the client namespace; cold and warm are the same
        command (nothing is kept between runs). Returns t_start (just before the process
        starts), t_done (the file in the Maildir) and t_exit (the process reaped). For the
        client's peak RSS wrap it in /usr/bin/time: the rusage of the process started here
        would include the peak of `ip netns exec` (about 16 MiB), which runs first in it."""
        data = self.stdin_bytes(tag)
        self.watch.arm()
        t_start = time.monotonic()
        proc = subprocess.Popen(self.ctx.in_ns(*wrap, *self.argv(cold, tag)),
                                stdin=subprocess.PIPE if data is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if data is not None:
            proc.stdin.write(data)
            proc.stdin.close()
        try:
            found = self.watch.wait([tag], failed=lambda: proc.poll() and
                                    f"{self.name} exited {proc.returncode}")
        except BaseException:
            proc.kill()              # e.g. still waiting for a reply that never comes
            proc.wait()
            raise
        out = proc.stdout.read().decode(errors="replace")
        proc.wait()
        t_exit = time.monotonic()
        proc.stdout.close()
        self.last_output = out
        (self.dir / "last.log").write_text(out)
        if proc.returncode != 0:
            raise PeerError(f"{self.name} exited {proc.returncode}: {out.strip()[-500:]}")
        t_done, path = found[tag]
        self.check_stored(path.read_bytes())
        return {"t_start": t_start, "t_done": t_done, "t_exit": t_exit, "file": str(path)}


class Msmtp(_OneShot):
    """msmtp to the relay: STARTTLS, AUTH PLAIN, certificate and name checked (lab CA)."""

    name = "msmtp"

    def __init__(self, ctx):
        super().__init__(ctx, ctx.relay_maildir(), ctx.relay_rcpt)
        self.conf = self.dir / "msmtprc"

    def setup(self):
        super().setup()
        r = self.ctx.relay
        self.conf.write_text(f"""# written by tests/bench/peers.py
defaults
tls on
tls_starttls on
tls_trust_file {self.ctx.ca_pem}
logfile {self.dir / 'msmtp.log'}

account bench
host {r['host']}
port {r['port']}
from {self.ctx.sender}
auth plain
user {r['user']}
password {r['password']}

account default : bench
""")
        self.conf.chmod(0o600)     # msmtp refuses a password file others may read

    def argv(self, cold, tag):
        return ["msmtp", "-C", str(self.conf), "-a", "bench", "-f", self.ctx.sender, "--",
                self.rcpt]

    def stdin_bytes(self, tag):
        return message(self.ctx, tag, self.rcpt)

    def check_stored(self, data):
        if b"X-Lab-TLS: yes" not in data or b"X-Lab-Auth: yes" not in data:
            raise PeerError("msmtp: the relay stored the message without TLS or AUTH")


class Swaks(_OneShot):
    """swaks to the MX of ctx.mx_domain (its own MX lookup), STARTTLS, chain verified."""

    name = "swaks"

    def __init__(self, ctx):
        super().__init__(ctx, ctx.maildir_for(ctx.mx_domain), ctx.rcpt)

    def argv(self, cold, tag):
        tag = safe_tag(tag)
        return ["swaks", "--to", self.rcpt, "--from", self.ctx.sender,
                "--helo", self.ctx.sender.split("@")[1],
                "--tls", "--tls-verify", "--tls-ca-path", str(self.ctx.ca_pem),
                "--header", f"Subject: stsmail bench {tag}",
                "--header", f"Message-ID: <{tag}@{self.ctx.sender.split('@')[1]}>",
                "--body", f"bench message {tag}", "--timeout", "15"]

    def check_stored(self, data):
        # The lab Postfix's Received header names the TLS version when STARTTLS was used.
        if not re.search(rb"\(using TLSv1\.[23] with cipher", data):
            raise PeerError("swaks: the MX stored the message without TLS")


PEERS = {"postfix": PostfixSender, "msmtp": Msmtp, "swaks": Swaks}
