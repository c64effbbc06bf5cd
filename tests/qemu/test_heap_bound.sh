#!/usr/bin/env bash
# newlib's heap is bounded on every Cortex-M board (port/cortex-m): the image's _sbrk is
# the shared layer's, which stops at __heap_limit, and the linker script keeps HEAP_MIN
# bytes for the heap between the static data and __heap_limit, which is at most the stack's
# reserve. libnosys's _sbrk grows the heap without a limit, into the painted stack.
# Usage: test_heap_bound.sh IMAGE.elf (its link map IMAGE.map beside it)
set -u
elf=$1
map=${elf%.elf}.map
fail() { echo "FAIL $*"; exit 1; }
[ -r "$elf" ] && [ -r "$map" ] || fail "no image or link map: $elf $map"

sym() { arm-none-eabi-nm "$elf" | awk -v n="$1" '$3 == n { print $1; exit }'; }
heap_min=$(sym HEAP_MIN); end=$(sym end); limit=$(sym __heap_limit); stack=$(sym __stack_limit)
[ -n "$heap_min" ] || fail "the linker script reserves no heap (HEAP_MIN)"
[ -n "$end" ] && [ -n "$limit" ] && [ -n "$stack" ] || fail "end, __heap_limit or __stack_limit missing"
(( 0x$end + 0x$heap_min <= 0x$limit )) || fail "heap reserve: end 0x$end + HEAP_MIN 0x$heap_min > __heap_limit 0x$limit"
(( 0x$limit <= 0x$stack )) || fail "__heap_limit 0x$limit is above the stack's reserve 0x$stack"

# The object that defines _sbrk: the map names it on the input section's line, just above.
from=$(awk '/^[ \t]+0x[0-9a-f]+[ \t]+_sbrk$/ { print prev; exit } { prev = $0 }' "$map")
case "$from" in
*libstsm_cortexm.a\(stsm_cortexm_startup.c.obj\)*) ;;
*) fail "_sbrk is not port/cortex-m's: ${from:-not in the map}" ;;
esac
echo "PASS heap bounded: HEAP_MIN $((0x$heap_min)) B, heap at most $((0x$limit - 0x$end)) B, below the stack's reserve"
