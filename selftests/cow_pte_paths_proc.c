// SPDX-License-Identifier: GPL-2.0
/*
 * Path tests, reports and page moves: the /proc reports (soft-dirty,
 * pagemap, smaps, numa_maps, clear_refs), page migration, NUMA balancing
 * and compaction, and memory failure, each reaching a PTE table that fork
 * left shared. The fixture and the one-side machinery they run on are in
 * paths_common.h.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <time.h>
#include <sys/syscall.h>
#include <linux/mempolicy.h>

#include "paths_common.h"

/* --- /proc: soft-dirty, pagemap, smaps -------------------------------- */

static int clear_refs_write(const char *what)
{
	int fd = open("/proc/self/clear_refs", O_WRONLY);
	int ret = -1;

	if (fd >= 0) {
		ret = write(fd, what, strlen(what)) == (ssize_t)strlen(what) ?
		      0 : -1;
		close(fd);
	}
	return ret;
}

/* Clean before fork, then dirtied again: every page is soft-dirty. */
static long prep_soft_dirty(char *mem, size_t len)
{
	if (clear_refs_write("4"))
		return fail("clear_refs 4");
	stamp_range(mem, mem, len, 1);
	return 0;
}

static long act_clear_soft_dirty(char **mem, size_t len)
{
	return clear_refs_write("4") ? fail("clear_refs 4") : 0;
}

/* One side clearing its soft-dirty bits must not clear the other's. */
static long check_soft_dirty(char *mem, size_t len)
{
	long dirty = pagemap_count(mem, len, PM_SOFT_DIRTY);

	if (dirty != (long)(len / PAGE_SZ))
		fprintf(stderr, "# %ld of %zu pages soft-dirty\n", dirty,
			len / PAGE_SZ);
	return dirty != (long)(len / PAGE_SZ);
}

TEST_F_TIMEOUT(paths, clear_refs_soft_dirty, 180)
{
	ONE_SIDE(prep_soft_dirty, act_clear_soft_dirty, check_soft_dirty);
}

/* While the other process maps them too, no page is exclusive. */
static long act_pagemap(char **mem, size_t len)
{
	long present = pagemap_count(*mem, len, PM_PRESENT);
	long excl = pagemap_count(*mem, len, PM_PRESENT | PM_MMAP_EXCLUSIVE);

	if (present != (long)(len / PAGE_SZ) || excl)
		fprintf(stderr, "# pagemap: %ld present, %ld exclusive\n",
			present, excl);
	return (present != (long)(len / PAGE_SZ)) + (excl != 0);
}

TEST_F_TIMEOUT(paths, pagemap_exclusive, 180)
{
	ONE_SIDE(NULL, act_pagemap, NULL);
}

/* Rss, Pss and Referenced, in kB, of the mapping that starts at @mem. */
static int smaps_of(char *mem, long *rss, long *pss, long *ref)
{
	char line[256], want[32], key[32];
	bool in = false;
	FILE *f = fopen("/proc/self/smaps", "r");
	long kb;

	if (!f)
		return -1;
	*rss = *pss = *ref = -1;
	snprintf(want, sizeof(want), "%lx-", (unsigned long)mem);
	while (fgets(line, sizeof(line), f)) {
		if (strchr(line, '-') && strchr(line, ' ') &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = !strncmp(line, want, strlen(want));
			continue;
		}
		if (!in || sscanf(line, "%31s %ld kB", key, &kb) != 2)
			continue;
		if (!strcmp(key, "Rss:"))
			*rss = kb;
		else if (!strcmp(key, "Pss:"))
			*pss = kb;
		else if (!strcmp(key, "Referenced:"))
			*ref = kb;
	}
	fclose(f);
	return *rss < 0 || *pss < 0 || *ref < 0 ? -1 : 0;
}

/* Two processes map every page: each is charged half in Pss. */
static long act_smaps(char **mem, size_t len)
{
	long rss, pss, ref;

	if (smaps_of(*mem, &rss, &pss, &ref))
		return fail("smaps");
	if (rss != (long)(len >> 10) || labs(2 * pss - rss) > 16) {
		fprintf(stderr, "# smaps: Rss %ld kB, Pss %ld kB\n", rss, pss);
		return 1;
	}
	return 0;
}

TEST_F_TIMEOUT(paths, smaps_pss, 180)
{
	ONE_SIDE(NULL, act_smaps, NULL);
}

/*
 * numa_maps reports the most times any page of a mapping is mapped
 * (mapmax, shown when above 1): 2 while both processes map the region.
 */
static long act_numa_maps(char **mem, size_t len)
{
	char line[1024], want[32];
	FILE *f = fopen("/proc/self/numa_maps", "r");
	long mapmax = -1;
	char *m;

	if (!f)
		return fail("numa_maps");
	snprintf(want, sizeof(want), "%lx ", (unsigned long)*mem);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, want, strlen(want))) {
			m = strstr(line, " mapmax=");
			mapmax = m ? strtol(m + 8, NULL, 10) : 1;
		}
	fclose(f);
	if (mapmax == 2)
		return 0;
	fprintf(stderr, "# numa_maps: mapmax %ld, want 2\n", mapmax);
	return 1;
}

TEST_F_TIMEOUT(paths, numa_maps_mapmax, 180)
{
	ONE_SIDE(NULL, act_numa_maps, NULL);
}

/*
 * clear_refs 1 clears the accessed bits of this process's mappings, for
 * working-set estimates from smaps' Referenced. The parent's accessed
 * bits, set when it wrote the region before the fork, must survive the
 * child's clearing. (The child's own bits start cleared after a stock
 * fork, but as the parent's after a COW PTE fork: not checked.)
 */
static pid_t test_parent;

static long act_clear_refs_young(char **mem, size_t len)
{
	long rss, pss, ref;

	if (clear_refs_write("1"))
		return fail("clear_refs 1");
	if (smaps_of(*mem, &rss, &pss, &ref))
		return fail("smaps");
	if (ref) {
		fprintf(stderr, "# Referenced %ld kB after clear_refs 1\n", ref);
		return 1;
	}
	return 0;
}

static long check_referenced(char *mem, size_t len)
{
	long rss, pss, ref;

	if (getpid() != test_parent)
		return 0;
	if (smaps_of(mem, &rss, &pss, &ref)) {
		fail("smaps");
		return 1;
	}
	if (ref == (long)(len >> 10))
		return 0;
	fprintf(stderr, "# parent: Referenced %ld of %zu kB after the child's clear_refs 1\n",
		ref, len >> 10);
	return 1;
}

TEST_F_TIMEOUT(paths, clear_refs_referenced, 180)
{
	test_parent = getpid();
	ONE_SIDE(NULL, act_clear_refs_young, check_referenced);
}

/* --- migration -------------------------------------------------------- */

static long nodes_with_memory(void)
{
	long n = 0;
	char path[64];

	for (int i = 0; i < 8; i++) {
		snprintf(path, sizeof(path), "/sys/devices/system/node/node%d", i);
		n += access(path, F_OK) == 0;
	}
	return n;
}

/*
 * move_pages() on every page of [mem, mem + len): to @node with @flags, or
 * with @node < 0 only asking where each page is. Fills @status (one int a
 * page); 0 or -1.
 */
static int move_region(char *mem, size_t len, int node, int flags,
		       int *status)
{
	size_t n = len / PAGE_SZ;
	void **pages = malloc(n * sizeof(*pages));
	int *nodes = malloc(n * sizeof(*nodes));
	long ret;

	if (!pages || !nodes)
		return -1;
	for (size_t i = 0; i < n; i++) {
		pages[i] = mem + i * PAGE_SZ;
		nodes[i] = node;
	}
	ret = syscall(SYS_move_pages, 0, n, pages, node < 0 ? NULL : nodes,
		      status, flags);
	free(pages);
	free(nodes);
	return ret < 0 ? fail("move_pages") : 0;
}

/*
 * Where the region's pages are, into @where (malloc'ed), and the node of
 * the two that holds fewer of them: the one to move them to. -1 on error.
 */
static int region_nodes(char *mem, size_t len, int **where)
{
	size_t n = len / PAGE_SZ, on1 = 0;

	*where = malloc(n * sizeof(**where));
	if (!*where || move_region(mem, len, -1, 0, *where))
		return -1;
	for (size_t i = 0; i < n; i++)
		on1 += (*where)[i] == 1;
	return on1 * 2 < n ? 1 : 0;
}

/*
 * Each page of the region, moved by one side without MPOL_MF_MOVE_ALL:
 * after a stock fork every page is mapped by both processes, so
 * move_pages() leaves it where it is and reports -EACCES for it, and
 * mbind() leaves it too; through a table both share it is just as shared.
 * With MPOL_MF_MOVE_ALL (root) the pages move, for both processes.
 * Returns the pages that ended up wrong, on the wrong node or with the
 * wrong data, or -1 on error.
 */
static long migrate_region(char *mem, size_t len, bool use_mbind, bool all)
{
	int flags = all ? MPOL_MF_MOVE_ALL : MPOL_MF_MOVE;
	size_t n = len / PAGE_SZ;
	int *before, *after = malloc(n * sizeof(*after));
	int *status = malloc(n * sizeof(*status));
	int to = region_nodes(mem, len, &before);
	unsigned long mask = 1UL << to;
	long bad = 0;

	if (to < 0 || !after || !status)
		return -1;
	if (use_mbind) {
		if (syscall(SYS_mbind, mem, len, MPOL_BIND, &mask,
			    8 * sizeof(mask), flags))
			return fail("mbind");
	} else if (move_region(mem, len, to, flags, status)) {
		return -1;
	}
	if (move_region(mem, len, -1, 0, after))
		return -1;
	for (size_t i = 0; i < n; i++) {
		int want = all || before[i] == to ? to : before[i];
		bool wrong = after[i] != want;

		/*
		 * move_pages() says why it left a page. The page after one
		 * that took a THP along is busy: the THP was isolated already
		 * (stock 6.12 reports -EBUSY for it, and moves it).
		 */
		if (!use_mbind)
			wrong |= status[i] != (want == to ? to : -EACCES) &&
				 !(status[i] == -EBUSY && i % 512 &&
				   status[i - 1] == to && after[i] == to);
		if (wrong && bad++ < 4)
			fprintf(stderr,
				"# page %zu: on node %d (was on %d), status %d; want node %d\n",
				i, after[i], before[i], use_mbind ? 0 : status[i], want);
	}
	if (bad)
		fprintf(stderr, "# %s%s: %ld of %zu pages wrong\n",
			use_mbind ? "mbind" : "move_pages",
			all ? " MPOL_MF_MOVE_ALL" : "", bad, n);
	free(before);
	free(after);
	free(status);
	return bad + check_range(mem, mem, len, 1, "after migration");
}

static long act_move_pages(char **mem, size_t len)
{
	return migrate_region(*mem, len, false, false);
}

static long act_move_pages_all(char **mem, size_t len)
{
	return migrate_region(*mem, len, false, true);
}

static long act_mbind(char **mem, size_t len)
{
	return migrate_region(*mem, len, true, false);
}

static long act_mbind_all(char **mem, size_t len)
{
	return migrate_region(*mem, len, true, true);
}

TEST_F_TIMEOUT(paths, migrate_move_pages, 180)
{
	if (nodes_with_memory() < 2)
		SKIP(return, "needs two NUMA nodes (make run NUMA=1)");
	ONE_SIDE(NULL, act_move_pages, NULL);
}

TEST_F_TIMEOUT(paths, migrate_move_pages_all, 180)
{
	if (nodes_with_memory() < 2)
		SKIP(return, "needs two NUMA nodes (make run NUMA=1)");
	ONE_SIDE(NULL, act_move_pages_all, NULL);
}

TEST_F_TIMEOUT(paths, migrate_mbind, 180)
{
	if (nodes_with_memory() < 2)
		SKIP(return, "needs two NUMA nodes (make run NUMA=1)");
	ONE_SIDE(NULL, act_mbind, NULL);
}

TEST_F_TIMEOUT(paths, migrate_mbind_all, 180)
{
	if (nodes_with_memory() < 2)
		SKIP(return, "needs two NUMA nodes (make run NUMA=1)");
	ONE_SIDE(NULL, act_mbind_all, NULL);
}

/*
 * NUMA balancing only hints: its scanner skips shared tables instead of
 * breaking them (change_pmd_range), and still scans the rest of the mm.
 */
#define NUMA_SYSCTL	"/proc/sys/kernel/numa_balancing"
#define NUMA_DEBUGFS	"/sys/kernel/debug/sched/numa_balancing/"

/* How many times the NUMA scanner has passed over this mm, or -1. */
static long numa_scan_seq_read(void)
{
	FILE *f = fopen("/proc/self/sched", "r");
	char line[256];
	long seq = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "mm->numa_scan_seq", 17) &&
		    sscanf(strchr(line, ':') + 1, "%ld", &seq) == 1)
			break;
	fclose(f);
	return seq;
}

/*
 * The scanner ran over this mm: it changed entries, or it finished a pass
 * (which walks the shared tables too, whether or not it changed anything).
 */
static bool numa_scanned(long updates, long seq)
{
	return vmstat_read("numa_pte_updates") > updates ||
	       numa_scan_seq_read() > seq;
}

static long act_numa_scan(char **mem, size_t len)
{
	long updates = vmstat_read("numa_pte_updates");
	long copied = vmstat_read("cow_pte_copied");
	long seq = numa_scan_seq_read();
	struct timespec t0, now;
	size_t own_len = 64 * PAGE_SZ;
	char *own;
	long bad = 0;
	int pass = 0;

	/*
	 * After a stock fork every page of the region is mapped by both
	 * processes, and the scanner skips copy-on-write pages mapped more
	 * than once (change_pte_range). Give it pages of this process's own,
	 * so that a scan always shows in numa_pte_updates.
	 */
	own = mmap(NULL, own_len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (own == MAP_FAILED)
		return fail("mmap");
	memset(own, 1, own_len);
	if (knob_write(NUMA_SYSCTL, "1"))
		return fail(NUMA_SYSCTL);

	/*
	 * Read (never write) the region while the scanner runs on this mm.
	 * The scanner is started by this task's own CPU time, so keep busy.
	 * It also waits 32 times as long as its last pass took, which on an
	 * overloaded TCG host can be many seconds: allow up to 150 s.
	 */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		bad += check_range(*mem, *mem, len, 1, "scanned");
		if (++pass >= 10 && numa_scanned(updates, seq))
			break;
		clock_gettime(CLOCK_MONOTONIC, &now);
	} while (now.tv_sec - t0.tv_sec < 150);
	munmap(own, own_len);
	if (!numa_scanned(updates, seq)) {
		fprintf(stderr, "# the NUMA scanner did not run (scan sequence %ld, now %ld)\n",
			seq, numa_scan_seq_read());
		bad++;
	}
	if (sharing && vmstat_read("cow_pte_copied") != copied) {
		fprintf(stderr, "# NUMA balancing broke %ld shared tables\n",
			vmstat_read("cow_pte_copied") - copied);
		bad++;
	}
	return bad;
}

TEST_F_TIMEOUT(paths, numa_balancing_scan, 300)
{
	static const char *const knobs[] = { "scan_delay_ms",
					     "scan_period_min_ms" };
	long old[2], enabled = knob_read(NUMA_SYSCTL);
	char path[128], val[32];

	if (nodes_with_memory() < 2)
		SKIP(return, "needs two NUMA nodes (make run NUMA=1)");
	if (enabled < 0)
		SKIP(return, "no NUMA balancing");
	for (int k = 0; k < 2; k++) {
		snprintf(path, sizeof(path), NUMA_DEBUGFS "%s", knobs[k]);
		old[k] = knob_read(path);
		ASSERT_LE(0, old[k]);
		ASSERT_EQ(0, knob_write(path, k ? "100" : "0"));
	}
	/*
	 * A page the scanner marked before the fork faults in the shared
	 * table when read, and that fault rightly copies the table. So the
	 * scanner stays off until the fork, and a read clears the marks it
	 * left since boot; act_numa_scan() switches it on.
	 */
	ASSERT_EQ(0, knob_write(NUMA_SYSCTL, "0"));
	ASSERT_EQ(0, check_range(self->mem, self->mem, REGION_SZ, 1, "before"));
	sharing = variant->cow_pte;
	ONE_SIDE(NULL, act_numa_scan, NULL);
	snprintf(val, sizeof(val), "%ld", enabled);
	EXPECT_EQ(0, knob_write(NUMA_SYSCTL, val));
	for (int k = 0; k < 2; k++) {
		snprintf(path, sizeof(path), NUMA_DEBUGFS "%s", knobs[k]);
		snprintf(val, sizeof(val), "%ld", old[k]);
		EXPECT_EQ(0, knob_write(path, val));
	}
}

static long act_compact(char **mem, size_t len)
{
	int fd = open("/proc/sys/vm/compact_memory", O_WRONLY);

	if (fd < 0 || write(fd, "1", 1) != 1)
		return fail("compact_memory");
	close(fd);
	return check_range(*mem, *mem, len, 1, "compacted");
}

/* Waits for daemons or walks all memory: slow on the debug kernel. */
TEST_F_TIMEOUT(paths, migrate_compaction, 300)
{
	ONE_SIDE(NULL, act_compact, NULL);
}

/* --- memory failure ------------------------------------------------------ */

/*
 * A page that fails (MADV_HWPOISON) is gone for both processes, as with
 * stock fork where they share it; every other page is intact.
 */
#define POISONED(mem)	((mem) + TABLE_SZ + 17 * PAGE_SZ)

static long act_hwpoison(char **mem, size_t len)
{
	struct sigaction sa = { .sa_handler = on_fault }, old;
	long bad;
	int ret = 0;

	/* The poisoner is sent SIGBUS for the page it lost at once. */
	sigaction(SIGBUS, &sa, &old);
	if (!sigsetjmp(fault_jmp, 1))
		ret = madvise(POISONED(*mem), PAGE_SZ, MADV_HWPOISON);
	sigaction(SIGBUS, &old, NULL);
	if (ret)
		return fail("madvise(MADV_HWPOISON)");
	bad = !touch_raises(POISONED(*mem), false, SIGBUS);
	/* Replace the lost page so that the rest of the test can go on. */
	if (mmap(POISONED(*mem), PAGE_SZ, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
	    MAP_FAILED)
		return fail("mmap over the poisoned page");
	stamp_range(*mem, POISONED(*mem), PAGE_SZ, 1);
	return bad + check_range(*mem, *mem, len, 1, "around the poison");
}

static long check_hwpoison(char *mem, size_t len)
{
	long bad = !touch_raises(POISONED(mem), false, SIGBUS);

	if (bad)
		fprintf(stderr, "# the poisoned page is still readable\n");
	if (mmap(POISONED(mem), PAGE_SZ, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED)
		return 1;
	stamp_range(mem, POISONED(mem), PAGE_SZ, 1);
	return bad;
}

TEST_F_TIMEOUT(paths, memory_failure, 180)
{
	ONE_SIDE(NULL, act_hwpoison, check_hwpoison);
}

TEST_HARNESS_MAIN
