// SPDX-License-Identifier: GPL-2.0
/*
 * benchstat: turn measurements taken by a script into one result row in the
 * format of benchutil.h.
 *
 *   benchstat BENCH TEST PARAM UNIT lower|higher < lines
 *
 * Each input line is "stock VALUE" or "cow VALUE"; the i-th stock value is
 * paired with the i-th cow value for the ratio. Blank lines and lines
 * starting with '#' are skipped.
 */
#define _GNU_SOURCE
#include "benchutil.h"

static void usage(void)
{
	fprintf(stderr, "usage: benchstat BENCH TEST PARAM UNIT lower|higher < \"stock|cow VALUE\" lines\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static struct series stock, cow;
	char line[256], mode[16];
	bool higher;
	int lineno = 0;
	double v;

	if (argc != 6)
		usage();
	if (!strcmp(argv[5], "higher"))
		higher = true;
	else if (!strcmp(argv[5], "lower"))
		higher = false;
	else
		usage();
	while (fgets(line, sizeof(line), stdin)) {
		lineno++;
		if (line[0] == '#' || line[strspn(line, " \t\r\n")] == '\0')
			continue;
		if (sscanf(line, "%15s %lf", mode, &v) != 2 ||
		    (strcmp(mode, "stock") && strcmp(mode, "cow"))) {
			fprintf(stderr, "benchstat: line %d: want \"stock|cow VALUE\": %s",
				lineno, line);
			return 1;
		}
		series_add(strcmp(mode, "cow") ? &stock : &cow, v);
	}
	emit(argv[1], argv[2], argv[3], argv[4], higher, &stock, &cow);
	return 0;
}
