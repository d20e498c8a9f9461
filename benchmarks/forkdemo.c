// SPDX-License-Identifier: GPL-2.0
/*
 * The fork demo: a process with a large amount of touched 4 KiB anonymous
 * memory forks, with stock fork and with COW PTE, in the same boot. Prints
 * fork latency and the child's and parent's VmRSS and VmPTE side by side.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

/* Not in the headers of a kernel without COW PTE; the prctl then fails. */
#ifndef PR_SET_COW_PTE
#define PR_SET_COW_PTE		0x43505445
#define PR_COW_PTE_ON		1
#endif

#define PAGE_SZ 4096UL
#define MAX_REPS 1000

struct status {
	long rss_kb, pte_kb;
};

struct result {
	bool available;
	const char *why;
	double lat_us[MAX_REPS];
	double write_ns;	/* child's first write, per page */
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
	struct result res[2] = { { .why = "" }, { .why = "" } };
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

	if (measure(&res[0], reps) || measure_writes(&res[0], mem, size)) {
		fprintf(stderr, "forkdemo: stock fork failed: %s\n",
			strerror(errno));
		return 1;
	}
	if (prctl(PR_SET_COW_PTE, PR_COW_PTE_ON, 0, 0, 0) == 0) {
		if (measure(&res[1], reps) ||
		    measure_writes(&res[1], mem, size)) {
			fprintf(stderr, "forkdemo: COW PTE fork failed: %s\n",
				strerror(errno));
			return 1;
		}
	} else {
		res[1].why = errno == EINVAL ? "not in this kernel" :
					       strerror(errno);
	}

	printf("fork demo: %ld MiB of touched 4 KiB anonymous memory, %ld forks per column\n\n",
	       mib, reps);
	printf("%-28s  %-22s  %-22s\n", "", "stock fork", "COW PTE fork");
	row("fork latency (median)", res, 2, reps, 0);
	row("  min .. max", res, 2, reps, 1);
	row("child VmRSS after fork", res, 2, reps, 2);
	row("child VmPTE after fork", res, 2, reps, 3);
	row("parent VmRSS", res, 2, reps, 4);
	row("parent VmPTE", res, 2, reps, 5);
	row("child first write, per page", res, 2, reps, 6);
	if (res[1].available) {
		printf("\nCOW PTE fork is %.1fx faster than stock fork (median)\n",
		       res[0].lat_us[reps / 2] / res[1].lat_us[reps / 2]);
		printf("child VmPTE after fork is %.1f%% of stock's\n",
		       100.0 * res[1].child.pte_kb / res[0].child.pte_kb);
		printf("a first write after fork costs %.2fx stock's COW fault\n",
		       res[1].write_ns / res[0].write_ns);
	}
	return 0;
}
