#!/usr/bin/python3
"""Writes the reliability report (docs/reliability.md) as Markdown on stdout from what
tests/reliability/report.sh gathered:
  --scenarios FILE  JSON lines from tests/lab/labtest.py scenario() (STSM_SCENARIO_LOG)
  --ctest FILE      ctest output of the lab runs (which lab tests passed)
  --fuzz FILE       JSON summary of the long fuzz run (tests/fuzz/run.sh --summary)
  --soak FILE       output of tests/bench/soak.sh (lines "soak: key=value"), if it ran
  --command TEXT    the command that made the report
Nothing is invented: a missing input is reported as not measured."""

import argparse
import json
import re
from pathlib import Path


def cell(value):
    text = str(value).replace("\r", " ").replace("\n", " ").replace("|", "\\|").strip()
    return text or "-"


def scenario_rows(path):
    rows = []
    if path and Path(path).exists():
        for n, line in enumerate(Path(path).read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                row = {"name": f"unreadable line {n} of the scenario log", "pass": False}
            rows.append(row)
    return rows


def ctest_results(path):
    """(test name, status, seconds) per test ctest ran, from its progress lines."""
    results = []
    if path and Path(path).exists():
        for line in Path(path).read_text().splitlines():
            m = re.match(r"^\s*\d+/\d+ Test\s+#\d+: (\S+) \.+\s*(.*?)\s+([0-9.]+) sec$", line)
            if m:
                status = m.group(2).replace("***", "").strip()
                results.append((m.group(1), status, float(m.group(3))))
    return results


def soak_figures(path):
    figures = []
    if path and Path(path).exists():
        for line in Path(path).read_text().splitlines():
            m = re.match(r"^soak: ([A-Za-z0-9_.-]+)=(.*)$", line.strip())
            if m:
                figures.append((m.group(1), m.group(2)))
    return figures


def main():
    ap = argparse.ArgumentParser()
    for opt in ("--scenarios", "--ctest", "--fuzz", "--soak", "--command", "--revision", "--date"):
        ap.add_argument(opt, default="")
    a = ap.parse_args()

    rows = scenario_rows(a.scenarios)
    passed = sum(1 for r in rows if r.get("pass") is True)
    failed = len(rows) - passed
    tests = ctest_results(a.ctest)
    bad_tests = [t for t in tests if t[1] != "Passed"]

    out = []
    w = out.append
    w("# Reliability report")
    w("")
    w(f"Generated {a.date} on {a.revision} by `{a.command}` (as root: it runs the lab).")
    w("Do not edit by hand; run the command again.")
    w("")
    w("## Summary")
    w("")
    w(f"- Scenarios (attacks and faults against the real client in the lab): **{len(rows)}**, "
      f"**{passed} passed, {failed} failed**.")
    if tests:
        w(f"- Lab tests run: {len(tests)}, {len(tests) - len(bad_tests)} passed"
          + (f"; not passed: {', '.join(f'{n} ({s})' for n, s, _ in bad_tests)}." if bad_tests else "."))
    else:
        w("- Lab tests run: none recorded.")
    fuzz = None
    if a.fuzz and Path(a.fuzz).exists():
        fuzz = json.loads(Path(a.fuzz).read_text())
        runs = fuzz.get("runs", [])
        w(f"- Fuzzing: {len(runs)} harnesses, {sum(r['execs'] for r in runs):,} executions, "
          f"{sum(r['crashes'] for r in runs)} crashes.")
    else:
        w("- Fuzzing: no long run recorded.")
    soak = soak_figures(a.soak)
    w(f"- Soak: {'see below' if soak else 'not measured'}.")
    w("")

    w("## Scenarios")
    w("")
    if rows:
        by_test = {}
        for r in rows:
            t = by_test.setdefault(r.get("test", "?"), [0, 0])
            t[0] += 1
            t[1] += 1 if r.get("pass") is True else 0
        w("| Test script | Scenarios | Passed | Failed |")
        w("|---|---|---|---|")
        for name, (n, ok) in by_test.items():
            w(f"| {cell(name)} | {n} | {ok} | {n - ok} |")
        w("")
    w("One row per scenario a lab test recorded with `scenario()` (tests/lab/labtest.py); "
      "the Test column names the script.")
    w("")
    if rows:
        w("| # | Test | Scenario | Attack or fault | Expected | Observed | Pass |")
        w("|---|---|---|---|---|---|---|")
        for i, r in enumerate(rows, 1):
            w(f"| {i} | {cell(r.get('test', ''))} | {cell(r.get('name', ''))} | {cell(r.get('attack', ''))} | "
              f"{cell(r.get('expected', ''))} | {cell(r.get('observed', ''))} | "
              f"{'pass' if r.get('pass') is True else '**FAIL**'} |")
    else:
        w("No scenario was recorded.")
    w("")

    if tests:
        w("## Lab tests")
        w("")
        w("| Test | Result | Seconds |")
        w("|---|---|---|")
        for name, status, secs in tests:
            w(f"| {cell(name)} | {cell(status)} | {secs:.1f} |")
        w("")

    w("## Fuzzing")
    w("")
    if fuzz:
        w(f"{fuzz.get('sanitizers', '')}. Each harness starts from its committed corpus "
          "(tests/fuzz/corpus); the corpus also replays in every test run, and the suite fuzzes "
          "each harness briefly.")
        w("")
        commands = sorted({r.get("command", "") for r in fuzz.get("runs", [])})
        w("Made by " + ", ".join(f"`{c}`" for c in commands) + ".")
        w("")
        w("| Harness | Seconds | Executions | Execs/s | Crashes | Corpus | Finished | Revision |")
        w("|---|---|---|---|---|---|---|---|")
        for r in fuzz.get("runs", []):
            rate = r["execs"] / r["seconds"] if r["seconds"] else 0
            short = r.get("seconds_requested", r["seconds"]) < 600
            w(f"| {cell(r['harness'])} | {r['seconds']}{' (short run)' if short else ''} | {r['execs']:,} | "
              f"{rate:,.0f} | {r['crashes']} | {r.get('corpus', '-')} | {cell(r.get('finished', ''))} | "
              f"{cell(r.get('revision', 'not recorded'))} |")
        ran = {r["harness"] for r in fuzz.get("runs", [])}
        corpus_dir = Path(__file__).resolve().parent.parent / "fuzz" / "corpus"
        missing = sorted(d.name for d in corpus_dir.iterdir() if d.is_dir() and d.name not in ran) \
            if corpus_dir.is_dir() else []
        for name in missing:
            w(f"| {cell(name)} | not in the long run | - | - | - | - | - | - |")
        w("")
    else:
        w("Not measured: no long fuzz run has been recorded (`tests/fuzz/run.sh 600 --summary "
          "tests/reliability/fuzz-long.json`).")
        w("")

    w("## Soak")
    w("")
    if soak:
        w("Figures printed by `tests/bench/soak.sh` (one host-simulation process, many deliveries "
          "against the lab):")
        w("")
        w("| Figure | Value |")
        w("|---|---|")
        for key, value in soak:
            w(f"| {cell(key)} | {cell(value)} |")
    else:
        w("Not measured.")
    w("")
    print("\n".join(out))


if __name__ == "__main__":
    main()
