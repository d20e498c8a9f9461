/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the COW PTE selftests: regions laid out so that they
 * cover whole PTE tables, page stamps that tell which process wrote a page
 * and when, and process plumbing.
 */
#ifndef COWPTE_UTIL_H
#define COWPTE_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "kselftest.h"

/*
 * The harness gives a TEST() 30 s. Tests that take a few seconds on the
 * release kernel have run past that on the debug kernel (KASAN, lockdep)
 * under TCG on a loaded host. Allow 120 s; a real hang still ends.
 */
#ifdef TEST_TIMEOUT_DEFAULT
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 120
#endif

/* Kept here too, so the tests build against headers from any kernel. */
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

#ifndef MADV_COLLAPSE		/* glibc before 2.37 */
#define MADV_COLLAPSE		25
#endif

/*
 * A load or store the compiler must make as written, once: the tests read
 * and write pages whose mapping the kernel changes underneath them, or
 * that another thread or process writes. These are the kernel's
 * READ_ONCE() and WRITE_ONCE(), which user space lacks, as relaxed atomic
 * accesses: plain loads and stores on x86, which the compiler may neither
 * drop nor merge.
 */
#ifndef READ_ONCE
#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, val)	__atomic_store_n(&(x), (val), __ATOMIC_RELAXED)
#endif

#define PAGE_SZ		4096UL
#define TABLE_SZ	(2UL << 20)	/* memory mapped by one PTE table on x86-64 */
#define GIB		(1024 * 1024 * 1024UL)	/* ... and by one PMD table */

/* Whether fork shares PMD tables too (off by default, the tests set it). */
#define PMD_KNOB	"/proc/sys/vm/cow_pte_pmd"

/*
 * A region of @size bytes aligned to @align, mapped with @flags besides
 * MAP_PRIVATE | MAP_ANONYMOUS; with @thp, THP is asked for (and a kernel
 * without it maps 4 KiB pages anyway), without, it is switched off so that
 * the range is really mapped by 4 KiB pages through PTE tables.
 */
static inline char *region_map(size_t size, size_t align, int flags, bool thp)
{
	size_t len = size + align;
	char *raw, *p;

	raw = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
	if (raw == MAP_FAILED)
		return NULL;
	p = (char *)(((uintptr_t)raw + align - 1) & ~(align - 1));
	if (p > raw)
		munmap(raw, p - raw);
	if (p + size < raw + len)
		munmap(p + size, raw + len - (p + size));
	if (madvise(p, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE) && !thp) {
		munmap(p, size);
		return NULL;
	}
	return p;
}

/*
 * A region aligned to a PTE table, so that every table in it is fully
 * covered by one VMA.
 */
static inline char *region_alloc_thp(size_t size, bool thp)
{
	return region_map(size, TABLE_SZ, 0, thp);
}

static inline char *region_alloc(size_t size)
{
	return region_alloc_thp(size, false);
}

/* The value a page holds when written by "generation" @gen. */
static inline uint64_t stamp(const char *base, const char *page, uint64_t gen)
{
	return (gen << 32) ^ (uint64_t)((page - base) / PAGE_SZ) ^ 0x5a5a0000UL;
}

/* Stamp both ends of each page in [from, from + len) with generation @gen. */
static inline void stamp_range(const char *base, char *from, size_t len,
			       uint64_t gen)
{
	for (char *p = from; p < from + len; p += PAGE_SZ) {
		uint64_t v = stamp(base, p, gen);

		WRITE_ONCE(((uint64_t *)p)[0], v);
		WRITE_ONCE(((uint64_t *)(p + PAGE_SZ))[-1], v);
	}
}

/*
 * Count the pages in [from, from + len) that do not hold generation @gen;
 * generation 0 means never written (zero). Prints the first few mismatches.
 */
static inline long check_range(const char *base, const char *from, size_t len,
			       uint64_t gen, const char *who)
{
	long bad = 0;

	for (const char *p = from; p < from + len; p += PAGE_SZ) {
		uint64_t want = gen ? stamp(base, p, gen) : 0;
		uint64_t lo = READ_ONCE(((const uint64_t *)p)[0]);
		uint64_t hi = READ_ONCE(((const uint64_t *)(p + PAGE_SZ))[-1]);

		if (lo == want && hi == want)
			continue;
		if (bad++ < 4)
			fprintf(stderr, "# %s: page %ld holds %#lx/%#lx, want %#lx\n",
				who, (long)((p - base) / PAGE_SZ),
				(unsigned long)lo, (unsigned long)hi,
				(unsigned long)want);
	}
	return bad;
}

/* A one-shot event between two processes, built on a pipe. */
struct event {
	int fd[2];
};

static inline int event_init(struct event *e)
{
	return pipe(e->fd);
}

static inline void event_signal(struct event *e)
{
	char c = 1;

	if (write(e->fd[1], &c, 1) != 1)
		_exit(90);
}

/*
 * The waiter gives up its write end first, so that a signaller that dies
 * ends the wait with EOF instead of leaving the waiter (and the pipe to
 * the test runner it holds) behind forever.
 */
static inline void event_wait(struct event *e)
{
	char c;

	close(e->fd[1]);
	if (read(e->fd[0], &c, 1) != 1)
		_exit(91);
}

/* A wait status as a shell shows it: the exit code, or 128 + the signal. */
static inline int exit_code(int status)
{
	return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
}

/* Exit status of @pid: its exit code, or 128 + signal if it was killed. */
static inline int reap(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return exit_code(status);
}

/* Child exit codes say how many pages were wrong, capped so they fit. */
static inline int bad_to_code(long bad)
{
	return bad > 100 ? 100 : (int)bad;
}

/* A counter from /proc/vmstat, or -1 when the kernel does not have it. */
static inline long vmstat_read(const char *name)
{
	char key[64];
	long val, found = -1;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", key, &val) == 2)
		if (!strcmp(key, name))
			found = val;
	fclose(f);
	return found;
}

/*
 * A /proc/meminfo field in kB, with the per-CPU counter deltas folded in
 * first (stat_refresh, root only), so that it can be compared exactly.
 */
static inline long meminfo_read(const char *name)
{
	char key[64];
	long val, found = -1;
	FILE *f = fopen("/proc/sys/vm/stat_refresh", "w");

	if (f) {
		fputs("1\n", f);
		fclose(f);
	}
	f = fopen("/proc/meminfo", "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld kB\n", key, &val) == 2)
		if (!strncmp(key, name, strlen(name)) && key[strlen(name)] == ':')
			found = val;
	fclose(f);
	return found;
}

/*
 * The anonymous memory, in kB, that the processes other than this one map
 * (their RssAnon; pages they share are counted once for each of them).
 */
static inline long others_anon(void)
{
	char path[300], key[64];
	struct dirent *d;
	long sum = 0, val;
	DIR *dir = opendir("/proc");

	if (!dir)
		return 0;
	while ((d = readdir(dir))) {
		FILE *f;

		if (d->d_name[0] < '1' || d->d_name[0] > '9' ||
		    atoi(d->d_name) == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", d->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		while (fscanf(f, "%63s", key) == 1) {
			if (!strcmp(key, "RssAnon:") &&
			    fscanf(f, "%ld", &val) == 1) {
				sum += val;
				break;
			}
			if (fscanf(f, "%*[^\n]") < 0)
				break;
		}
		fclose(f);
	}
	closedir(dir);
	return sum;
}

/*
 * What a test must leave as it found it, checked once its children are gone
 * and its region is unmapped:
 *  - every reference to a shared table that fork (or the break of a shared
 *    PMD table) handed out was given back, by a copy or a drop, at each
 *    level (cow_pte_shared == cow_pte_copied + cow_pte_dropped, the same
 *    for cow_pmd_*, counted since the baseline); exact, whatever else the
 *    system does;
 *  - with COW PTE, tables really were shared, so the test exercised sharing
 *    and not the stock path; without it, nothing was shared;
 *  - page tables and anonymous memory did not grow. Only growth is a leak;
 *    the slack covers what glibc and the harness keep (thread stacks, stdio
 *    buffers, page tables of the test process itself). AnonPages counts the
 *    whole system, so what other processes came to map meanwhile is not
 *    held against the test: the test runner swapping its pages back in
 *    after an earlier test's reclaim, or khugepaged filling a huge page.
 *    Memory that no process maps any more is still a leak.
 */
struct baseline {
	long shared, copied, dropped;
	long pmd_shared, pmd_copied, pmd_dropped;
	long page_tables;
	long anon, others_anon;
};

static inline void baseline_take(struct baseline *b)
{
	b->shared = vmstat_read("cow_pte_shared");
	b->copied = vmstat_read("cow_pte_copied");
	b->dropped = vmstat_read("cow_pte_dropped");
	b->pmd_shared = vmstat_read("cow_pmd_shared");
	b->pmd_copied = vmstat_read("cow_pmd_copied");
	b->pmd_dropped = vmstat_read("cow_pmd_dropped");
	b->page_tables = meminfo_read("PageTables");
	b->others_anon = others_anon();
	b->anon = meminfo_read("AnonPages");
}

/* AnonPages growth since @b, in kB, less what other processes took. */
static inline long anon_growth(const struct baseline *b, long *others)
{
	long grown = meminfo_read("AnonPages") - b->anon;

	*others = others_anon() - b->others_anon;
	return *others > 0 ? grown - *others : grown;
}

/* One level's shares since the baseline: @min or more (0: none; -1: any). */
#define EXPECT_SHARES(min, shared, ended) do {				\
	long __m = (min), __s = (shared);				\
									\
	if (__m > 0) {							\
		EXPECT_LE(__m, __s);					\
	} else if (__m == 0) {						\
		EXPECT_EQ(0, __s);					\
	}								\
	EXPECT_EQ(__s, (ended));					\
} while (0)

/*
 * For a kselftest teardown: @min_pte PTE tables or more shared, and
 * @min_pmd PMD tables (each 0: none, -1: any number).
 */
#define EXPECT_BASELINE_PMD(b, min_pte, min_pmd, anon_kb) do {		\
	const struct baseline *__b = (b);				\
	long __others;							\
									\
	EXPECT_SHARES(min_pte,						\
		      vmstat_read("cow_pte_shared") - __b->shared,	\
		      vmstat_read("cow_pte_copied") - __b->copied +	\
		      vmstat_read("cow_pte_dropped") - __b->dropped);	\
	EXPECT_SHARES(min_pmd,						\
		      vmstat_read("cow_pmd_shared") - __b->pmd_shared,	\
		      vmstat_read("cow_pmd_copied") - __b->pmd_copied +	\
		      vmstat_read("cow_pmd_dropped") - __b->pmd_dropped); \
	EXPECT_GE(64, meminfo_read("PageTables") - __b->page_tables);	\
	EXPECT_GE(anon_kb, anon_growth(__b, &__others)) {		\
		TH_LOG("other processes' RssAnon changed by %ld kB",	\
		       __others);					\
	}								\
} while (0)

/* The same, for a test whose regions are too small for a PMD table. */
#define EXPECT_BASELINE(b, min_shared, anon_kb)				\
	EXPECT_BASELINE_PMD(b, min_shared, 0, anon_kb)

/*
 * A memory cgroup for a process to be charged in; with @max, limited to
 * that and without swap. Returns 0, or a reason to skip.
 */
static inline const char *mem_cgroup_make(char *cg, const char *max)
{
	char path[96];
	FILE *f;

	if (access("/sys/fs/cgroup/cgroup.controllers", F_OK))
		return "no cgroup2";
	f = fopen("/sys/fs/cgroup/cgroup.subtree_control", "w");
	if (f) {
		fputs("+memory", f);
		fclose(f);
	}
	if (!mkdtemp(cg))
		return "cannot make a cgroup";
	snprintf(path, sizeof(path), "%s/memory.max", cg);
	f = fopen(path, "w");
	if (!f) {
		rmdir(cg);
		return "no memory controller";
	}
	fputs(max ? max : "max", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/memory.swap.max", cg);
	f = max ? fopen(path, "w") : NULL;
	if (f) {
		fputs("0", f);
		fclose(f);
	}
	return NULL;
}

/* Move the calling process into the cgroup at @cg; 0 or -1. */
static inline int cgroup_enter(const char *cg)
{
	char path[96];
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	f = fopen(path, "w");
	if (!f)
		return -1;
	if (fprintf(f, "%d", getpid()) < 0) {
		fclose(f);
		return -1;
	}
	return fclose(f) ? -1 : 0;
}

/* A "Key:  N kB" field of a /proc file, or -1. */
static inline long proc_kb(const char *file, const char *key)
{
	size_t klen = strlen(key);
	char line[256];
	long val = -1;
	FILE *f = fopen(file, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			val = strtol(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return val;
}

/* A number from a sysfs, procfs or debugfs knob, or -1. */
static inline long knob_read(const char *path)
{
	long v = -1;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* Write @val to a knob; 0 or -1. */
static inline int knob_write(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -1;
	ret = fputs(val, f) < 0 ? -1 : 0;
	return fclose(f) || ret ? -1 : 0;
}

/*
 * Fail page allocations of this task only (fail_page_alloc, task-filter),
 * all of them or, with @nowait_only, those that cannot sleep (GFP_NOWAIT,
 * GFP_ATOMIC). Returns an fd on the "times" knob: writing N fails the next
 * N. The task keeps make-it-fail, and so do children it forks later.
 */
static inline int arm_page_alloc_failures(bool nowait_only)
{
	static const char *const knobs[][2] = {
		{ "times", "0" }, { "task-filter", "Y" },
		{ "probability", "100" }, { "interval", "1" },
		{ "verbose", "0" }, { "ignore-gfp-highmem", "N" },
		{ "min-order", "0" },
	};
	char path[128];

	for (size_t i = 0; i < ARRAY_SIZE(knobs); i++) {
		snprintf(path, sizeof(path),
			 "/sys/kernel/debug/fail_page_alloc/%s", knobs[i][0]);
		if (knob_write(path, knobs[i][1]))
			return -1;
	}
	if (knob_write("/sys/kernel/debug/fail_page_alloc/ignore-gfp-wait",
		       nowait_only ? "Y" : "N") ||
	    knob_write("/proc/self/make-it-fail", "1"))
		return -1;
	return open("/sys/kernel/debug/fail_page_alloc/times", O_WRONLY);
}

/* Not pwrite(): debugfs attribute files are not seekable. */
static inline void fail_next(int times_fd, const char *n)
{
	if (write(times_fd, n, strlen(n)) != (ssize_t)strlen(n))
		_exit(92);
}

/*
 * Switch COW PTE on for later forks of this process. Returns 0 on success,
 * -1 with errno when the kernel does not have it.
 */
static inline int cow_pte_enable(void)
{
	return prctl(PR_SET_COW_PTE, PR_COW_PTE_ON, 0, 0, 0);
}

/* The swap area in use, into @dev; false when there is none. */
static inline bool swap_device(char *dev, size_t size)
{
	FILE *f = fopen("/proc/swaps", "r");
	char line[256], fmt[16];

	if (!f)
		return false;
	dev[0] = 0;
	snprintf(fmt, sizeof(fmt), "%%%zus", size - 1);
	while (fgets(line, sizeof(line), f))
		if (line[0] == '/')
			sscanf(line, fmt, dev);
	fclose(f);
	return dev[0];
}

/*
 * The stock-fork variants check the tests themselves against plain fork.
 * On the debug kernel, whose job is to catch COW PTE bugs, make check
 * leaves them out for time by setting COWPTE_SKIP_STOCK.
 */
static inline bool stock_variant_skipped(bool cow_pte)
{
	return !cow_pte && getenv("COWPTE_SKIP_STOCK");
}

#endif /* COWPTE_UTIL_H */
