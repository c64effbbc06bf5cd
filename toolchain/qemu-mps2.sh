#!/bin/bash
# Run a firmware image on QEMU's mps2-an385 board: toolchain/qemu-board.sh says how.
# Usage: toolchain/qemu-mps2.sh --nic none|TAP [--timeout SECONDS] [--settings FILE]
#                               [--seed FILE] [--trust FILE] [--store FILE] ELF
exec "$(dirname "$0")/qemu-board.sh" --board mps2-an385 "$@"
