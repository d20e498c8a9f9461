// SPDX-License-Identifier: GPL-2.0
/*
 * PMD tables shared by fork (vm.cow_pte_pmd=1): a GiB that one VMA covers
 * is shared as one PMD table, and every change below it, by either side,
 * must stay its own. Each case checks that the table was shared (or
 * copied, reused, dropped) by the cow_pmd_* counters, so that it fails
 * on a kernel that does not share PMD tables, and checks the data of both
 * sides page by page.
 *
 * Two backings: 4 KiB pages (PTE tables below the PMD table), and THP
 * with some huge zero pages and one THP split into a PTE table.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/syscall.h>

#include "kselftest_harness.h"
#include "cowpte_util.h"

#define STRIDE		(64 * PAGE_SZ)	/* stamped pages: 8 per PTE table */
#define KNOB		PMD_KNOB

FIXTURE(cow_pmd) {
	char *mem;
	long knob;
};

FIXTURE_VARIANT(cow_pmd) {
	bool thp;
};

FIXTURE_VARIANT_ADD(cow_pmd, pages_4k) { .thp = false };
FIXTURE_VARIANT_ADD(cow_pmd, thp) { .thp = true };

/*
 * Every 8th 2 MiB is left as it was mapped: empty with 4 KiB pages, the
 * huge zero page under THP.
 */
static bool unstamped(const char *mem, const char *p)
{
	return (p - mem) / TABLE_SZ % 8 == 4;
}

/* Stamp generation @gen into every STRIDE-th page of the GiB. */
static void stamp_all(char *mem, uint64_t gen)
{
	for (char *p = mem; p < mem + GIB; p += STRIDE)
		if (!unstamped(mem, p))
			WRITE_ONCE(*(uint64_t *)p, stamp(mem, p, gen));
}

/* How many stamped pages do not hold @gen. */
static long check_all(const char *mem, uint64_t gen, const char *who)
{
	long bad = 0;

	for (const char *p = mem; p < mem + GIB; p += STRIDE) {
		uint64_t v;

		/* Not even a read there: it would fill the table. */
		if (unstamped(mem, p))
			continue;
		v = READ_ONCE(*(const uint64_t *)p);
		if (v == stamp(mem, p, gen))
			continue;
		if (bad++ < 4)
			fprintf(stderr, "# %s: page %ld holds %#lx, want %#lx\n",
				who, (long)((p - mem) / PAGE_SZ),
				(unsigned long)v,
				(unsigned long)stamp(mem, p, gen));
	}
	return bad;
}

FIXTURE_SETUP(cow_pmd)
{
	self->knob = knob_read(KNOB);
	if (self->knob < 0)
		SKIP(return, "no " KNOB " (kernel without PMD-level COW PTE)");
	ASSERT_EQ(0, knob_write(KNOB, "1"));
	ASSERT_EQ(0, cow_pte_enable());
	self->mem = region_map(GIB, GIB, MAP_NORESERVE, variant->thp);
	ASSERT_NE(NULL, self->mem);
	/*
	 * Under THP the GiB is first mapped by read faults to the huge zero
	 * page; the stamps then split most of it into PTE tables, but every
	 * 8th 2 MiB is written whole first (a THP), and one THP is split
	 * into a PTE table by unmapping one page of it.
	 */
	if (variant->thp) {
		ASSERT_EQ(0, madvise(self->mem, GIB, MADV_POPULATE_READ));
		for (size_t off = 0; off < GIB; off += 8 * TABLE_SZ)
			self->mem[off + 8] = 1;
		ASSERT_EQ(0, madvise(self->mem + TABLE_SZ * 8 + PAGE_SZ * 3,
				     PAGE_SZ, MADV_DONTNEED));
	}
	stamp_all(self->mem, 1);
}

FIXTURE_TEARDOWN(cow_pmd)
{
	char val[24];

	if (self->knob < 0)
		return;
	snprintf(val, sizeof(val), "%ld", self->knob);
	knob_write(KNOB, val);
}

/* Counters of PMD tables shared, copied, reused, dropped. */
struct pmd_counts {
	long shared, copied, reused, dropped;
};

static void counts(struct pmd_counts *c)
{
	c->shared = vmstat_read("cow_pmd_shared");
	c->copied = vmstat_read("cow_pmd_copied");
	c->reused = vmstat_read("cow_pmd_reused");
	c->dropped = vmstat_read("cow_pmd_dropped");
}

/*
 * Fork; the child runs @fn(mem, arg) after the parent's go and exits with
 * what it returns. The parent gets the pid and the two events.
 */
struct child {
	pid_t pid;
	struct event go, done;
};

static void start_child(struct child *c, char *mem,
			int (*fn)(char *mem, struct child *c))
{
	if (event_init(&c->go) || event_init(&c->done))
		_exit(95);
	c->pid = fork();
	if (c->pid < 0)
		_exit(96);
	if (c->pid == 0)
		_exit(fn(mem, c));
}

/* Both sides write; each must see only its own writes. */
static int child_writes(char *mem, struct child *c)
{
	long bad = check_all(mem, 1, "child before");

	stamp_all(mem, 2);
	event_signal(&c->done);
	event_wait(&c->go);
	bad += check_all(mem, 2, "child after the parent wrote");
	return bad_to_code(bad);
}

TEST_F(cow_pmd, both_write)
{
	struct pmd_counts a, b;
	struct child c;

	counts(&a);
	start_child(&c, self->mem, child_writes);
	event_wait(&c.done);
	EXPECT_EQ(0, check_all(self->mem, 1, "parent after the child wrote"));
	stamp_all(self->mem, 3);
	event_signal(&c.go);
	EXPECT_EQ(0, reap(c.pid));
	EXPECT_EQ(0, check_all(self->mem, 3, "parent"));
	counts(&b);
	EXPECT_GE(b.shared - a.shared, 1);
	/* The child broke away; the parent then took the table back. */
	EXPECT_GE(b.copied - a.copied, 1);
	EXPECT_GE(b.reused - a.reused, 1);
}

/* The child's page tables: the PUD table, not the GiB's 2 MiB of them. */
static int child_vmpte(char *mem, struct child *c)
{
	long kb = proc_kb("/proc/self/status", "VmPTE");

	if (kb < 0 || kb > 256) {
		fprintf(stderr, "# child VmPTE %ld kB\n", kb);
		return 1;
	}
	return bad_to_code(check_all(mem, 1, "child"));
}

TEST_F(cow_pmd, child_tables_constant)
{
	struct pmd_counts a, b;
	struct child c;

	counts(&a);
	start_child(&c, self->mem, child_vmpte);
	EXPECT_EQ(0, reap(c.pid));
	counts(&b);
	EXPECT_GE(b.shared - a.shared, 1);
	/* The child's exit dropped its share; nothing was copied. */
	EXPECT_GE(b.dropped - a.dropped, 1);
	EXPECT_EQ(0, check_all(self->mem, 1, "parent"));
}

/* The child unmaps 2 MiB in the middle with MADV_DONTNEED. */
static int child_zaps_part(char *mem, struct child *c)
{
	char *hole = mem + 100 * TABLE_SZ;
	long bad;

	if (madvise(hole, TABLE_SZ, MADV_DONTNEED))
		return 99;
	for (char *p = hole; p < hole + TABLE_SZ; p += STRIDE)
		if (READ_ONCE(*(uint64_t *)p))
			return 98;
	stamp_all(mem, 2);
	bad = check_all(mem, 2, "child");
	event_signal(&c->done);
	return bad_to_code(bad);
}

TEST_F(cow_pmd, child_zaps_part)
{
	struct pmd_counts a, b;
	struct child c;

	counts(&a);
	start_child(&c, self->mem, child_zaps_part);
	event_wait(&c.done);
	EXPECT_EQ(0, reap(c.pid));
	EXPECT_EQ(0, check_all(self->mem, 1, "parent"));
	counts(&b);
	EXPECT_GE(b.copied - a.copied, 1);
}

/* The parent unmaps the whole GiB while the child still maps it. */
static int child_outlives(char *mem, struct child *c)
{
	long bad;

	event_wait(&c->go);
	bad = check_all(mem, 1, "child after the parent unmapped");
	stamp_all(mem, 2);
	bad += check_all(mem, 2, "child");
	return bad_to_code(bad);
}

TEST_F(cow_pmd, parent_unmaps_whole)
{
	struct pmd_counts a, b;
	struct child c;

	counts(&a);
	start_child(&c, self->mem, child_outlives);
	ASSERT_EQ(0, munmap(self->mem, GIB));
	event_signal(&c.go);
	EXPECT_EQ(0, reap(c.pid));
	counts(&b);
	EXPECT_GE(b.dropped - a.dropped, 1);
	/* The child was left the last: it took the table over. */
	EXPECT_GE(b.reused - a.reused, 1);
	self->mem = region_map(GIB, GIB, MAP_NORESERVE, variant->thp);
}

/*
 * swapoff after the owner left: the child is the last sharer of a PMD
 * table nobody counts, whose pages are in swap. swapoff must make the
 * table the child's before it brings the pages back; without that it
 * counts them into the child, which never counted their swap entries:
 * "Bad rss-counter" (MM_SWAPENTS below 0) when the child exits, which the
 * harness fails on. The counters read back through /proc stop at 0, so
 * the case itself checks the data.
 */
static int child_after_swapoff(char *mem, struct child *c)
{
	event_wait(&c->go);
	return bad_to_code(check_all(mem, 1, "child after swapoff"));
}

TEST_F(cow_pmd, swapoff_after_owner_left)
{
	struct pmd_counts a, b;
	char dev[64];
	struct child c;

	if (!swap_device(dev, sizeof(dev)))
		SKIP(return, "no swap device");
	ASSERT_EQ(0, madvise(self->mem, 32 * TABLE_SZ, MADV_PAGEOUT));
	if (proc_kb("/proc/self/status", "VmSwap") <= 0)
		SKIP(return, "nothing was paged out");
	counts(&a);
	start_child(&c, self->mem, child_after_swapoff);
	ASSERT_EQ(0, munmap(self->mem, GIB));
	EXPECT_EQ(0, syscall(SYS_swapoff, dev));
	EXPECT_EQ(0, syscall(SYS_swapon, dev, 0));
	event_signal(&c.go);
	EXPECT_EQ(0, reap(c.pid));
	counts(&b);
	EXPECT_GE(b.dropped - a.dropped, 1);
	EXPECT_GE(b.reused - a.reused, 1);
	self->mem = region_map(GIB, GIB, MAP_NORESERVE, variant->thp);
}

/*
 * The kernel writes for the child: /proc/self/mem (GUP with FOLL_FORCE),
 * and mprotect() of part of the GiB, which must not reach the parent.
 */
static int child_kernel_writes(char *mem, struct child *c)
{
	uint64_t v = 0xfeedface;
	char *ro = mem + 300 * TABLE_SZ;
	int fd = open("/proc/self/mem", O_RDWR);
	long bad;

	if (fd < 0 || pwrite(fd, &v, sizeof(v), (uintptr_t)mem + STRIDE) !=
		      sizeof(v))
		return 97;
	close(fd);
	if (READ_ONCE(*(uint64_t *)(mem + STRIDE)) != v)
		return 96;
	if (mprotect(ro, TABLE_SZ, PROT_READ))
		return 95;
	/* A boundary inside a PTE table too: both levels split. */
	if (mprotect(ro + TABLE_SZ + PAGE_SZ, PAGE_SZ, PROT_NONE))
		return 94;
	bad = check_all(mem, 1, "child") - 1;
	event_signal(&c->done);
	event_wait(&c->go);
	return bad_to_code(bad);
}

TEST_F(cow_pmd, child_kernel_writes)
{
	struct pmd_counts a, b;
	struct child c;

	counts(&a);
	start_child(&c, self->mem, child_kernel_writes);
	event_wait(&c.done);
	EXPECT_EQ(0, check_all(self->mem, 1, "parent"));
	/* Still writable here. */
	stamp_all(self->mem, 3);
	event_signal(&c.go);
	EXPECT_EQ(0, reap(c.pid));
	EXPECT_EQ(0, check_all(self->mem, 3, "parent"));
	counts(&b);
	EXPECT_GE(b.copied - a.copied, 1);
}

/* A grandchild shares the table three ways; each side writes its own. */
static int grandchild(char *mem, struct child *c)
{
	long bad = check_all(mem, 1, "grandchild");

	stamp_all(mem, 5);
	bad += check_all(mem, 5, "grandchild");
	return bad_to_code(bad);
}

static int child_forks(char *mem, struct child *c)
{
	struct child g;
	long bad;
	int code;

	start_child(&g, mem, grandchild);
	code = reap(g.pid);
	bad = check_all(mem, 1, "child after the grandchild wrote");
	stamp_all(mem, 2);
	bad += check_all(mem, 2, "child");
	return code ? code : bad_to_code(bad);
}

TEST_F(cow_pmd, grandchild)
{
	struct pmd_counts a, b;
	struct child c;

	counts(&a);
	start_child(&c, self->mem, child_forks);
	EXPECT_EQ(0, reap(c.pid));
	EXPECT_EQ(0, check_all(self->mem, 1, "parent"));
	counts(&b);
	EXPECT_GE(b.shared - a.shared, 2);
}

/*
 * The break's allocation fails: mprotect() fails with ENOMEM having
 * changed nothing, and a write fault is retried until it works.
 */
static int child_allocation_fails(char *mem, struct child *c)
{
	int fd = arm_page_alloc_failures(false);
	long bad;
	int ret, err;

	if (fd < 0)
		return 99;
	fail_next(fd, "1");
	ret = mprotect(mem + 10 * TABLE_SZ, TABLE_SZ, PROT_READ);
	err = errno;
	fail_next(fd, "0");
	if (ret != -1 || err != ENOMEM) {
		fprintf(stderr, "# mprotect: %d (%s)\n", ret, strerror(err));
		return 98;
	}
	bad = check_all(mem, 1, "child after the failed mprotect");
	fail_next(fd, "1");
	stamp_all(mem, 2);
	fail_next(fd, "0");
	close(fd);
	knob_write("/proc/self/make-it-fail", "0");
	bad += check_all(mem, 2, "child");
	return bad_to_code(bad);
}

TEST_F(cow_pmd, child_allocation_fails)
{
	struct pmd_counts a, b;
	struct child c;

	if (access("/sys/kernel/debug/fail_page_alloc", F_OK))
		SKIP(return, "no fail_page_alloc");
	counts(&a);
	start_child(&c, self->mem, child_allocation_fails);
	EXPECT_EQ(0, reap(c.pid));
	EXPECT_EQ(0, check_all(self->mem, 1, "parent"));
	counts(&b);
	EXPECT_GE(b.copied - a.copied, 1);
}

/*
 * The syscalls that change a range first copy its shared tables: the
 * child moves the whole GiB (mremap), frees part of it (MADV_FREE) and
 * locks part of it (mlock). The parent's data stays; the child's moves.
 */
static int child_range_syscalls(char *mem, struct child *c)
{
	char *to = region_map(GIB, GIB, MAP_NORESERVE, false);
	char *moved;
	long bad;

	if (!to)
		return 99;
	moved = mremap(mem, GIB, GIB, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	if (moved != to)
		return 98;
	bad = check_all(moved, 1, "child after mremap");
	if (madvise(moved + 20 * TABLE_SZ, TABLE_SZ, MADV_FREE))
		return 97;
	if (mlock(moved + 30 * TABLE_SZ, TABLE_SZ))
		return 96;
	stamp_all(moved, 2);
	bad += check_all(moved, 2, "child");
	event_signal(&c->done);
	return bad_to_code(bad);
}

TEST_F(cow_pmd, child_range_syscalls)
{
	struct pmd_counts a, b;
	struct child c;

	counts(&a);
	start_child(&c, self->mem, child_range_syscalls);
	event_wait(&c.done);
	EXPECT_EQ(0, check_all(self->mem, 1, "parent"));
	EXPECT_EQ(0, reap(c.pid));
	EXPECT_EQ(0, check_all(self->mem, 1, "parent after the child"));
	counts(&b);
	EXPECT_GE(b.copied - a.copied, 1);
}

/*
 * With the mode off, fork copies a PMD table it shares with another child
 * instead of sharing it again: three processes, each with its own data.
 */
static int child_waits_then_checks(char *mem, struct child *c)
{
	event_wait(&c->go);
	return bad_to_code(check_all(mem, 1, "first child"));
}

static int child_writes_own(char *mem, struct child *c)
{
	long bad = check_all(mem, 1, "second child");

	stamp_all(mem, 4);
	return bad_to_code(bad + check_all(mem, 4, "second child"));
}

TEST_F(cow_pmd, fork_with_mode_off_copies)
{
	struct pmd_counts a, b;
	struct child first, second;

	counts(&a);
	start_child(&first, self->mem, child_waits_then_checks);
	ASSERT_EQ(0, prctl(PR_SET_COW_PTE, PR_COW_PTE_OFF, 0, 0, 0));
	start_child(&second, self->mem, child_writes_own);
	EXPECT_EQ(0, reap(second.pid));
	counts(&b);
	/* Only the first fork shared the table. */
	EXPECT_EQ(1, b.shared - a.shared);
	event_signal(&first.go);
	EXPECT_EQ(0, reap(first.pid));
	EXPECT_EQ(0, check_all(self->mem, 1, "parent"));
}

TEST_HARNESS_MAIN
