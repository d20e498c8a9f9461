// SPDX-License-Identifier: GPL-2.0
/*
 * A small AFL++ target: a "key=value;" line parser with a few branches on
 * what it finds. Little memory, so fork costs about the same either way;
 * the benchmark checks COW PTE does not slow such targets down.
 */
#include <stdio.h>
#include <string.h>

#ifndef __AFL_INIT
#define __AFL_INIT() do { } while (0)
#endif

static int score(const char *key, const char *val)
{
	if (!strcmp(key, "mode"))
		return !strcmp(val, "fast") ? 3 : !strcmp(val, "slow") ? 2 : 1;
	if (!strcmp(key, "size")) {
		int n = 0;

		for (const char *p = val; *p >= '0' && *p <= '9'; p++)
			n = n * 10 + (*p - '0');
		return n > 1000 ? 5 : n > 10 ? 4 : 0;
	}
	if (key[0] == 'x' && key[1] == 'y' && strlen(val) > 4)
		return 6;
	return 0;
}

int main(void)
{
	char buf[4096], *p, *end;
	size_t len;
	int total = 0;

	__AFL_INIT();
	len = fread(buf, 1, sizeof(buf) - 1, stdin);
	buf[len] = '\0';
	for (p = buf; p && *p; p = end ? end + 1 : NULL) {
		char *eq;

		end = strchr(p, ';');
		if (end)
			*end = '\0';
		eq = strchr(p, '=');
		if (!eq)
			continue;
		*eq = '\0';
		total += score(p, eq + 1);
	}
	printf("%d\n", total);
	return 0;
}
