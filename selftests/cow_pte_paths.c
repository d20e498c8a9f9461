// SPDX-License-Identifier: GPL-2.0
/*
 * Every page-table path besides faults and zaps, driven through a PTE table
 * that fork left shared: mprotect, mremap, madvise, mlock, soft-dirty,
 * /proc reports, swap, migration, device memory, userfaultfd, KSM, vmsplice
 * and page allocation failures.
 *
 * Each test runs four times: stock fork and COW PTE, with the operation done
 * by the parent and, separately, by the child. The side that acts checks
 * what it sees afterwards; the other side must still see its own data, and
 * each side's later writes must stay its own. The stock runs show what the
 * kernel did before COW PTE, which the COW PTE runs must match.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/mempolicy.h>
#include <linux/userfaultfd.h>
#include <liburing.h>
#include <setjmp.h>

#include "kselftest_harness.h"
#include "cowpte_util.h"
#include "../../../mm/gup_test.h"
#include "../../../lib/test_hmm_uapi.h"

#define NR_TABLES	4
#define REGION_SZ	(NR_TABLES * TABLE_SZ)
#define NR_PAGES	(REGION_SZ / PAGE_SZ)


/* The process on the other side of the fork, for acts that reach it. */
static pid_t other_pid;

/* What the acting side does; returns its wrong pages, or -1 on error. */
typedef long (*act_fn)(char **mem, size_t len);
/* Extra checks by the other side, or setup before fork; same returns. */
typedef long (*side_fn)(char *mem, size_t len);

FIXTURE(paths) {
	char *mem;
	struct baseline base;
	/* The test's fork must share no table, even with COW PTE. */
	bool shares_none;
};

FIXTURE_VARIANT(paths) {
	bool cow_pte;
	bool child_acts;
};

FIXTURE_VARIANT_ADD(paths, stock_parent) {
	.cow_pte = false, .child_acts = false,
};

FIXTURE_VARIANT_ADD(paths, stock_child) {
	.cow_pte = false, .child_acts = true,
};

FIXTURE_VARIANT_ADD(paths, cow_pte_parent) {
	.cow_pte = true, .child_acts = false,
};

FIXTURE_VARIANT_ADD(paths, cow_pte_child) {
	.cow_pte = true, .child_acts = true,
};

FIXTURE_SETUP(paths)
{
	if (stock_variant_skipped(variant->cow_pte))
		SKIP(return, "stock fork reference (COWPTE_SKIP_STOCK)");
	if (variant->cow_pte && cow_pte_enable())
		SKIP(return, "COW PTE not available: %s", strerror(errno));
	baseline_take(&self->base);
	self->mem = region_alloc(REGION_SZ);
	ASSERT_NE(NULL, self->mem);
	stamp_range(self->mem, self->mem, REGION_SZ, 1);
}

/* Nothing leaked, and with COW PTE the tables really were shared. */
FIXTURE_TEARDOWN(paths)
{
	if (!self->mem)
		return;
	munmap(self->mem, REGION_SZ);
	/* A test that skipped before forking shared nothing. */
	if (_metadata->exit_code == KSFT_SKIP)
		return;
	EXPECT_BASELINE(&self->base,
			variant->cow_pte && !self->shares_none ? NR_TABLES : 0,
			2048);
}

/* The actor: act, then make the region its own with generation @gen. */
static long actor(char **mem, size_t len, act_fn act, uint64_t gen,
		  const char *who)
{
	long bad = act(mem, len);

	if (bad < 0)
		return 1000;
	if (bad)
		fprintf(stderr, "# %s: %ld wrong pages after the operation\n",
			who, bad);
	stamp_range(*mem, *mem, len, gen);
	return bad + check_range(*mem, *mem, len, gen, who);
}

/* The other side: its data is untouched, then it writes its own. */
static long bystander(char *mem, size_t len, side_fn check, uint64_t gen,
		      const char *who)
{
	long bad = check ? !!check(mem, len) : 0;

	bad += check_range(mem, mem, len, 1, who);
	stamp_range(mem, mem, len, gen);
	return bad + check_range(mem, mem, len, gen, who);
}

/*
 * Fork once (after @prep, if any) and let one side @act on the region while
 * the other is alive and holds still; see actor() and bystander().
 */
static void one_side(struct __test_metadata *_metadata, char **mem,
		     bool child_acts, side_fn prep, act_fn act, side_fn check)
{
	struct event acted;
	pid_t pid;

	if (prep)
		ASSERT_EQ(0, prep(*mem, REGION_SZ));
	ASSERT_EQ(0, event_init(&acted));
	pid = fork();
	ASSERT_LE(0, pid);
	other_pid = pid ? pid : getppid();
	if (pid == 0) {
		long bad;

		if (child_acts) {
			bad = actor(mem, REGION_SZ, act, 3, "child");
		} else {
			event_wait(&acted);
			bad = bystander(*mem, REGION_SZ, check, 3, "child");
		}
		_exit(bad_to_code(bad));
	}
	if (child_acts) {
		EXPECT_EQ(0, reap(pid));
		EXPECT_EQ(0, bystander(*mem, REGION_SZ, check, 2, "parent"));
	} else {
		EXPECT_EQ(0, actor(mem, REGION_SZ, act, 2, "parent"));
		event_signal(&acted);
		EXPECT_EQ(0, reap(pid));
		EXPECT_EQ(0, check_range(*mem, *mem, REGION_SZ, 2, "parent"));
	}
}

#define ONE_SIDE(prep, act, check) \
	one_side(_metadata, &self->mem, variant->child_acts, prep, act, check)

static long fail(const char *what)
{
	fprintf(stderr, "# %s: %s\n", what, strerror(errno));
	return -1;
}

static sigjmp_buf fault_jmp;

static void on_fault(int sig)
{
	siglongjmp(fault_jmp, 1);
}

/*
 * Whether touching @p raises @sig: a read, or with @write a write of the
 * byte already there, so that a write that should have faulted changes no
 * data.
 */
static bool touch_raises(char *p, bool write, int sig)
{
	struct sigaction sa = { .sa_handler = on_fault }, old;
	volatile char *q = p;
	bool raised = false;

	sigaction(sig, &sa, &old);
	if (sigsetjmp(fault_jmp, 1))
		raised = true;
	else if (write)
		*q = *q;
	else
		(void)*q;
	sigaction(sig, &old, NULL);
	return raised;
}

/*
 * Whether touching the first and a middle page of every table of the region
 * raises SIGSEGV. A shared table is write-protected at the PMD, but its
 * entries stay readable: only a private copy can carry PROT_NONE.
 */
static long region_faults(char *mem, size_t len, bool write, const char *what)
{
	long bad = 0;

	for (size_t off = 0; off < len; off += TABLE_SZ) {
		char *pages[] = { mem + off, mem + off + 301 * PAGE_SZ };

		for (int i = 0; i < 2; i++) {
			if (touch_raises(pages[i], write, SIGSEGV))
				continue;
			fprintf(stderr, "# %s: %s of %p did not fault\n",
				what, write ? "write" : "read", pages[i]);
			bad++;
		}
	}
	return bad;
}

/* --- mprotect --------------------------------------------------------- */

static long act_mprotect_ro(char **mem, size_t len)
{
	long bad;

	if (mprotect(*mem, len, PROT_READ))
		return fail("mprotect(PROT_READ)");
	bad = check_range(*mem, *mem, len, 1, "read-only");
	bad += region_faults(*mem, len, true, "PROT_READ");
	if (mprotect(*mem, len, PROT_READ | PROT_WRITE))
		return fail("mprotect(PROT_READ | PROT_WRITE)");
	return bad;
}

TEST_F_TIMEOUT(paths, mprotect_read_only, 180)
{
	ONE_SIDE(NULL, act_mprotect_ro, NULL);
}

static long act_mprotect_none(char **mem, size_t len)
{
	long bad;

	if (mprotect(*mem, len, PROT_NONE))
		return fail("mprotect(PROT_NONE)");
	bad = region_faults(*mem, len, false, "PROT_NONE");
	if (mprotect(*mem, len, PROT_READ | PROT_WRITE))
		return fail("mprotect(PROT_READ | PROT_WRITE)");
	return bad + check_range(*mem, *mem, len, 1, "after PROT_NONE");
}

TEST_F_TIMEOUT(paths, mprotect_none, 180)
{
	ONE_SIDE(NULL, act_mprotect_none, NULL);
}

/* A few pages inside a table: the VMA is split there. */
static long act_mprotect_part(char **mem, size_t len)
{
	char *part = *mem + TABLE_SZ + 5 * PAGE_SZ;
	long bad;

	if (mprotect(part, 3 * PAGE_SZ, PROT_READ))
		return fail("mprotect(part, PROT_READ)");
	bad = check_range(*mem, *mem, len, 1, "part read-only");
	/* The pages around it are still writable. */
	stamp_range(*mem, part - PAGE_SZ, PAGE_SZ, 4);
	stamp_range(*mem, part + 3 * PAGE_SZ, PAGE_SZ, 4);
	bad += check_range(*mem, part - PAGE_SZ, PAGE_SZ, 4, "below");
	bad += check_range(*mem, part + 3 * PAGE_SZ, PAGE_SZ, 4, "above");
	if (mprotect(part, 3 * PAGE_SZ, PROT_READ | PROT_WRITE))
		return fail("mprotect(part, PROT_READ | PROT_WRITE)");
	return bad;
}

TEST_F_TIMEOUT(paths, mprotect_part, 180)
{
	ONE_SIDE(NULL, act_mprotect_part, NULL);
}

/* --- mremap ----------------------------------------------------------- */

/* Whole tables to a table-aligned place: move_normal_pmd() territory. */
static long act_mremap_tables(char **mem, size_t len)
{
	char *dst = region_alloc(len);

	if (!dst)
		return fail("mmap");
	if (mremap(*mem, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst) != dst)
		return fail("mremap");
	*mem = dst;
	return check_range(dst, dst, len, 1, "moved");
}

TEST_F_TIMEOUT(paths, mremap_whole_tables, 180)
{
	ONE_SIDE(NULL, act_mremap_tables, NULL);
}

/* Half a table out and back: entries move one by one. */
static long act_mremap_part(char **mem, size_t len)
{
	char *part = *mem + TABLE_SZ + TABLE_SZ / 4;
	size_t plen = TABLE_SZ / 2;
	char *dst = mmap(NULL, plen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0);
	long bad;

	if (dst == MAP_FAILED)
		return fail("mmap");
	if (mremap(part, plen, plen, MREMAP_MAYMOVE | MREMAP_FIXED, dst) != dst)
		return fail("mremap out");
	bad = check_range(dst - (part - *mem), dst, plen, 1, "moved out");
	bad += check_range(*mem, *mem, part - *mem, 1, "left behind");
	if (mremap(dst, plen, plen, MREMAP_MAYMOVE | MREMAP_FIXED, part) != part)
		return fail("mremap back");
	return bad + check_range(*mem, *mem, len, 1, "moved back");
}

TEST_F_TIMEOUT(paths, mremap_part, 180)
{
	ONE_SIDE(NULL, act_mremap_part, NULL);
}

static long act_mremap_grow(char **mem, size_t len)
{
	char *p = mremap(*mem, len, len + TABLE_SZ, MREMAP_MAYMOVE);
	long bad;

	if (p == MAP_FAILED)
		return fail("mremap grow");
	bad = check_range(p, p, len, 1, "grown");
	bad += check_range(p, p + len, TABLE_SZ, 0, "new part");
	if (mremap(p, len + TABLE_SZ, len, 0) != p)
		return fail("mremap shrink back");
	*mem = p;
	return bad;
}

TEST_F_TIMEOUT(paths, mremap_grow, 180)
{
	ONE_SIDE(NULL, act_mremap_grow, NULL);
}

static long act_mremap_shrink(char **mem, size_t len)
{
	size_t keep = len - TABLE_SZ - 3 * PAGE_SZ;
	char *p;
	long bad;

	if (mremap(*mem, len, keep, 0) != *mem)
		return fail("mremap shrink");
	bad = check_range(*mem, *mem, keep, 1, "kept");
	p = mremap(*mem, keep, len, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		return fail("mremap grow back");
	*mem = p;
	bad += check_range(p, p, keep, 1, "regrown");
	return bad + check_range(p, p + keep, len - keep, 0, "regrown tail");
}

TEST_F_TIMEOUT(paths, mremap_shrink, 180)
{
	ONE_SIDE(NULL, act_mremap_shrink, NULL);
}

static long act_mremap_dontunmap(char **mem, size_t len)
{
	char *dst = mremap(*mem, len, len, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
	long bad;

	if (dst == MAP_FAILED)
		return fail("mremap(MREMAP_DONTUNMAP)");
	bad = check_range(dst, dst, len, 1, "moved");
	bad += check_range(*mem, *mem, len, 0, "left empty");
	munmap(*mem, len);
	*mem = dst;
	return bad;
}

TEST_F_TIMEOUT(paths, mremap_dontunmap, 180)
{
	ONE_SIDE(NULL, act_mremap_dontunmap, NULL);
}

#define PM_SOFT_DIRTY		(1ULL << 55)
#define PM_MMAP_EXCLUSIVE	(1ULL << 56)
#define PM_SWAP			(1ULL << 62)
#define PM_PRESENT		(1ULL << 63)

/*
 * How many pages of the region have all of @bits in the pagemap of @pid
 * (0: this process), or -1.
 */
static long pagemap_count_of(pid_t pid, char *mem, size_t len, uint64_t bits)
{
	size_t n = len / PAGE_SZ;
	uint64_t *pm;
	char path[32];
	long count = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid ? pid : getpid());
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	pm = malloc(n * sizeof(*pm));
	if (!pm) {
		close(fd);
		return -1;
	}
	if (pread(fd, pm, n * sizeof(*pm),
		  (uintptr_t)mem / PAGE_SZ * sizeof(*pm)) !=
	    (ssize_t)(n * sizeof(*pm)))
		count = -1;
	for (size_t i = 0; count >= 0 && i < n; i++)
		count += (pm[i] & bits) == bits;
	close(fd);
	free(pm);
	return count;
}

static long pagemap_count(char *mem, size_t len, uint64_t bits)
{
	return pagemap_count_of(0, mem, len, bits);
}

/* VmSwap of @pid (0: this process) in pages, or -1. */
static long vm_swap_pages(pid_t pid)
{
	char path[64], line[128];
	long kb = -1;
	FILE *f;

	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/status", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/status");
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSwap: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb / (PAGE_SZ / 1024);
}

/*
 * Every swap entry in @pid's tables is on its mm's swap counter, once no
 * table is shared (a shared table counts for the process that owned it
 * before fork only; cow_pte.rst). Reclaim copies every table it unmaps a
 * page through; a walk that unmapped the page in a table both processes
 * share instead would count it for the one whose VMA it came through, and
 * the other's counters would stay wrong until a "Bad rss-counter" at its
 * exit. The counter is per CPU and read without summing: allow a batch of
 * 32 pages per CPU.
 */
static long swap_counted(pid_t pid, char *mem, size_t len)
{
	long entries = pagemap_count_of(pid, mem, len, PM_SWAP);
	long counted = vm_swap_pages(pid);

	if (entries < 0 || counted < 0)
		return fail("reading pagemap or VmSwap");
	if (counted + 32 * sysconf(_SC_NPROCESSORS_ONLN) >= entries)
		return 0;
	fprintf(stderr, "# %s: %ld swap entries in the region, VmSwap counts %ld pages\n",
		pid ? "the other side" : "this side", entries, counted);
	return 1;
}

/* --- madvise ---------------------------------------------------------- */

/*
 * After MADV_FREE a page holds its data or, once reclaimed, zeroes.
 * MADV_PAGEOUT then reclaims at once what MADV_FREE made lazily freeable:
 * a page the other process still maps must not be among them.
 */
static long act_madv_free(char **mem, size_t len)
{
	long bad = 0;

	if (madvise(*mem, len, MADV_FREE))
		return fail("madvise(MADV_FREE)");
	if (madvise(*mem, len, MADV_PAGEOUT))
		return fail("madvise(MADV_PAGEOUT)");
	for (char *p = *mem; p < *mem + len; p += PAGE_SZ)
		if (check_range(*mem, p, PAGE_SZ, 1, "freed") &&
		    check_range(*mem, p, PAGE_SZ, 0, "freed"))
			bad++;
	return bad;
}

TEST_F_TIMEOUT(paths, madv_free, 180)
{
	ONE_SIDE(NULL, act_madv_free, NULL);
}

static long act_madv_cold(char **mem, size_t len)
{
	if (madvise(*mem, len, MADV_COLD))
		return fail("madvise(MADV_COLD)");
	return check_range(*mem, *mem, len, 1, "cold");
}

TEST_F_TIMEOUT(paths, madv_cold, 180)
{
	ONE_SIDE(NULL, act_madv_cold, NULL);
}

/*
 * MADV_PAGEOUT leaves alone the pages another process maps (stock fork maps
 * each of them twice, so it reclaims none here): the other side's pages
 * must all be resident still, whether one of them mapped the region through
 * a table both share or not.
 */
static long act_madv_pageout(char **mem, size_t len)
{
	if (madvise(*mem, len, MADV_PAGEOUT))
		return fail("madvise(MADV_PAGEOUT)");
	return check_range(*mem, *mem, len, 1, "paged out");
}

static long still_resident(char *mem, size_t len)
{
	long gone = len / PAGE_SZ - pagemap_count(mem, len, PM_PRESENT);

	if (gone)
		fprintf(stderr, "# %ld pages were paged out by the other process\n",
			gone);
	return gone;
}

TEST_F_TIMEOUT(paths, madv_pageout, 180)
{
	ONE_SIDE(NULL, act_madv_pageout, still_resident);
}

/* Paged out before fork: the shared tables hold swap entries. */
static long prep_pageout(char *mem, size_t len)
{
	return madvise(mem, len, MADV_PAGEOUT) ? fail("MADV_PAGEOUT") : 0;
}

static long act_read(char **mem, size_t len)
{
	return check_range(*mem, *mem, len, 1, "read");
}

TEST_F_TIMEOUT(paths, swap_entries_shared, 180)
{
	ONE_SIDE(prep_pageout, act_read, NULL);
}

/* A grandchild sees @want in the region; returns its wrong pages. */
static long grandchild_sees(char *mem, size_t len, uint64_t want)
{
	pid_t pid = fork();

	if (pid < 0)
		return fail("fork");
	if (pid == 0)
		_exit(bad_to_code(check_range(mem, mem, len, want,
					      "grandchild")));
	return reap(pid);
}

static long act_wipeonfork(char **mem, size_t len)
{
	long bad;

	if (madvise(*mem, len, MADV_WIPEONFORK))
		return fail("madvise(MADV_WIPEONFORK)");
	bad = grandchild_sees(*mem, len, 0);
	if (madvise(*mem, len, MADV_KEEPONFORK))
		return fail("madvise(MADV_KEEPONFORK)");
	bad += grandchild_sees(*mem, len, 1);
	return bad + check_range(*mem, *mem, len, 1, "wiped for children");
}

TEST_F_TIMEOUT(paths, madv_wipeonfork_keeponfork, 180)
{
	ONE_SIDE(NULL, act_wipeonfork, NULL);
}

static long act_dontfork(char **mem, size_t len)
{
	unsigned char vec[1];
	long bad = 0;
	pid_t pid;

	if (madvise(*mem + PAGE_SZ, len - PAGE_SZ, MADV_DONTFORK))
		return fail("madvise(MADV_DONTFORK)");
	pid = fork();
	if (pid < 0)
		return fail("fork");
	if (pid == 0) {
		/* Only the first page came along. */
		bad = check_range(*mem, *mem, PAGE_SZ, 1, "grandchild");
		if (mincore(*mem + PAGE_SZ, PAGE_SZ, vec) == 0 || errno != ENOMEM)
			bad++;
		_exit(bad_to_code(bad));
	}
	bad = reap(pid);
	if (madvise(*mem + PAGE_SZ, len - PAGE_SZ, MADV_DOFORK))
		return fail("madvise(MADV_DOFORK)");
	return bad + check_range(*mem, *mem, len, 1, "after DONTFORK");
}

TEST_F_TIMEOUT(paths, madv_dontfork, 180)
{
	ONE_SIDE(NULL, act_dontfork, NULL);
}

/* Drop this mm's mapping of the region (whole tables) and map it afresh. */
static long remap_region(char *mem, size_t len)
{
	if (munmap(mem, len))
		return fail("munmap");
	if (mmap(mem, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != mem)
		return fail("mmap(MAP_FIXED)");
	return madvise(mem, len, MADV_NOHUGEPAGE) ? fail("MADV_NOHUGEPAGE") : 0;
}

/*
 * A zap that covers only part of a shared table must copy the table first,
 * which needs memory. Unmapping whole VMAs must never need any, or the OOM
 * reaper (which zaps VMA by VMA and may not allocate) could not free an OOM
 * victim's memory; so splitting a VMA inside a shared table copies it then.
 * MADV_DONTDUMP changes nothing but a VMA flag: one page of it in the middle
 * of each table splits the region into a VMA per piece.
 */
static long act_split_unmap(char **mem, size_t len)
{
	long copied;

	for (size_t off = 0; off < len; off += TABLE_SZ)
		if (madvise(*mem + off + TABLE_SZ / 2, PAGE_SZ, MADV_DONTDUMP))
			return fail("madvise(MADV_DONTDUMP)");
	if (check_range(*mem, *mem, len, 1, "split"))
		return 1;
	copied = vmstat("cow_pte_copied");
	if (remap_region(*mem, len))
		return -1;
	copied = vmstat("cow_pte_copied") - copied;
	if (copied)
		fprintf(stderr, "# unmapping whole VMAs copied %ld tables\n",
			copied);
	return copied;
}

TEST_F_TIMEOUT(paths, vma_split_unmap, 180)
{
	ONE_SIDE(NULL, act_split_unmap, NULL);
}

/* THP may be off ("never"): collapse then fails, the data must not. */
static long act_collapse(char **mem, size_t len)
{
	if (madvise(*mem, len, MADV_HUGEPAGE))
		return fail("madvise(MADV_HUGEPAGE)");
	if (madvise(*mem, len, MADV_COLLAPSE))
		fprintf(stderr, "# MADV_COLLAPSE: %s\n", strerror(errno));
	return check_range(*mem, *mem, len, 1, "collapsed");
}

TEST_F_TIMEOUT(paths, madv_collapse, 180)
{
	ONE_SIDE(NULL, act_collapse, NULL);
}

static long act_populate(char **mem, size_t len)
{
	if (madvise(*mem, len, MADV_POPULATE_READ))
		return fail("madvise(MADV_POPULATE_READ)");
	if (madvise(*mem, len, MADV_POPULATE_WRITE))
		return fail("madvise(MADV_POPULATE_WRITE)");
	return check_range(*mem, *mem, len, 1, "populated");
}

TEST_F_TIMEOUT(paths, madv_populate, 180)
{
	ONE_SIDE(NULL, act_populate, NULL);
}

/* --- mlock, mincore --------------------------------------------------- */

static long act_mlock(char **mem, size_t len)
{
	unsigned char *vec = malloc(len / PAGE_SZ);
	long bad = 0;

	if (!vec)
		return -1;
	if (mlock(*mem, len))
		return fail("mlock");
	if (munlock(*mem, len))
		return fail("munlock");
	if (mlockall(MCL_CURRENT))
		return fail("mlockall");
	if (munlockall())
		return fail("munlockall");
	if (mincore(*mem, len, vec))
		return fail("mincore");
	for (size_t i = 0; i < len / PAGE_SZ; i++)
		bad += !(vec[i] & 1);
	free(vec);
	if (bad)
		fprintf(stderr, "# mincore: %ld pages not resident\n", bad);
	return bad + check_range(*mem, *mem, len, 1, "locked");
}

TEST_F_TIMEOUT(paths, mlock_mincore, 180)
{
	ONE_SIDE(NULL, act_mlock, NULL);
}

/*
 * A page is mlocked (PG_mlocked) while any VM_LOCKED mapping maps it.
 * Dropping such a mapping, by munmap() or exit, munlocks the page; the
 * other process, whose mapping is not locked, must not be left with
 * pages nobody locks that reclaim can no longer take.
 */
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT	1
#endif
#define KPF_MLOCKED	33
#define PM_PFN_MASK	((1ULL << 55) - 1)
/* Pages a pending per-CPU munlock batch may still hold (PAGEVEC_SIZE). */
#define MLOCK_SLACK	31

/* How many pages of [mem, mem + len) are mlocked, or -1. */
static long region_mlocked(char *mem, size_t len)
{
	int pm = open("/proc/self/pagemap", O_RDONLY);
	int kf = open("/proc/kpageflags", O_RDONLY);
	long n = 0;

	if (pm < 0 || kf < 0)
		n = fail("pagemap or kpageflags");
	for (char *p = mem; n >= 0 && p < mem + len; p += PAGE_SZ) {
		uint64_t e, flags;

		if (pread(pm, &e, 8, (uintptr_t)p / PAGE_SZ * 8) != 8)
			n = fail("pagemap");
		else if (!(e & PM_PRESENT))
			continue;
		else if (pread(kf, &flags, 8, (e & PM_PFN_MASK) * 8) != 8)
			n = fail("kpageflags");
		else
			n += (flags >> KPF_MLOCKED) & 1;
	}
	close(pm);
	close(kf);
	return n;
}

/* Whether the other side's mapping is locked itself (mlocked_fork). */
static bool other_locked;

static long check_mlocked(char *mem, size_t len)
{
	long n = region_mlocked(mem, len), pages = len / PAGE_SZ;

	if (n < 0)
		return 1;
	if (other_locked ? n >= pages - MLOCK_SLACK : n <= MLOCK_SLACK)
		return 0;
	fprintf(stderr, "# %ld of %ld pages mlocked, want %s\n", n, pages,
		other_locked ? "all" : "none");
	return 1;
}

/* MLOCK_ONFAULT mlocks the pages already there without faulting. */
static long act_mlock_onfault_unmap(char **mem, size_t len)
{
	long n;

	if (syscall(SYS_mlock2, *mem, len, MLOCK_ONFAULT))
		return fail("mlock2(MLOCK_ONFAULT)");
	n = region_mlocked(*mem, len);
	if (n < (long)(len / PAGE_SZ) - MLOCK_SLACK) {
		fprintf(stderr, "# mlock2 mlocked %ld pages\n", n);
		return -1;
	}
	return remap_region(*mem, len);
}

TEST_F_TIMEOUT(paths, mlock_onfault_unmap, 180)
{
	if (access("/proc/kpageflags", R_OK))
		SKIP(return, "no /proc/kpageflags");
	other_locked = false;
	ONE_SIDE(NULL, act_mlock_onfault_unmap, check_mlocked);
}

/*
 * The parent's mapping is locked before it forks: the child's is not, and
 * the fork shares no table of a locked VMA.
 */
static long prep_mlock(char *mem, size_t len)
{
	return mlock(mem, len) ? fail("mlock") : 0;
}

static long act_unmap(char **mem, size_t len)
{
	return remap_region(*mem, len);
}

TEST_F_TIMEOUT(paths, mlocked_fork, 180)
{
	if (access("/proc/kpageflags", R_OK))
		SKIP(return, "no /proc/kpageflags");
	/* When the child drops its mapping, the parent's is still locked. */
	other_locked = variant->child_acts;
	self->shares_none = true;
	ONE_SIDE(prep_mlock, act_unmap, check_mlocked);
}

/* --- /proc: soft-dirty, pagemap, smaps -------------------------------- */

static int clear_refs(const char *what)
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
	if (clear_refs("4"))
		return fail("clear_refs 4");
	stamp_range(mem, mem, len, 1);
	return 0;
}

static long act_clear_soft_dirty(char **mem, size_t len)
{
	return clear_refs("4") ? fail("clear_refs 4") : 0;
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
	char line[256], want[32];
	bool in = false;
	FILE *f = fopen("/proc/self/smaps", "r");

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
		if (in) {
			sscanf(line, "Rss: %ld kB", rss);
			sscanf(line, "Pss: %ld kB", pss);
			sscanf(line, "Referenced: %ld kB", ref);
		}
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

	if (clear_refs("1"))
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

		/* move_pages() says why it left a page. */
		if (!use_mbind)
			wrong |= status[i] != (want == to ? to : -EACCES);
		if (wrong && bad++ < 4)
			fprintf(stderr, "# page %zu: on node %d (was on %d), status %d; want node %d\n",
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

/* Set by the tests that need it: whether the tables are shared. */
static bool sharing;

/* How many times the NUMA scanner has passed over this mm, or -1. */
static long numa_scan_seq(void)
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
	return vmstat("numa_pte_updates") > updates || numa_scan_seq() > seq;
}

static long act_numa_scan(char **mem, size_t len)
{
	long updates = vmstat("numa_pte_updates");
	long copied = vmstat("cow_pte_copied");
	long seq = numa_scan_seq();
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
			seq, numa_scan_seq());
		bad++;
	}
	if (sharing && vmstat("cow_pte_copied") != copied) {
		fprintf(stderr, "# NUMA balancing broke %ld shared tables\n",
			vmstat("cow_pte_copied") - copied);
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

/* --- device memory (test_hmm) ----------------------------------------- */

/*
 * test_hmm's mirror device stands in for a GPU sharing the address space:
 * it maps pages through hmm_range_fault(), moves them to device private
 * memory with migrate_vma, and takes device exclusive access for atomics.
 * A mirror follows the mm that opened it, so each process opens its own,
 * and keeps it open: pages on the device belong to it until they return.
 *
 * The device works on the first DEV_PAGES pages of every table: each table
 * is reached, and migration stays quick enough for the debug kernel.
 */
#define HMM_DEV		"/dev/hmm_dmirror0"
#define DEV_PAGES	16
#define DEV_SZ		(DEV_PAGES * PAGE_SZ)

static int hmm_fd = -1;
static pid_t hmm_fd_pid;

/* ONE_SIDE() for a device test, skipped without test_hmm's device. */
#define DEVICE_ONE_SIDE(prep, act) do {					\
	if (access(HMM_DEV, F_OK))					\
		SKIP(return, "no " HMM_DEV " (CONFIG_TEST_HMM)");	\
	ONE_SIDE(prep, act, NULL);					\
} while (0)

/*
 * Run a mirror command on [@at, @at + DEV_SZ), with @buf as the device's
 * side of the data. Returns the pages it did not do, or -1.
 */
static long hmm_cmd(char *at, unsigned long req, char *buf, const char *what)
{
	struct hmm_dmirror_cmd cmd = {
		.addr = (uintptr_t)at, .ptr = (uintptr_t)buf,
		.npages = DEV_PAGES,
	};

	if (hmm_fd < 0 || hmm_fd_pid != getpid()) {
		hmm_fd = open(HMM_DEV, O_RDWR);
		hmm_fd_pid = getpid();
		if (hmm_fd < 0)
			return fail("open " HMM_DEV);
	}
	if (ioctl(hmm_fd, req, &cmd))
		return fail(what);
	if (cmd.cpages == cmd.npages)
		return 0;
	fprintf(stderr, "# %s: %llu of %llu pages\n", what,
		(unsigned long long)cmd.cpages, (unsigned long long)cmd.npages);
	return cmd.npages - cmd.cpages;
}

/*
 * What the pages [@at, @at + DEV_SZ) of the region at @mem hold in
 * generation @gen, as whole pages: see stamp_range().
 */
static void dev_stamps(char *buf, char *mem, char *at, uint64_t gen)
{
	memset(buf, 0, DEV_SZ);
	for (size_t off = 0; off < DEV_SZ; off += PAGE_SZ) {
		uint64_t v = stamp(mem, at + off, gen);

		memcpy(buf + off, &v, sizeof(v));
		memcpy(buf + off + PAGE_SZ - sizeof(v), &v, sizeof(v));
	}
}

/*
 * @req on the first pages of every table of the region at @mem, checking
 * that the device's data is generation 1. The CPU does not touch the
 * pages: that would bring them back from the device, or end its exclusive
 * access.
 */
static long hmm_each_table(char *mem, unsigned long req, const char *what)
{
	char *buf = malloc(DEV_SZ), *want = malloc(DEV_SZ);
	long bad = 0;

	if (!buf || !want)
		return fail("malloc");
	for (int t = 0; t < NR_TABLES && !bad; t++) {
		char *at = mem + t * TABLE_SZ;

		bad = hmm_cmd(at, req, buf, what);
		dev_stamps(want, mem, at, 1);
		for (size_t off = 0; !bad && off < DEV_SZ; off += PAGE_SZ)
			bad += memcmp(buf + off, want + off, PAGE_SZ) != 0;
		if (bad)
			fprintf(stderr, "# %s: table %d: wrong data\n", what, t);
	}
	free(buf);
	free(want);
	return bad;
}

/*
 * The device reads what this side has, then writes generation 7 over it:
 * this side sees the device's data, the other side must not.
 */
static long act_hmm_write(char **mem, size_t len)
{
	char *buf = malloc(DEV_SZ);
	long bad;

	if (!buf)
		return fail("malloc");
	bad = hmm_each_table(*mem, HMM_DMIRROR_READ, "HMM_DMIRROR_READ");
	for (int t = 0; t < NR_TABLES && !bad; t++) {
		char *at = *mem + t * TABLE_SZ;

		dev_stamps(buf, *mem, at, 7);
		bad = hmm_cmd(at, HMM_DMIRROR_WRITE, buf, "HMM_DMIRROR_WRITE");
	}
	for (int t = 0; t < NR_TABLES && !bad; t++)
		bad = check_range(*mem, *mem + t * TABLE_SZ, DEV_SZ, 7,
				  "device wrote");
	free(buf);
	return bad;
}

TEST_F_TIMEOUT(paths, device_mirror_write, 180)
{
	DEVICE_ONE_SIDE(NULL, act_hmm_write);
}

static long hmm_to_device(char *mem, size_t len)
{
	return hmm_each_table(mem, HMM_DMIRROR_MIGRATE_TO_DEV,
			      "HMM_DMIRROR_MIGRATE_TO_DEV");
}

/* After a device operation that went well, the CPU sees the data again. */
static long then_cpu(long bad, char *mem, size_t len)
{
	return bad ? bad : check_range(mem, mem, len, 1, "CPU after device");
}

/*
 * One side moves pages to the device, as stock fork lets it. The other
 * side's mappings of those pages move with them, as after a stock fork:
 * both see the same device private entries (pagemap: swapped). This
 * side's CPU then brings the pages back.
 */
static long act_hmm_migrate(char **mem, size_t len)
{
	long bad = hmm_to_device(*mem, len);
	long here = pagemap_count(*mem, len, PM_SWAP);
	long there = pagemap_count_of(other_pid, *mem, len, PM_SWAP);

	if (!bad && (here != NR_TABLES * DEV_PAGES || there != here)) {
		fprintf(stderr, "# on the device: %ld pages here, %ld there, want %d\n",
			here, there, NR_TABLES * DEV_PAGES);
		bad = 1;
	}
	return then_cpu(bad, *mem, len);
}

TEST_F_TIMEOUT(paths, device_migrate_after_fork, 180)
{
	DEVICE_ONE_SIDE(NULL, act_hmm_migrate);
}

/*
 * Pages already on the device when the table is shared: a copy of the
 * table must see writable device private entries as copy on write, as
 * fork does, and the CPU brings the pages back for each side. (Not the
 * device writing them here: with stock fork, that does not finish.)
 */
TEST_F_TIMEOUT(paths, device_private_before_fork, 180)
{
	DEVICE_ONE_SIDE(hmm_to_device, act_read);
}

static long hmm_exclusive(char *mem, size_t len)
{
	return hmm_each_table(mem, HMM_DMIRROR_EXCLUSIVE,
			      "HMM_DMIRROR_EXCLUSIVE");
}

/* Device exclusive access for one side, which the CPU then takes back. */
static long act_hmm_exclusive(char **mem, size_t len)
{
	return then_cpu(hmm_exclusive(*mem, len), *mem, len);
}

TEST_F_TIMEOUT(paths, device_exclusive_after_fork, 180)
{
	DEVICE_ONE_SIDE(NULL, act_hmm_exclusive);
}

/*
 * Device exclusive entries in a table when it is shared: fork ends device
 * access, and the first CPU access of either side maps the pages again.
 */
TEST_F_TIMEOUT(paths, device_exclusive_before_fork, 180)
{
	DEVICE_ONE_SIDE(hmm_exclusive, act_read);
}

/* --- userfaultfd ------------------------------------------------------ */

static int uffd_open(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -1;
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Register the region (missing + write-protect), write-protect it and
 * lift that again, zero-fill a dropped page, copy into another, unregister:
 * all on this side.
 */
static long act_uffd(char **mem, size_t len)
{
	struct uffdio_register reg = {
		.range = { (uintptr_t)*mem, len },
		.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP,
	};
	struct uffdio_writeprotect wp = { .range = reg.range };
	struct uffdio_zeropage zero = {
		.range = { (uintptr_t)*mem + TABLE_SZ, PAGE_SZ },
	};
	char *into = *mem + 2 * TABLE_SZ + 7 * PAGE_SZ;
	char src[PAGE_SZ] __attribute__((aligned(PAGE_SZ)));
	struct uffdio_copy copy = {
		.dst = (uintptr_t)into, .src = (uintptr_t)src, .len = PAGE_SZ,
	};
	int fd = uffd_open(0);
	long bad;

	if (fd < 0)
		return fail("userfaultfd");
	if (ioctl(fd, UFFDIO_REGISTER, &reg))
		return fail("UFFDIO_REGISTER");
	wp.mode = UFFDIO_WRITEPROTECT_MODE_WP;
	if (ioctl(fd, UFFDIO_WRITEPROTECT, &wp))
		return fail("UFFDIO_WRITEPROTECT");
	bad = check_range(*mem, *mem, len, 1, "write-protected");
	wp.mode = 0;
	if (ioctl(fd, UFFDIO_WRITEPROTECT, &wp))
		return fail("UFFDIO_WRITEPROTECT off");
	if (madvise(*mem + TABLE_SZ, PAGE_SZ, MADV_DONTNEED))
		return fail("MADV_DONTNEED");
	if (ioctl(fd, UFFDIO_ZEROPAGE, &zero))
		return fail("UFFDIO_ZEROPAGE");
	bad += check_range(*mem, *mem + TABLE_SZ, PAGE_SZ, 0, "zero-filled");
	/* What the page held, with a new generation: from the copy, not us. */
	stamp_range(src - (into - *mem), src, PAGE_SZ, 6);
	if (madvise(into, PAGE_SZ, MADV_DONTNEED))
		return fail("MADV_DONTNEED");
	if (ioctl(fd, UFFDIO_COPY, &copy))
		return fail("UFFDIO_COPY");
	bad += check_range(*mem, into, PAGE_SZ, 6, "copied in");
	stamp_range(*mem, into, PAGE_SZ, 1);
	if (ioctl(fd, UFFDIO_UNREGISTER, &reg.range))
		return fail("UFFDIO_UNREGISTER");
	close(fd);
	/* The zero-filled page is expected to be zero; restore it. */
	stamp_range(*mem, *mem + TABLE_SZ, PAGE_SZ, 1);
	return bad + check_range(*mem, *mem, len, 1, "after userfaultfd");
}

TEST_F_TIMEOUT(paths, userfaultfd_register_wp_zeropage, 180)
{
	ONE_SIDE(NULL, act_uffd, NULL);
}

/*
 * Minor mode and UFFDIO_CONTINUE take only shmem and hugetlb VMAs, which
 * fork never shares (vma_cow_pte_eligible()), so they cannot meet a shared
 * table: a private mapping of a memfd, registered minor after the fork and
 * filled with UFFDIO_CONTINUE, shows its file's pages, and the shared
 * region is left as it was.
 */
static long act_uffd_minor(char **mem, size_t len)
{
	size_t flen = 16 * PAGE_SZ;
	int mfd = memfd_create("cowpte-minor", MFD_CLOEXEC);
	char *file, *priv;
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MINOR };
	struct uffdio_continue cont = { 0 };
	int fd = uffd_open(UFFD_FEATURE_MINOR_SHMEM);
	long bad;

	if (fd < 0)
		return fail("userfaultfd(UFFD_FEATURE_MINOR_SHMEM)");
	if (mfd < 0 || ftruncate(mfd, flen))
		return fail("memfd");
	file = mmap(NULL, flen, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	priv = mmap(NULL, flen, PROT_READ, MAP_PRIVATE, mfd, 0);
	if (file == MAP_FAILED || priv == MAP_FAILED)
		return fail("mmap(memfd)");
	stamp_range(file, file, flen, 7);
	reg.range = (struct uffdio_range){ (uintptr_t)priv, flen };
	if (ioctl(fd, UFFDIO_REGISTER, &reg))
		return fail("UFFDIO_REGISTER(MINOR)");
	cont.range = reg.range;
	if (ioctl(fd, UFFDIO_CONTINUE, &cont))
		return fail("UFFDIO_CONTINUE");
	bad = check_range(priv, priv, flen, 7, "continued");
	close(fd);
	munmap(priv, flen);
	munmap(file, flen);
	close(mfd);
	return bad + check_range(*mem, *mem, len, 1, "after minor mode");
}

TEST_F_TIMEOUT(paths, userfaultfd_minor_continue, 180)
{
	ONE_SIDE(NULL, act_uffd_minor, NULL);
}

/* Pages of [start, end) in the categories @mask, from PAGEMAP_SCAN. */
static long pagemap_scan(int fd, char *start, char *end, uint64_t mask,
			 uint64_t flags)
{
	struct page_region regions[64];
	struct pm_scan_arg arg = {
		.size = sizeof(arg), .flags = flags,
		.start = (uintptr_t)start, .end = (uintptr_t)end,
		.vec = (uintptr_t)regions, .vec_len = 64,
		.category_mask = mask, .return_mask = mask,
	};
	long n, pages = 0;

	n = ioctl(fd, PAGEMAP_SCAN, &arg);
	if (n < 0)
		return fail("PAGEMAP_SCAN");
	for (long i = 0; i < n; i++)
		pages += (regions[i].end - regions[i].start) / PAGE_SZ;
	return pages;
}

/*
 * PAGEMAP_SCAN: a read-only scan sees every page present; with async
 * uffd-wp registered (which breaks the tables), write-protecting the range
 * and then scanning for written pages finds exactly the ones written since.
 */
static long act_pagemap_scan(char **mem, size_t len)
{
	struct uffdio_register reg = {
		.range = { (uintptr_t)*mem, len },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	int pm = open("/proc/self/pagemap", O_RDONLY);
	long bad = 0, n;
	int fd;

	if (pm < 0)
		return fail("/proc/self/pagemap");
	n = pagemap_scan(pm, *mem, *mem + len, PAGE_IS_PRESENT, 0);
	if (n != (long)(len / PAGE_SZ)) {
		fprintf(stderr, "# %ld of %zu pages present\n", n, len / PAGE_SZ);
		bad++;
	}
	fd = uffd_open(UFFD_FEATURE_WP_ASYNC);
	if (fd < 0)
		return fail("userfaultfd(UFFD_FEATURE_WP_ASYNC)");
	if (ioctl(fd, UFFDIO_REGISTER, &reg))
		return fail("UFFDIO_REGISTER");
	if (pagemap_scan(pm, *mem, *mem + len, PAGE_IS_WRITTEN,
			 PM_SCAN_WP_MATCHING) < 0)
		return -1;
	/* Rewrite 5 pages with what they hold: written, unchanged. */
	for (int i = 0; i < 5; i++)
		stamp_range(*mem, *mem + (i * 97 + 3) * PAGE_SZ, PAGE_SZ, 1);
	n = pagemap_scan(pm, *mem, *mem + len, PAGE_IS_WRITTEN, 0);
	if (n != 5) {
		fprintf(stderr, "# %ld pages written, want 5\n", n);
		bad++;
	}
	if (ioctl(fd, UFFDIO_UNREGISTER, &reg.range))
		return fail("UFFDIO_UNREGISTER");
	close(fd);
	close(pm);
	return bad + check_range(*mem, *mem, len, 1, "after PAGEMAP_SCAN");
}

TEST_F_TIMEOUT(paths, pagemap_scan_written, 180)
{
	ONE_SIDE(NULL, act_pagemap_scan, NULL);
}

/* UFFDIO_MOVE takes pages out of the region (the source) and back. */
static long act_uffd_move(char **mem, size_t len)
{
	char *dst = mmap(NULL, TABLE_SZ, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct uffdio_register reg = {
		.range = { (uintptr_t)dst, TABLE_SZ },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	struct uffdio_move mv = {
		.dst = (uintptr_t)dst,
		.src = (uintptr_t)*mem + TABLE_SZ,
		.len = 16 * PAGE_SZ,
		.mode = UFFDIO_MOVE_MODE_ALLOW_SRC_HOLES,
	};
	int fd = uffd_open(UFFD_FEATURE_MOVE);
	long bad = 0;

	if (fd < 0)
		return fail("userfaultfd(UFFD_FEATURE_MOVE)");
	if (dst == MAP_FAILED || ioctl(fd, UFFDIO_REGISTER, &reg))
		return fail("UFFDIO_REGISTER");
	/*
	 * Pages mapped by two processes cannot be moved (-EBUSY), which is
	 * what stock fork leaves; the move must never take the other
	 * process's pages away from it.
	 */
	if (ioctl(fd, UFFDIO_MOVE, &mv) && errno != EBUSY)
		return fail("UFFDIO_MOVE");
	if (mv.move > 0)
		bad = check_range(dst - TABLE_SZ, dst, mv.move, 1, "moved");
	close(fd);
	munmap(dst, TABLE_SZ);
	/* Moved pages are gone from the source: fill them in again. */
	if (mv.move > 0)
		stamp_range(*mem, *mem + TABLE_SZ, mv.move, 1);
	return bad + check_range(*mem, *mem, len, 1, "after move");
}

TEST_F_TIMEOUT(paths, userfaultfd_move, 180)
{
	ONE_SIDE(NULL, act_uffd_move, NULL);
}

/* --- uprobes ---------------------------------------------------------- */

/*
 * A uprobe's breakpoint lives in a text page, a private file mapping, which
 * is never in a shared table: only private anonymous memory is. So the
 * probe must fire in both processes, and their data stay their own.
 */
#define TRACEFS		"/sys/kernel/tracing/"
#define PROBE_CALLS	100

static __attribute__((noinline)) int probed(int x)
{
	asm volatile("" : "+r"(x));
	return x * 3 + 1;
}

static long call_probed(void)
{
	long bad = 0;

	for (int i = 0; i < PROBE_CALLS; i++)
		bad += probed(i) != i * 3 + 1;
	return bad;
}

static long act_uprobe(char **mem, size_t len)
{
	return call_probed() + check_range(*mem, *mem, len, 1, "probed");
}

static long check_uprobe(char *mem, size_t len)
{
	return call_probed();
}

/* Where @fn is in the executable's file, from /proc/self/maps. */
static long file_offset(void *fn, char *exe, size_t size)
{
	unsigned long start, end, pgoff, addr = (unsigned long)fn;
	char line[512], perms[8], path[256];
	long off = -1;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %7s %lx %*s %*s %255s", &start, &end,
			   perms, &pgoff, path) == 5 &&
		    addr >= start && addr < end) {
			off = addr - start + pgoff;
			snprintf(exe, size, "%s", path);
		}
	fclose(f);
	return off;
}

static long uprobe_hits(void)
{
	char line[512], name[64];
	long hits = -1, n;
	FILE *f = fopen(TRACEFS "uprobe_profile", "r");

	if (!f)
		return -1;
	/* "  FILE EVENT HITS", the event without its group. */
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %63s %ld", name, &n) == 2 &&
		    !strcmp(name, "probed"))
			hits = n;
	fclose(f);
	return hits;
}

/* uprobe_events opened for writing without O_APPEND drops every probe. */
static int uprobe_event(const char *cmd)
{
	int fd = open(TRACEFS "uprobe_events", O_WRONLY | O_APPEND);
	ssize_t len = strlen(cmd);
	int ret;

	if (fd < 0)
		return -1;
	ret = write(fd, cmd, len) == len ? 0 : -1;
	return close(fd) || ret ? -1 : 0;
}

TEST_F_TIMEOUT(paths, uprobe_in_text, 180)
{
	char exe[256], probe[512];
	long off = file_offset((void *)probed, exe, sizeof(exe));

	if (off < 0 || access(TRACEFS "uprobe_events", W_OK))
		SKIP(return, "no uprobe events in tracefs");
	snprintf(probe, sizeof(probe), "p:cowpte_paths/probed %s:%#lx", exe,
		 off);
	ASSERT_EQ(0, uprobe_event(probe));
	ASSERT_EQ(0, knob_write(TRACEFS "events/cowpte_paths/probed/enable",
				"1"));
	ONE_SIDE(NULL, act_uprobe, check_uprobe);
	/* Both sides ran the probed function through the breakpoint. */
	EXPECT_EQ(2 * PROBE_CALLS, uprobe_hits());
	EXPECT_EQ(0, knob_write(TRACEFS "events/cowpte_paths/probed/enable",
				"0"));
	EXPECT_EQ(0, uprobe_event("-:cowpte_paths/probed"));
}

/* --- KSM -------------------------------------------------------------- */

static long ksm_read(const char *name)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
	return knob_read(path);
}

static int ksm_write(const char *name, const char *val)
{
	char path[96];

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", name);
	return knob_write(path, val);
}

/* Pages of equal content before fork, for KSM to merge afterwards. */
static long prep_ksm(char *mem, size_t len)
{
	for (char *p = mem; p < mem + len; p += PAGE_SZ)
		memset(p, p < mem + len / 2 ? 0x11 : 0x22, PAGE_SZ);
	return 0;
}

/* Wait for two full scans of ksmd, then check the region. */
static long ksm_settle(char **mem, size_t len)
{
	long scans, bad = 0;

	scans = ksm_read("full_scans");
	for (int i = 0; i < 600 && ksm_read("full_scans") < scans + 2; i++)
		usleep(50000);
	for (char *p = *mem; p < *mem + len; p += PAGE_SZ)
		bad += *(volatile char *)p != (p < *mem + len / 2 ? 0x11 : 0x22);
	return bad;
}

static long ksm_check_unmerged(char **mem, size_t len)
{
	long bad = 0;

	for (char *p = *mem; p < *mem + len; p += PAGE_SZ)
		bad += *(volatile char *)(p + 7) != (p < *mem + len / 2 ?
						     0x11 : 0x22);
	/* The bystander checks generation 1. */
	return bad;
}

/* Let ksmd merge the region, then unmerge it. */
static long act_ksm(char **mem, size_t len)
{
	long bad;

	if (madvise(*mem, len, MADV_MERGEABLE))
		return fail("madvise(MADV_MERGEABLE)");
	bad = ksm_settle(mem, len);
	if (madvise(*mem, len, MADV_UNMERGEABLE))
		return fail("madvise(MADV_UNMERGEABLE)");
	return bad + ksm_check_unmerged(mem, len);
}

#ifndef PR_SET_MEMORY_MERGE
#define PR_SET_MEMORY_MERGE	67
#endif

/* The same for the whole process: prctl(PR_SET_MEMORY_MERGE). */
static long act_ksm_prctl(char **mem, size_t len)
{
	long bad;

	if (prctl(PR_SET_MEMORY_MERGE, 1, 0, 0, 0))
		return fail("prctl(PR_SET_MEMORY_MERGE, 1)");
	bad = ksm_settle(mem, len);
	/* Switching it off unmerges every page of the process. */
	if (prctl(PR_SET_MEMORY_MERGE, 0, 0, 0, 0))
		return fail("prctl(PR_SET_MEMORY_MERGE, 0)");
	return bad + ksm_check_unmerged(mem, len);
}

static long check_ksm(char *mem, size_t len)
{
	long bad = 0;

	for (char *p = mem; p < mem + len; p += PAGE_SZ)
		bad += *(volatile char *)(p + 100) != (p < mem + len / 2 ?
						       0x11 : 0x22);
	return bad;
}

static void ksm_one_side(struct __test_metadata *_metadata, char *self_mem,
			 bool child_acts, act_fn act)
{
	long to_scan = ksm_read("pages_to_scan");
	long sleep_ms = ksm_read("sleep_millisecs");
	long run = ksm_read("run");
	char val[32];

	if (run < 0)
		SKIP(return, "no KSM");
	ASSERT_EQ(0, ksm_write("pages_to_scan", "4096"));
	ASSERT_EQ(0, ksm_write("sleep_millisecs", "10"));
	ASSERT_EQ(0, ksm_write("run", "1"));
	/* Both sides see the equal-content pattern, not the stamps. */
	prep_ksm(self_mem, REGION_SZ);
	{
		struct event acted;
		pid_t pid;
		char *mem = self_mem;

		ASSERT_EQ(0, event_init(&acted));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			long bad;

			if (child_acts) {
				bad = act(&mem, REGION_SZ);
			} else {
				event_wait(&acted);
				bad = check_ksm(mem, REGION_SZ);
			}
			stamp_range(mem, mem, REGION_SZ, 3);
			_exit(bad_to_code(bad + check_range(mem, mem, REGION_SZ,
							    3, "child")));
		}
		if (child_acts) {
			EXPECT_EQ(0, reap(pid));
			EXPECT_EQ(0, check_ksm(mem, REGION_SZ));
		} else {
			EXPECT_EQ(0, act(&mem, REGION_SZ));
			event_signal(&acted);
			EXPECT_EQ(0, reap(pid));
		}
		stamp_range(mem, mem, REGION_SZ, 2);
		EXPECT_EQ(0, check_range(mem, mem, REGION_SZ, 2, "parent"));
	}
	/* Unmerge everything, then leave KSM as it was. */
	EXPECT_EQ(0, ksm_write("run", "2"));
	snprintf(val, sizeof(val), "%ld", run == 1 ? 1L : 0L);
	EXPECT_EQ(0, ksm_write("run", val));
	snprintf(val, sizeof(val), "%ld", to_scan);
	EXPECT_EQ(0, ksm_write("pages_to_scan", val));
	snprintf(val, sizeof(val), "%ld", sleep_ms);
	EXPECT_EQ(0, ksm_write("sleep_millisecs", val));
}

/* Waits for daemons or walks all memory: slow on the debug kernel. */
TEST_F_TIMEOUT(paths, ksm_merge_unmerge, 300)
{
	ksm_one_side(_metadata, self->mem, variant->child_acts, act_ksm);
}

TEST_F_TIMEOUT(paths, ksm_prctl_memory_merge, 300)
{
	ksm_one_side(_metadata, self->mem, variant->child_acts, act_ksm_prctl);
}

/* --- GUP: vmsplice ---------------------------------------------------- */

/*
 * The classic leak: one side vmsplices its pages into a pipe and unmaps
 * them; the other side then writes. What the pipe holds must stay what the
 * first side had: the other side's writes must not show through.
 */
TEST_F_TIMEOUT(paths, vmsplice_then_unmap, 180)
{
	size_t len = 16 * PAGE_SZ;
	struct event spliced, written;
	struct iovec iov;
	int p[2];
	pid_t pid;

	ASSERT_EQ(0, pipe(p));
	ASSERT_LE((int)len, fcntl(p[1], F_SETPIPE_SZ, (int)len));
	ASSERT_EQ(0, event_init(&spliced));
	ASSERT_EQ(0, event_init(&written));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0 ? variant->child_acts : !variant->child_acts) {
		char *buf = malloc(len);
		long bad = 0;

		iov.iov_base = self->mem;
		iov.iov_len = len;
		if (vmsplice(p[1], &iov, 1, 0) != (ssize_t)len)
			bad = 1000;
		if (munmap(self->mem, len))
			bad = 1000;
		event_signal(&spliced);
		event_wait(&written);
		if (!buf || read(p[0], buf, len) != (ssize_t)len)
			bad = 1000;
		else
			bad += check_range(buf, buf, len, 1, "pipe");
		if (pid == 0)
			_exit(bad_to_code(bad));
		EXPECT_EQ(0, bad);
		EXPECT_EQ(0, reap(pid));
		/* Give the teardown a whole region to unmap. */
		self->mem = mmap(self->mem, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		free(buf);
	} else {
		event_wait(&spliced);
		stamp_range(self->mem, self->mem, len, 2);
		event_signal(&written);
		if (pid == 0)
			_exit(0);
		EXPECT_EQ(0, reap(pid));
	}
}

/* --- GUP: reads of the other process, FOLL_FORCE, pins, O_DIRECT ------ */

/* process_vm_readv from the other process sees its data, not ours. */
static long act_process_vm_readv(char **mem, size_t len)
{
	char *buf = malloc(len);
	struct iovec local = { buf, len }, remote = { *mem, len };
	long bad;

	if (!buf)
		return -1;
	stamp_range(*mem, *mem, len, 4);
	if (process_vm_readv(other_pid, &local, 1, &remote, 1, 0) !=
	    (ssize_t)len)
		return fail("process_vm_readv");
	bad = check_range(buf, buf, len, 1, "read from the other side");
	free(buf);
	return bad + check_range(*mem, *mem, len, 4, "own after read");
}

TEST_F_TIMEOUT(paths, process_vm_readv, 180)
{
	ONE_SIDE(NULL, act_process_vm_readv, NULL);
}

/*
 * ptrace(PTRACE_POKEDATA) is a FOLL_FORCE write into the other process.
 * The tracer is the acting side: it attaches, pokes one word into each
 * page of the tracee's region and detaches. The tracee sees the words;
 * the tracer, whose tables may still be the tracee's, must not. The word
 * poked is not one that stamp_range() writes, so the tracer looks for it.
 */
#define POKED	0x706f6b6564ULL

/* The pages of [mem, mem + len) whose second word was poked. */
static long poked_in(char *mem, size_t len)
{
	long n = 0;

	for (char *p = mem; p < mem + len; p += PAGE_SZ)
		n += ((volatile uint64_t *)p)[1] == POKED;
	return n;
}

static long poke_other(char *mem, size_t len, pid_t pid)
{
	long bad = 0, seen;
	int status;

	if (ptrace(PTRACE_ATTACH, pid, 0, 0))
		return fail("PTRACE_ATTACH");
	if (waitpid(pid, &status, __WALL) != pid)
		return fail("waitpid(tracee)");
	for (char *p = mem; p < mem + len; p += PAGE_SZ)
		if (ptrace(PTRACE_POKEDATA, pid, p + 8, (void *)POKED))
			bad++;
	if (ptrace(PTRACE_DETACH, pid, 0, 0))
		return fail("PTRACE_DETACH");
	seen = poked_in(mem, len);
	if (seen)
		fprintf(stderr, "# tracer: %ld of its pages hold the words it poked into the tracee\n",
			seen);
	return bad + seen + check_range(mem, mem, len, 1, "tracer");
}

/* The tracee: every page was poked; then it clears the words. */
static long poked_pages(char *mem, size_t len)
{
	long missed = len / PAGE_SZ - poked_in(mem, len);

	if (missed)
		fprintf(stderr, "# tracee: %ld pages were not poked\n", missed);
	for (char *p = mem; p < mem + len; p += PAGE_SZ)
		((uint64_t *)p)[1] = 0;
	return missed;
}

TEST_F_TIMEOUT(paths, ptrace_pokedata, 180)
{
	struct event poked;
	pid_t pid;

	ASSERT_EQ(0, event_init(&poked));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		long bad;

		if (variant->child_acts) {
			bad = poke_other(self->mem, REGION_SZ, getppid());
			event_signal(&poked);
		} else {
			/* The parent attaches to its child and pokes. */
			event_wait(&poked);
			bad = poked_pages(self->mem, REGION_SZ);
		}
		_exit(bad_to_code(bad + check_range(self->mem, self->mem,
						    REGION_SZ, 1, "child")));
	}
	if (variant->child_acts) {
		/* Stopped and resumed by the child while waiting here. */
		event_wait(&poked);
		EXPECT_EQ(0, poked_pages(self->mem, REGION_SZ));
		EXPECT_EQ(0, reap(pid));
	} else {
		EXPECT_EQ(0, poke_other(self->mem, REGION_SZ, pid));
		event_signal(&poked);
		EXPECT_EQ(0, reap(pid));
	}
	EXPECT_EQ(0, check_range(self->mem, self->mem, REGION_SZ, 1,
				 "parent"));
}

/*
 * A long-term pin (gup_test) taken by one side, read-only or for writing,
 * fast or not: the pinned pages are the ones that side maps, so the pin
 * sees its later writes, and the other side does not.
 */
static long pin_and_write(char *mem, size_t len, unsigned int flags)
{
	struct pin_longterm_test pin = {
		.addr = (uintptr_t)mem, .size = len, .flags = flags,
	};
	char *buf = malloc(len);
	uint64_t to = (uintptr_t)buf;
	long bad;
	int fd;

	fd = open("/sys/kernel/debug/gup_test", O_RDWR);
	if (fd < 0 || !buf)
		return fail("open gup_test");
	if (ioctl(fd, PIN_LONGTERM_TEST_START, &pin))
		return fail("PIN_LONGTERM_TEST_START");
	stamp_range(mem, mem, len, 6);
	if (ioctl(fd, PIN_LONGTERM_TEST_READ, &to))
		return fail("PIN_LONGTERM_TEST_READ");
	bad = 0;
	for (size_t off = 0; off < len; off += PAGE_SZ)
		bad += *(uint64_t *)(buf + off) != stamp(mem, mem + off, 6);
	if (bad)
		fprintf(stderr, "# %ld pinned pages miss the pinner's writes\n",
			bad);
	ioctl(fd, PIN_LONGTERM_TEST_STOP);
	close(fd);
	free(buf);
	stamp_range(mem, mem, len, 1);
	return bad;
}

static long act_pin_ro(char **mem, size_t len)
{
	return pin_and_write(*mem, 64 * PAGE_SZ, 0) +
	       pin_and_write(*mem + TABLE_SZ, 64 * PAGE_SZ,
			     PIN_LONGTERM_TEST_FLAG_USE_FAST);
}

static long act_pin_rw(char **mem, size_t len)
{
	return pin_and_write(*mem, 64 * PAGE_SZ,
			     PIN_LONGTERM_TEST_FLAG_USE_WRITE) +
	       pin_and_write(*mem + TABLE_SZ, 64 * PAGE_SZ,
			     PIN_LONGTERM_TEST_FLAG_USE_WRITE |
			     PIN_LONGTERM_TEST_FLAG_USE_FAST);
}

TEST_F_TIMEOUT(paths, gup_pin_read_only, 180)
{
	if (access("/sys/kernel/debug/gup_test", F_OK))
		SKIP(return, "no gup_test in debugfs");
	ONE_SIDE(NULL, act_pin_ro, NULL);
}

TEST_F_TIMEOUT(paths, gup_pin_read_write, 180)
{
	if (access("/sys/kernel/debug/gup_test", F_OK))
		SKIP(return, "no gup_test in debugfs");
	ONE_SIDE(NULL, act_pin_rw, NULL);
}

/* A scratch block device for O_DIRECT: a new zram disk. */
static char zram_dev[32];

static int zram_scratch(void)
{
	char path[96];
	int id = -1;
	FILE *f;

	if (zram_dev[0])
		return 0;
	f = fopen("/sys/class/zram-control/hot_add", "r");
	if (!f)
		return -1;
	if (fscanf(f, "%d", &id) != 1)
		id = -1;
	fclose(f);
	if (id < 0)
		return -1;
	snprintf(path, sizeof(path), "/sys/block/zram%d/disksize", id);
	f = fopen(path, "w");
	if (!f)
		return -1;
	fputs("64M", f);
	if (fclose(f))
		return -1;
	snprintf(zram_dev, sizeof(zram_dev), "/dev/zram%d", id);
	return 0;
}

/*
 * O_DIRECT write from one part of the region (a read pin), then a read of
 * that data into another part that is still shared (a write pin): what the
 * read brings in must reach this process only.
 */
static long act_odirect(char **mem, size_t len)
{
	size_t io = 256 * PAGE_SZ;
	char *from = *mem + TABLE_SZ / 2;
	char *into = *mem + 2 * TABLE_SZ + TABLE_SZ / 2;
	int fd = open(zram_dev, O_RDWR | O_DIRECT);
	long bad = 0;

	if (fd < 0)
		return fail(zram_dev);
	if (pwrite(fd, from, io, 0) != (ssize_t)io)
		return fail("O_DIRECT write");
	if (pread(fd, into, io, 0) != (ssize_t)io)
		return fail("O_DIRECT read");
	close(fd);
	for (size_t off = 0; off < io; off += PAGE_SZ)
		bad += !!memcmp(into + off, from + off, PAGE_SZ);
	if (bad)
		fprintf(stderr, "# O_DIRECT read: %ld pages differ\n", bad);
	return bad + check_range(*mem, from, io, 1, "written");
}

TEST_F_TIMEOUT(paths, odirect_read_write, 180)
{
	if (zram_scratch())
		SKIP(return, "no zram device for O_DIRECT");
	ONE_SIDE(NULL, act_odirect, NULL);
}

/*
 * io_uring fixed buffers: registering pins the pages for writing. A read
 * into the buffer lands in the registering side only.
 */
static long act_io_uring_fixed(char **mem, size_t len)
{
	struct iovec iov = { *mem + TABLE_SZ, 64 * PAGE_SZ };
	char *src = region_alloc(TABLE_SZ);
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	char path[] = "/tmp/cowpte-uring-XXXXXX";
	long bad;
	int fd, ret;

	if (!src)
		return fail("mmap");
	stamp_range(src, src, iov.iov_len, 7);
	fd = mkstemp(path);
	if (fd < 0 || write(fd, src, iov.iov_len) != (ssize_t)iov.iov_len)
		return fail("temporary file");
	unlink(path);
	ret = io_uring_queue_init(4, &ring, 0);
	if (ret) {
		errno = -ret;
		return fail("io_uring_queue_init");
	}
	ret = io_uring_register_buffers(&ring, &iov, 1);
	if (ret) {
		errno = -ret;
		return fail("io_uring_register_buffers");
	}
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read_fixed(sqe, fd, iov.iov_base, iov.iov_len, 0, 0);
	io_uring_submit(&ring);
	ret = io_uring_wait_cqe(&ring, &cqe);
	if (ret || cqe->res != (int)iov.iov_len) {
		errno = ret ? -ret : EIO;
		return fail("READ_FIXED");
	}
	io_uring_cqe_seen(&ring, cqe);
	io_uring_queue_exit(&ring);
	close(fd);
	/* The file holds what was stamped at @src. */
	bad = 0;
	for (size_t off = 0; off < iov.iov_len; off += PAGE_SZ)
		bad += memcmp((char *)iov.iov_base + off, src + off, PAGE_SZ) != 0;
	munmap(src, TABLE_SZ);
	stamp_range(*mem, iov.iov_base, iov.iov_len, 1);
	return bad + check_range(*mem, *mem, len, 1, "after io_uring");
}

TEST_F_TIMEOUT(paths, io_uring_fixed_buffers, 180)
{
	ONE_SIDE(NULL, act_io_uring_fixed, NULL);
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

/* --- pkeys, brk, swapoff, OOM ------------------------------------------ */

static long act_pkey(char **mem, size_t len)
{
	int pkey = syscall(SYS_pkey_alloc, 0, 0);
	long bad;

	if (pkey < 0)
		return fail("pkey_alloc");
	if (syscall(SYS_pkey_mprotect, *mem + TABLE_SZ, TABLE_SZ,
		    PROT_READ | PROT_WRITE, pkey))
		return fail("pkey_mprotect");
	bad = check_range(*mem, *mem, len, 1, "keyed");
	if (syscall(SYS_pkey_mprotect, *mem + TABLE_SZ, TABLE_SZ,
		    PROT_READ | PROT_WRITE, 0))
		return fail("pkey_mprotect back");
	syscall(SYS_pkey_free, pkey);
	return bad;
}

TEST_F_TIMEOUT(paths, pkey_mprotect, 180)
{
	int pkey = syscall(SYS_pkey_alloc, 0, 0);

	if (pkey < 0)
		SKIP(return, "no protection keys: %s", strerror(errno));
	syscall(SYS_pkey_free, pkey);
	ONE_SIDE(NULL, act_pkey, NULL);
}

/* The heap over whole tables, shrunk with brk() into the middle of one. */
TEST_F_TIMEOUT(paths, brk_shrink, 180)
{
	char *cur = sbrk(0), *heap, *end;
	size_t len = 2 * TABLE_SZ;
	pid_t pid;

	heap = (char *)(((uintptr_t)cur + TABLE_SZ - 1) & ~(TABLE_SZ - 1));
	end = heap + len;
	ASSERT_EQ(0, brk(end));
	stamp_range(heap, heap, len, 1);
	pid = fork();
	ASSERT_LE(0, pid);
	if ((pid == 0) == variant->child_acts) {
		long bad = 0;

		/* Into the second table, then back up. */
		if (brk(heap + TABLE_SZ + 3 * PAGE_SZ) || brk(end))
			bad = 1000;
		bad += check_range(heap, heap, TABLE_SZ + 3 * PAGE_SZ, 1,
				  "kept");
		bad += check_range(heap, heap + TABLE_SZ + 3 * PAGE_SZ,
				   TABLE_SZ - 3 * PAGE_SZ, 0, "regrown");
		stamp_range(heap, heap, len, 2);
		if (pid == 0)
			_exit(bad_to_code(bad));
		EXPECT_EQ(0, bad);
		EXPECT_EQ(0, reap(pid));
	} else {
		if (pid == 0) {
			usleep(200000);
			_exit(bad_to_code(check_range(heap, heap, len, 1,
						      "child")));
		}
		EXPECT_EQ(0, reap(pid));
		EXPECT_EQ(0, check_range(heap, heap, len, 1, "parent"));
	}
	brk(cur);
}

/* swapoff with the region swapped out before and after the fork. */
static char swap_dev[64];

static long act_swapoff(char **mem, size_t len)
{
	if (madvise(*mem, len / 2, MADV_PAGEOUT))
		return fail("MADV_PAGEOUT");
	if (syscall(SYS_swapoff, swap_dev))
		return fail("swapoff");
	if (syscall(SYS_swapon, swap_dev, 0))
		return fail("swapon");
	return check_range(*mem, *mem, len, 1, "after swapoff");
}

/* The swap device, into swap_dev; false when there is none. */
static bool find_swap_dev(void)
{
	FILE *f = fopen("/proc/swaps", "r");
	char line[256];

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (line[0] == '/')
			sscanf(line, "%63s", swap_dev);
	fclose(f);
	return swap_dev[0];
}

/* Waits for daemons or walks all memory: slow on the debug kernel. */
TEST_F_TIMEOUT(paths, swapoff, 300)
{
	if (!find_swap_dev())
		SKIP(return, "no swap device");
	ONE_SIDE(prep_pageout, act_swapoff, NULL);
}

/*
 * A memory cgroup for a process to be charged in; with @max, limited to
 * that and without swap. Returns 0, or a reason to skip.
 */
static const char *mem_cgroup_make(char *cg, const char *max)
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
static int cgroup_enter(const char *cg)
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

/* Bytes of page tables charged to the memory cgroup at @cg, or -1. */
static long cgroup_pagetables(const char *cg)
{
	char path[96], key[64];
	long v, ret = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/memory.stat", cg);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (ret < 0 && fscanf(f, "%63s %ld", key, &v) == 2)
		if (!strcmp(key, "pagetables"))
			ret = v;
	fclose(f);
	return ret;
}

static char charge_cg[] = "/sys/fs/cgroup/cowpte-pt-XXXXXX";
static bool charge_copies;

/*
 * Wait up to 10 s for the page tables charged to the test cgroup to grow by
 * @want bytes from @before; returns how much they grew. memory.stat shows
 * small changes only after the periodic stats flush (every 2 s), which is
 * deferrable work: an idle CPU holding its timer would not run it, so the
 * wait visits every CPU in turn.
 */
static long charged_since(long before, long want)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN), got = 0;
	cpu_set_t old, one;

	if (sched_getaffinity(0, sizeof(old), &old))
		return -1;
	for (int i = 0; i < 20; i++) {
		got = cgroup_pagetables(charge_cg) - before;
		if (got >= want)
			break;
		CPU_ZERO(&one);
		CPU_SET(i % (ncpu > 0 ? ncpu : 1), &one);
		sched_setaffinity(0, sizeof(one), &one);
		usleep(500 * 1000);
	}
	sched_setaffinity(0, sizeof(old), &old);
	return got;
}

/*
 * A device read from inside a memory cgroup: the copies it makes of shared
 * tables are page tables of this side like any other, and must be charged
 * to its cgroup.
 */
static long act_hmm_charged(char **mem, size_t len)
{
	long want = NR_TABLES * PAGE_SZ, before, got = 0, bad;

	if (cgroup_enter(charge_cg))
		return fail("entering the test cgroup");
	before = cgroup_pagetables(charge_cg);
	if (before < 0)
		return fail("memory.stat of the test cgroup");
	bad = hmm_each_table(*mem, HMM_DMIRROR_READ, "HMM_DMIRROR_READ");
	if (charge_copies && !bad)
		got = charged_since(before, want);
	if (charge_copies && !bad && got < want) {
		fprintf(stderr, "# %ld bytes of page tables charged, not %ld\n",
			got, want);
		bad++;
	}
	/* Out again, so that the test can remove the cgroup. */
	if (cgroup_enter("/sys/fs/cgroup"))
		return fail("leaving the test cgroup");
	return bad;
}

TEST_F_TIMEOUT(paths, device_copy_charged, 180)
{
	const char *why;

	if (access(HMM_DEV, F_OK))
		SKIP(return, "no " HMM_DEV " (CONFIG_TEST_HMM)");
	why = mem_cgroup_make(charge_cg, NULL);
	if (why)
		SKIP(return, "%s", why);
	charge_copies = variant->cow_pte;
	ONE_SIDE(NULL, act_hmm_charged, NULL);
	rmdir(charge_cg);
}

/*
 * Reclaim in a memory cgroup takes the region's pages whoever maps them:
 * its reverse-map walk unmaps each page from every mm, through a table
 * they share or through their own (stock fork). Each side's swap counter
 * then counts the entries in its tables, and both read their data back
 * from swap.
 */
static char reclaim_cg[] = "/sys/fs/cgroup/cowpte-rc-XXXXXX";

/* Before fork: the region's pages, faulted in again, are the cgroup's. */
static long prep_reclaim(char *mem, size_t len)
{
	if (cgroup_enter(reclaim_cg))
		return fail("entering the test cgroup");
	if (madvise(mem, len, MADV_DONTNEED))
		return fail("MADV_DONTNEED");
	stamp_range(mem, mem, len, 1);
	return 0;
}

static long act_memcg_reclaim(char **mem, size_t len)
{
	char path[96], amount[32];
	long swapped, bad;
	int fd;

	snprintf(path, sizeof(path), "%s/memory.reclaim", reclaim_cg);
	snprintf(amount, sizeof(amount), "%zu", 2 * len);
	fd = open(path, O_WRONLY);
	if (fd < 0)
		return fail(path);
	/* EAGAIN: less than asked for; what the region lost counts. */
	if (write(fd, amount, strlen(amount)) < 0 && errno != EAGAIN)
		return fail("memory.reclaim");
	close(fd);
	swapped = pagemap_count(*mem, len, PM_SWAP);
	fprintf(stderr, "# reclaim swapped out %ld of the region's %zu pages\n",
		swapped, len / PAGE_SZ);
	if (swapped <= 0)
		return 1;
	bad = swap_counted(0, *mem, len);
	if (!bad)
		bad = swap_counted(other_pid, *mem, len);
	if (bad)
		return bad;
	return check_range(*mem, *mem, len, 1, "reclaimed");
}

TEST_F_TIMEOUT(paths, memcg_reclaim, 180)
{
	const char *why = mem_cgroup_make(reclaim_cg, NULL);

	if (why)
		SKIP(return, "%s", why);
	ONE_SIDE(prep_reclaim, act_memcg_reclaim, NULL);
	cgroup_enter("/sys/fs/cgroup");
	rmdir(reclaim_cg);
}

/*
 * A child over its memory cgroup limit is OOM-killed, and the OOM reaper
 * takes its memory while it holds shared tables: either it was copying
 * them (child_acts) or it only held them and allocated elsewhere. The
 * parent keeps its data either way.
 */
TEST_F_TIMEOUT(paths, oom_kill_child, 120)
{
	char cg[] = "/sys/fs/cgroup/cowpte-oom-XXXXXX";
	const char *why = mem_cgroup_make(cg, "4M");
	pid_t pid;

	if (why)
		SKIP(return, "%s", why);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		char *more;

		if (cgroup_enter(cg))
			_exit(99);
		/* 8 MiB of copies, or of new memory, in a 4 MiB cgroup. */
		if (variant->child_acts) {
			stamp_range(self->mem, self->mem, REGION_SZ, 3);
		} else {
			more = region_alloc(REGION_SZ);
			if (more)
				stamp_range(more, more, REGION_SZ, 3);
		}
		_exit(0);
	}
	EXPECT_EQ(128 + SIGKILL, reap(pid));
	EXPECT_EQ(0, check_range(self->mem, self->mem, REGION_SZ, 1,
				 "parent"));
	rmdir(cg);
}

/* The kernel log has said @what since it was opened; 1, 0, or -1. */
static int kmsg_says(int fd, const char *what)
{
	char rec[2048];
	ssize_t n;

	for (;;) {
		n = read(fd, rec, sizeof(rec) - 1);
		if (n < 0 && errno == EPIPE)	/* overwritten records */
			continue;
		if (n <= 0)
			return n < 0 && errno == EAGAIN ? 0 : -1;
		rec[n] = 0;
		if (strstr(rec, what))
			return 1;
	}
}

struct mm_holder {
	pid_t pid;
	char *from, *to;
	ssize_t got;
};

/*
 * Read a page of another process into a buffer of ours that userfaultfd
 * keeps unpopulated: the copy then waits in the fault, holding a reference
 * on the other process's mm, so that its exit cannot free the mm and the
 * OOM reaper gets to it first.
 */
static void *hold_mm(void *arg)
{
	struct mm_holder *h = arg;
	struct iovec local = { .iov_base = h->to, .iov_len = PAGE_SZ };
	struct iovec remote = { .iov_base = h->from, .iov_len = PAGE_SZ };

	h->got = process_vm_readv(h->pid, &local, 1, &remote, 1, 0);
	return NULL;
}

/*
 * The OOM reaper on a process that forked: the victim forks a child that
 * shares its tables (and the test's), is OOM-killed, and the reaper, not
 * exit, unmaps its memory. Only the victim's references to the shared
 * tables may go: its child and the test keep their data. The victim either
 * was copying tables when it was killed (!child_acts), or its child had
 * copied its own before (child_acts).
 */
TEST_F_TIMEOUT(paths, oom_reap_forked, 180)
{
	char cg[] = "/sys/fs/cgroup/cowpte-oom-XXXXXX", reaped[64];
	const char *why = mem_cgroup_make(cg, "4M");
	struct event go, check;
	struct uffd_msg msg;
	struct mm_holder h = { .from = self->mem + REGION_SZ - PAGE_SZ };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_zeropage zero;
	struct pollfd pfd = { .events = POLLIN };
	pthread_t thread;
	int ready[2], kmsg, says = 0;
	pid_t child;

	if (why)
		SKIP(return, "%s", why);
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg < 0) {
		rmdir(cg);
		SKIP(return, "/dev/kmsg: %s", strerror(errno));
	}
	lseek(kmsg, 0, SEEK_END);
	/* The child, orphaned by the kill, is ours to wait for. */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, event_init(&go));
	ASSERT_EQ(0, event_init(&check));
	h.pid = fork();
	ASSERT_LE(0, h.pid);
	if (h.pid == 0) {
		child = fork();
		if (child < 0)
			_exit(98);
		if (child == 0) {
			uint64_t gen = 1;
			long bad;

			if (variant->child_acts) {
				gen = 3;
				stamp_range(self->mem, self->mem, REGION_SZ, gen);
			}
			child = getpid();
			if (write(ready[1], &child, sizeof(child)) != sizeof(child))
				_exit(97);
			event_wait(&check);
			bad = check_range(self->mem, self->mem, REGION_SZ,
					  gen, "child");
			stamp_range(self->mem, self->mem, REGION_SZ, 4);
			bad += check_range(self->mem, self->mem, REGION_SZ, 4,
					   "child");
			_exit(bad_to_code(bad));
		}
		if (cgroup_enter(cg))
			_exit(99);
		event_wait(&go);
		/* 8 MiB of copies, or of new memory, in a 4 MiB cgroup. */
		if (!variant->child_acts) {
			stamp_range(self->mem, self->mem, REGION_SZ, 5);
		} else {
			char *more = region_alloc(REGION_SZ);

			if (more)
				stamp_range(more, more, REGION_SZ, 5);
		}
		_exit(0);
	}
	ASSERT_EQ(sizeof(child), read(ready[0], &child, sizeof(child)));

	/* Hold the victim's mm from a thread waiting in a userfault. */
	h.to = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, h.to);
	reg.range = (struct uffdio_range){ (unsigned long)h.to, PAGE_SZ };
	zero = (struct uffdio_zeropage){ .range = reg.range };
	pfd.fd = uffd_open(0);
	ASSERT_LE(0, pfd.fd);
	ASSERT_EQ(0, ioctl(pfd.fd, UFFDIO_REGISTER, &reg));
	ASSERT_EQ(0, pthread_create(&thread, NULL, hold_mm, &h));
	ASSERT_EQ(1, poll(&pfd, 1, 60000));
	ASSERT_EQ(sizeof(msg), read(pfd.fd, &msg, sizeof(msg)));

	event_signal(&go);
	EXPECT_EQ(128 + SIGKILL, reap(h.pid));
	/* The reaper gives the victim 2 s to exit on its own first. */
	snprintf(reaped, sizeof(reaped), "oom_reaper: reaped process %d (",
		 h.pid);
	for (int i = 0; i < 600 && !says; i++) {
		says = kmsg_says(kmsg, reaped);
		if (!says)
			usleep(100000);
	}
	EXPECT_EQ(1, says);

	/* Let the copy finish; the victim's mm is freed when it lets go. */
	EXPECT_EQ(0, ioctl(pfd.fd, UFFDIO_ZEROPAGE, &zero));
	EXPECT_EQ(0, pthread_join(thread, NULL));
	EXPECT_EQ(PAGE_SZ, h.got);
	close(pfd.fd);
	event_signal(&check);
	EXPECT_EQ(0, reap(child));
	EXPECT_EQ(0, check_range(self->mem, self->mem, REGION_SZ, 1, "test"));
	munmap(h.to, PAGE_SZ);
	close(kmsg);
	rmdir(cg);
}

/* --- khugepaged --------------------------------------------------------- */

static long khugepaged_read(const char *name)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path),
		 "/sys/kernel/mm/transparent_hugepage/khugepaged/%s", name);
	f = fopen(path, "r");
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

/* The daemon passes over the region twice; it leaves shared tables be. */
static long act_khugepaged(char **mem, size_t len)
{
	long scans;

	if (madvise(*mem, len, MADV_HUGEPAGE))
		return fail("madvise(MADV_HUGEPAGE)");
	scans = khugepaged_read("full_scans");
	for (int i = 0; i < 300 && khugepaged_read("full_scans") < scans + 2;
	     i++)
		usleep(50000);
	return check_range(*mem, *mem, len, 1, "after khugepaged");
}

static int khugepaged_sleep(long ms)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/khugepaged/"
			"scan_sleep_millisecs", "w");

	if (!f)
		return -1;
	fprintf(f, "%ld", ms);
	return fclose(f);
}

/* Waits for daemons or walks all memory: slow on the debug kernel. */
TEST_F_TIMEOUT(paths, khugepaged_daemon, 300)
{
	long sleep_ms = khugepaged_read("scan_sleep_millisecs");

	if (sleep_ms < 0 || khugepaged_sleep(10))
		SKIP(return, "no khugepaged");
	ONE_SIDE(NULL, act_khugepaged, NULL);
	/* A fast khugepaged would collapse what later tests split. */
	EXPECT_EQ(0, khugepaged_sleep(sleep_ms));
}

/* --- page allocation failures ----------------------------------------- */

/*
 * With the next page allocation failing, mprotect and MADV_FREE of shared
 * tables fail with ENOMEM and change nothing, and a write fault is retried
 * until it works. Without COW PTE they allocate nothing and succeed.
 */
static long act_nomem(char **mem, size_t len)
{
	int fd = arm_page_alloc_failures(false);
	long bad = 0;
	int ret, err;

	if (fd < 0)
		return fail("fail_page_alloc");
	fail_next(fd, "1");
	ret = mprotect(*mem, len, PROT_READ);
	err = errno;
	fail_next(fd, "0");
	if (sharing ? ret != -1 || err != ENOMEM : ret != 0) {
		fprintf(stderr, "# mprotect: %d (%s)\n", ret, strerror(err));
		bad++;
	}
	if (ret == 0 && mprotect(*mem, len, PROT_READ | PROT_WRITE))
		return fail("mprotect back");
	/* Still writable (written below) and intact. */
	bad += check_range(*mem, *mem, len, 1, "after mprotect");

	fail_next(fd, "1");
	ret = madvise(*mem, len, MADV_FREE);
	err = errno;
	fail_next(fd, "0");
	if (sharing ? ret != -1 || err != ENOMEM : ret != 0) {
		fprintf(stderr, "# MADV_FREE: %d (%s)\n", ret, strerror(err));
		bad++;
	}
	if (ret)
		bad += check_range(*mem, *mem, len, 1, "after MADV_FREE");

	fail_next(fd, "1");
	stamp_range(*mem, *mem, PAGE_SZ, 5);
	fail_next(fd, "0");
	close(fd);
	bad += check_range(*mem, *mem, PAGE_SZ, 5, "written");
	return bad;
}

TEST_F_TIMEOUT(paths, enomem_mprotect_madvise_fault, 180)
{
	if (access("/sys/kernel/debug/fail_page_alloc", F_OK))
		SKIP(return, "no fail_page_alloc in debugfs");
	sharing = variant->cow_pte;
	ONE_SIDE(NULL, act_nomem, NULL);
}

/*
 * A swap entry in a shared table is counted once for all its sharers; each
 * break adds one count, and past SWAP_MAP_MAX (62) a count needs a
 * continuation page. A zap of part of a table cannot fail, so neither may
 * the break it starts with when that page is not to be had at once:
 * zapping a table still shared would take the page from every sharer.
 * Here each grandchild of the acting side zaps one page, with its page
 * allocations failing unless they may not fail, and stays alive, so that
 * the swap count climbs past the point where a continuation is needed.
 */
#define SWAP_COUNT_BREAKS	70	/* > SWAP_MAP_MAX: one crosses it */

static long prep_swap_one(char *mem, size_t len)
{
	/*
	 * A continuation page, once there, serves every entry of its part of
	 * the swap map until swapoff: earlier forks must not have left one.
	 */
	if (syscall(SYS_swapoff, swap_dev))
		return fail("swapoff");
	if (syscall(SYS_swapon, swap_dev, 0))
		return fail("swapon");
	if (madvise(mem + PAGE_SZ, PAGE_SZ, MADV_PAGEOUT))
		return fail("MADV_PAGEOUT");
	if (pagemap_count(mem + PAGE_SZ, PAGE_SZ, PM_SWAP) != 1) {
		fprintf(stderr, "# the page was not swapped out\n");
		return -1;
	}
	return 0;
}

/*
 * A grandchild: zap page 2 while its allocations fail, report its wrong
 * pages (or 100 when it could not try) and hold on.
 */
static void zap_one_failing(char *mem, size_t len, int ready, int hold)
{
	char *zapped = mem + 2 * PAGE_SZ;
	int fd = arm_page_alloc_failures(false);
	bool zapped_it = false;
	int err = errno;
	long bad = 100;
	char c;

	if (fd >= 0) {
		fail_next(fd, "100");
		zapped_it = !madvise(zapped, PAGE_SZ, MADV_DONTNEED);
		err = errno;
		fail_next(fd, "0");
		close(fd);
	}
	if (zapped_it) {
		/* Not the swapped page: its swap-in would give the count back. */
		bad = check_range(mem, zapped, PAGE_SZ, 0, "grandchild, zapped");
		bad += check_range(mem, mem, PAGE_SZ, 1, "grandchild");
		bad += check_range(mem, zapped + PAGE_SZ, len - 3 * PAGE_SZ, 1,
				   "grandchild");
	} else {
		fprintf(stderr, "# grandchild: fail_page_alloc or MADV_DONTNEED: %s\n",
			strerror(err));
	}
	/* The parent waits for every report: send one whatever happened. */
	c = bad_to_code(bad);
	if (write(ready, &c, 1) != 1)
		_exit(95);
	/* Keep this mm's count on the swap entry until the last one zapped. */
	if (read(hold, &c, 1) < 0)
		_exit(96);
	_exit(0);
}

static long act_zap_swap_count(char **mem, size_t len)
{
	int ready[2], hold[2], n;
	pid_t pids[SWAP_COUNT_BREAKS];
	long bad = 0;
	char c;

	if (pipe(ready) || pipe(hold))
		return fail("pipe");
	for (n = 0; n < SWAP_COUNT_BREAKS; n++) {
		pids[n] = fork();
		if (pids[n] < 0) {
			bad = fail("fork");
			break;
		}
		if (pids[n] == 0) {
			close(ready[0]);
			close(hold[1]);
			zap_one_failing(*mem, len, ready[1], hold[0]);
		}
		if (read(ready[0], &c, 1) != 1) {
			bad = fail("read");
			n++;
			break;
		}
		bad += c;
	}
	close(hold[1]);
	for (int i = 0; i < n; i++)
		if (reap(pids[i]) && bad >= 0)
			bad++;
	close(hold[0]);
	close(ready[0]);
	close(ready[1]);
	if (bad < 0)
		return bad;
	return bad + check_range(*mem, *mem, len, 1, "after the zaps");
}

TEST_F_TIMEOUT(paths, zap_swap_count_continuation, 300)
{
	if (access("/sys/kernel/debug/fail_page_alloc", F_OK))
		SKIP(return, "no fail_page_alloc in debugfs");
	if (!find_swap_dev())
		SKIP(return, "no swap device");
	ONE_SIDE(prep_swap_one, act_zap_swap_count, NULL);
}

TEST_HARNESS_MAIN
