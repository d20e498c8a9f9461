// SPDX-License-Identifier: GPL-2.0
/*
 * Fork micro benchmarks, stock fork against COW PTE fork in the same
 * process: each run of one mode is followed (or preceded, alternately) by a
 * run of the other, so drift in the machine hits both alike.
 *
 *   fork      fork() latency in the parent against touched memory
 *   forkexit  fork, the child exits at once, the parent has reaped it
 *   thp       fork() latency with MADV_HUGEPAGE memory
 *   touch     fork, the child writes 1%, 10%, 100% of the pages (spread
 *             evenly), exits, reaped
 *   fault     first write to each page after fork, per page: in the parent
 *             (child alive) and in the child, sequential and random order
 *   exit      a child's exit after fork (its memory untouched)
 *   munmap    the parent unmapping its memory while the child shares it
 *   vmpte     child VmPTE and the PageTables it adds, after fork
 *   stockpath no prctl at all: fork at 0 and 1 GiB, first-touch and COW
 *             fault cost, exit and munmap after fork, for comparing
 *             kernels across boots
 *   scale     fork() latency up to tens of GiB, in 4 KiB pages and in THP,
 *             with memory mapped by read faults to the zero page (so that
 *             it costs page tables but no pages), and the parent's first
 *             write to each GiB after fork; not in the default set
 *
 * Rows go to stdout in the format of benchutil.h; progress to stderr.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <sys/wait.h>

#include "benchutil.h"

#define BENCH "forkbench"
#define MAX_SIZES 16

enum {
	T_FORK = 1 << 0, T_FORKEXIT = 1 << 1, T_THP = 1 << 2,
	T_TOUCH = 1 << 3, T_FAULT = 1 << 4, T_EXIT = 1 << 5,
	T_MUNMAP = 1 << 6, T_VMPTE = 1 << 7, T_STOCKPATH = 1 << 8,
	T_SCALE = 1 << 9,
};

static const struct { const char *name; int bit; } test_names[] = {
	{ "fork", T_FORK }, { "forkexit", T_FORKEXIT }, { "thp", T_THP },
	{ "touch", T_TOUCH }, { "fault", T_FAULT }, { "exit", T_EXIT },
	{ "munmap", T_MUNMAP }, { "vmpte", T_VMPTE },
	{ "stockpath", T_STOCKPATH }, { "scale", T_SCALE },
};

#define DEFAULT_TESTS (T_FORK | T_FORKEXIT | T_THP | T_TOUCH | T_FAULT | \
		       T_EXIT | T_MUNMAP | T_VMPTE)

static long sizes[MAX_SIZES] = { 0, 64, 256, 1024, 4096 };
static int nsizes = 5;
static long scale_sizes[MAX_SIZES] = { 0, 1024, 4096, 16384, 65536 };
static int nscale = 5;
static long work_mib = 256;	/* memory for touch, fault, exit, munmap */
static int runs = 7;
static bool cow_available;

static void usage(const char *prog)
{
	fprintf(stderr,
		"usage: %s [-t TESTS] [-s MiB,...] [-S MiB,...] [-w MiB] [-r runs]\n"
		"  -t TESTS  comma-separated: fork,forkexit,thp,touch,fault,exit,munmap,\n"
		"            vmpte (the default: all of these), stockpath, scale, or all\n"
		"  -s MiB,.. memory sizes for fork, forkexit, thp, vmpte\n"
		"            (default 0,64,256,1024,4096)\n"
		"  -S MiB,.. memory sizes for scale (default 0,1024,4096,16384,65536)\n"
		"  -w MiB    memory for touch, fault, exit, munmap (default 256)\n"
		"  -r runs   runs per mode and point (default 7, 1..%d)\n",
		prog, MAX_RUNS);
	exit(2);
}

static void die(const char *what)
{
	fprintf(stderr, BENCH ": %s: %s\n", what, strerror(errno));
	exit(1);
}

static pid_t xfork(void)
{
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	return pid;
}

/* Wait for @pid: a child that failed ends the benchmark. */
static void reap_ok(pid_t pid)
{
	int code = reap(pid);

	if (code) {
		fprintf(stderr, BENCH ": child failed (%d)\n", code);
		exit(1);
	}
}

static void xpipe(int fd[2])
{
	if (pipe(fd))
		die("pipe");
}

static void put(int fd, const void *buf, size_t len)
{
	if (write(fd, buf, len) != (ssize_t)len)
		_exit(3);
}

static void get(int fd, void *buf, size_t len)
{
	if (read(fd, buf, len) != (ssize_t)len) {
		fprintf(stderr, BENCH ": lost contact with a child\n");
		exit(1);
	}
}

/* Map @mib MiB and write every page, so that all of it is mapped. */
static char *prepare(long mib, bool thp)
{
	size_t size = (size_t)mib << 20;
	char *mem;

	if (!mib)
		return NULL;
	mem = region_alloc_thp(size, thp);
	if (!mem)
		die("mmap");
	for (size_t off = 0; off < size; off += PAGE_SZ)
		mem[off] = 1;
	return mem;
}

/*
 * Bring every table back to one state before each run, whatever the last
 * run left: one write per table makes the parent own it (a shared table
 * whose child is gone is taken over; a stock-forked one gets one entry
 * writable again). The other entries stay write-protected from earlier
 * forks, in both modes alike.
 */
static void settle(char *mem, long mib)
{
	for (size_t off = 0; off < (size_t)mib << 20; off += TABLE_SZ)
		((volatile char *)mem)[off] = 1;
}

typedef double (*measure_fn)(char *mem, long mib, long arg);

/*
 * @fn in both modes, @runs times, alternating which goes first. Without
 * COW PTE in the kernel only the stock side is measured.
 */
static void both(char *mem, long mib, long arg, measure_fn fn,
		 struct series *stock, struct series *cow)
{
	memset(stock, 0, sizeof(*stock));
	memset(cow, 0, sizeof(*cow));
	for (int i = 0; i < runs; i++) {
		for (int k = 0; k < 2; k++) {
			bool on = (i + k) % 2;

			if (on && !cow_available)
				continue;
			if (mem)
				settle(mem, mib);
			set_cow_pte(on ? PR_COW_PTE_ON : PR_COW_PTE_OFF);
			series_add(on ? cow : stock, fn(mem, mib, arg));
			set_cow_pte(PR_COW_PTE_OFF);
		}
	}
}

/* fork() as the parent sees it, in us. */
static double m_fork(char *mem, long mib, long arg)
{
	double t0 = now_us(), t1;
	pid_t pid = xfork();

	if (pid == 0)
		_exit(0);
	t1 = now_us();
	reap_ok(pid);
	return t1 - t0;
}

/* fork, the child exits, the parent has reaped it, in us. */
static double m_forkexit(char *mem, long mib, long arg)
{
	double t0 = now_us();
	pid_t pid = xfork();

	if (pid == 0)
		_exit(0);
	reap_ok(pid);
	return now_us() - t0;
}

/* fork, the child writes every @arg-th page and exits; reaped; in ms. */
static double m_touch(char *mem, long mib, long stride)
{
	double t0 = now_us();
	pid_t pid = xfork();

	if (pid == 0) {
		for (size_t off = 0; off < (size_t)mib << 20; off += stride * PAGE_SZ)
			((volatile char *)mem)[off] = 3;
		_exit(0);
	}
	reap_ok(pid);
	return (now_us() - t0) / 1e3;
}

static uint32_t *random_order;	/* a permutation of the work pages */

static double write_pages(char *mem, long mib, bool random)
{
	size_t pages = ((size_t)mib << 20) / PAGE_SZ;
	double t0 = now_us();

	for (size_t i = 0; i < pages; i++)
		((volatile char *)mem)[(random ? random_order[i] : i) * PAGE_SZ] = 4;
	return (now_us() - t0) * 1e3 / pages;
}

/* The parent's first writes after fork, child alive, ns per page. */
static double m_fault_parent(char *mem, long mib, long random)
{
	int go[2];
	double ns;
	char c = 0;
	pid_t pid;

	xpipe(go);
	pid = xfork();
	if (pid == 0) {
		close(go[1]);
		get(go[0], &c, 1);
		_exit(0);
	}
	close(go[0]);
	ns = write_pages(mem, mib, random);
	put(go[1], &c, 1);
	close(go[1]);
	reap_ok(pid);
	return ns;
}

/* The child's first writes after fork, ns per page. */
static double m_fault_child(char *mem, long mib, long random)
{
	int res[2];
	double ns;
	pid_t pid;

	xpipe(res);
	pid = xfork();
	if (pid == 0) {
		close(res[0]);
		ns = write_pages(mem, mib, random);
		put(res[1], &ns, sizeof(ns));
		_exit(0);
	}
	close(res[1]);
	get(res[0], &ns, sizeof(ns));
	close(res[0]);
	reap_ok(pid);
	return ns;
}

/* A forked child's exit, from the word go until it is reaped, in us. */
static double m_exit(char *mem, long mib, long arg)
{
	int go[2];
	char c = 0;
	double t0;
	pid_t pid;

	xpipe(go);
	pid = xfork();
	if (pid == 0) {
		close(go[1]);
		get(go[0], &c, 1);
		_exit(0);
	}
	close(go[0]);
	usleep(1000);	/* let the child reach its read */
	t0 = now_us();
	put(go[1], &c, 1);
	reap_ok(pid);
	close(go[1]);
	return now_us() - t0;
}

/*
 * munmap() of the whole memory in the parent while the child shares it, in
 * us. The memory is mapped and written again afterwards, at @mem.
 */
static double m_munmap(char *mem, long mib, long arg)
{
	size_t size = (size_t)mib << 20;
	int go[2];
	double us;
	char c = 0;
	pid_t pid;

	xpipe(go);
	pid = xfork();
	if (pid == 0) {
		close(go[1]);
		get(go[0], &c, 1);
		_exit(0);
	}
	close(go[0]);
	us = now_us();
	if (munmap(mem, size))
		die("munmap");
	us = now_us() - us;
	put(go[1], &c, 1);
	close(go[1]);
	reap_ok(pid);
	if (mmap(mem, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != mem)
		die("mmap");
	madvise(mem, size, MADV_NOHUGEPAGE);
	for (size_t off = 0; off < size; off += PAGE_SZ)
		mem[off] = 1;
	return us;
}

/* The child's VmPTE and the page tables fork added, in kB. */
static void vmpte(char *mem, long mib, long *child_pte, long *added)
{
	int res[2], go[2];
	long before, pte;
	char c = 0;
	pid_t pid;

	if (mem)
		settle(mem, mib);
	xpipe(res);
	xpipe(go);
	before = meminfo_read("PageTables");
	pid = xfork();
	if (pid == 0) {
		pte = proc_kb("/proc/self/status", "VmPTE");
		put(res[1], &pte, sizeof(pte));
		get(go[0], &c, 1);
		_exit(0);
	}
	get(res[0], &pte, sizeof(pte));
	*added = meminfo_read("PageTables") - before;
	*child_pte = pte;
	put(go[1], &c, 1);
	reap_ok(pid);
	close(res[0]);
	close(res[1]);
	close(go[0]);
	close(go[1]);
}

static void run_sizes(int tests)
{
	struct series s, c;
	char param[32];

	for (int i = 0; i < nsizes; i++) {
		long mib = sizes[i];
		char *mem;

		if (!(tests & (T_FORK | T_FORKEXIT | T_VMPTE)))
			break;
		fprintf(stderr, BENCH ": 4 KiB pages, %ld MiB\n", mib);
		mem = prepare(mib, false);
		snprintf(param, sizeof(param), "%ld", mib);
		if (tests & T_FORK) {
			both(mem, mib, 0, m_fork, &s, &c);
			emit(BENCH, "fork", param, "us", false, &s, &c);
		}
		if (tests & T_FORKEXIT) {
			both(mem, mib, 0, m_forkexit, &s, &c);
			emit(BENCH, "forkexit", param, "us", false, &s, &c);
		}
		if (tests & T_VMPTE) {
			long pte[2] = { -1, -1 }, added[2] = { -1, -1 };

			for (int on = 0; on < 1 + cow_available; on++) {
				set_cow_pte(on ? PR_COW_PTE_ON : PR_COW_PTE_OFF);
				vmpte(mem, mib, &pte[on], &added[on]);
				set_cow_pte(PR_COW_PTE_OFF);
			}
			emit_one(BENCH, "vmpte", param, "kB", true, pte[0],
				 cow_available, pte[1]);
			emit_one(BENCH, "pagetables", param, "kB", true, added[0],
				 cow_available, added[1]);
		}
		if (mem)
			munmap(mem, (size_t)mib << 20);
	}
	for (int i = 0; i < nsizes && (tests & T_THP); i++) {
		long mib = sizes[i];
		char *mem;

		fprintf(stderr, BENCH ": THP, %ld MiB\n", mib);
		mem = prepare(mib, true);
		snprintf(param, sizeof(param), "%ld", mib);
		printf("I\t" BENCH "\tthp_anon_kb\t%ld\t%ld\n", mib,
		       proc_kb("/proc/self/smaps_rollup", "AnonHugePages"));
		both(mem, mib, 0, m_fork, &s, &c);
		emit(BENCH, "thp", param, "us", false, &s, &c);
		if (mem)
			munmap(mem, (size_t)mib << 20);
	}
}

static void run_work(int tests)
{
	static const int pcts[] = { 1, 10, 100 };
	size_t pages = ((size_t)work_mib << 20) / PAGE_SZ;
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	struct series s, c;
	char param[32];
	char *mem;

	if (!(tests & (T_TOUCH | T_FAULT | T_EXIT | T_MUNMAP)))
		return;
	fprintf(stderr, BENCH ": %ld MiB for touch, fault, exit, munmap\n", work_mib);
	mem = prepare(work_mib, false);
	if (tests & T_TOUCH) {
		for (int i = 0; i < 3; i++) {
			snprintf(param, sizeof(param), "%d%%", pcts[i]);
			both(mem, work_mib, 100 / pcts[i], m_touch, &s, &c);
			emit(BENCH, "touch", param, "ms", false, &s, &c);
		}
	}
	if (tests & T_FAULT) {
		random_order = malloc(pages * sizeof(*random_order));
		if (!random_order)
			die("malloc");
		for (size_t i = 0; i < pages; i++)
			random_order[i] = i;
		for (size_t i = pages - 1; i > 0; i--) {
			size_t j = xorshift64(&seed) % (i + 1);
			uint32_t t = random_order[i];

			random_order[i] = random_order[j];
			random_order[j] = t;
		}
		both(mem, work_mib, 0, m_fault_parent, &s, &c);
		emit(BENCH, "fault", "parent-seq", "ns/page", false, &s, &c);
		both(mem, work_mib, 1, m_fault_parent, &s, &c);
		emit(BENCH, "fault", "parent-rand", "ns/page", false, &s, &c);
		both(mem, work_mib, 0, m_fault_child, &s, &c);
		emit(BENCH, "fault", "child-seq", "ns/page", false, &s, &c);
		both(mem, work_mib, 1, m_fault_child, &s, &c);
		emit(BENCH, "fault", "child-rand", "ns/page", false, &s, &c);
		free(random_order);
	}
	snprintf(param, sizeof(param), "%ld", work_mib);
	if (tests & T_EXIT) {
		both(mem, work_mib, 0, m_exit, &s, &c);
		emit(BENCH, "exit", param, "us", false, &s, &c);
	}
	if (tests & T_MUNMAP) {
		both(mem, work_mib, 0, m_munmap, &s, &c);
		emit(BENCH, "munmap", param, "us", false, &s, &c);
	}
	munmap(mem, (size_t)work_mib << 20);
}

/* First write to each page of fresh memory, ns per page. */
static double first_touch(long mib)
{
	size_t size = (size_t)mib << 20;
	char *mem = region_alloc_thp(size, false);
	double t0, ns;

	if (!mem)
		die("mmap");
	t0 = now_us();
	for (size_t off = 0; off < size; off += PAGE_SZ)
		((volatile char *)mem)[off] = 1;
	ns = (now_us() - t0) * 1e3 / (size / PAGE_SZ);
	munmap(mem, size);
	return ns;
}

/*
 * The stock path, with no prctl call at all (the stock kernel has none):
 * only the "stock" columns are filled, and the report compares two boots.
 */
static void run_stockpath(void)
{
	struct series s = { 0 };
	char param[32];
	long mibs[] = { 0, 1024 };
	char *mem;

	for (int i = 0; i < 2; i++) {
		fprintf(stderr, BENCH ": stock path, fork at %ld MiB\n", mibs[i]);
		mem = prepare(mibs[i], false);
		snprintf(param, sizeof(param), "%ld", mibs[i]);
		memset(&s, 0, sizeof(s));
		for (int r = 0; r < runs; r++) {
			if (mem)
				settle(mem, mibs[i]);
			series_add(&s, m_fork(mem, mibs[i], 0));
		}
		emit("stockpath", "fork", param, "us", false, &s, NULL);
		memset(&s, 0, sizeof(s));
		for (int r = 0; r < runs; r++) {
			if (mem)
				settle(mem, mibs[i]);
			series_add(&s, m_forkexit(mem, mibs[i], 0));
		}
		emit("stockpath", "forkexit", param, "us", false, &s, NULL);
		if (mem)
			munmap(mem, (size_t)mibs[i] << 20);
	}
	fprintf(stderr, BENCH ": stock path, faults on %ld MiB\n", work_mib);
	memset(&s, 0, sizeof(s));
	for (int r = 0; r < runs; r++)
		series_add(&s, first_touch(work_mib));
	snprintf(param, sizeof(param), "%ld", work_mib);
	emit("stockpath", "first-touch", param, "ns/page", false, &s, NULL);
	mem = prepare(work_mib, false);
	memset(&s, 0, sizeof(s));
	for (int r = 0; r < runs; r++)
		series_add(&s, m_fault_parent(mem, work_mib, 0));
	emit("stockpath", "cow-fault", param, "ns/page", false, &s, NULL);
	memset(&s, 0, sizeof(s));
	for (int r = 0; r < runs; r++)
		series_add(&s, m_exit(mem, work_mib, 0));
	emit("stockpath", "exit", param, "us", false, &s, NULL);
	memset(&s, 0, sizeof(s));
	for (int r = 0; r < runs; r++)
		series_add(&s, m_munmap(mem, work_mib, 0));
	emit("stockpath", "munmap", param, "us", false, &s, NULL);
	munmap(mem, (size_t)work_mib << 20);
}

/*
 * Memory as large as a big server's at the cost of its page tables only:
 * one written page gives the VMA an anon_vma, as written memory has, and
 * read faults map the rest to the zero page, or to the huge zero page
 * under THP. Fork copies (or shares) those page tables exactly as it
 * would for written pages; the pages' own refcounts, which the zero page
 * does not have, are left out of stock fork's cost. Aligned to 1 GiB, so
 * that every PMD table in it is covered by this VMA alone.
 */
static char *prepare_zero(long mib, bool thp)
{
	size_t size = (size_t)mib << 20;
	char *mem;

	if (!mib)
		return NULL;
	mem = region_map(size, GIB, MAP_NORESERVE, thp);
	if (!mem)
		die("mmap");
	mem[0] = 1;
	if (madvise(mem, size, MADV_POPULATE_READ))
		die("madvise(MADV_POPULATE_READ)");
	return mem;
}

static char *scale_mem;

/*
 * With @write clear, fork() as the parent sees it, in us. With @write set,
 * the parent's first write to each GiB of scale_mem after fork, in us per
 * GiB: each one lands in a table fork left shared or write-protected. The
 * child is held back until the clock is read (child_waits()), then exits.
 */
static double m_fork_held(char *unused, long mib, long write)
{
	size_t n = ((size_t)mib << 20) / GIB;
	double t0, t1, t2;
	cpu_set_t saved;
	bool held;
	pid_t pid;

	held = !child_waits(&saved);
	t0 = now_us();
	pid = xfork();
	if (pid == 0)
		_exit(0);
	t1 = now_us();
	for (size_t i = 0; write && i < n; i++)
		((volatile char *)scale_mem)[i * GIB + PAGE_SZ] = 2;
	t2 = now_us();
	if (held)
		child_may_run(&saved);
	reap_ok(pid);
	return write ? (t2 - t1) / n : t1 - t0;
}

#define PMD_KNOB "/proc/sys/vm/cow_pte_pmd"

static void run_scale(void)
{
	static const char *const backing[] = { "4k", "thp" };
	long knob = knob_read(PMD_KNOB);
	struct series s, c;
	char test[32], param[32];
	cpu_set_t saved;

	if (child_waits(&saved))
		fprintf(stderr, BENCH ": cannot hold the child back (%s): fork times include its run\n",
			strerror(errno));
	else
		child_may_run(&saved);
	/*
	 * With PMD tables shared too (vm.cow_pte_pmd, when the kernel has
	 * it and we may set it), the COW PTE side is measured in both ways:
	 * "-pmd" rows share PMD tables, the others PTE tables only.
	 */
	for (int pmd = 0; pmd < 1 + (knob >= 0); pmd++) {
		if (knob >= 0 && knob_write(PMD_KNOB, pmd ? "1" : "0")) {
			fprintf(stderr, BENCH ": cannot set " PMD_KNOB ": %s\n",
				strerror(errno));
			break;
		}
		for (int b = 0; b < 2; b++) {
			for (int i = 0; i < nscale; i++) {
				long mib = scale_sizes[i];

				fprintf(stderr, BENCH ": scale, %s%s, %ld MiB\n",
					backing[b], pmd ? " (PMD tables)" : "", mib);
				scale_mem = prepare_zero(mib, b);
				snprintf(param, sizeof(param), "%ld", mib);
				/*
				 * About 2 MiB per GiB: PTE tables in 4 KiB
				 * pages, the tables deposited under each huge
				 * PMD in THP.
				 */
				printf("I\t" BENCH "\tscale_vmpte_kb_%s\t%ld\t%ld\n",
				       backing[b], mib,
				       proc_kb("/proc/self/status", "VmPTE"));
				/*
				 * No settle(): it would write a page per
				 * table, which is a THP per table here.
				 * Zero-page entries are read-only anyway, so
				 * every fork starts alike.
				 */
				snprintf(test, sizeof(test), "fork-%s%s", backing[b],
					 pmd ? "-pmd" : "");
				both(NULL, mib, 0, m_fork_held, &s, &c);
				emit("scale", test, param, "us", false, &s, &c);
				if (mib >= 1024) {
					snprintf(test, sizeof(test), "write-%s%s",
						 backing[b], pmd ? "-pmd" : "");
					both(NULL, mib, 1, m_fork_held, &s, &c);
					emit("scale", test, param, "us/GiB", false,
					     &s, &c);
				}
				if (scale_mem)
					munmap(scale_mem, (size_t)mib << 20);
			}
		}
	}
	if (knob >= 0) {
		snprintf(param, sizeof(param), "%ld", knob);
		knob_write(PMD_KNOB, param);
	}
}

static int parse_tests(char *arg)
{
	int tests = 0;

	for (char *tok = strtok(arg, ","); tok; tok = strtok(NULL, ",")) {
		size_t i;

		if (!strcmp(tok, "all")) {
			tests |= DEFAULT_TESTS;
			continue;
		}
		for (i = 0; i < sizeof(test_names) / sizeof(test_names[0]); i++)
			if (!strcmp(tok, test_names[i].name))
				break;
		if (i == sizeof(test_names) / sizeof(test_names[0])) {
			fprintf(stderr, BENCH ": unknown test '%s'\n", tok);
			return -1;
		}
		tests |= test_names[i].bit;
	}
	return tests ? tests : -1;
}

static int parse_sizes(char *arg, long *list, int *n)
{
	*n = 0;
	for (char *tok = strtok(arg, ","); tok; tok = strtok(NULL, ",")) {
		if (*n == MAX_SIZES)
			return -1;
		list[*n] = parse_long(tok, 0, 1L << 20);
		if (list[(*n)++] < 0)
			return -1;
	}
	return *n ? 0 : -1;
}

int main(int argc, char **argv)
{
	int tests = DEFAULT_TESTS, opt;
	long shared;

	while ((opt = getopt(argc, argv, "t:s:S:w:r:h")) != -1) {
		switch (opt) {
		case 't':
			tests = parse_tests(optarg);
			if (tests < 0)
				usage(argv[0]);
			break;
		case 's':
			if (parse_sizes(optarg, sizes, &nsizes))
				usage(argv[0]);
			break;
		case 'S':
			if (parse_sizes(optarg, scale_sizes, &nscale))
				usage(argv[0]);
			break;
		case 'w':
			work_mib = parse_long(optarg, 1, 1L << 20);
			if (work_mib < 0)
				usage(argv[0]);
			break;
		case 'r':
			runs = parse_long(optarg, 1, MAX_RUNS);
			if (runs < 0)
				usage(argv[0]);
			break;
		default:
			usage(argv[0]);
		}
	}
	if (optind != argc)
		usage(argv[0]);
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (tests & T_STOCKPATH) {
		run_stockpath();
		tests &= ~T_STOCKPATH;
		if (!tests)
			return 0;
	}
	cow_available = have_cow_pte();
	if (!cow_available)
		fprintf(stderr, BENCH ": this kernel has no COW PTE (%s): measuring stock fork only\n",
			strerror(errno));
	printf("I\t" BENCH "\tcow_pte\t-\t%s\n", cow_available ? "yes" : "no");
	printf("I\t" BENCH "\truns\t-\t%d\n", runs);
	shared = vmstat_read("cow_pte_shared");
	run_sizes(tests);
	run_work(tests);
	if (tests & T_SCALE)
		run_scale();
	/*
	 * COW PTE on, yet nothing shared: this process lost it, for example
	 * by pinning pages (MMF_HAS_PINNED), which a write to 9p or FUSE
	 * from a user buffer can do. The figures then compare stock to stock.
	 */
	if (cow_available && shared >= 0) {
		shared = vmstat_read("cow_pte_shared") - shared;
		printf("I\t" BENCH "\ttables_shared\t-\t%ld\n", shared);
		if (shared == 0 && (tests & (T_FORK | T_VMPTE))) {
			fprintf(stderr, BENCH ": COW PTE was on but no table was shared: "
				"did this process pin pages (stdout on 9p or FUSE)?\n");
			return 1;
		}
	}
	return 0;
}
