/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the cow_pte_paths_* programs share. They drive every page-table path
 * besides faults and zaps through a PTE table that fork left shared, one
 * program per area: cow_pte_paths_vma (mprotect, mremap, madvise, mlock),
 * cow_pte_paths_proc (/proc reports, migration, NUMA, memory failure),
 * cow_pte_paths_dev (device memory, userfaultfd, uprobes, GUP) and
 * cow_pte_paths_reclaim (KSM, swap, memory cgroups, OOM, khugepaged, page
 * allocation failures).
 *
 * Each test runs eight times: stock fork, COW PTE (shared PTE tables), and
 * shared PMD tables over 4 KiB pages and over THPs, with the operation done
 * by the parent and, separately, by the child. The side that acts checks
 * what it sees afterwards; the other side must still see its own data, and
 * each side's later writes must stay its own. The stock runs show what the
 * kernel did before COW PTE, which the COW PTE runs must match.
 *
 * The fixture and its variants belong in each program's own translation
 * unit, which registers them with the harness, and so does one_side(),
 * which reports through the harness's EXPECT and ASSERT: kselftest_harness.h
 * has a static runner only TEST_HARNESS_MAIN uses. The other helpers that
 * more than one program uses are in paths_common.c, built once and linked
 * into each program; it defines PATHS_HELPERS_ONLY to get only their
 * declarations from here.
 */
#ifndef PATHS_COMMON_H
#define PATHS_COMMON_H

#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#ifndef PATHS_HELPERS_ONLY
#include "kselftest_harness.h"
#endif
#include "cowpte_util.h"

#define NR_TABLES	4
#define REGION_SZ	(NR_TABLES * TABLE_SZ)
#define NR_PAGES	(REGION_SZ / PAGE_SZ)

/* /proc/PID/pagemap bits (Documentation/admin-guide/mm/pagemap.rst) */
#ifndef BIT_ULL
#define BIT_ULL(nr)		(1ULL << (nr))
#endif
#define PM_SOFT_DIRTY		BIT_ULL(55)
#define PM_MMAP_EXCLUSIVE	BIT_ULL(56)
#define PM_SWAP			BIT_ULL(62)
#define PM_PRESENT		BIT_ULL(63)

/* What the acting side does; returns its wrong pages, or -1 on error. */
typedef long (*act_fn)(char **mem, size_t len);
/* Extra checks by the other side, or setup before fork; same returns. */
typedef long (*side_fn)(char *mem, size_t len);

/*
 * In paths_common.c, with their comments: the process on the other side of
 * the fork, the jump out of an expected fault, and whether a test's tables
 * are shared (set by the tests that need it).
 */
extern pid_t other_pid;
extern sigjmp_buf fault_jmp;
extern bool sharing;

/* Helpers of more than one program, also in paths_common.c. */
long fail(const char *what);
void on_fault(int sig);
bool touch_raises(char *p, bool write, int sig);
long pagemap_count_of(pid_t pid, char *mem, size_t len, uint64_t bits);
long pagemap_count(char *mem, size_t len, uint64_t bits);
long prep_pageout(char *mem, size_t len);
long act_read(char **mem, size_t len);
int uffd_open(uint64_t features);

#ifndef PATHS_HELPERS_ONLY

FIXTURE(paths) {
	char *mem;
	struct baseline base;
	/* The test's fork must share no table, even with COW PTE. */
	bool shares_none;
	/* The mapping that holds the region, and vm.cow_pte_pmd before. */
	char *map;
	size_t map_len;
	long pmd_knob;
};

/*
 * With @pmd, the region is the start of a GiB that one VMA covers, and
 * fork shares its PMD table (vm.cow_pte_pmd=1) instead of its PTE tables;
 * the path then meets a shared PUD entry first. With @thp, the region is
 * mapped by THPs (where the kernel gives them), which the PMD table maps
 * directly.
 */
FIXTURE_VARIANT(paths) {
	bool cow_pte;
	bool child_acts;
	bool pmd;
	bool thp;
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

FIXTURE_VARIANT_ADD(paths, cow_pmd_parent) {
	.cow_pte = true, .child_acts = false, .pmd = true,
};

FIXTURE_VARIANT_ADD(paths, cow_pmd_child) {
	.cow_pte = true, .child_acts = true, .pmd = true,
};

FIXTURE_VARIANT_ADD(paths, cow_pmd_thp_parent) {
	.cow_pte = true, .child_acts = false, .pmd = true, .thp = true,
};

FIXTURE_VARIANT_ADD(paths, cow_pmd_thp_child) {
	.cow_pte = true, .child_acts = true, .pmd = true, .thp = true,
};

FIXTURE_SETUP(paths)
{
	self->pmd_knob = -1;
	if (stock_variant_skipped(variant->cow_pte))
		SKIP(return, "stock fork reference (COWPTE_SKIP_STOCK)");
	if (variant->pmd && getenv("COWPTE_SKIP_PMD"))
		SKIP(return, "PMD-level variants elsewhere (COWPTE_SKIP_PMD)");
	if (variant->cow_pte && cow_pte_enable())
		SKIP(return, "COW PTE not available: %s", strerror(errno));
	if (variant->pmd) {
		self->pmd_knob = knob_read(PMD_KNOB);
		if (self->pmd_knob < 0)
			SKIP(return, "no " PMD_KNOB);
		ASSERT_EQ(0, knob_write(PMD_KNOB, "1"));
	}
	baseline_take(&self->base);
	self->map_len = variant->pmd ? GIB : REGION_SZ;
	self->map = region_map(self->map_len, variant->pmd ? GIB : TABLE_SZ,
			       variant->pmd ? MAP_NORESERVE : 0, variant->thp);
	ASSERT_NE(NULL, self->map);
	self->mem = self->map;
	stamp_range(self->mem, self->mem, REGION_SZ, 1);
}

/* Nothing leaked, and with COW PTE the tables really were shared. */
FIXTURE_TEARDOWN(paths)
{
	bool shared = variant->cow_pte && !self->shares_none;
	char val[24];

	if (self->pmd_knob >= 0) {
		snprintf(val, sizeof(val), "%ld", self->pmd_knob);
		knob_write(PMD_KNOB, val);
	}
	if (!self->mem)
		return;
	/* Where the test left the region, and what is left of the GiB. */
	munmap(self->mem, REGION_SZ);
	munmap(self->map, self->map_len);
	/* A test that skipped before forking shared nothing. */
	if (_metadata->exit_code == KSFT_SKIP)
		return;
	/*
	 * A shared PMD table leaves PTE tables shared where a break made
	 * them so, however many.
	 */
	EXPECT_BASELINE_PMD(&self->base,
			    !shared ? 0 : variant->pmd ? -1 : NR_TABLES,
			    shared && variant->pmd ? 1 : 0, 2048);
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

#endif /* PATHS_HELPERS_ONLY */

#endif /* PATHS_COMMON_H */
