# Sourced by the QEMU tests: `decode` reads the firmware's console on standard input and
# writes it with the texts in id form (firmware/core/stsm_text.h) turned back into prose,
# by the decoder tests/qemu/CMakeLists.txt builds (STSM_DECODE_LOG) and the ELF in $elf.
# Without STSM_DECODE_LOG (an image built without the ids) the console passes unchanged.
decode() {
  if [ -n "${STSM_DECODE_LOG:-}" ]; then "$STSM_DECODE_LOG" --elf "$elf"; else cat; fi
}
