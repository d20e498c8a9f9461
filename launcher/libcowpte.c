// SPDX-License-Identifier: GPL-2.0
/*
 * libcowpte.so: switch COW PTE on (PR_COW_PTE_ON) in any dynamically linked
 * program, for launchers that cannot wrap it with cowpte, for example
 * AFL++'s target: AFL_PRELOAD=/path/to/libcowpte.so afl-fuzz ...
 *
 * The constructor runs before main(), so every fork of the program, a fork
 * server's included, shares PTE tables with its child. A mode already on
 * (ON_EXEC from "cowpte -m exec") is left as it is. On a kernel without COW
 * PTE it says so once on stderr (COWPTE_QUIET=1 silences it) and the
 * program runs with stock fork.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cowpte.h"

/*
 * Take every libcowpte.so out of LD_PRELOAD (entries are separated by
 * colons or spaces), so that programs this one executes do not load it.
 */
static void drop_from_preload(void)
{
	const char *old = getenv("LD_PRELOAD");
	size_t len, kept = 0, n = sizeof(COWPTE_LIB_NAME) - 1;
	const char *p;
	char *val;

	unsetenv(COWPTE_ONCE_ENV);
	if (!old)
		return;
	len = strlen(old);
	val = malloc(len + 1);
	if (!val)
		return;
	for (p = old; *p; ) {
		size_t tok = strcspn(p, ": ");

		if (tok && !(tok >= n && !memcmp(p + tok - n, COWPTE_LIB_NAME, n) &&
			     (tok == n || p[tok - n - 1] == '/'))) {
			if (kept)
				val[kept++] = ':';
			memcpy(val + kept, p, tok);
			kept += tok;
		}
		p += tok;
		if (*p)
			p++;
	}
	val[kept] = '\0';
	if (kept)
		setenv("LD_PRELOAD", val, 1);
	else
		unsetenv("LD_PRELOAD");
	free(val);
}

__attribute__((constructor))
static void cowpte_preload(void)
{
	int saved_errno = errno;
	int mode = prctl(PR_GET_COW_PTE, 0, 0, 0, 0);

	if (mode < 0 || (mode == PR_COW_PTE_OFF &&
			 prctl(PR_SET_COW_PTE, PR_COW_PTE_ON, 0, 0, 0))) {
		const char *quiet = getenv(COWPTE_QUIET_ENV);

		if (!quiet || strcmp(quiet, "1"))
			fprintf(stderr, "libcowpte: COW PTE not switched on, this program forks "
				"as usual (prctl: %s)\n", strerror(errno));
	}
	if (getenv(COWPTE_ONCE_ENV))
		drop_from_preload();
	errno = saved_errno;
}
