#!/bin/bash
# The whole stsmail test suite, from a fresh Debian 12 machine (as root): installs what
# it needs, builds every preset, then runs
#   host        unit and lab tests (lab tests need root; they start their own lab)
#   host-asan   the same unit and lab tests under AddressSanitizer and UBSan
#   mps2-an385  the firmware under QEMU
#   lm3s6965evb the 64 KiB-SRAM board under QEMU (the bring-up image and the full app's
#               delivery, lab.lm3s_deliver: port/lm3s6965/README.md)
#   fuzz        each libFuzzer harness for STSM_FUZZ_SECONDS (default 20) under ASan and
#               UBSan (tests/fuzz/run.sh); a crash, leak or hang fails it
# and ends with one line "N passed, N failed" over all of them (a fuzz harness counts as
# one test).
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
fuzz_seconds=${STSM_FUZZ_SECONDS:-20}

toolchain/build.sh host host-asan mps2-an385 lm3s6965evb || exit 1

total_pass=0 total_fail=0
# Counts the result of one ctest run from its log.
count_ctest() {   # count_ctest PRESET LOG
  local preset=$1 log=$2
  local line passed failed total skipped
  line=$(grep -E '^[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -1)
  if [ -z "$line" ]; then
    echo "run-all: ctest for $preset printed no result" >&2
    total_fail=$((total_fail + 1))
    return
  fi
  failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of.*/\1/')
  total=$(echo "$line" | sed -E 's/.* out of ([0-9]+).*/\1/')
  # ctest counts a skipped test (exit 77) among the passed; this suite runs as root, where
  # nothing may skip, so a skip is reported and counted as a failure.
  skipped=$(grep -cE '^[[:space:]]+[0-9]+ - .* \(Skipped\)$' "$log" || true)
  passed=$((total - failed - skipped))
  [ "$skipped" -eq 0 ] || echo "run-all: $skipped test(s) of $preset skipped: counted as failed" >&2
  echo "run-all: $preset: $passed passed, $((failed + skipped)) failed"
  total_pass=$((total_pass + passed)); total_fail=$((total_fail + failed + skipped))
}
run_ctest() {   # run_ctest PRESET [CTEST ARGS...]
  local preset=$1; shift
  local log="build/$preset/ctest.log"
  echo "== ctest --preset $preset $*"
  ctest --preset "$preset" "$@" 2>&1 | tee "$log"
  count_ctest "$preset" "$log"
}

# The sanitizer build runs the same tests beside the plain one: each ctest run has a lab
# of its own (its own network namespace), and the lab tests mostly wait on the network,
# so two runs at once take little longer than one. Its output is shown when it ends.
# Sanitizer reports also go to files: a test that expects a failing exit status must not
# mistake a sanitizer's exit for the failure it expected.
reports=$top/build/host-asan/sanitizer-reports
rm -rf "$reports"; mkdir -p "$reports"
echo "== ctest --preset host-asan (in the background, log: build/host-asan/ctest.log)"
ASAN_OPTIONS=log_path=$reports/asan UBSAN_OPTIONS=log_path=$reports/ubsan:print_stacktrace=1 \
  ctest --preset host-asan > build/host-asan/ctest.log 2>&1 &
asan_pid=$!
run_ctest host
wait "$asan_pid"
echo "== ctest --preset host-asan"
cat build/host-asan/ctest.log
count_ctest host-asan build/host-asan/ctest.log
if [ -n "$(ls -A "$reports")" ]; then
  echo "run-all: host-asan: sanitizer reports (counted as one more failure):" >&2
  for f in "$reports"/*; do echo "--- $f" >&2; head -40 "$f" >&2; done
  total_fail=$((total_fail + 1))
fi

run_ctest mps2-an385
run_ctest lm3s6965evb

echo "== tests/fuzz/run.sh $fuzz_seconds"
mkdir -p build/fuzz
bash tests/fuzz/run.sh "$fuzz_seconds" --summary build/fuzz/summary.json 2>&1 | tee build/fuzz/run.log
fuzz_pass=$(grep -cE '^fuzz: harness=.* crashes=0 ' build/fuzz/run.log || true)
fuzz_fail=$(grep -cE '^fuzz: harness=.* crashes=[1-9]' build/fuzz/run.log || true)
if [ $((fuzz_pass + fuzz_fail)) -eq 0 ]; then
  echo "run-all: no fuzz harness ran" >&2
  fuzz_fail=1
fi
echo "run-all: fuzz: $fuzz_pass passed, $fuzz_fail failed"
total_pass=$((total_pass + fuzz_pass)); total_fail=$((total_fail + fuzz_fail))

echo "suite: $total_pass passed, $total_fail failed"
[ $total_fail -eq 0 ]
