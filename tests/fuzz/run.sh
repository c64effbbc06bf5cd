#!/bin/bash
# Runs every libFuzzer harness for a fixed time, one after another, under ASan and UBSan
# (preset "fuzz", clang). The test suite runs it briefly (tests/run-all.sh); the long run
# recorded for the reliability report is `tests/fuzz/run.sh 600 --summary
# tests/reliability/fuzz-long.json`.
#
# Usage: tests/fuzz/run.sh [SECONDS-PER-HARNESS] [--summary FILE] [--build DIR] [HARNESS...]
#   SECONDS   per harness (default 60)
#   --summary write a JSON summary (harness, seconds, execs, crashes, ...) to FILE
#   --build   build directory to use (default build/fuzz, configured from the preset)
#   HARNESS   names such as fuzz_http (default: every harness with a corpus)
# As root on a fresh machine it installs clang and the rest first. Prints one line per
# harness, "fuzz: harness=NAME seconds=N execs=N crashes=N", and exits non-zero when any
# harness crashed, leaked, hung or did not run.
# New inputs go to <build>/corpus/<harness>; a crashing input to <build>/crash/. Copy an
# input worth keeping into tests/fuzz/corpus/<harness>/ so it replays in every test run.
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"

args="$*" seconds=60 summary="" build=build/fuzz harnesses=()
while [ $# -gt 0 ]; do
  case $1 in
    --summary) summary=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    [0-9]*) seconds=$1; shift ;;
    *) harnesses+=("$1"); shift ;;
  esac
done
if [ ${#harnesses[@]} -eq 0 ]; then
  for dir in tests/fuzz/corpus/*/; do harnesses+=("$(basename "$dir")"); done
fi

toolchain/install-packages.sh >/dev/null || exit 1
toolchain/fetch-deps.sh >/dev/null || exit 1
mkdir -p "$build"
log="$build/fuzz-build.log"
# Only the harnesses are built: the rest of the tree has its own presets.
{ cmake --preset fuzz -B "$build" && cmake --build "$build" -j "$(nproc)" --target "${harnesses[@]}"; } \
  > "$log" 2>&1 || { tail -40 "$log"; echo "fuzz: build failed (log: $log)" >&2; exit 1; }

# The summary keeps entries of harnesses this run did not touch, so that harnesses run in
# separate invocations (or for different times) end up in one file. It is rewritten after
# each harness, so a long run that is stopped keeps what it measured.
write_summary() {   # write_summary "NAME SECONDS EXECS CRASHES CORPUS STATUS"
  [ -n "$summary" ] || return 0
  echo "$1" | python3 -c '
import datetime, json, os, sys
seconds, path, args, revision = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
old = {}
if os.path.exists(path):
    with open(path) as f:
        old = {r["harness"]: r for r in json.load(f).get("runs", [])}
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
for line in sys.stdin:
    name, ran, execs, crashes, corpus, status = line.split()
    old[name] = {"harness": name, "seconds_requested": seconds, "seconds": int(ran),
                 "execs": int(execs), "crashes": int(crashes), "corpus": int(corpus),
                 "exit": int(status), "finished": now, "command": "tests/fuzz/run.sh " + args,
                 "revision": revision}
doc = {"sanitizers": "libFuzzer with AddressSanitizer and UBSan (clang, preset fuzz)",
       "runs": sorted(old.values(), key=lambda r: r["harness"])}
with open(path + ".tmp", "w") as f:
    json.dump(doc, f, indent=2)
    f.write("\n")
os.replace(path + ".tmp", path)
' "$seconds" "$summary" "$args" "$(git describe --always --dirty 2>/dev/null || echo unknown)"
}

[ -z "$summary" ] || mkdir -p "$(dirname "$summary")"
failed=0
for name in "${harnesses[@]}"; do
  work=$build/corpus/$name crash=$build/crash
  mkdir -p "$work" "$crash"
  out=$build/$name.log
  start=$SECONDS
  # -timeout: an input that takes 30 s is a hang; -rss_limit_mb: a leak that grows.
  "$build/tests/fuzz/$name" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=2048 \
     -print_final_stats=1 -artifact_prefix="$crash/$name-" "$work" "tests/fuzz/corpus/$name" \
     > "$out" 2>&1
  status=$?
  ran=$((SECONDS - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -1)
  corpus=$(find "$work" -type f | wc -l)
  crashes=0
  if [ "$status" -ne 0 ] || [ -z "$execs" ]; then
    crashes=1 failed=$((failed + 1))
    echo "fuzz: $name failed (exit $status); its log, $out, ends:" >&2
    grep -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error|artifact_prefix|Test unit written)|#[0-9]+ .* in .*/(tests/fuzz|firmware|port)/' \
      "$out" | head -20 >&2
    tail -5 "$out" >&2
  fi
  echo "fuzz: harness=$name seconds=$ran execs=${execs:-0} crashes=$crashes corpus=$corpus"
  write_summary "$name $ran ${execs:-0} $crashes $corpus $status"
done

[ "$failed" -eq 0 ]
