// SPDX-License-Identifier: GPL-2.0
/*
 * The fork demo: a process with a large amount of touched 4 KiB anonymous
 * memory forks, with stock fork and with COW PTE, in the same boot. Prints
 * fork latency and the child's and parent's VmRSS and VmPTE side by side,
 * then what each side's first writes cost after the fork. A third column
 * shows COW PTE's snapshot mode, in which the child copies its tables
 * before it runs and the parent keeps stock write costs, unless it writes
 * before the child got to run: the last rows measure that case.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "holdchild.h"

/* Not in the headers of a kernel without COW PTE; the prctl then fails. */
#ifndef PR_SET_COW_PTE
#define PR_SET_COW_PTE		0x43505445
#define PR_COW_PTE_ON		1
#endif
#ifndef PR_COW_PTE_SNAPSHOT
#define PR_COW_PTE_SNAPSHOT	4
#endif

#define PAGE_SZ 4096UL
#define TABLE_SZ (2UL << 20)
#define MAX_REPS 1000
#define MODES 3

struct status {
	long rss_kb, pte_kb;
};

struct result {
	bool available;
	const char *why;
	double lat_us[MAX_REPS];
	double write_ns;	/* child's first write, per page */
	size_t tables;
	/* parent's first write to each table, sorted: child running, not yet */
	double *table_ns[2];
	struct status child, parent;
};

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-m MiB] [-r repeats]\n"
		"  -m MiB      touched anonymous memory (default 1024)\n"
		"  -r repeats  forks per mode (default 7, at most %d)\n",
		prog, MAX_REPS);
	exit(2);
}

static long parse_num(const char *s, const char *prog, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *s == '\0' || *end != '\0' || v < min || v > max)
		usage(prog);
	return v;
}

static struct status read_status(void)
{
	struct status st = { -1, -1 };
	char line[256];
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return st;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "VmRSS: %ld kB", &st.rss_kb);
		sscanf(line, "VmPTE: %ld kB", &st.pte_kb);
	}
	fclose(f);
	return st;
}

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * Fork once more; the child writes one byte to every page (each write a
 * COW fault, and with COW PTE a table copy first every 512 pages) and
 * reports the time per page.
 */
static int measure_writes(struct result *r, char *mem, size_t size)
{
	int fd[2], wstatus;
	double ns;
	pid_t pid;

	if (pipe(fd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		double t0 = now_us();

		for (size_t off = 0; off < size; off += PAGE_SZ)
			mem[off] = 2;
		ns = (now_us() - t0) * 1e3 / (size / PAGE_SZ);
		if (write(fd[1], &ns, sizeof(ns)) != sizeof(ns))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	if (read(fd[0], &ns, sizeof(ns)) != sizeof(ns))
		return -1;
	close(fd[0]);
	if (waitpid(pid, &wstatus, 0) != pid || !WIFEXITED(wstatus) ||
	    WEXITSTATUS(wstatus))
		return -1;
	r->write_ns = ns;
	return 0;
}

/*
 * Fork once more, then write one byte to each table and time each write:
 * a COW fault after a stock fork, a table copy or reuse first with COW
 * PTE. With @early clear the child first says it runs (in snapshot mode,
 * after its copies) and waits; with @early set the parent writes before
 * the child ran at all (child_waits()), which in snapshot mode leaves the
 * copies to the parent.
 */
static int measure_parent_writes(struct result *r, char *mem, size_t size,
				 int early)
{
	int ready[2], done[2], wstatus;
	double *ns;
	cpu_set_t saved;
	char c = 0;
	pid_t pid;

	r->tables = size / TABLE_SZ;
	ns = calloc(r->tables ? r->tables : 1, sizeof(double));
	r->table_ns[early] = ns;
	if (!ns || pipe(ready) || pipe(done))
		return -1;
	if (early && child_waits(&saved)) {
		fprintf(stderr, "forkdemo: cannot hold the child back (%s): no early-write rows\n",
			strerror(errno));
		free(ns);
		r->table_ns[early] = NULL;
		close(ready[0]);
		close(ready[1]);
		close(done[0]);
		close(done[1]);
		return 0;
	}
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(done[1]);
		if (write(ready[1], &c, 1) != 1 || read(done[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(done[0]);
	if (!early && read(ready[0], &c, 1) != 1)
		return -1;
	for (size_t i = 0; i < r->tables; i++) {
		double t0 = now_us();

		mem[i * TABLE_SZ + PAGE_SZ] = 3;
		ns[i] = (now_us() - t0) * 1e3;
	}
	if (early)
		child_may_run(&saved);
	close(done[1]);
	close(ready[0]);
	if (waitpid(pid, &wstatus, 0) != pid || !WIFEXITED(wstatus) ||
	    WEXITSTATUS(wstatus))
		return -1;
	qsort(ns, r->tables, sizeof(double), cmp_double);
	return 0;
}

/*
 * The @pct percentile of the parent's first writes to tables, with the
 * child running (@early clear) or before it ran; -1 if not measured.
 */
static double table_pct(const struct result *r, int pct, int early)
{
	const double *ns = r->table_ns[early];
	size_t i = r->tables * pct / 100;

	if (!ns)
		return -1;
	return r->tables ? ns[i < r->tables ? i : r->tables - 1] : 0;
}

/* Fork @reps times; the child reports its status through a pipe and exits. */
static int measure(struct result *r, int reps)
{
	for (int i = 0; i < reps; i++) {
		struct status st;
		int fd[2], wstatus;
		double t0;
		pid_t pid;

		if (pipe(fd))
			return -1;
		t0 = now_us();
		pid = fork();
		if (pid < 0)
			return -1;
		if (pid == 0) {
			st = read_status();
			if (write(fd[1], &st, sizeof(st)) != sizeof(st))
				_exit(1);
			_exit(0);
		}
		r->lat_us[i] = now_us() - t0;
		close(fd[1]);
		if (read(fd[0], &st, sizeof(st)) != sizeof(st))
			return -1;
		close(fd[0]);
		if (waitpid(pid, &wstatus, 0) != pid || !WIFEXITED(wstatus) ||
		    WEXITSTATUS(wstatus))
			return -1;
		r->child = st;
	}
	r->parent = read_status();
	qsort(r->lat_us, reps, sizeof(double), cmp_double);
	r->available = true;
	return 0;
}

/*
 * One line of the table. @what: 0 and 1 fork latency, 2 to 5 VmRSS and
 * VmPTE, 6 the child's writes; 50 to 100 a percentile of the parent's
 * first writes to tables, plus 1000 for those made before the child ran.
 */
static void row(const char *name, const struct result *r, int n, int reps,
		int what)
{
	printf("%-28s", name);
	for (int i = 0; i < n; i++) {
		char cell[64];

		if (!r[i].available)
			snprintf(cell, sizeof(cell), "%s", what ? "" : r[i].why);
		else if (what == 0)
			snprintf(cell, sizeof(cell), "%.1f us",
				 r[i].lat_us[reps / 2]);
		else if (what == 1)
			snprintf(cell, sizeof(cell), "%.1f .. %.1f us",
				 r[i].lat_us[0], r[i].lat_us[reps - 1]);
		else if (what == 6)
			snprintf(cell, sizeof(cell), "%.0f ns", r[i].write_ns);
		else if (what >= 50 && table_pct(&r[i], what % 1000, what / 1000) < 0)
			snprintf(cell, sizeof(cell), "-");
		else if (what >= 50)
			snprintf(cell, sizeof(cell), "%.0f ns",
				 table_pct(&r[i], what % 1000, what / 1000));
		else
			snprintf(cell, sizeof(cell), "%ld kB",
				 what == 2 ? r[i].child.rss_kb :
				 what == 3 ? r[i].child.pte_kb :
				 what == 4 ? r[i].parent.rss_kb :
					     r[i].parent.pte_kb);
		printf("  %-22s", cell);
	}
	printf("\n");
}

int main(int argc, char **argv)
{
	static const char *const names[MODES] = {
		"stock fork", "COW PTE fork", "COW PTE snapshot",
	};
	static const int modes[MODES] = {
		-1, PR_COW_PTE_ON, PR_COW_PTE_ON | PR_COW_PTE_SNAPSHOT,
	};
	struct result res[MODES] = { { .why = "" }, { .why = "" }, { .why = "" } };
	long mib = 1024, reps = 7;
	size_t size;
	char *mem;
	int c;

	while ((c = getopt(argc, argv, "m:r:h")) != -1) {
		switch (c) {
		case 'm':
			mib = parse_num(optarg, argv[0], 1, 1L << 20);
			break;
		case 'r':
			reps = parse_num(optarg, argv[0], 1, MAX_REPS);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc)
		usage(argv[0]);

	size = (size_t)mib << 20;
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		fprintf(stderr, "forkdemo: cannot map %ld MiB: %s\n", mib,
			strerror(errno));
		return 1;
	}
	/* 4 KiB pages: the case whose PTE tables fork has to copy. */
	if (madvise(mem, size, MADV_NOHUGEPAGE))
		fprintf(stderr, "forkdemo: MADV_NOHUGEPAGE: %s\n",
			strerror(errno));
	for (size_t off = 0; off < size; off += PAGE_SZ)
		mem[off] = 1;

	for (int m = 0; m < MODES; m++) {
		if (modes[m] >= 0 &&
		    prctl(PR_SET_COW_PTE, modes[m], 0, 0, 0)) {
			res[m].why = errno == EINVAL ? "not in this kernel" :
						       strerror(errno);
			continue;
		}
		if (measure(&res[m], reps) ||
		    measure_writes(&res[m], mem, size) ||
		    measure_parent_writes(&res[m], mem, size, 0) ||
		    measure_parent_writes(&res[m], mem, size, 1)) {
			fprintf(stderr, "forkdemo: %s failed: %s\n", names[m],
				strerror(errno));
			return 1;
		}
	}

	printf("fork demo: %ld MiB of touched 4 KiB anonymous memory, %ld forks per column\n\n",
	       mib, reps);
	printf("%-28s", "");
	for (int m = 0; m < MODES; m++)
		printf("  %-22s", names[m]);
	printf("\n");
	row("fork latency (median)", res, MODES, reps, 0);
	row("  min .. max", res, MODES, reps, 1);
	row("child VmRSS after fork", res, MODES, reps, 2);
	row("child VmPTE after fork", res, MODES, reps, 3);
	row("parent VmRSS", res, MODES, reps, 4);
	row("parent VmPTE", res, MODES, reps, 5);
	row("child first write, per page", res, MODES, reps, 6);
	row("parent 1st write/table p50", res, MODES, reps, 50);
	row("  p99", res, MODES, reps, 99);
	row("  max", res, MODES, reps, 100);
	row("  child not yet run: p50", res, MODES, reps, 1050);
	row("  p99", res, MODES, reps, 1099);
	row("  max", res, MODES, reps, 1100);
	if (res[1].available) {
		printf("\nCOW PTE fork is %.1fx faster than stock fork (median)\n",
		       res[0].lat_us[reps / 2] / res[1].lat_us[reps / 2]);
		printf("child VmPTE after fork is %.1f%% of stock's\n",
		       100.0 * res[1].child.pte_kb / res[0].child.pte_kb);
		printf("a first write after fork costs %.2fx stock's COW fault\n",
		       res[1].write_ns / res[0].write_ns);
		printf("the parent's first write to a table costs %.2fx stock's (p50)\n",
		       table_pct(&res[1], 50, 0) / table_pct(&res[0], 50, 0));
	}
	if (res[2].available) {
		printf("snapshot mode: fork %.1fx faster than stock; the parent's first write\n"
		       "to a table costs %.2fx / %.2fx / %.2fx stock's (p50 / p99 / max)\n",
		       res[0].lat_us[reps / 2] / res[2].lat_us[reps / 2],
		       table_pct(&res[2], 50, 0) / table_pct(&res[0], 50, 0),
		       table_pct(&res[2], 99, 0) / table_pct(&res[0], 99, 0),
		       table_pct(&res[2], 100, 0) / table_pct(&res[0], 100, 0));
		if (table_pct(&res[2], 50, 1) >= 0 && table_pct(&res[0], 50, 1) > 0)
			printf("a parent that writes before its snapshot child ran pays %.2fx\n"
			       "stock's first write per table (p50), %.2fx what it pays without\n"
			       "snapshot mode\n",
			       table_pct(&res[2], 50, 1) / table_pct(&res[0], 50, 1),
			       table_pct(&res[2], 50, 1) / table_pct(&res[1], 50, 1));
	}
	return 0;
}
