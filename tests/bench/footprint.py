#!/usr/bin/env python3
"""Footprint tables of the firmware images, every board side by side, as Markdown on stdout.

Static sizes come from the linker map (every input section, attributed to the archive
and object it came from; with -fdata-sections each static object is its own section, so
the map also names the largest ones); run-time peaks come from the firmware's own
"footprint:" lines, printed at exit after a real delivery in the lab
(tests/bench/footprint.sh). With the build's compile_commands.json, the alert agent's RAM
is split into its parts by compiling a probe of sizeof() with the agent's own compiler
command, so the parts are the target's sizes, padding included.

Usage: footprint.py --bundle CA_BLOB --trust LAB_BLOB BOARD=MAP,RUN_LOG,COMPILE_COMMANDS...
BOARD is a preset name (mps2-an385, lm3s6965evb); CA_BLOB is Debian's ca-certificates
bundle in the device's format (the build's trust/ca-certificates.bin).
"""
import argparse
import json
import re
import shlex
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

KIB = 1024
# The budgets of issue 13, per board: (label, measure, bytes). A measure names a value
# main() computes for each board. Stretch goals are listed too and marked as such.
BUDGETS = {
    "mps2-an385": [
        ("total RAM as built (static + stack reserve + heap reserve)", "ram_built", 96 * KIB),
        ("our own code, flash", "own", 32 * KIB),
        ("image without the trust store, flash", "image", 256 * KIB),
        ("Debian's CA bundle in the device's format", "bundle", 80 * KIB),
        ("stretch: our own code, flash", "own", 24 * KIB),
        ("stretch: total RAM as built", "ram_built", 64 * KIB),
    ],
    "lm3s6965evb": [
        ("total RAM as built (static + stack reserve + heap reserve), linker-enforced", "ram_built", 64 * KIB),
        ("image without the trust store, flash", "image", 224 * KIB),
    ],
}

# Static objects at least this large are listed by name.
LARGE_OBJECT = 2 * KIB
# The parts of struct stsm_agent the table shows: (depth, label, sizeof expression, what it
# is). A part's children are the rows below it one level deeper; what they leave of it is
# printed as "other fields".
AGENT = "struct stsm_agent"
AGENT_PARTS = [
    (0, "agent", AGENT, "one static object (`agent` above)"),
    (1, "store", "store", "the flash store's RAM index: page table, key slots"),
    (1, "outbox", "outbox", "the outbox"),
    (2, "items", "outbox.items", "summary of each of the STSM_OUTBOX_MAX messages"),
    (2, "sent", "outbox.sent", "first attempts remembered for the per-domain cap"),
    (1, "batch", "batch", "the messages of one attempt (STSM_AGENT_BATCH_MAX slots)"),
    (1, "text", "text", "the batch's recipients, subjects and keys, copied out of the store"),
    (1, "delivery", "delivery", "the delivery (struct stsm_delivery)"),
    (2, "sts", "delivery.sts", "the MTA-STS lookup"),
    (3, "fetch", "delivery.sts.fetch", "the HTTPS policy fetch (the body is parsed as it arrives)"),
    (2, "route", "delivery.route", "MX mode: the MX set and its DNS queries (relay mode's address query shares its room)"),
    (2, "smtp", "delivery.smtp", "the SMTP engine, its output queue included"),
    (2, "lwip_conn", "delivery.lwip_conn", "the TCP/TLS connection"),
    (2, "chunk", "delivery.chunk", "the DATA encoder's output chunk; the message's piece is read into its last 256 bytes"),
    (2, "batch_rcpt", "delivery.batch_rcpt", "each batch message's recipient results"),
    (2, "host_text", "delivery.host_text", "each host that decided a recipient, once"),
]
# The provisioning area's parts (linker script symbols, as the map prints them).
PROVISION_AREAS = [
    ("__provision_settings_size", "settings JSON"),
    ("__provision_device_size", "device record (seed, clock floor), two slots"),
    ("__provision_cache_size", "MTA-STS policy cache (a store: one piece a policy)"),
    ("__provision_outbox_size", "outbox ring (stsm_store)"),
    ("__provision_trust_size", "trust store"),
]

# Input section line, its address/size/file either on the same line or on the next.
SECTION = re.compile(r"^ (\.[\w.$]+|COMMON)(?:\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S.*))?$")
PLACEMENT = re.compile(r"^\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S.*)$")
OUR_LIBS = {"libstsm_core.a": "firmware/core", "libstsm_agent.a": "firmware/agent",
            "libstsm_net.a": "port/net", "libstsm_lwip_hooks.a": "port/net",
            "libstsm_port_mps2.a": "port/mps2-an385", "libstsm_cortexm.a": "port/cortex-m",
            "libstsm_lan9118.a": "drivers/lan9118",
            "libstsm_uart.a": "drivers/cmsdk_uart"}
# Libraries not listed above: libstsm_port_<board>.a and libstsm_<driver>.a by pattern.
OUR_LIB_PATTERNS = [(re.compile(r"^libstsm_port_(\w+)\.a$"), "port/{}"),
                    (re.compile(r"^libstsm_(\w+)\.a$"), "drivers/{}")]
# The alert outbox: the store, the outbox on it and the agent that works it (issue 11).
OUTBOX_MODULES = ("firmware/core/stsm_store", "firmware/core/stsm_outbox", "firmware/agent/stsm_agent")


def component(origin):
    """(group, name) for an input file as the map names it."""
    m = re.search(r"([^/]+\.a)\(([^)]+)\)$", origin)
    lib, obj = (m.group(1), m.group(2)) if m else (None, Path(origin).name)
    module = re.sub(r"\.c\.obj$|\.o$", "", obj)
    if lib in OUR_LIBS:
        return "stsmail", f"{OUR_LIBS[lib]}/{module}"
    for pattern, folder in OUR_LIB_PATTERNS:
        if lib is not None and pattern.match(lib):
            return "stsmail", f"{folder.format(pattern.match(lib).group(1))}/{module}"
    if lib is None and obj.endswith(".c.obj"):
        return "stsmail", f"firmware/app/{module}"
    if lib == "liblwip.a":
        return "lwIP", "lwIP"
    if lib is not None and lib.startswith("libmbed"):
        return "Mbed TLS", "Mbed TLS"
    if lib == "libcjson.a":
        return "cJSON", "cJSON"
    return "libc", "newlib-nano, libgcc"


def kind(section):
    if section.startswith((".text", ".glue", ".vectors", ".init", ".fini", ".ARM")):
        return "text"
    if section.startswith(".rodata"):
        return "rodata"
    if section.startswith(".data"):
        return "data"
    if section.startswith((".bss", "COMMON")):
        return "bss"
    return None


def parse_map(path):
    """Sizes per component and kind, and every RAM object as (bytes, symbol, component)."""
    sizes = defaultdict(lambda: defaultdict(int))   # (group, name) -> kind -> bytes
    objects = []
    lines = path.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Linker script and memory map"))
    pending = None
    for line in lines[start:]:
        if line.startswith(".debug") or line.startswith(".comment"):
            break
        m = SECTION.match(line)
        if m:
            pending = m.group(1)
            if m.group(2) is None:
                continue
            addr, size, origin = m.group(2), m.group(3), m.group(4)
        elif pending is not None and PLACEMENT.match(line):
            addr, size, origin = PLACEMENT.match(line).groups()
        else:
            pending = None
            continue
        section, pending = pending, None
        k = kind(section)
        if k is not None and int(size, 16) > 0 and int(addr, 16) != 0:
            sizes[component(origin)][k] += int(size, 16)
            symbol = re.sub(r"^\.(bss|data)\.?", "", section)
            if k in ("data", "bss") and symbol:
                objects.append((int(size, 16), symbol, component(origin)[1]))
    return sizes, objects


def linker_symbols(path, names):
    """Values of the linker script's symbol assignments the map records."""
    found = {}
    for m in re.finditer(r"^\s+(0x[0-9a-f]+)\s+(\w+) = ", path.read_text(), re.M):
        if m.group(2) in names:
            found[m.group(2)] = int(m.group(1), 16)
    return found


def agent_sizes(compile_commands):
    """sizeof() of each AGENT_PARTS row on the target: a probe compiled with the command
    that compiles stsm_agent.c, read back from the assembler's .size lines."""
    entry = next((e for e in json.loads(compile_commands.read_text())
                  if e["file"].endswith("/firmware/agent/stsm_agent.c")), None)
    if entry is None:
        sys.exit(f"footprint: {compile_commands} has no command for firmware/agent/stsm_agent.c")
    args = shlex.split(entry["command"]) if "command" in entry else list(entry["arguments"])
    cmd, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in ("-o", "-c", "-MF", "-MT", "-MQ"):
            skip = True
        elif a not in ("-MD", "-MMD") and not a.endswith("stsm_agent.c"):
            cmd.append(a)
    # One probe per part, so a part a board's build does not have (a field another
    # configuration drops) shows as missing instead of failing the whole table.
    sizes = []
    for _, _, expr, _ in AGENT_PARTS:
        size = f"sizeof({expr})" if expr == AGENT else f"sizeof((({AGENT} *)0)->{expr})"
        probe = f'#include "stsm_agent.h"\nchar stsm_footprint_part[{size}];\n'
        asm = subprocess.run(cmd + ["-S", "-o", "-", "-x", "c", "-"], input=probe,
                             capture_output=True, text=True, cwd=entry["directory"])
        m = re.search(r"\.size\s+stsm_footprint_part, (\d+)", asm.stdout)
        if expr == AGENT and m is None:
            sys.exit(f"footprint: the sizeof probe did not compile:\n{asm.stderr}")
        sizes.append(int(m.group(1)) if m else None)
    return sizes


def arena_per_run(path):
    return [int(v) for v in re.findall(r"^footprint: mbedtls_arena_peak (\d+)", path.read_text(), re.M)]


def run_peaks(path):
    """name -> (largest used, reserved) from the "footprint: NAME USED [of RESERVED] [(note)]"
    lines. A pool that lives in another's bytes ("(in the TLS arena)": the settings parse
    borrows the TLS arena at boot) reserves nothing of its own: 0."""
    peaks = {}
    for m in re.finditer(r"^footprint: (\w+) (\d+)(?: of (\d+))?( \(in the [^)]*\))?\r?$", path.read_text(), re.M):
        old = peaks.get(m.group(1), (0, None))[0]
        reserved = 0 if m.group(4) else int(m.group(3)) if m.group(3) else None
        peaks[m.group(1)] = (max(old, int(m.group(2))), reserved)
    return peaks


def verdict(value, budget):
    return f"{'within' if value <= budget else 'OVER'} ({value / KIB:.1f} of {budget / KIB:.0f} KiB)"


def flash(s):
    return s["text"] + s["rodata"] + s["data"]


def ram(s):
    return s["data"] + s["bss"]


PEAKS = {"mbedtls_arena_peak": "Mbed TLS arena", "lwip_heap_peak": "lwIP heap (MEM_SIZE)",
         "lwip_pools_peak": "lwIP pools (all memp)", "cjson_arena_peak": "cJSON arena (settings parse)",
         "stack_peak": "stack (painted high-water mark)"}


class Board:
    """One board's image: its map's sizes, its runs' peaks, its agent's parts."""

    def __init__(self, name, map_path, log_path, commands_path):
        self.name, self.map_path, self.log_path = name, map_path, log_path
        self.sizes, self.objects = parse_map(map_path)
        self.peaks = run_peaks(log_path)
        for need in PEAKS:
            if need not in self.peaks:
                sys.exit(f"footprint: {name}: the firmware's log has no '{need}' line: did the run finish?")
        self.symbols = linker_symbols(map_path, {n for n, _ in PROVISION_AREAS} | {"STACK_SIZE", "HEAP_MIN"})
        if "STACK_SIZE" not in self.symbols:
            sys.exit(f"footprint: {name}: the map records no STACK_SIZE (the linker script's stack reserve)")
        self.stack = self.symbols["STACK_SIZE"]
        # The linker script bounds newlib's heap and keeps HEAP_MIN for it (both boards); RAM
        # as built counts it. A script without HEAP_MIN leaves the heap whatever RAM is left.
        self.heap = self.symbols.get("HEAP_MIN", 0)
        self.totals = defaultdict(lambda: defaultdict(int))
        for (group, _), s in self.sizes.items():
            for k, v in s.items():
                self.totals[group][k] += v
        self.image = defaultdict(int)
        for s in self.totals.values():
            for k, v in s.items():
                self.image[k] += v
        self.parts = agent_sizes(commands_path) if commands_path else None
        self.delivered = len(re.findall(r"^\S+: delivered", log_path.read_text(), re.M))
        self.boots = len(arena_per_run(log_path))

    def reserved(self, key):
        used, reserved = self.peaks[key]
        return self.stack if key == "stack_peak" else reserved

    def measures(self, bundle):
        # RAM needed if every pool were sized to what the runs used: static RAM minus the
        # reserved pools, plus their peaks and the stack peak.
        reserved = sum(self.reserved(k) for k in PEAKS)
        used = sum(self.peaks[k][0] for k in PEAKS if self.reserved(k))   # not what lives in another pool
        return {"own": flash(self.totals["stsmail"]), "image": flash(self.image),
                "ram_built": ram(self.image) + self.stack + self.heap,
                "ram_sized": ram(self.image) + self.stack + self.heap - reserved + used, "bundle": bundle}


def table(header, rows):
    """A Markdown table; a column of numbers is right-aligned."""
    def numeric(i):
        return all(isinstance(r[i], int) or r[i] in ("-", "") or re.match(r"^\d+ (of \d+|\(in the .*\))$", str(r[i]))
                   for r in rows)
    print("| " + " | ".join(header) + " |")
    print("|---|" + "".join("---:|" if numeric(i) else "---|" for i in range(1, len(header))))
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")
    print()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bundle", type=Path, required=True)
    ap.add_argument("--trust", type=Path, required=True)
    ap.add_argument("boards", nargs="+")
    args = ap.parse_args()
    boards = []
    for spec in args.boards:
        name, _, paths = spec.partition("=")
        parts = paths.split(",")
        if len(parts) != 3:
            sys.exit(f"footprint: {spec}: want BOARD=MAP,RUN_LOG,COMPILE_COMMANDS")
        boards.append(Board(name, Path(parts[0]), Path(parts[1]), Path(parts[2]) if parts[2] else None))
    bundle = args.bundle.stat().st_size

    # Per component, flash and static RAM on each board (a dash: not in that image).
    names = sorted({key for b in boards for key in b.sizes}, key=lambda k: (k[0] != "stsmail", k))
    header = ["component"] + [f"{b.name} {what}" for b in boards for what in ("flash", "RAM")]
    rows = []
    for key in names:
        if key[0] != "stsmail":
            continue
        row = [key[1]]
        for b in boards:
            s = b.sizes.get(key)
            row += [flash(s), ram(s)] if s else ["-", "-"]
        rows.append(row)
    for group in ("stsmail", "lwIP", "Mbed TLS", "cJSON", "libc"):
        label = "**stsmail, all our code**" if group == "stsmail" else group
        rows.append([label] + [v for b in boards for v in (flash(b.totals[group]), ram(b.totals[group]))])
    rows.append(["**image**"] + [v for b in boards for v in (flash(b.image), ram(b.image))])
    rows.append(["stack reserve (linker script)"] + [v for b in boards for v in ("", b.stack)])
    rows.append(["newlib heap reserve (linker script)"] + [v for b in boards for v in ("", b.heap or "-")])
    table(header, rows)
    print(f"Text, rodata, data and bss of each image: "
          + "; ".join(f"{b.name} {b.image['text']}, {b.image['rodata']}, {b.image['data']}, {b.image['bss']}"
                      for b in boards) + " bytes.")
    print(f"Trust store blobs (provisioned separately, outside the image): the lab's "
          f"{args.trust.stat().st_size} bytes ({args.trust.name}); Debian's full ca-certificates bundle "
          f"in the device's format {bundle} bytes ({bundle / KIB:.1f} KiB).")
    print()

    header = ["run-time peak (after a delivery in the lab)"] + [f"{b.name} used of reserved" for b in boards]
    rows = [[label] + [f"{b.peaks[k][0]} of {b.reserved(k)}" if b.reserved(k) else f"{b.peaks[k][0]} (in the TLS arena)"
                       for b in boards] for k, label in PEAKS.items()]
    table(header, rows)
    for b in boards:
        print(f"{b.name}: {b.delivered} of {b.boots} boots delivered; Mbed TLS arena peak of each run: "
              f"{', '.join(str(v) for v in arena_per_run(b.log_path))} bytes.")
    print()

    for b in boards:
        rows = [(f"`{symbol}`", name, size) for size, symbol, name in sorted(b.objects, key=lambda o: (-o[0], o[1]))
                if size >= LARGE_OBJECT // 2]
        table([f"{b.name}: static object (RAM, {LARGE_OBJECT // 2} bytes or more)", "component", "bytes"], rows)

    if all(b.parts for b in boards):
        print(f"| `{AGENT}`, part | " + " | ".join(b.name for b in boards) + " | what it holds |")
        print("|---|" + "---:|" * len(boards) + "---|")
        print_parts(0, boards)
        print()

    header = ["provisioning area (flash on a board, outside the image)"] + [b.name for b in boards]
    rows = [[f"{label} (`{symbol}`)"] + [b.symbols.get(symbol, "-") for b in boards]
            for symbol, label in PROVISION_AREAS if any(symbol in b.symbols for b in boards)]
    table(header, rows)

    rows = []
    for b in boards:
        m = b.measures(bundle)
        for label, key, budget in BUDGETS.get(b.name, []):
            rows.append([b.name, f"{label} ≤ {budget // KIB} KiB", m[key], verdict(m[key], budget)])
        rows.append([b.name, "total RAM, pools and stack sized to these peaks (for reference)", m["ram_sized"], ""])
        rows.append([b.name, "delivers in QEMU (boots that delivered)", f"{b.delivered} of {b.boots}",
                     "yes" if b.boots and b.delivered == b.boots else "NO"])
    print("| board | budget | measured | verdict |")
    print("|---|---|---:|---|")
    for row in rows:
        print("| " + " | ".join(str(c) for c in row) + " |")


def print_parts(i, boards):
    """Row i of AGENT_PARTS on every board, its children, then what they leave of it."""
    depth, _, expr, what = AGENT_PARTS[i]
    name = "**the whole agent**" if depth == 0 else f"`.{expr}`"
    if all(b.parts[i] is None for b in boards):
        return
    print(f"| {name} | " + " | ".join("-" if b.parts[i] is None else str(b.parts[i]) for b in boards)
          + f" | {what} |")
    children = []
    for j in range(i + 1, len(AGENT_PARTS)):
        if AGENT_PARTS[j][0] <= depth:
            break
        if AGENT_PARTS[j][0] == depth + 1:
            children.append(j)
    for j in children:
        print_parts(j, boards)
    if children:
        rest = ["-" if b.parts[i] is None else b.parts[i] - sum(b.parts[j] or 0 for j in children) for b in boards]
        label = "the rest of the agent" if depth == 0 else f"the rest of `.{expr}`"
        print(f"| {label} | " + " | ".join(str(r) for r in rest) + " | |")


if __name__ == "__main__":
    main()
