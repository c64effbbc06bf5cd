#!/bin/bash
# Run a firmware image on QEMU's lm3s6965evb board: toolchain/qemu-board.sh says how.
# Usage: toolchain/qemu-lm3s.sh --nic none|TAP [--timeout SECONDS] [--settings FILE]
#                               [--seed FILE] [--trust FILE] [--store FILE] ELF
exec "$(dirname "$0")/qemu-board.sh" --board lm3s6965evb "$@"
