# Sourced by the QEMU tests. footprint_ok ELF OUTPUT: the `footprint:` lines of one run
# (firmware/app/stsmail_mcu.c, report_footprint) show no failed lwIP allocation (heap and
# every pool: lwip_errors 0), and the painted stack high-water mark stays more than the
# linker script's STACK_MARGIN below the stack reserve the firmware reports.
footprint_ok() {
  local elf=$1 out=$2 errors peak reserve margin
  errors=$(sed -n 's/^footprint: lwip_errors \([0-9]*\)$/\1/p' <<< "$out")
  peak=$(sed -n 's/^footprint: stack_peak \([0-9]*\)$/\1/p' <<< "$out")
  reserve=$(sed -n 's/^footprint: stack_reserve \([0-9]*\)$/\1/p' <<< "$out")
  margin=$(arm-none-eabi-nm "$elf" | sed -n 's/^\([0-9a-f]*\) A STACK_MARGIN$/\1/p')
  if [ -z "$errors" ] || [ -z "$peak" ] || [ -z "$reserve" ] || [ -z "$margin" ]; then
    echo "footprint: missing lwip_errors, stack_peak or stack_reserve line, or STACK_MARGIN in $elf"
    return 1
  fi
  margin=$((16#$margin))
  if [ "$errors" -ne 0 ]; then
    echo "footprint: $errors failed lwIP allocations (a pool or the heap ran out):"
    grep -E '^footprint: memp .*, err [1-9]' <<< "$out"
    return 1
  fi
  if [ $((peak + margin)) -gt "$reserve" ]; then
    echo "footprint: stack peak $peak within $margin bytes (STACK_MARGIN) of the $reserve-byte reserve"
    return 1
  fi
  echo "footprint: 0 lwIP allocation failures; stack peak $peak of $reserve, margin $margin kept"
}
