#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build build/out/instr: the release kernel with cpdbg.py's fault-loop
# detector in mm/memory.c, for diagnosis only (see patched-build.sh).
# Boot it with: KERNEL=build/out/instr/arch/x86/boot/bzImage harness/run.sh
set -eo pipefail
. "$(dirname "$0")/../common.sh"

exec "$TOP/harness/diag/patched-build.sh" instr mm/memory.c \
	sh -c 'python3 "$1" "$SRC/mm/memory.c"' sh "$TOP/harness/diag/cpdbg.py"
