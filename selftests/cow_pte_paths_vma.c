// SPDX-License-Identifier: GPL-2.0
/*
 * Path tests, VMAs and protections: mprotect, mremap, madvise, mlock and
 * mincore, protection keys and brk, each reaching a PTE table that fork
 * left shared. The fixture and the one-side machinery they run on are in
 * paths_common.h.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/syscall.h>

#include "paths_common.h"

/* --- mprotect --------------------------------------------------------- */

/*
 * Whether touching the first and a middle page of every table of the region
 * raises SIGSEGV. A shared table is write-protected at the PMD, but its
 * entries stay readable: only a private copy can carry PROT_NONE.
 */
static long region_faults(char *mem, size_t len, bool write, const char *what)
{
	static const size_t page_off[] = { 0, 301 * PAGE_SZ };
	long bad = 0;

	for (size_t off = 0; off < len; off += TABLE_SZ) {
		for (size_t i = 0; i < ARRAY_SIZE(page_off); i++) {
			char *p = mem + off + page_off[i];

			if (touch_raises(p, write, SIGSEGV))
				continue;
			fprintf(stderr, "# %s: %s of %p did not fault\n",
				what, write ? "write" : "read", p);
			bad++;
		}
	}
	return bad;
}

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
	copied = vmstat_read("cow_pte_copied");
	if (remap_region(*mem, len))
		return -1;
	copied = vmstat_read("cow_pte_copied") - copied;
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

/* --- pkeys, brk ------------------------------------------------------- */

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
	if (pid == 0 ? variant->child_acts : !variant->child_acts) {
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

TEST_HARNESS_MAIN
