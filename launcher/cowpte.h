/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The COW PTE prctl ABI, for the launcher and the preload library. Kept
 * here so they build against the headers of any kernel; on a kernel without
 * COW PTE the prctl fails with EINVAL (or ENOSYS under some sandboxes).
 */
#ifndef COWPTE_LAUNCHER_H
#define COWPTE_LAUNCHER_H

#include <sys/prctl.h>

#ifndef PR_SET_COW_PTE
#define PR_SET_COW_PTE		0x43505445
#define PR_GET_COW_PTE		0x43505446
#define PR_COW_PTE_OFF		0
#define PR_COW_PTE_ON		1
#define PR_COW_PTE_ON_EXEC	2
#endif
#ifndef PR_COW_PTE_SNAPSHOT
#define PR_COW_PTE_SNAPSHOT	4
#endif

/*
 * Set by the launcher for "-m on": the preload library then takes itself
 * out of LD_PRELOAD, so that programs the launched one executes run without
 * COW PTE, as PR_COW_PTE_ON means.
 */
#define COWPTE_ONCE_ENV		"COWPTE_PRELOAD_ONCE"
/* Set to 1 to silence the preload library's message on kernels without it. */
#define COWPTE_QUIET_ENV	"COWPTE_QUIET"
#define COWPTE_LIB_NAME		"libcowpte.so"

#endif /* COWPTE_LAUNCHER_H */
