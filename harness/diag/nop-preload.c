// SPDX-License-Identifier: GPL-2.0
/*
 * A preload library that does nothing but run a constructor: the control
 * for libcowpte.so in afl-preload.sh, to tell what preloading costs from
 * what the mode costs.
 */
#include <errno.h>

__attribute__((constructor))
static void nop_preload(void)
{
	int saved_errno = errno;

	errno = saved_errno;
}
