#!/bin/bash
# The reliability report: runs the lab suites with every adversarial scenario recorded
# (STSM_SCENARIO_LOG, see tests/lab/labtest.py), runs the soak (tests/bench/soak.sh) when
# it exists, reads the long fuzz run's summary (tests/reliability/fuzz-long.json, written
# by `tests/fuzz/run.sh 600 --summary tests/reliability/fuzz-long.json`), and writes
# docs/reliability.md. Not part of the test suite.
# Usage: tests/reliability/report.sh [--soak-from FILE | --no-soak] [SOAK-DELIVERIES]
#   default      runs tests/bench/soak.sh SOAK-DELIVERIES (1000) and keeps its figures in
#                tests/reliability/soak.txt
#   --soak-from  takes the soak figures from FILE (output of tests/bench/soak.sh)
#   --no-soak    takes them from tests/reliability/soak.txt, as recorded last time
#   --render-only  runs nothing: writes the report again from the last run's records
#                (build/reliability) and the current fuzz summary, e.g. after a fuzz run
# As root (the lab needs it). Exits non-zero when a scenario or a lab test failed (the
# report is written anyway).
set -uo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
[ "$(id -u)" = 0 ] || { echo "report: run as root (the lab uses network namespaces)" >&2; exit 1; }
command="tests/reliability/report.sh${*:+ $*}"
soak_mode=run soak_from="" soak_n=1000 render_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --no-soak) soak_mode=recorded; shift ;;
    --render-only) render_only=1 soak_mode=recorded; shift ;;
    --soak-from) soak_mode=file soak_from=$2; shift 2 ;;
    [1-9]*) soak_n=$1; shift ;;
    *) echo "report: unknown argument $1" >&2; exit 64 ;;
  esac
done

work=build/reliability
scenarios=$top/$work/scenarios.jsonl
lab_status=0
if [ "$render_only" = 0 ]; then
  toolchain/build.sh host mps2-an385 || exit 1
  rm -rf "$work"
  mkdir -p "$work"
  : > "$scenarios"
  echo "$command" > "$work/command"
  # ctest passes its environment on to every test, so each lab script appends its rows.
  export STSM_SCENARIO_LOG=$scenarios
  ctest --preset host -L lab 2>&1 | tee "$work/ctest.log" || lab_status=1
  ctest --preset mps2-an385 -L lab 2>&1 | tee -a "$work/ctest.log" || lab_status=1
  unset STSM_SCENARIO_LOG
  # The report's own files (this page, the soak and fuzz records) do not make the code dirty.
  rev=$(git describe --always)
  [ -z "$(git status --porcelain -- . ':!docs/reliability.md' ':!tests/reliability/soak.txt' \
          ':!tests/reliability/fuzz-long.json')" ] || rev="$rev-dirty"
  echo "$rev" > "$work/revision"
  date -u '+%Y-%m-%d %H:%M UTC' > "$work/date"
elif [ ! -f "$scenarios" ]; then
  echo "report: nothing recorded in $work; run without --render-only first" >&2
  exit 1
fi

soak=tests/reliability/soak.txt
case $soak_mode in
  run)
    rm -f "$soak"
    if [ -f tests/bench/soak.sh ]; then
      echo "== tests/bench/soak.sh $soak_n"
      if bash tests/bench/soak.sh "$soak_n" "$work/soak.out"; then
        grep '^soak: ' "$work/soak.out" > "$soak"
      else
        echo "report: the soak failed; its figures are reported as they are" >&2
        lab_status=1
        grep '^soak: ' "$work/soak.out" > "$soak" 2>/dev/null || rm -f "$soak"
      fi
    else
      echo "report: tests/bench/soak.sh does not exist; soak not measured" >&2
    fi ;;
  file) grep '^soak: ' "$soak_from" > "$soak" || { echo "report: no soak figures in $soak_from" >&2; rm -f "$soak"; } ;;
  recorded) [ -f "$soak" ] || echo "report: no recorded soak figures ($soak); soak not measured" >&2 ;;
esac

/usr/bin/python3 tests/reliability/render.py --scenarios "$scenarios" --ctest "$work/ctest.log" \
  --fuzz tests/reliability/fuzz-long.json --soak "$soak" --command "$(cat "$work/command")" \
  --revision "$(cat "$work/revision")" --date "$(cat "$work/date")" \
  > docs/reliability.md
total=$(grep -c . "$scenarios")
failed=$(grep -c '"pass": false' "$scenarios")
grep -qE '^[0-9]+% tests passed, [1-9][0-9]* tests? failed' "$work/ctest.log" && lab_status=1
echo "report: docs/reliability.md written: $total scenarios, $((total - failed)) passed, $failed failed"
[ "$lab_status" = 0 ] && [ "$failed" = 0 ]
