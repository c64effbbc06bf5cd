#!/usr/bin/env python3
"""Footprint table of the mps2-an385 firmware, as Markdown on stdout.

Static sizes come from the linker map (every input section, attributed to the archive
and object it came from); run-time peaks come from the firmware's own "footprint:"
lines, printed at exit after a real delivery in the lab (tests/bench/footprint.sh).

Usage: footprint.py MAP RUN_LOG TRUST_BLOB
"""
import re
import sys
from collections import defaultdict
from pathlib import Path

KIB = 1024
# The budgets of issue 7.
OWN_FLASH_BUDGET = 32 * KIB
IMAGE_FLASH_BUDGET = 256 * KIB
ARENA_PEAK_BUDGET = 40 * KIB
RAM_BUDGET = 96 * KIB

# Input section line, its address/size/file either on the same line or on the next.
SECTION = re.compile(r"^ (\.[\w.$]+|COMMON)(?:\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S.*))?$")
PLACEMENT = re.compile(r"^\s+(0x[0-9a-f]+)\s+(0x[0-9a-f]+)\s+(\S.*)$")
OUR_LIBS = {"libstsm_core.a": "firmware/core", "libstsm_agent.a": "firmware/agent",
            "libstsm_net.a": "port/net", "libstsm_lwip_hooks.a": "port/net",
            "libstsm_port_mps2.a": "port/mps2-an385", "libstsm_lan9118.a": "drivers/lan9118",
            "libstsm_uart.a": "drivers/cmsdk_uart"}


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
    sizes = defaultdict(lambda: defaultdict(int))   # (group, name) -> kind -> bytes
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
        k = kind(pending)
        pending = None
        if k is not None and int(size, 16) > 0 and int(addr, 16) != 0:
            sizes[component(origin)][k] += int(size, 16)
    return sizes


def arena_per_run(path):
    return [int(v) for v in re.findall(r"^footprint: mbedtls_arena_peak (\d+)", path.read_text(), re.M)]


def run_peaks(path):
    peaks = {}
    for m in re.finditer(r"^footprint: (\w+) (\d+)(?: of (\d+))?\r?$", path.read_text(), re.M):
        old = peaks.get(m.group(1), (0, None))[0]
        peaks[m.group(1)] = (max(old, int(m.group(2))), int(m.group(3)) if m.group(3) else None)
    return peaks


def verdict(value, budget):
    return f"{'within' if value <= budget else 'OVER'} ({value / KIB:.1f} of {budget / KIB:.0f} KiB)"


def main():
    map_path, log_path, trust_path = (Path(a) for a in sys.argv[1:4])
    sizes = parse_map(map_path)
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
    for group in ("stsmail", "lwIP", "Mbed TLS", "cJSON", "libc"):
        s = totals[group]
        label = "**stsmail, all our code**" if group == "stsmail" else group
        print(f"| {label} | {s['text']} | {s['rodata']} | {s['data']} | {s['bss']} | {flash(s)} | {ram(s)} |")
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
