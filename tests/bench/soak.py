#!/usr/bin/python3
"""Reads what `stsmail send --repeat N` printed (its 'soak:' lines) and prints the soak
figures as `soak: key=value` lines, ending with the verdict. Exits 1 when a delivery
failed or a level did not come back. Usage: soak.py STDERR_LOG EXIT_STATUS STORED COMMAND"""

import re
import sys

# Resident memory may still grow by pages the first delivery did not touch (a longer reply
# text, another code path, the TLS arena's blocks landing elsewhere). So growth is judged
# from the first progress point (10% of the run) to the end: flat within a few pages.
RSS_SLACK_KB = 16


def main():
    log, rc, stored, command = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    levels, pools, totals, progress = {}, {}, {}, []
    for line in open(log, errors="replace"):
        m = re.match(r"^stsmail: soak: progress round=(\d+) .*rss_kb=(-?\d+)", line)
        if m:
            progress.append((int(m.group(1)), int(m.group(2))))
            continue
        m = re.match(r"^stsmail: soak: (start|after_first|end) pool (\S+) used=(\d+)$", line)
        if m:
            pools.setdefault(m.group(1), {})[m.group(2)] = int(m.group(3))
            continue
        m = re.match(r"^stsmail: soak: (start|after_first|end) (.*)$", line)
        if m:
            levels[m.group(1)] = {k: int(v) for k, v in re.findall(r"(\w+)=(-?\d+)", m.group(2))}
            continue
        m = re.match(r"^stsmail: soak: (deliveries=.*)$", line)
        if m:
            totals = dict(re.findall(r"(\w+)=([\d.]+)", m.group(1)))
    if not {"start", "after_first", "end"} <= levels.keys() or not totals:
        print(f"soak: error=stsmail exited {rc} without its soak figures")
        return 1
    s, w, e = levels["start"], levels["after_first"], levels["end"]
    rows = [("command", command), ("deliveries", totals["deliveries"]), ("delivered", totals["delivered"]),
            ("stored_by_postfix", stored), ("exit_status", rc), ("seconds", totals["seconds"]),
            ("deliveries_per_second", f"{int(totals['deliveries']) / max(float(totals['seconds']), 0.001):.1f}")]
    for key, name in (("arena", "arena"), ("lwip_heap", "lwip_heap"), ("memp_used", "memp_used"),
                      ("tcp_time_wait", "tcp_time_wait"), ("sts_cache_entries", "sts_cache_entries"),
                      ("rss_kb", "rss_kb"), ("fds", "fds")):
        rows += [(f"{name}_start", s[key]), (f"{name}_after_first", w[key]), (f"{name}_end", e[key])]
    rows.append(("rss_kb_trend", ",".join(f"{r}:{kb}" for r, kb in progress) or "none"))
    rows.append(("arena_high_water", e["arena_high_water"]))
    rows.append(("pools_end", ",".join(f"{k}:{v}" for k, v in sorted(pools.get("end", {}).items())) or "none"))
    n = int(totals["deliveries"])
    problems = []
    if int(totals["delivered"]) != n or rc != 0:
        problems.append(f"{n - int(totals['delivered'])} deliveries not delivered (exit {rc})")
    if stored < n:
        problems.append(f"Postfix stored {stored} of {n}")
    for key in ("arena", "lwip_heap", "fds"):
        if e[key] != s[key]:
            problems.append(f"{key} {s[key]} -> {e[key]}")
    # TIME-WAIT PCBs are protocol state lwIP recycles when it needs them; the rest must be back.
    if e["memp_used"] - e["tcp_time_wait"] != s["memp_used"] - s["tcp_time_wait"]:
        problems.append(f"lwIP pools {s['memp_used']} -> {e['memp_used']} ({e['tcp_time_wait']} in TIME-WAIT)")
    if e["sts_cache_entries"] != w["sts_cache_entries"]:
        problems.append(f"policy cache entries {w['sts_cache_entries']} -> {e['sts_cache_entries']}")
    steady = progress[0][1] if progress else w["rss_kb"]
    if e["rss_kb"] - steady > RSS_SLACK_KB:
        problems.append(f"resident memory grew {steady} -> {e['rss_kb']} kB after the first tenth of the run")
    rows.append(("levels_returned", "yes" if not problems else "no"))
    if problems:
        rows.append(("problems", "; ".join(problems)))
    for k, v in rows:
        print(f"soak: {k}={v}")
    return 0 if not problems else 1


if __name__ == "__main__":
    sys.exit(main())
