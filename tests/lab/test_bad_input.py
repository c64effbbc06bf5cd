#!/usr/bin/python3
"""Lab test: bad input (adversarial suite, issue 10). Settings files: for every key that
docs/settings.md documents, a value of the wrong type and one out of range; an unknown key,
a duplicate key, a removed key, a truncated file, deep nesting, a 1 MB file, invalid UTF-8,
huge and fractional numbers. Messages: header injection, addresses without '@' or with
non-ASCII characters, a 100 kB line, an invalid UTF-8 body: each must end in its documented
exit status (README: 78 bad settings, 65 bad message, 64 usage) with a one-line reason
naming what was wrong, before anything is sent. Lone dots, bare CR and bare LF in a body
are not errors: the message must arrive with them encoded correctly (read back from
Postfix's Maildir). Each case is one scenario of the reliability report.
Usage: test_bad_input.py STSMAIL LAB_STATE_DIR"""

import email
import email.policy
import json
import os
import re
import subprocess
import time
from pathlib import Path

import labtest
from labtest import check, scenario

stsmail, state, lab = labtest.start()
ns, tap = lab["namespace"], lab["taps"]["host"]
DOCS = Path(__file__).resolve().parents[2] / "docs" / "settings.md"
EX_USAGE, EX_DATAERR, EX_CONFIG = 64, 65, 78
SENDER = "bad-input@printer.lab.test"


def base():
    """The smallest settings that `stsmail send` accepts."""
    return {"network": {"interface": tap}, "mail": {"from": SENDER}, "tls": {"trust_store": lab["trust_store"]}}


def put(doc, path, value):
    node = doc
    parts = path.strip("/").split("/")
    for p in parts[:-1]:
        node = node.setdefault(p, {})
    node[parts[-1]] = value
    return doc


def settings_file(name, content):
    path = state / f"bad-input-{name}.json"
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    return path


def send(*args, body=None):
    """Runs stsmail send inside the lab's namespace: a file wrongly accepted reaches only the lab."""
    res = subprocess.run(["ip", "netns", "exec", ns, "timeout", "120", stsmail, "send", *args], input=body,
                         capture_output=True)
    return res.returncode, res.stdout.decode(errors="replace"), res.stderr.decode(errors="replace")


def exited(rc):
    return f"killed by signal {-rc}" if rc < 0 else f"exit {rc}"


def one_line(err):
    return err.strip().splitlines()[0] if err.strip() else ""


def refused_settings(name, attack, content, want_path=None, want_text=None, forbidden=None):
    """Runs send with a settings file that must be refused: exit 78, one line on stderr
    naming the JSON path (or what else was wrong), nothing sent (no network brought up)."""
    path = settings_file(name, content)
    rc, out, err = send("--settings", str(path), "--to", "ops@example.test")
    lines = err.strip().splitlines()
    m = re.match(rf"^stsmail: {re.escape(str(path))}: (/\S*): ", lines[0]) if lines else None
    named = m.group(1) if m else None
    ok = rc == EX_CONFIG and len(lines) == 1 and out == ""
    if want_path is not None:
        ok = ok and named is not None and (named == want_path or named.startswith(want_path + "/"))
    if want_text is not None:
        ok = ok and re.search(want_text, lines[0] if lines else "", re.I) is not None
    if forbidden is not None:
        ok = ok and forbidden not in err
    expected = f"exit 78, one line naming {want_path or want_text}"
    scenario(f"input.settings.{name}", attack, expected,
             f"{exited(rc)}, {len(lines)} line(s): {lines[0][:160] if lines else '(nothing)'}", ok)


# --- every documented key: a wrong type and an out-of-range value ---------------------------
RELAY = {"delivery": {"mode": "relay", "relay": {"host": "relay.test"}}}
WITH_ADDRESS = {"network": {"interface": tap, "address": "192.0.2.150/24"}}
LONG = "x" * 300
# path: (context merged into the base, wrong-type value, out-of-range value or None when the
# type has no range: booleans and objects)
SPECS = {
    "/device/ehlo_name": ({}, 42, "h" * 300),
    "/network/interface": ({}, 1, "t" * 16),
    "/network/address": ({}, 192002150, "192.0.2.150/33"),
    "/network/gateway": (WITH_ADDRESS, True, "192.0.2.256"),
    "/network/dns": ({}, "192.0.2.1", ["192.0.2.1", "192.0.2.2", "192.0.2.3"]),
    "/mail/from": ({}, 5, "a@" + "b" * 300 + ".test"),
    "/mail/from_name": ({}, ["Printer"], "P" * 65),
    "/mail/to": ({}, "ops@example.test", [f"o{i}@example.test" for i in range(9)]),
    "/delivery/mode": ({}, 1, "smtp"),
    "/delivery/tls_level": ({}, True, "strict"),
    "/delivery/opportunistic_plaintext": ({}, "yes", None),
    "/delivery/timeout_percent": ({}, "100", 1001),
    "/delivery/attempt_timeout": ({}, "30m", 9),
    "/delivery/relay": ({"delivery": {"mode": "relay"}}, "relay.test", None),
    "/delivery/relay/host": (RELAY, 1, "r" * 300),
    "/delivery/relay/port": (RELAY, "abc", 65536),
    "/delivery/relay/tls": (RELAY, False, "ssl"),
    "/delivery/relay/auth": (RELAY, "printer:secret", {"user": "printer"}),
    "/delivery/relay/policy_domain": (RELAY, 7, "d" * 300),
    "/mta_sts/enabled": ({}, "true", None),
    "/mta_sts/cache_file": ({}, 0, "c" * 1000),
    "/mta_sts/fetch_timeout": ({}, "60", 601),
    "/mta_sts/relax_content_type": ({}, "no", None),
    "/mta_sts/strict_cname": ({}, "mx", ["mx", "cname"]),
    "/tls/trust_store": ({}, [], "s" * 1000),
    "/outbox/retry_first": ({}, "60", 86401),
    "/outbox/retry_max": ({}, "1h", 604801),
    "/outbox/give_up": ({}, "3d", 59),
    "/outbox/coalesce_window": ({}, "5m", 86401),
    "/outbox/domain_hourly_cap": ({}, "none", 10001),
    "/outbox/when_full": ({}, True, "drop_oldest"),
    "/outbox/store_file": ({}, 1, "o" * 1000),
    "/outbox/store_size": ({}, "64K", 266240),
}
REMOVED = {"/delivery/require_tls": True}


def documented_keys():
    """JSON paths of the keys docs/settings.md lists, and those it marks removed."""
    keys, removed, section = [], [], None
    for line in DOCS.read_text().splitlines():
        m = re.match(r"^#{2,3} `(/[a-z_/]*)`", line)
        if m:
            section = m.group(1)
            continue
        if line.startswith("#"):
            section = None
            continue
        m = re.match(r"^\| `([a-z_]+)` \| ([^|]*)\|", line)
        if m and section:
            (removed if "(removed)" in m.group(2) else keys).append(f"{section}/{m.group(1)}")
    return keys, removed


keys, removed = documented_keys()
missing = [k for k in keys if k not in SPECS]
check("every key docs/settings.md documents has bad-input cases here",
      len(keys) >= 20 and not missing, f"no cases for {missing} (documented: {keys})")
for key in keys:
    if key not in SPECS:
        continue
    context, wrong, out_of_range = SPECS[key]
    slug = key.strip("/").replace("/", ".")
    doc = base()
    for section, values in context.items():
        doc[section] = {**doc.get(section, {}), **json.loads(json.dumps(values))}
    refused_settings(f"wrong_type.{slug}", f"{key} given {json.dumps(wrong)[:40]} (wrong type)",
                     put(json.loads(json.dumps(doc)), key, wrong), want_path=key)
    if out_of_range is not None:
        refused_settings(f"out_of_range.{slug}", f"{key} given {json.dumps(out_of_range)[:40]}"
                         f"{'...' if len(json.dumps(out_of_range)) > 40 else ''} (out of range)",
                         put(json.loads(json.dumps(doc)), key, out_of_range), want_path=key)
for key in removed:
    slug = key.strip("/").replace("/", ".")
    refused_settings(f"removed_key.{slug}", f"{key}, a key the documentation lists as removed",
                     put(base(), key, REMOVED.get(key, True)), want_path=key, want_text="replaced by")

# --- the secret is never repeated ---------------------------------------------------------
secret = "Sup3r-s3cret-" + "p" * 300
doc = put(json.loads(json.dumps({**base(), **RELAY})), "/delivery/relay/auth", {"user": "printer", "password": secret})
refused_settings("secret_not_echoed", "/delivery/relay/auth/password too long (300+ characters)",
                 doc, want_path="/delivery/relay/auth/password", forbidden="Sup3r-s3cret")

# --- numbers that are no integers ---------------------------------------------------------
for name, value in (("huge_float", "1e300"), ("negative_huge_float", "-1e300"), ("fraction", "2.5"),
                    ("nan_like", "1e999")):
    text = (json.dumps(base())[:-1] + ', "delivery": {"mode": "relay", "relay": {"host": "relay.test", "port": '
            + value + "}}}")
    refused_settings(f"number.{name}", f"/delivery/relay/port given {value} (finding 9: range-checked before "
                     "any conversion)", text.encode(), want_path="/delivery/relay/port")

# --- the file's structure -----------------------------------------------------------------
refused_settings("unknown_key.top", "a top-level key no version knows (\"devise\")",
                 {**base(), "devise": {"ehlo_name": "printer.lab.test"}}, want_path="/devise")
refused_settings("unknown_key.nested", "an unknown key inside /delivery/relay (\"hots\")",
                 put(json.loads(json.dumps({**base(), **RELAY})), "/delivery/relay/hots", "relay.test"),
                 want_path="/delivery/relay/hots")
text = json.dumps(base())[:-1] + ', "delivery": {"mode": "mx", "mode": "relay"}}'
refused_settings("duplicate_key", "\"mode\" twice in /delivery (the second value never validated otherwise)",
                 text.encode(), want_path="/delivery/mode", want_text="duplicate")
text = json.dumps(base())[:-1] + f', "mail": {{"from": "{SENDER}"}}}}'
refused_settings("duplicate_key.top", "\"mail\" twice at the top level", text.encode(), want_path="/mail",
                 want_text="duplicate")
whole = json.dumps({**base(), **RELAY}, indent=2).encode()
refused_settings("truncated", f"a valid file cut after {len(whole) // 2} of its {len(whole)} bytes",
                 whole[:len(whole) // 2], want_text=r"not valid JSON|/: ")
refused_settings("empty", "an empty file", b"", want_text=r"not valid JSON|/: ")
refused_settings("not_an_object", "a JSON array instead of an object", b"[]", want_path="/")
refused_settings("deep_nesting.arrays", "10000 '[' (deep nesting)", b"[" * 10000, want_text=r"JSON|arena|/: ")
refused_settings("deep_nesting.objects", "10000 nested objects as the value of a known key",
                 (json.dumps(base())[:-1] + ', "device": ' + '{"a": ' * 10000 + "1" + "}" * 10000 + "}").encode(),
                 want_text=r"JSON|arena|/device|/: ")
big = json.dumps({**base(), "device": {"ehlo_name": "x" * (1024 * 1024)}}).encode()
refused_settings("one_megabyte", f"a {len(big)}-byte file (one 1 MiB string)", big, want_text=r"larger than|arena")
padded = json.dumps(base()).encode() + b" " * (1024 * 1024)
refused_settings("one_megabyte_whitespace", "a valid file followed by 1 MiB of spaces", padded,
                 want_text=r"larger than|arena")
refused_settings("invalid_utf8.value", "an invalid UTF-8 sequence (0xC3 0x28) inside /tls/trust_store",
                 json.dumps(base()).replace(lab["trust_store"], lab["trust_store"] + "\\u0000").encode()
                 .replace(b"\\u0000", b"\xc3\x28"), want_text=r"/tls/trust_store|UTF-8")
refused_settings("invalid_utf8.from_name", "bytes 0xFF 0xFE in /mail/from_name",
                 json.dumps(put(base(), "/mail/from_name", "@@")).encode().replace(b"@@", b"\xff\xfe"),
                 want_path="/mail/from_name")
refused_settings("invalid_utf8.key", "a key made of invalid UTF-8 (0xFF) at the top level",
                 json.dumps({**base(), "@@": 1}).encode().replace(b"@@", b"\xff"), want_text=r"/|UTF-8")
refused_settings("nul_in_value", "a NUL escape (\\u0000) inside /device/ehlo_name",
                 json.dumps(put(base(), "/device/ehlo_name", "printer@@lab.test")).encode().replace(b"@@", b"\\u0000"),
                 want_path="/device/ehlo_name")

rc, out, err = send("--settings", str(state / "bad-input-does-not-exist.json"))
scenario("input.settings.missing_file", "--settings names a file that does not exist",
         "exit 78, one line naming the file", f"{exited(rc)}: {one_line(err)[:160]}",
         rc == EX_CONFIG and len(err.strip().splitlines()) == 1 and "bad-input-does-not-exist.json" in err)

# --- usage --------------------------------------------------------------------------------
good = settings_file("good", base())
for name, args, want in (("unknown_option", ["--settings", str(good), "--bcc", "x@example.test"], "--bcc"),
                         ("missing_value", ["--settings", str(good), "--to"], "--to"),
                         ("no_settings", ["--to", "ops@example.test"], "--settings"),
                         ("repeat_zero", ["--settings", str(good), "--repeat", "0"], "--repeat"),
                         ("repeat_not_a_number", ["--settings", str(good), "--repeat", "1e3"], "--repeat")):
    rc, out, err = send(*args)
    scenario(f"input.usage.{name}", f"stsmail send {' '.join(a if a != str(good) else 'FILE' for a in args)}",
             f"exit 64, the first line names {want}", f"{exited(rc)}: {one_line(err)[:160]}",
             rc == EX_USAGE and want in one_line(err))

# --- messages refused before anything is sent ---------------------------------------------
mx = settings_file("mx", base())
for name, attack, args, body, want in (
        ("header_injection.subject_crlf", "CR LF and a Bcc: header in --subject",
         ["--subject", "Toner low\r\nBcc: evil@example.test"], None, "header injection"),
        ("header_injection.subject_lf", "a bare LF and a Bcc: header in --subject",
         ["--subject", "Toner low\nBcc: evil@example.test"], None, "header injection"),
        ("header_injection.subject_cr", "a bare CR in --subject", ["--subject", "Toner low\rBcc: x@example.test"],
         None, "header injection"),
        ("header_injection.recipient", "CR LF and an SMTP command in a --to address",
         ["--to", "ops@example.test\r\nRCPT TO:<evil@example.test>"], None, "header injection"),
        ("address_without_at", "--to ops.example.test (no '@')", ["--to", "ops.example.test"], None,
         "ops.example.test"),
        ("address_empty_local_part", "--to @example.test", ["--to", "@example.test"], None, "@example.test"),
        ("address_non_ascii", "--to jos\u00e9@example.test (needs SMTPUTF8, which stsmail does not use)",
         ["--to", "jos\u00e9@example.test"], None, "jos"),
        ("subject_invalid_utf8", "a --subject that is not valid UTF-8 (0xFF)", ["--subject", b"Toner \xff".decode(
            "utf-8", "surrogateescape")], None, "UTF-8"),
        ("body_invalid_utf8", "a body that is not valid UTF-8 (0xC3 0x28)", ["--body-file", "-"],
         b"Cyan at 5%\n\xc3\x28\n", "UTF-8"),
        ("body_line_100k", "a body of one 100 kB line", ["--body-file", "-"], b"x" * 100_000 + b"\n",
         "body|line|longer"),
):
    if not any(a == "--to" for a in args):
        args = ["--to", "ops@example.test", *args]
    rc, out, err = send("--settings", str(mx), *args, body=body)
    lines = err.strip().splitlines()
    ok = (rc == EX_DATAERR and len(lines) == 1 and re.search(want, lines[0], re.I) is not None
          and "up as" not in err and out == "")
    scenario(f"input.message.{name}", attack, f"exit 65 before any network use, one line naming {want}",
             f"{exited(rc)}, {len(lines)} line(s): {lines[0][:160] if lines else '(nothing)'}", ok)

# --- bodies that must be delivered, correctly encoded -------------------------------------


def stored(marker, timeout_s=15):
    """(raw bytes, parsed message) of the stored message whose Subject contains marker."""
    maildir = Path(lab["postfix_maildir"]) / "example.test" / "new"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for f in sorted(maildir.glob("*")) if maildir.is_dir() else []:
            raw = f.read_bytes()
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            if marker in str(msg["Subject"]):
                return raw, msg
        time.sleep(0.2)
    return None, None


marker = f"bad-input body {os.getpid()}"
body = (b"first line\n"
        b".\n"                          # a lone dot: would end DATA if not stuffed
        b"after the lone dot\n"
        b"..two dots\n"
        b".leading dot\n"
        b"bare CR here\rthen this\n"     # bare CR inside a line
        b"CRLF line\r\n"
        b"bare LF line\n"
        b"x\r.\rQUIT\r"                  # a dot line made of bare CRs: stuffed only if normalised first
        b"\r\n.\r\n"                     # CRLF . CRLF: the end-of-data sequence itself
        b"last line\n")
rc, out, err = send("--settings", str(mx), "--to", "ops@example.test", "--subject", marker, "--body-file", "-",
                    body=body)
raw, msg = stored(marker) if rc == 0 else (None, None)
content = msg.get_content() if msg is not None else ""
want = body.decode().replace("\r\n", "\n").replace("\r", "\n")
lines = content.split("\n")
delivered = rc == 0 and "delivered by mx1.example.test" in out and msg is not None
for name, attack, expected, ok in (
        ("lone_dot_line", "a body line that is a lone '.' (and one CRLF.CRLF, the end-of-data sequence itself)",
         "delivered; the '.' lines arrive intact and the lines after them too",
         delivered and lines.count(".") == 3 and "after the lone dot" in lines and "last line" in lines),
        ("leading_dots", "body lines starting with '.' and '..'", "delivered unchanged (dot-stuffed on the wire)",
         delivered and "..two dots" in lines and ".leading dot" in lines),
        ("bare_cr", "bare CR characters in the body (inside a line, and around a '.' line)",
         "delivered with each bare CR turned into a line break; no bare CR stored",
         delivered and "bare CR here" in lines and "then this" in lines and "QUIT" in lines
         and raw is not None and b"\r" not in raw.replace(b"\r\n", b"")),
        ("bare_lf", "bare LF line ends (the whole body uses them)", "delivered with CRLF line ends on the wire "
         "(stored as lines, the text unchanged)", delivered and "bare LF line" in lines and content == want),
):
    scenario(f"input.message.{name}", attack, expected,
             f"{exited(rc)}, {out.strip()[:120]}; stored {'yes' if msg is not None else 'no'}; "
             f"decoded body {'matches' if content == want else 'differs: ' + repr(content[:200])}", ok)

marker = f"bad-input long line {os.getpid()}"
long_line = ("0123456789abcdef" * 320)[:5000]
rc, out, err = send("--settings", str(mx), "--to", "ops@example.test", "--subject", marker, "--body-file", "-",
                    body=(f"before\n{long_line}\nafter\n").encode())
raw, msg = stored(marker) if rc == 0 else (None, None)
content = msg.get_content() if msg is not None else ""
longest = max((len(l) for l in raw.split(b"\n")), default=0) if raw else 0
scenario("input.message.line_5000_chars",
         "a 5000-character body line (over SMTP's 998-octet line limit, under the body limit)",
         "delivered; every line on the wire at most 998 octets (quoted-printable soft breaks), the text intact",
         f"{exited(rc)}; longest stored line {longest} octets; decoded body "
         f"{'identical' if content == f'before{chr(10)}{long_line}{chr(10)}after{chr(10)}' else 'differs, ends ' + repr(content[-12:])}",
         rc == 0 and msg is not None and longest <= 998 and content == f"before\n{long_line}\nafter\n")

labtest.finish()
