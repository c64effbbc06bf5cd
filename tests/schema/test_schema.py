#!/usr/bin/python3
"""docs/settings.schema.json against the parser (`stsmail settings check`).

Every settings file the project shows or uses must pass both: the whole-file examples of
docs/settings.md (its ```json blocks), the settings toolchain/demo.sh writes, and those the
lab scenarios (tests/lab/**/*.py) write. Every case of tests/schema/bad_settings.json must be
refused by both, except the `parser_only` ones, which the schema cannot express: those it
must accept, so that the list of what only the parser checks stays exact.

Usage: test_schema.py STSMAIL SOURCE_DIR
"""
import ast
import json
import pathlib
import re
import subprocess
import sys
import tempfile

from jsonschema import Draft202012Validator

STSMAIL = sys.argv[1]
SOURCE = pathlib.Path(sys.argv[2])
SCHEMA = json.loads((SOURCE / "docs/settings.schema.json").read_text())
Draft202012Validator.check_schema(SCHEMA)
VALIDATOR = Draft202012Validator(SCHEMA)
ROOT_KEYS = set(SCHEMA["properties"])

failures = []
checked = {"good": 0, "bad": 0, "parser_only": 0}


def fail(what):
    failures.append(what)
    print("FAIL " + what)


def first_wins(pairs):
    """A key given twice keeps its first value, as the device would read it without its
    duplicate rule (Python's own reader keeps the last)."""
    out = {}
    for key, value in pairs:
        out.setdefault(key, value)
    return out


def schema_errors(data: bytes):
    """Why the schema side refuses `data` (a JSON reader first), or [] when it accepts."""
    try:
        doc = json.loads(data.decode("utf-8"), object_pairs_hook=first_wins)
    except (UnicodeDecodeError, ValueError) as e:
        return [f"not JSON: {e}"]
    return [f"{'/' + '/'.join(str(p) for p in e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(doc)]


def settings_check(data: bytes):
    """(exit status, stdout, stderr, file name) of `stsmail settings check` on `data`."""
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        f.write(data)
        f.flush()
        run = subprocess.run([STSMAIL, "settings", "check", f.name], capture_output=True, timeout=30)
        return run.returncode, run.stdout.decode(errors="replace"), run.stderr.decode(errors="replace"), f.name


def expect_good(where, data: bytes):
    checked["good"] += 1
    rc, out, err, name = settings_check(data)
    if rc != 0 or out != f"{name}: ok\n":
        fail(f"{where}: stsmail settings check refused it (exit {rc}): {err.strip()}")
    for e in schema_errors(data):
        fail(f"{where}: the schema refused it: {e}")


# ---- the documented examples ------------------------------------------------------------

doc = (SOURCE / "docs/settings.md").read_text()
examples = re.findall(r"^```json\n(.*?)^```$", doc, re.S | re.M)
if not examples:
    fail("docs/settings.md: no ```json example found")
for i, text in enumerate(examples):
    expect_good(f"docs/settings.md example {i + 1}", text.encode())

# ---- the demo's settings ----------------------------------------------------------------
# Shell substitutions (%s in printf formats, $VAR) become a name valid wherever the demo
# puts one (an interface, a trust store path).

demo = (SOURCE / "toolchain/demo.sh").read_text()
demo_settings = re.findall(r"^printf '(\{.*\})\\n?'", demo, re.M)
demo_settings += re.findall(r"<<JSON\n(.*?)^JSON$", demo, re.S | re.M)
if not demo_settings:
    fail("toolchain/demo.sh: no settings found")
for i, text in enumerate(demo_settings):
    text = re.sub(r"%s|\$\{?[A-Za-z_]+\}?", "labtap0", text)
    expect_good(f"toolchain/demo.sh settings {i + 1}", text.encode())

# ---- the lab's settings -----------------------------------------------------------------
# The lab scenarios build their settings as Python dict literals. Each literal whose keys
# are all top-level settings keys is taken as a settings file: module constants are
# resolved, values computed at run time get a stand-in valid for their key, and what has
# none (a value passed in by the caller, a ** spread) is left out and listed.

STAND_INS = {
    "/network/interface": "labtap0", "/network/address": "192.0.2.150/24", "/network/dns": ["192.0.2.1"],
    "/network/dns/*": "192.0.2.1", "/tls/trust_store": "trust.bin", "/mail/from": "alerts@printer.lab.test",
    "/mail/to/*": "ops@example.test", "/device/ehlo_name": "printer.lab.test", "/outbox/store_file": "outbox.bin",
    "/mta_sts/cache_file": "cache.bin", "/delivery/relay/host": "relay.test",
}
# Settings the lab writes on purpose to see them refused: (file, start of the literal).
LAB_REFUSED = {
    ("test_bad_input.py", "{'delivery': {'mode': 'relay'}}"),
    ("test_send.py", "{'network': {'interface': tap}, 'delivery': {'mode': 'relay', 'relay': {'host': 'submit.relay.test', 'port': 'abc'}}}"),
}
UNSET = object()


def lab_value(node, path, consts, left_out):
    if isinstance(node, ast.Dict):
        out = {}
        for k, v in zip(node.keys, node.values):
            if k is None or not isinstance(k, ast.Constant):
                left_out.append(f"{path}/** ({ast.unparse(v)})")
                continue
            value = lab_value(v, f"{path}/{k.value}", consts, left_out)
            if value is not UNSET:
                out[k.value] = value
        return out
    if isinstance(node, ast.List):
        items = (lab_value(v, f"{path}/{i}", consts, left_out) for i, v in enumerate(node.elts))
        return [v for v in items if v is not UNSET]
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in consts:
        return consts[node.id]
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and
            len(node.args) == 1 and isinstance(node.args[0], ast.Dict)):   # dict({...}, **more)
        for extra in node.keywords:
            left_out.append(f"{path}/** ({ast.unparse(extra)})")
        return lab_value(node.args[0], path, consts, left_out)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):   # 'x' * N
        try:
            return ast.literal_eval(node)
        except ValueError:
            pass
    general = re.sub(r"/\d+$", "/*", path)
    for key in (path, general):
        if key in STAND_INS:
            return STAND_INS[key]
    left_out.append(f"{path} ({ast.unparse(node)})")
    return UNSET


lab_files = sorted((SOURCE / "tests/lab").rglob("*.py"))
refused_seen = set()
lab_count = 0
for path in lab_files:
    tree = ast.parse(path.read_text())
    consts = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            try:
                consts[stmt.targets[0].id] = ast.literal_eval(stmt.value)
            except ValueError:
                pass
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Dict) and node.keys and
                all(isinstance(k, ast.Constant) and k.value in ROOT_KEYS for k in node.keys)):
            continue
        lab_count += 1
        where = f"{path.relative_to(SOURCE)}:{node.lineno}"
        left_out = []
        data = json.dumps(lab_value(node, "", consts, left_out)).encode()
        for what in left_out:
            print(f"note {where}: not checked, computed at run time: {what}")
        source = ast.unparse(node)
        if (path.name, source) in LAB_REFUSED:
            refused_seen.add((path.name, source))
            checked["bad"] += 1
            if settings_check(data)[0] != 78:
                fail(f"{where}: written to be refused, but stsmail settings check accepts it")
            if not schema_errors(data):
                fail(f"{where}: written to be refused, but the schema accepts it")
        else:
            expect_good(where, data)
for missing in LAB_REFUSED - refused_seen:
    fail(f"tests/lab/{missing[0]}: the refused settings {missing[1]} are no longer there; update LAB_REFUSED")
if lab_count == 0:
    fail("tests/lab: no settings found")

# ---- the bad settings: refused by both -------------------------------------------------


def case_bytes(case):
    if "settings" in case:
        return case["settings"].encode()
    return re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), case["settings_x"].encode())


for case in json.loads((SOURCE / "tests/schema/bad_settings.json").read_text())["cases"]:
    where = f"bad_settings.json [{case['intent']}]"
    data = case_bytes(case)
    rc, out, err, name = settings_check(data)
    if rc != 78 or not err.startswith(f"stsmail: {name}: {case['error']}"):
        fail(f"{where}: stsmail settings check gave exit {rc}: {err.strip()!r}, expected {case['error']!r}")
    errors = schema_errors(data)
    if "parser_only" in case:
        checked["parser_only"] += 1
        if errors:
            fail(f"{where}: listed as parser_only, but the schema refuses it too ({errors[0]}): drop parser_only")
    else:
        checked["bad"] += 1
        if not errors:
            fail(f"{where}: the schema accepts it")

print(f"schema and parser agree: {checked['good']} good files (docs, demo, lab), {checked['bad']} refused by "
      f"both, {checked['parser_only']} refused by the parser only (listed); {len(failures)} failures")
sys.exit(1 if failures else 0)
