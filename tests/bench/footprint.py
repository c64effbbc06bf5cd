#!/usr/bin/env python3
"""Footprint table of the mps2-an385 firmware, as Markdown on stdout.

Static sizes come from the linker map (every input section, attributed to the archive
and object it came from; with -fdata-sections each static object is its own section, so
the map also names the largest ones); run-time peaks come from the firmware's own
"footprint:" lines, printed at exit after a real delivery in the lab
(tests/bench/footprint.sh). With the build's compile_commands.json, the alert agent's RAM
is split into its parts by compiling a probe of sizeof() with the agent's own compiler
command, so the parts are the target's sizes, padding included.

Usage: footprint.py MAP RUN_LOG TRUST_BLOB [COMPILE_COMMANDS]
"""
import json
import re
import shlex
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

KIB = 1024
# The budgets of issue 7.
OWN_FLASH_BUDGET = 32 * KIB
IMAGE_FLASH_BUDGET = 256 * KIB
ARENA_PEAK_BUDGET = 40 * KIB
RAM_BUDGET = 96 * KIB

# Static objects at least this large are listed by name.
LARGE_OBJECT = 2 * KIB
# The parts of struct stsm_agent the table shows: (depth, label, sizeof expression, what it
# is). A part's children are the rows below it one level deeper; what they leave of it is
# printed as "other fields".
AGENT = "struct stsm_agent"
AGENT_PARTS = [
    (0, "agent", AGENT, "one static object (`agent` above)"),
    (1, "store", "store", "the flash store's RAM index: page table, 64 key slots"),
    (1, "outbox", "outbox", "the outbox"),
    (2, "items", "outbox.items", "summary of each of the STSM_OUTBOX_MAX messages"),
    (2, "sent", "outbox.sent", "first attempts remembered for the per-domain cap"),
    (2, "buf", "outbox.buf", "staging buffer of a content record (STSM_OUTBOX_RECORD_MAX)"),
    (1, "batch", "batch", "the messages of one attempt (STSM_AGENT_BATCH_MAX slots)"),
    (2, "batch[0].loaded", "batch[0].loaded", "one slot's message (struct stsm_outbox_message)"),
    (3, "text", "batch[0].loaded.text", "its recipients and subject, copied out of the store"),
    (2, "batch[0].message", "batch[0].message", "one slot's message as the delivery takes it"),
    (1, "delivery", "delivery", "the delivery (struct stsm_delivery)"),
    (2, "sts", "delivery.sts", "the MTA-STS lookup"),
    (3, "fetch", "delivery.sts.fetch", "the HTTPS policy fetch, its body buffer included"),
    (2, "route", "delivery.route", "the MX route: the MX set, two DNS queries"),
    (2, "smtp", "delivery.smtp", "the SMTP engine, its output queue included"),
    (2, "query", "delivery.query", "relay mode: the relay's address query"),
    (2, "chunk", "delivery.chunk", "the DATA encoder's output chunk; the message's piece is read into its last 256 bytes"),
    (2, "batch_rcpt", "delivery.batch_rcpt", "each batch message's recipient results"),
]
# The provisioning area's parts (linker script symbols, as the map prints them).
PROVISION_AREAS = [
    ("__provision_settings_size", "settings JSON"),
    ("__provision_device_size", "device record (seed, clock floor), two slots"),
    ("__provision_cache_size", "MTA-STS policy cache, two slots"),
    ("__provision_outbox_size", "outbox ring (stsm_store)"),
    ("__provision_trust_size", "trust store"),
]

# Input section line, its address/size/file either on the same line or on the next.
SECTION = re.compile(r"^ (\.[\w.$]+|COMMON)(?:\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S.*))?$")
PLACEMENT = re.compile(r"^\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S.*)$")
OUR_LIBS = {"libstsm_core.a": "firmware/core", "libstsm_agent.a": "firmware/agent",
            "libstsm_net.a": "port/net", "libstsm_lwip_hooks.a": "port/net",
            "libstsm_port_mps2.a": "port/mps2-an385", "libstsm_lan9118.a": "drivers/lan9118",
            "libstsm_uart.a": "drivers/cmsdk_uart"}
# The alert outbox: the store, the outbox on it and the agent that works it (issue 11).
OUTBOX_MODULES = ("firmware/core/stsm_store", "firmware/core/stsm_outbox", "firmware/agent/stsm_agent")


def component(origin):
    """(group, name) for an input file as the map names it."""
    m = re.search(r"([^/]+\.a)\(([^)]+)\)$", origin)
    lib, obj = (m.group(1), m.group(2)) if m else (None, Path(origin).name)
    module = re.sub(r"\.c\.obj$|\.o$", "", obj)
    if lib in OUR_LIBS:
        return "stsmail", f"{OUR_LIBS[lib]}/{module}"
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
    probe = ['#include "stsm_agent.h"']
    for i, (_, _, expr, _) in enumerate(AGENT_PARTS):
        size = f"sizeof({expr})" if expr == AGENT else f"sizeof((({AGENT} *)0)->{expr})"
        probe.append(f"char stsm_footprint_part{i}[{size}];")
    asm = subprocess.run(cmd + ["-S", "-o", "-", "-x", "c", "-"], input="\n".join(probe) + "\n",
                         capture_output=True, text=True, cwd=entry["directory"])
    if asm.returncode != 0:
        sys.exit(f"footprint: the sizeof probe did not compile:\n{asm.stderr}")
    sizes = {int(i): int(n) for i, n in re.findall(r"\.size\s+stsm_footprint_part(\d+), (\d+)", asm.stdout)}
    if len(sizes) != len(AGENT_PARTS):
        sys.exit("footprint: the sizeof probe's assembly lacks some .size lines")
    return [sizes[i] for i in range(len(AGENT_PARTS))]


def arena_per_run(path):
    return [int(v) for v in re.findall(r"^footprint: mbedtls_arena_peak (\d+)", path.read_text(), re.M)]


def run_peaks(path):
    peaks = {}
    for m in re.finditer(r"^footprint: (\w+) (\d+)(?: of (\d+))?\r?$", path.read_text(), re.M):
        old = peaks.get(m.group(1), (0, None))[0]
        peaks[m.group(1)] = (max(old, int(m.group(2))), int(m.group(3)) if m.group(3) else None)
    return peaks


def print_part(i, part_sizes):
    """Row i of AGENT_PARTS, its children, then what the children leave of it."""
    depth, _, expr, what = AGENT_PARTS[i]
    name = "**the whole agent**" if depth == 0 else f"`.{expr}`"
    print(f"| {name} | {part_sizes[i]} | {what} |")
    children = []
    for j in range(i + 1, len(AGENT_PARTS)):
        if AGENT_PARTS[j][0] <= depth:
            break
        if AGENT_PARTS[j][0] == depth + 1:
            children.append(j)
    for j in children:
        print_part(j, part_sizes)
    if children:
        rest = part_sizes[i] - sum(part_sizes[j] for j in children)
        print(f"| {'the rest of the agent' if depth == 0 else f'the rest of `.{expr}`'} | {rest} | |")


def verdict(value, budget):
    return f"{'within' if value <= budget else 'OVER'} ({value / KIB:.1f} of {budget / KIB:.0f} KiB)"


def main():
    map_path, log_path, trust_path = (Path(a) for a in sys.argv[1:4])
    commands_path = Path(sys.argv[4]) if len(sys.argv) > 4 else None
    sizes, objects = parse_map(map_path)
    peaks = run_peaks(log_path)
    for need in ("mbedtls_arena_peak", "lwip_heap_peak", "lwip_pools_peak", "cjson_arena_peak", "stack_peak"):
        if need not in peaks:
            sys.exit(f"footprint: the firmware's log has no '{need}' line: did the run finish?")

    def flash(s):
        return s["text"] + s["rodata"] + s["data"]

    def ram(s):
        return s["data"] + s["bss"]

    print("| component | text | rodata | data | bss | flash | RAM (static) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    totals = defaultdict(lambda: defaultdict(int))
    for (group, name), s in sorted(sizes.items(), key=lambda kv: (kv[0][0] != "stsmail", kv[0])):
        for k, v in s.items():
            totals[group][k] += v
        if group == "stsmail":
            print(f"| {name} | {s['text']} | {s['rodata']} | {s['data']} | {s['bss']} | {flash(s)} | {ram(s)} |")
    outbox = defaultdict(int)
    for name in OUTBOX_MODULES:
        if ("stsmail", name) not in sizes:
            sys.exit(f"footprint: the map has no {name}: is the outbox still in the image?")
        for k, v in sizes[("stsmail", name)].items():
            outbox[k] += v
    for group in ("stsmail", "lwIP", "Mbed TLS", "cJSON", "libc"):
        s = totals[group]
        label = "**stsmail, all our code**" if group == "stsmail" else group
        print(f"| {label} | {s['text']} | {s['rodata']} | {s['data']} | {s['bss']} | {flash(s)} | {ram(s)} |")
        if group == "stsmail":
            s = outbox
            print(f"| of which the alert outbox ({', '.join(n.split('/')[-1] for n in OUTBOX_MODULES)}) "
                  f"| {s['text']} | {s['rodata']} | {s['data']} | {s['bss']} | {flash(s)} | {ram(s)} |")
    image = defaultdict(int)
    for s in totals.values():
        for k, v in s.items():
            image[k] += v
    print(f"| **image** | {image['text']} | {image['rodata']} | {image['data']} | {image['bss']} "
          f"| {flash(image)} | {ram(image)} |")
    trust = trust_path.stat().st_size
    print(f"| trust store blob ({trust_path.name}, provisioned separately) | | {trust} | | | {trust} | |")
    print()
    print("| run-time peak (after a delivery in the lab) | used | statically reserved |")
    print("|---|---:|---:|")
    names = {"mbedtls_arena_peak": "Mbed TLS arena", "lwip_heap_peak": "lwIP heap (MEM_SIZE)",
             "lwip_pools_peak": "lwIP pools (all memp)", "cjson_arena_peak": "cJSON arena (settings parse)",
             "stack_peak": "stack (painted high-water mark)"}
    for key, label in names.items():
        used, reserved = peaks[key]
        print(f"| {label} | {used} | {reserved if reserved is not None else 32 * KIB} |")
    print()
    print(f"Mbed TLS arena peak of each run: {', '.join(str(v) for v in arena_per_run(log_path))} bytes.")
    print()
    print(f"| static object (RAM, {LARGE_OBJECT // KIB} KiB or more) | component | bytes |")
    print("|---|---|---:|")
    for size, symbol, name in sorted(objects, key=lambda o: (-o[0], o[1])):
        if size >= LARGE_OBJECT:
            print(f"| `{symbol}` | {name} | {size} |")
    print()
    if commands_path is not None:
        part_sizes = agent_sizes(commands_path)
        print(f"| `{AGENT}`, part | bytes | what it holds |")
        print("|---|---:|---|")
        print_part(0, part_sizes)
        print()
    areas = linker_symbols(map_path, {n for n, _ in PROVISION_AREAS})
    print("| provisioning area (flash on a board, outside the image) | bytes |")
    print("|---|---:|")
    for symbol, label in PROVISION_AREAS:
        if symbol in areas:
            print(f"| {label} (`{symbol}`) | {areas[symbol]} |")
    print()
    own = flash(totals["stsmail"])
    arena = peaks["mbedtls_arena_peak"][0]
    # RAM needed if every pool were sized to what this run used: static RAM minus the
    # reserved pools, plus their peaks and the stack peak.
    reserved = sum(peaks[k][1] for k in names if peaks[k][1] is not None)
    used = sum(peaks[k][0] for k in names)
    ram_static = ram(image) + 32 * KIB
    ram_sized = ram(image) - reserved + used
    print("| budget | measured | verdict |")
    print("|---|---:|---|")
    print(f"| our own code, flash ≤ 32 KiB | {own} | {verdict(own, OWN_FLASH_BUDGET)} |")
    print(f"| image without trust store, flash ≤ 256 KiB | {flash(image)} | {verdict(flash(image), IMAGE_FLASH_BUDGET)} |")
    print(f"| Mbed TLS arena peak ≤ 40 KiB | {arena} | {verdict(arena, ARENA_PEAK_BUDGET)} |")
    print(f"| total RAM ≤ 96 KiB, as built (static + 32 KiB stack) | {ram_static} | {verdict(ram_static, RAM_BUDGET)} |")
    print(f"| total RAM ≤ 96 KiB, pools sized to these peaks | {ram_sized} | {verdict(ram_sized, RAM_BUDGET)} |")


if __name__ == "__main__":
    main()
