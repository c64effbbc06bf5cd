#!/usr/bin/python3
"""Start, check and stop the stsmail test lab in a private network namespace.

Every lab run gets its own namespace (stsmlab-<owner pid>-<random>), so two runs never
collide, and a namespace whose owner died is cleaned up by the next `up`. All state lives
in the --state directory. Processes are stopped by the PIDs recorded at start, then
whatever is still inside the namespace, and only then is the namespace deleted.
See README.md beside this file.
"""

import argparse
import ipaddress
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parent
DOMAINS_DIR = LAB_DIR / "domains"
NETWORK = ipaddress.ip_network("192.0.2.0/24")
GATEWAY = "192.0.2.1"            # bridge address: DNS, DHCP, NTP
SCRIPTED_DNS = "192.0.2.2"       # dns_responder.py, for zones declared "dns": "scripted"
FIRST_SERVER = 10                # servers get 192.0.2.10 and up
DHCP_RANGE = ("192.0.2.100", "192.0.2.199")
TAPS = {"host": "tap0", "qemu": "tap1"}
NS_PREFIX = "stsmlab-"
READY_TIMEOUT_S = 20
SERVER_KINDS = ("smtp", "https", "tls_server")
# Certificate validity windows a server may ask for ("validity"); default: valid now.
VALIDITY = {"expired": ("20200101000000Z", "20210101000000Z"),
            "future": ("20990101000000Z", "21000101000000Z")}


class LabError(Exception):
    pass


def run(cmd, **kw):
    """Run a command, raising LabError with its output when it fails."""
    res = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if res.returncode != 0:
        raise LabError(f"{' '.join(map(str, cmd))} failed ({res.returncode}): "
                       f"{(res.stderr or res.stdout).strip()}")
    return res.stdout


def in_ns(ns, *cmd):
    return ["ip", "netns", "exec", ns, *map(str, cmd)]


# ---------------------------------------------------------------------------------------
# Domain declarations

def load_domains():
    """Read domains/*.json and give every server an address. Returns (domains, servers)."""
    domains, servers, seen_hosts = [], [], set()
    next_host = FIRST_SERVER
    for path in sorted(DOMAINS_DIR.glob("*.json")):
        try:
            decl = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            raise LabError(f"{path.name}: not valid JSON: {e}")
        for key in ("domain", "records", "servers"):
            if key not in decl:
                raise LabError(f"{path.name}: missing '{key}'")
        if decl.get("dns", "dnsmasq") not in ("dnsmasq", "scripted"):
            raise LabError(f"{path.name}: dns must be dnsmasq or scripted")
        if decl.get("dns") != "scripted" and any("behaviour" in r for r in decl["records"]):
            raise LabError(f"{path.name}: record behaviours need \"dns\": \"scripted\"")
        for srv in decl["servers"]:
            host = srv.get("host")
            if not host or sum(k in srv for k in SERVER_KINDS) != 1:
                raise LabError(f"{path.name}: each server needs a host and exactly one of "
                               + ", ".join(SERVER_KINDS))
            if host in seen_hosts:
                raise LabError(f"{path.name}: server {host} is declared twice")
            kind = srv.get("smtp", {}).get("kind")
            if "smtp" in srv and kind not in ("postfix", "sink"):
                raise LabError(f"{path.name}: {host}: smtp kind must be postfix or sink, not {kind!r}")
            seen_hosts.add(host)
            srv = dict(srv, domain=decl["domain"], address=str(NETWORK[next_host]))
            srv.setdefault("cert", {})
            srv["cert"].setdefault("names", [host])
            srv["cert"].setdefault("issuer", "lab")
            if srv["cert"]["issuer"] not in ("lab", "untrusted", "self"):
                raise LabError(f"{path.name}: {host}: cert issuer must be lab, untrusted or self")
            if srv["cert"].get("validity", "now") not in ("now", *VALIDITY):
                raise LabError(f"{path.name}: {host}: cert validity must be now, expired or future")
            servers.append(srv)
            next_host += 1
            if next_host >= 100:
                raise LabError("too many lab servers for the address plan")
        domains.append(decl)
    if not domains:
        raise LabError(f"no domain declarations in {DOMAINS_DIR}")
    return domains, servers


# ---------------------------------------------------------------------------------------
# Configuration files

def make_pki(state, servers):
    pki = state / "pki"
    pki.mkdir()

    def openssl(*args):
        run(["openssl", *args], cwd=pki)

    for ca, cn in (("ca", "stsmail Lab CA"), ("untrusted-ca", "stsmail Untrusted CA")):
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", f"{ca}.key", "-out", f"{ca}.pem", "-days", "3650", "-subj", f"/CN={cn}",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    # `openssl ca` is the one tool here that writes arbitrary validity dates.
    (pki / "ca.cnf").write_text(
        "[ca]\ndefault_ca = lab\n[lab]\ndatabase = index.txt\nnew_certs_dir = .\n"
        "serial = serial\ndefault_md = sha256\npolicy = any\nunique_subject = no\n"
        "[any]\ncommonName = supplied\n")
    (pki / "index.txt").write_text("")
    (pki / "serial").write_text("1000\n")

    for srv in servers:
        name, cert = srv["host"], srv["cert"]
        ext = pki / f"{name}.ext"
        ext.write_text(
            "subjectAltName=" + ",".join(f"DNS:{n}" for n in cert["names"]) + "\n"
            "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\n")
        subject = f"/CN={cert['names'][0]}"
        if cert["issuer"] == "self":
            openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", f"{name}.key", "-out", f"{name}.pem", "-days", "825", "-subj", subject,
                    "-addext", "subjectAltName=" + ",".join(f"DNS:{n}" for n in cert["names"]))
            chain = (pki / f"{name}.pem").read_text()
        else:
            ca = "ca" if cert["issuer"] == "lab" else "untrusted-ca"
            # "key": "rsa" for a server that signs with RSA (OpenSSL then picks RSA-PSS when
            # the client offers it); P-256 otherwise.
            key = ["rsa:2048"] if cert.get("key") == "rsa" else ["ec", "-pkeyopt", "ec_paramgen_curve:P-256"]
            openssl("req", "-newkey", *key, "-nodes",
                    "-keyout", f"{name}.key", "-out", f"{name}.csr", "-subj", subject)
            validity = cert.get("validity", "now")
            if validity == "now":
                openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
                        "-CAcreateserial", "-days", "825", "-sha256", "-extfile", ext.name,
                        "-out", f"{name}.pem")
            else:
                start, end = VALIDITY[validity]
                openssl("ca", "-batch", "-config", "ca.cnf", "-cert", f"{ca}.pem", "-keyfile", f"{ca}.key",
                        "-in", f"{name}.csr", "-out", f"{name}.pem", "-notext", "-extfile", ext.name,
                        "-startdate", start, "-enddate", end)
            chain = (pki / f"{name}.pem").read_text() + (pki / f"{ca}.pem").read_text()
        (pki / f"{name}.chain.pem").write_text(chain)
        srv["cert_chain"], srv["cert_key"] = str(pki / f"{name}.chain.pem"), str(pki / f"{name}.key")
    # What devices trust in the lab: the lab CA, as a trust store blob (toolchain/mktrust.py).
    run(["/usr/bin/python3", LAB_DIR.parent.parent / "toolchain" / "mktrust.py",
         pki / "trust.bin", pki / "ca.pem"])


def write_dnsmasq(state, domains, servers):
    lines = [
        "# generated by labctl.py: lab DNS and DHCP, never forwards anywhere",
        f"listen-address={GATEWAY}", "bind-interfaces", "except-interface=lo",
        "no-resolv", "no-hosts", "no-poll", "local-ttl=300", "user=root",
        f"pid-file={state}/run/dnsmasq.pid", "log-queries", "log-dhcp",
        f"log-facility={state}/log/dnsmasq-queries.log",
        f"dhcp-range={DHCP_RANGE[0]},{DHCP_RANGE[1]},255.255.255.0,1h",
        f"dhcp-leasefile={state}/run/dnsmasq.leases", "dhcp-authoritative",
        "no-ping",                                   # no 3 s address probe before each offer
        "dhcp-option=option:router",                 # no gateway: the lab has no way out
        f"dhcp-option=option:dns-server,{GATEWAY}",
        f"dhcp-option=option:ntp-server,{GATEWAY}",
    ]
    lines.append("local=/test/")                     # unknown .test names: NXDOMAIN
    for decl in domains:
        if decl.get("dns") == "scripted":
            lines.append(f"server=/{decl['domain']}/{SCRIPTED_DNS}")
    scripted = {d["domain"] for d in domains if d.get("dns") == "scripted"}
    for srv in servers:
        if srv["domain"] not in scripted:   # the scripted server answers for its own zones
            lines.append(f"host-record={srv['host']},{srv['address']}")
    for decl in domains:
        if decl.get("dns") == "scripted":
            continue
        for rec in decl["records"]:
            t = rec.get("type")
            if t == "MX":
                lines.append(f"mx-host={decl['domain']},{rec['exchange']},{rec['preference']}")
            elif t == "CNAME":
                lines.append(f"cname={rec['name']},{rec['target']}")
            elif t == "TXT":
                quoted = ",".join(json.dumps(s) for s in rec["strings"])
                lines.append(f"txt-record={rec['name']},{quoted}")
            elif t == "A":
                lines.append(f"host-record={rec['name']},{rec['address']}")
            else:
                raise LabError(f"{decl['domain']}: unsupported record type {t!r}")
    (state / "dnsmasq.conf").write_text("\n".join(lines) + "\n")


def https_custom(https):
    """True for a policy host https_server.py plays: slow ("delay_s") or cutting its body
    short without a TLS close_notify ("truncate_after": the text the body stops after)."""
    return bool(https.get("delay_s")) or "truncate_after" in https


def write_nginx(state, servers):
    www = state / "www"
    blocks = []
    for srv in servers:
        https = srv.get("https")
        if not https:
            continue
        if https_custom(https):
            # A slow or truncating server: https_server.py serves it (nginx cannot do either on purpose).
            body_file = www / srv["host"] / "body"
            body_file.parent.mkdir(parents=True, exist_ok=True)
            body_file.write_bytes("".join(l + "\r\n" for l in https.get("body", [])).encode())
            srv["body_file"] = str(body_file)
            continue
        path = https["path"]
        headers = dict(https.get("headers", {}))
        content_type = headers.pop("Content-Type", "application/octet-stream")
        extra = "".join(f"      add_header {k} {json.dumps(v)} always;\n" for k, v in headers.items())
        status = int(https.get("status", 200))
        if status == 200:
            body_file = www / srv["host"] / path.lstrip("/")
            body_file.parent.mkdir(parents=True, exist_ok=True)
            line_end = "\n" if https.get("line_end") == "lf" else "\r\n"
            body = "".join(l + line_end for l in https.get("body", []))
            pad = int(https.get("pad_bytes", 0))
            if pad > len(body):   # an oversized policy: the same policy, padded with an extension
                body += "x-pad: " + "p" * (pad - len(body)) + line_end
            body_file.write_bytes(body.encode())
            serve = f"      types {{ }}\n      default_type {content_type};\n      alias {body_file};\n"
        else:
            serve = f"      return {status} {json.dumps(https.get('location', ''))};\n"
        blocks.append(
            f"  server {{\n    listen {srv['address']}:443 ssl;\n    server_name {srv['host']};\n"
            f"    ssl_certificate {srv['cert_chain']};\n    ssl_certificate_key {srv['cert_key']};\n"
            f"    ssl_protocols TLSv1.2 TLSv1.3;\n"
            f"    location = {path} {{\n{serve}{extra}    }}\n"
            f"    location / {{ return 404; }}\n  }}\n")
    nginx = state / "nginx"
    (nginx / "tmp").mkdir(parents=True)
    (nginx / "nginx.conf").write_text(
        "# generated by labctl.py: lab HTTPS (MTA-STS policies)\n"
        "worker_processes 1;\npid nginx.pid;\nerror_log error.log info;\n"
        "events { worker_connections 64; }\nhttp {\n  access_log access.log;\n"
        "  client_body_temp_path tmp/body; proxy_temp_path tmp/proxy;\n"
        "  fastcgi_temp_path tmp/fastcgi; uwsgi_temp_path tmp/uwsgi; scgi_temp_path tmp/scgi;\n"
        + "".join(blocks) + "}\n")
    return bool(blocks)


def write_postfix(state, domains, servers):
    """One Postfix instance with one smtpd per declared host (own address and certificate)."""
    hosts = [s for s in servers if s.get("smtp", {}).get("kind") == "postfix"]
    if not hosts:
        return None
    pf = state / "postfix"
    etc = pf / "etc"
    for d in (etc, pf / "spool", pf / "data", pf / "vmail"):
        d.mkdir(parents=True)
    shutil.chown(pf / "data", "postfix")
    os.chown(pf / "vmail", 65534, 65534)
    mailboxes = ", ".join(f"@{d['domain']}={d['domain']}/" for d in domains)
    (etc / "main.cf").write_text(f"""# generated by labctl.py: lab Postfix, an inbound sink that never relays
compatibility_level = 3.6
queue_directory = {pf}/spool
data_directory = {pf}/data
maillog_file = {state}/log/postfix.log
maillog_file_prefixes = {state}/log
myhostname = {hosts[0]['host']}
mydestination =
inet_interfaces = {", ".join(s['address'] for s in hosts)}
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
smtpd_peername_lookup = no
smtpd_banner = $myhostname ESMTP Postfix (stsmail lab)
alias_maps =
alias_database =
local_recipient_maps =
biff = no
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
virtual_mailbox_domains = {", ".join(d['domain'] for d in domains)}
virtual_mailbox_base = {pf}/vmail
virtual_mailbox_maps = inline:{{ {mailboxes} }}
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
default_transport = error:the lab does not relay
relay_transport = error:the lab does not relay
""")
    # The system's master.cf, minus its port-25 listener, plus one listener per host.
    system = Path("/etc/postfix/master.cf").read_text().splitlines()
    kept = [l for l in system if not re.match(r"^smtp\s+inet\s", l)]
    for s in hosts:
        kept.append(f"{s['address']}:smtp inet n - n - - smtpd\n"
                    f"  -o myhostname={s['host']}\n"
                    f"  -o smtpd_tls_chain_files={s['cert_key']},{s['cert_chain']}")
    (etc / "master.cf").write_text("\n".join(kept) + "\n")
    run(["postconf", "-c", etc, "-F", "*/*/chroot = n"])
    return etc


def smtp_port(srv):
    return srv["smtp"].get("port", 465 if srv["smtp"].get("implicit_tls") else 25)


# How a sink declaration maps to smtp_sink.py switches (see its --help).
SINK_SWITCHES = {"require_starttls": "--require-starttls", "implicit_tls": "--implicit-tls",
                 "refuse_starttls": "--refuse-starttls"}


def sink_command(state, srv):
    smtp = srv["smtp"]
    cmd = ["/usr/bin/python3", LAB_DIR / "smtp_sink.py", "--listen", srv["address"],
           "--port", str(smtp_port(srv)), "--hostname", srv["host"], "--cert", srv["cert_chain"],
           "--key", srv["cert_key"], "--maildir", state / "mail" / srv["host"]]
    cmd += [flag for key, flag in SINK_SWITCHES.items() if smtp.get(key)]
    if smtp.get("starttls") is False:
        cmd.append("--no-starttls")
    if "auth" in smtp:
        cmd += ["--auth", f"{smtp['auth']['user']}:{smtp['auth']['password']}"]
    if "greeting" in smtp:
        cmd += ["--greeting", smtp["greeting"]]
    return cmd


def smtp_is_ordinary(srv):
    """Port 25 with STARTTLS and no AUTH: the kind swaks can check end to end."""
    smtp = srv["smtp"]
    return smtp_port(srv) == 25 and not any(smtp.get(k) for k in ("implicit_tls", "refuse_starttls",
                                                                      "auth", "greeting")) \
        and smtp.get("starttls", True)


def write_chrony(state):
    (state / "chrony.conf").write_text(
        "# generated by labctl.py: lab NTP server. chronyd runs with -x, so it never\n"
        "# touches the machine's clock (namespaces share it).\n"
        f"bindaddress {GATEWAY}\nallow {NETWORK}\nlocal stratum 8\ncmdport 0\n"
        f"pidfile {state}/run/chronyd.pid\n")


# ---------------------------------------------------------------------------------------
# Processes

def start(state, ns, name, cmd):
    """Start a long-running lab process in the namespace; record its PID.
    `ip netns exec` execs the command, so the PID is the server's own."""
    log = open(state / "log" / f"{name}.log", "ab")
    proc = subprocess.Popen(in_ns(ns, *cmd), stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    with open(state / "run" / "pids", "a") as f:
        f.write(f"{proc.pid} {name}\n")
    return proc


def listening(ns):
    out = run(in_ns(ns, "ss", "-Hlntu"))
    socks = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 5:
            socks.add((parts[0], parts[4]))
    return socks


def wait_ready(ns, expected):
    deadline = time.monotonic() + READY_TIMEOUT_S
    while True:
        missing = expected - listening(ns)
        if not missing:
            return
        if time.monotonic() > deadline:
            raise LabError("lab services did not come up: missing "
                           + ", ".join(f"{p}/{a}" for p, a in sorted(missing)))
        time.sleep(0.1)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def ns_pids(ns):
    res = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True)
    return [int(p) for p in res.stdout.split()]


def kill_pids(pids, sig):
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def teardown_ns(ns, recorded=(), postfix_etc=None):
    """Stop everything in namespace `ns`: Postfix by its own command, recorded PIDs, then
    any process still inside the namespace. Then delete the namespace."""
    if ns not in list_namespaces():
        return
    if postfix_etc and Path(postfix_etc, "main.cf").exists():
        subprocess.run(in_ns(ns, "postfix", "-c", postfix_etc, "stop"),
                       capture_output=True, timeout=30)
    for group in (recorded, ns_pids(ns)):
        kill_pids(group, signal.SIGTERM)
        wait_gone(group, ns, 5)
    left = ns_pids(ns)
    if left:
        kill_pids(left, signal.SIGKILL)
        wait_gone(left, ns, 2)
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def wait_gone(pids, ns, timeout_s):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(p in ns_pids(ns) or pid_alive(p) for p in pids):
        time.sleep(0.1)


def list_namespaces():
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def collect_orphans():
    """Delete lab namespaces whose owner process is gone (a run that was killed)."""
    for ns in list_namespaces():
        m = re.match(rf"^{NS_PREFIX}(\d+)-[0-9a-f]+$", ns)
        if m and not pid_alive(int(m.group(1))):
            print(f"labctl: removing leftover namespace {ns}", file=sys.stderr)
            teardown_ns(ns)


# ---------------------------------------------------------------------------------------
# Commands

def read_env(state):
    env_file = state / "lab.json"
    if not env_file.exists():
        raise LabError(f"no lab in {state} (run 'labctl.py up --state {state}' first)")
    return json.loads(env_file.read_text())


def cmd_up(args):
    state = Path(args.state).resolve()
    if (state / "lab.json").exists():
        old = read_env(state)
        if old["namespace"] in list_namespaces():
            raise LabError(f"a lab is already running in {state} ({old['namespace']}); "
                           "run 'down' first")
    if state.exists() and any(state.iterdir()):
        # Only ever clear a directory an earlier lab run made.
        if not (state / "lab.json").exists():
            raise LabError(f"{state} is not empty and holds no lab; choose an empty or new --state")
        shutil.rmtree(state)
    for d in ("run", "log", "mail"):
        (state / d).mkdir(parents=True)
    # Postfix's daemons run as postfix and nobody and must reach their files below here
    # (mktemp -d makes a directory only its owner may enter).
    state.chmod(0o755)
    collect_orphans()

    domains, servers = load_domains()
    ns = f"{NS_PREFIX}{args.owner}-{secrets.token_hex(3)}"
    env = {"namespace": ns, "state": str(state), "gateway": GATEWAY, "dns": GATEWAY,
           "ntp": GATEWAY, "taps": TAPS, "ca": str(state / "pki" / "ca.pem"),
           "trust_store": str(state / "pki" / "trust.bin"),
           "untrusted_ca": str(state / "pki" / "untrusted-ca.pem"),
           "servers": {s["host"]: s["address"] for s in servers},
           "postfix_maildir": str(state / "postfix" / "vmail"),
           "sink_maildir": str(state / "mail")}
    (state / "lab.json").write_text(json.dumps(env, indent=2) + "\n")
    # For tools that only read /etc/resolv.conf (bind-mount it in a private mount namespace).
    (state / "resolv.conf").write_text(f"nameserver {GATEWAY}\n")

    try:
        make_pki(state, servers)
        write_dnsmasq(state, domains, servers)
        have_https = write_nginx(state, servers)
        postfix_etc = write_postfix(state, domains, servers)
        write_chrony(state)
        env["postfix_etc"] = str(postfix_etc) if postfix_etc else None
        (state / "lab.json").write_text(json.dumps(env, indent=2) + "\n")

        run(["ip", "netns", "add", ns])
        sh = lambda *c: run(in_ns(ns, *c))
        sh("ip", "link", "set", "lo", "up")
        # No IPv6 (its ND/MLD chatter would reach devices first) and no forwarding.
        sh("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1",
           "net.ipv6.conf.default.disable_ipv6=1", "net.ipv4.ip_forward=0")
        sh("ip", "link", "add", "br0", "type", "bridge")
        for tap in TAPS.values():
            sh("ip", "tuntap", "add", "dev", tap, "mode", "tap")
            sh("ip", "link", "set", tap, "master", "br0", "up")
        sh("ip", "addr", "add", f"{GATEWAY}/24", "dev", "br0")
        sh("ip", "addr", "add", f"{SCRIPTED_DNS}/24", "dev", "br0")
        for srv in servers:
            sh("ip", "addr", "add", f"{srv['address']}/24", "dev", "br0")
        sh("ip", "link", "set", "br0", "up")

        expected = {("udp", f"{GATEWAY}:53"), ("tcp", f"{GATEWAY}:53"),
                    ("udp", f"{GATEWAY}:123"), ("udp", "0.0.0.0:67")}
        start(state, ns, "dnsmasq", ["dnsmasq", "-k", "-C", state / "dnsmasq.conf"])
        if any(d.get("dns") == "scripted" for d in domains):
            expected |= {("udp", f"{SCRIPTED_DNS}:53"), ("tcp", f"{SCRIPTED_DNS}:53")}
            start(state, ns, "dns-responder", ["/usr/bin/python3", LAB_DIR / "dns_responder.py",
                                               "--listen", SCRIPTED_DNS, "--domains", DOMAINS_DIR,
                                               "--lab-json", state / "lab.json"])
        start(state, ns, "chronyd", ["chronyd", "-x", "-d", "-u", "root", "-f", state / "chrony.conf"])
        if have_https:
            start(state, ns, "nginx", ["nginx", "-p", state / "nginx", "-e", state / "nginx" / "error.log",
                                       "-c", state / "nginx" / "nginx.conf", "-g", "daemon off;"])
        for srv in servers:
            if "https" in srv:
                expected.add(("tcp", f"{srv['address']}:443"))
                if https_custom(srv["https"]):
                    truncate = srv["https"].get("truncate_after")
                    start(state, ns, f"https-{srv['host']}",
                          ["/usr/bin/python3", LAB_DIR / "https_server.py", "--listen", srv["address"],
                           "--cert", srv["cert_chain"], "--key", srv["cert_key"], "--path", srv["https"]["path"],
                           "--body-file", srv["body_file"], "--content-type",
                           srv["https"].get("headers", {}).get("Content-Type", "text/plain"),
                           "--delay", str(srv["https"].get("delay_s", 0))]
                          + (["--truncate-after", truncate] if truncate is not None else []))
            if "tls_server" in srv:
                # A bare OpenSSL server limited to old protocol versions, on port 443.
                version = srv["tls_server"].get("version", "tls1_1")
                expected.add(("tcp", f"{srv['address']}:443"))
                start(state, ns, f"tls-{srv['host']}",
                      ["openssl", "s_server", "-accept", f"{srv['address']}:443", "-cert", srv["cert_chain"],
                       "-key", srv["cert_key"], f"-{version}", "-cipher", "DEFAULT:@SECLEVEL=0", "-www",
                       "-quiet"])
            smtp = srv.get("smtp")
            if not smtp:
                continue
            expected.add(("tcp", f"{srv['address']}:{smtp_port(srv)}"))
            if smtp["kind"] == "sink":
                start(state, ns, f"sink-{srv['host']}", sink_command(state, srv))
        if postfix_etc:
            try:
                sh("postfix", "-c", postfix_etc, "check")
                sh("postfix", "-c", postfix_etc, "start")
            except LabError as e:
                # Postfix writes the reason to its log, not to the terminal.
                log = (state / "log" / "postfix.log")
                tail = log.read_text().splitlines()[-3:] if log.exists() else []
                raise LabError(f"{e} {' | '.join(tail)}")
        wait_ready(ns, expected)
    except BaseException:
        cmd_down(args, quiet=True)
        raise
    print(f"labctl: lab up in namespace {ns} ({len(servers)} servers, state {state})")
    env_lines = [f"LAB_NS={ns}", f"LAB_STATE={state}", f"LAB_DNS={GATEWAY}", f"LAB_NTP={GATEWAY}",
                 f"LAB_TAP_HOST={TAPS['host']}", f"LAB_TAP_QEMU={TAPS['qemu']}",
                 f"LAB_CA={env['ca']}", f"LAB_TRUST_STORE={env['trust_store']}", f"LAB_POSTFIX_MAILDIR={env['postfix_maildir']}",
                 f"LAB_SINK_MAILDIR={env['sink_maildir']}"]
    (state / "lab.env").write_text("\n".join(env_lines) + "\n")
    return 0


def cmd_down(args, quiet=False):
    state = Path(args.state).resolve()
    try:
        env = read_env(state)
    except LabError:
        if not quiet:
            print(f"labctl: no lab in {state}")
        return 0
    pids_file = state / "run" / "pids"
    recorded = []
    if pids_file.exists():
        recorded = [int(l.split()[0]) for l in pids_file.read_text().splitlines() if l.strip()]
    teardown_ns(env["namespace"], recorded, env.get("postfix_etc"))
    if env["namespace"] in list_namespaces():
        raise LabError(f"namespace {env['namespace']} could not be deleted")
    still = [p for p in recorded if pid_alive(p)]
    if still:
        raise LabError(f"lab processes still running after teardown: {still}")
    if not quiet:
        print(f"labctl: lab {env['namespace']} stopped and removed")
    return 0


def cmd_exec(args):
    env = read_env(Path(args.state).resolve())
    if not args.command:
        raise LabError("exec needs a command after --")
    os.execvp("ip", in_ns(env["namespace"], *args.command))


def ntp_answers(ns, server):
    """Send one NTP client request from inside the namespace; True on a server reply."""
    probe = ("import socket,sys; s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM); s.settimeout(3);"
             f"s.sendto(b'\\x23'+bytes(47),('{server}',123)); d=s.recv(512);"
             "sys.exit(0 if len(d)>=48 and d[0]&7==4 else 1)")
    return subprocess.run(in_ns(ns, "/usr/bin/python3", "-c", probe), capture_output=True).returncode == 0


def maildir_of(state, srv):
    """Where a server stores mail: Postfix per domain, the sink per host."""
    if srv["smtp"]["kind"] == "postfix":
        return state / "postfix" / "vmail" / srv["domain"]
    return state / "mail" / srv["host"]


def wait_for_mail(maildir, text, timeout_s=10):
    """True once a message containing `text` is in maildir/new (delivery is asynchronous)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for msg in (maildir / "new").glob("*") if (maildir / "new").is_dir() else ():
            if text.encode() in msg.read_bytes():
                return True
        time.sleep(0.1)
    return False


def first_line(ns, srv):
    """The first line a server sends (over TLS, unverified, for implicit-TLS servers)."""
    probe = ("import socket,ssl,sys; s=socket.create_connection((sys.argv[1], int(sys.argv[2])), 5);"
             "s=ssl._create_unverified_context().wrap_socket(s) if sys.argv[3]=='tls' else s;"
             "print(s.makefile().readline().strip())")
    mode = "tls" if srv["smtp"].get("implicit_tls") else "plain"
    res = subprocess.run(in_ns(ns, "/usr/bin/python3", "-c", probe, srv["address"], str(smtp_port(srv)), mode),
                         capture_output=True, text=True, timeout=15)
    return res.stdout.strip() or res.stderr.strip()[-200:]


def cert_is_sound(srv):
    """True when a server's certificate is declared valid for its name, now, from the lab CA."""
    cert = srv["cert"]
    return (cert["issuer"] == "lab" and cert.get("validity", "now") == "now"
            and srv["host"] in cert["names"])


def cmd_verify(args):
    """Check each service the way a client would. Prints 'N passed, N failed'."""
    state = Path(args.state).resolve()
    env = read_env(state)
    ns = env["namespace"]
    domains, servers = load_domains()
    results = []

    def check(name, ok, detail=""):
        results.append(ok)
        print(f"{'PASS' if ok else 'FAIL'} {name}{'' if ok else ': ' + detail}")

    def dig(*q):
        return subprocess.run(in_ns(ns, "dig", "+short", "+time=2", "+tries=1", f"@{GATEWAY}", *q),
                              capture_output=True, text=True).stdout

    for decl in domains:
        if decl.get("dns") == "scripted":
            # Only fixed answers: asking for a behaviour or "then" record would use it up.
            plain = [r for r in decl["records"] if r["type"] == "A" and "address" in r
                     and "behaviour" not in r and "then" not in r]
            for rec in plain[:1]:
                out = dig("A", rec["name"])
                check(f"dns A {rec['name']} (forwarded to the scripted server)",
                      rec["address"] in out.split(), out.strip())
            continue
        for rec in decl["records"]:
            if rec["type"] == "MX":
                out = dig("MX", decl["domain"])
                exchange = rec["exchange"].rstrip(".")
                check(f"dns MX {decl['domain']} {rec['preference']} {exchange or '.'}",
                      f"{rec['preference']} {exchange}." in out.splitlines(), out.strip())
            elif rec["type"] == "CNAME":
                out = dig("CNAME", rec["name"])
                check(f"dns CNAME {rec['name']}", f"{rec['target']}." in out, out.strip())
            elif rec["type"] == "TXT":
                out = dig("TXT", rec["name"])
                check(f"dns TXT {rec['name']}", "".join(rec["strings"]) in out.replace('" "', "").replace('"', ""),
                      out.strip())
    scripted = {d["domain"] for d in domains if d.get("dns") == "scripted"}
    for srv in servers:
        if srv["domain"] not in scripted:   # asking would use up scripted answers
            out = dig("A", srv["host"])
            check(f"dns A {srv['host']}", srv["address"] in out.split(), out.strip())
        if "https" in srv and srv["https"].get("status", 200) == 200 and not https_custom(srv["https"]):
            url = f"https://{srv['host']}{srv['https']['path']}"
            want = "\n".join(srv["https"].get("body", []))   # text mode folds CRLF

            def fetch(*opts):
                return subprocess.run(in_ns(ns, "curl", "-sS", "--max-time", "5", *opts, "--resolve",
                                            f"{srv['host']}:443:{srv['address']}", url),
                                      capture_output=True, text=True)
            res = fetch("-k")
            check(f"https {url} serves", res.returncode == 0 and want in res.stdout, res.stderr.strip())
            if cert_is_sound(srv):
                res = fetch("--cacert", state / "pki" / "ca.pem")
                check(f"https {url} verifies", res.returncode == 0, res.stderr.strip())
            else:
                res = fetch("--cacert", state / "pki" / "ca.pem")
                check(f"https {url} fails verification as declared", res.returncode != 0,
                      "curl accepted a certificate declared broken")
        if "tls_server" in srv:
            version = srv["tls_server"].get("version", "tls1_1")
            res = subprocess.run(in_ns(ns, "openssl", "s_client", "-connect", f"{srv['address']}:443",
                                       f"-{version}", "-cipher", "DEFAULT:@SECLEVEL=0"),
                                 input="", capture_output=True, text=True, timeout=15)
            check(f"tls server {srv['host']} speaks {version} only",
                  res.returncode == 0 and "Protocol  : TLSv1" in res.stdout, res.stderr[-200:])
        if "smtp" in srv and not smtp_is_ordinary(srv):
            # A deliberately odd server: check it answers as declared.
            greeting = first_line(ns, srv)
            want = srv["smtp"].get("greeting", "220")[:3]
            check(f"smtp {srv['host']}:{smtp_port(srv)} greets with {want}", greeting.startswith(want),
                  greeting)
        elif "smtp" in srv:
            token = f"lab verify {secrets.token_hex(6)}"
            res = subprocess.run(in_ns(ns, "swaks", "--server", srv["address"], "--to",
                                       f"lab-verify@{srv['domain']}", "--from", "verify@lab.test",
                                       "--tls", "--tls-verify", "--tls-ca-path", state / "pki" / "ca.pem",
                                       "--tls-sni", srv["host"], "--header", f"Subject: {token}",
                                       "--timeout", "10"),
                                 capture_output=True, text=True)
            check(f"smtp STARTTLS {srv['host']} ({srv['smtp']['kind']})", res.returncode == 0,
                  res.stdout[-300:])
            maildir = maildir_of(state, srv)
            check(f"maildir {maildir} stores the message", wait_for_mail(maildir, token),
                  "message not found within 10 s")
    check(f"ntp {GATEWAY}", ntp_answers(ns, GATEWAY), "no NTP reply")
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if passed == len(results) else 1


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="verb", required=True)
    for verb in ("up", "down", "verify", "exec"):
        p = sub.add_parser(verb)
        p.add_argument("--state", required=True, help="directory for this lab's state and logs")
        if verb == "up":
            p.add_argument("--owner", type=int, default=os.getppid(),
                           help="PID whose exit makes this lab a leftover (default: the caller)")
        if verb == "exec":
            p.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    if args.verb == "exec" and args.command[:1] == ["--"]:
        args.command = args.command[1:]
    if os.geteuid() != 0:
        print("labctl: the lab needs root (network namespaces, TAP devices)", file=sys.stderr)
        return 77
    try:
        return {"up": cmd_up, "down": cmd_down, "verify": cmd_verify, "exec": cmd_exec}[args.verb](args)
    except (LabError, OSError, subprocess.TimeoutExpired) as e:
        print(f"labctl: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
