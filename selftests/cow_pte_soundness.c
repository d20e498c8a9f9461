// SPDX-License-Identifier: GPL-2.0
/*
 * Cases found by reading the break path, none of which the path tests
 * reach: a break that cannot duplicate a page which may be pinned, a VMA
 * boundary that a merge moves across a shared table, migration entries
 * that stay exclusive in both copies of a table, the order of the TLB
 * flush and the share count's drop in a break, a poisoned page that an
 * rmap walk could not unmap from a shared table, and a core dump that
 * copied every table it read.
 *
 * Each runs with COW PTE on, and with plain fork as a check of the test
 * itself; the acting side is the parent or the child.
 */
#define _GNU_SOURCE
#include <linux/elf.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <linux/mempolicy.h>
#include <liburing.h>

#include "kselftest_harness.h"
#include "cowpte_util.h"

#define REGION_SZ	(2 * TABLE_SZ)
/* Room behind the region, in the same VMA until a test splits it off. */
#define TAIL_SZ		(16 * PAGE_SZ)

FIXTURE(sound) {
	char *mem;
	struct baseline base;
};

FIXTURE_VARIANT(sound) {
	bool cow_pte;
	bool child_acts;
};

FIXTURE_VARIANT_ADD(sound, stock_parent) {
	.cow_pte = false, .child_acts = false,
};

FIXTURE_VARIANT_ADD(sound, stock_child) {
	.cow_pte = false, .child_acts = true,
};

FIXTURE_VARIANT_ADD(sound, cow_pte_parent) {
	.cow_pte = true, .child_acts = false,
};

FIXTURE_VARIANT_ADD(sound, cow_pte_child) {
	.cow_pte = true, .child_acts = true,
};

FIXTURE_SETUP(sound)
{
	if (stock_variant_skipped(variant->cow_pte))
		SKIP(return, "stock fork: left out by COWPTE_SKIP_STOCK");
	baseline_take(&self->base);
	if (variant->cow_pte && cow_pte_enable())
		SKIP(return, "no COW PTE in this kernel");
	self->mem = region_alloc(REGION_SZ + TAIL_SZ);
	ASSERT_NE(NULL, self->mem);
	stamp_range(self->mem, self->mem, REGION_SZ, 1);
}

FIXTURE_TEARDOWN(sound)
{
	if (!self->mem)
		return;
	munmap(self->mem, REGION_SZ + TAIL_SZ);
	prctl(PR_SET_COW_PTE, PR_COW_PTE_OFF, 0, 0, 0);
	/* A test that skipped before forking shared nothing. */
	if (_metadata->exit_code == KSFT_SKIP)
		return;
	EXPECT_BASELINE(&self->base, variant->cow_pte ? 1 : 0, 1024);
}

static long fail(const char *what)
{
	fprintf(stderr, "# %s: %s\n", what, strerror(errno));
	return -1;
}

/* Whether this side is the one that acts, after fork returned @pid. */
static bool acting(const struct _fixture_variant_sound *variant, pid_t pid)
{
	return pid == 0 ? variant->child_acts : !variant->child_acts;
}

/*
 * The end of a two-sided test: the child reports @bad as its exit code,
 * the parent checks its own @bad and the child's.
 */
#define BOTH_SIDES_DONE(pid, bad) do {					\
	pid_t __pid = (pid);						\
	long __bad = (bad);						\
									\
	if (__pid == 0)							\
		_exit(bad_to_code(__bad));				\
	EXPECT_EQ(0, __bad);						\
	EXPECT_EQ(0, reap(__pid));					\
} while (0)

/* --- A page that may be pinned, in a table a zap must break ---------- */

#define SPLICE_PIPES	5
#define PIPE_SLOTS	256	/* 1 MiB pipes, the default pipe-max-size */

/*
 * About 1,100 references on one page, from vmsplice(): for a small folio,
 * folio_maybe_dma_pinned() then says "maybe", although nothing is pinned.
 * Fills @fds with the pipes that hold them.
 */
static int splice_refs(char *page, int fds[SPLICE_PIPES][2])
{
	struct iovec iov[PIPE_SLOTS];

	for (int i = 0; i < PIPE_SLOTS; i++) {
		iov[i].iov_base = page;
		iov[i].iov_len = PAGE_SZ;
	}
	for (int p = 0; p < SPLICE_PIPES; p++) {
		if (pipe(fds[p]))
			return fail("pipe");
		if (fcntl(fds[p][1], F_SETPIPE_SZ, PIPE_SLOTS * PAGE_SZ) < 0)
			return fail("F_SETPIPE_SZ");
		for (int done = 0; done < PIPE_SLOTS; ) {
			ssize_t n = vmsplice(fds[p][1], iov + done,
					     PIPE_SLOTS - done, 0);

			if (n <= 0)
				return fail("vmsplice");
			done += n / PAGE_SZ;
		}
	}
	return 0;
}

/*
 * Pin something elsewhere, as an io_uring fixed buffer does, so that this
 * mm has MMF_HAS_PINNED: from then on an exclusive page that may be pinned
 * cannot just gain a second mapping; fork copies it for the child.
 */
static int pin_elsewhere(struct io_uring *ring, char **buf)
{
	struct iovec iov;

	*buf = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*buf == MAP_FAILED)
		return fail("mmap");
	memset(*buf, 1, PAGE_SZ);
	if (io_uring_queue_init(4, ring, 0))
		return fail("io_uring_queue_init");
	iov.iov_base = *buf;
	iov.iov_len = PAGE_SZ;
	errno = -io_uring_register_buffers(ring, &iov, 1);
	return errno ? fail("io_uring_register_buffers") : 0;
}

/*
 * The page at table offset 8 has the references; the acting side pins
 * something else after the fork and then unmaps one other page of the
 * same table (MADV_DONTNEED, or munmap, which splits the VMA first). Both
 * calls must succeed, and both sides keep every other page.
 */
static void pinned_page_break(struct __test_metadata *_metadata,
			      struct _test_data_sound *self,
			      const struct _fixture_variant_sound *variant,
			      bool use_munmap)
{
	char *mem = self->mem, *gone = mem + 100 * PAGE_SZ, *buf;
	int fds[SPLICE_PIPES][2];
	struct event ready;
	struct io_uring ring;
	long bad = 0;
	pid_t pid;

	ASSERT_EQ(0, splice_refs(mem + 8 * PAGE_SZ, fds));
	ASSERT_EQ(0, event_init(&ready));
	pid = fork();
	ASSERT_LE(0, pid);
	if (acting(variant, pid)) {
		if (pin_elsewhere(&ring, &buf))
			bad = 1000;
		else if (use_munmap ? munmap(gone, PAGE_SZ) :
			 madvise(gone, PAGE_SZ, MADV_DONTNEED))
			bad = 1000 - !fail(use_munmap ? "munmap" : "MADV_DONTNEED");
		bad += check_range(mem, mem, gone - mem, 1, "acting side");
		bad += check_range(mem, gone + PAGE_SZ,
				   mem + REGION_SZ - gone - PAGE_SZ, 1,
				   "acting side");
		if (!use_munmap)
			bad += check_range(mem, gone, PAGE_SZ, 0, "acting side");
		io_uring_queue_exit(&ring);
		event_signal(&ready);
	} else {
		event_wait(&ready);
		bad = check_range(mem, mem, REGION_SZ, 1, "other side");
		/* Its own writes stay its own, too. */
		stamp_range(mem, mem, REGION_SZ, 2);
		bad += check_range(mem, mem, REGION_SZ, 2, "other side");
	}
	if (pid) {
		for (int p = 0; p < SPLICE_PIPES; p++) {
			close(fds[p][0]);
			close(fds[p][1]);
		}
		if (use_munmap && !variant->child_acts)
			mmap(gone, PAGE_SZ, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	}
	BOTH_SIDES_DONE(pid, bad);
}

TEST_F_TIMEOUT(sound, pinned_page_dontneed, 180)
{
	pinned_page_break(_metadata, self, variant, false);
}

TEST_F_TIMEOUT(sound, pinned_page_munmap, 180)
{
	pinned_page_break(_metadata, self, variant, true);
}

/* --- A merge that moves a VMA boundary into a shared table ----------- */

/*
 * Tables are shared only where one VMA covers them whole, and splitting a
 * VMA inside a shared table copies it first (vma_split_unmap). A merge
 * moves the boundary between two VMAs without a split: marking the last
 * MiB of the region MADV_DONTDUMP merges it into the DONTDUMP tail behind
 * the region. Unmapping the first VMA whole afterwards must then need no
 * copy, as the OOM reaper could not make one. (The child's two VMAs have
 * anon_vmas of their own, which cannot merge: there it is a split.)
 */
TEST_F_TIMEOUT(sound, merge_moves_boundary, 180)
{
	char *mem = self->mem, *tail = mem + REGION_SZ;
	size_t moved = TABLE_SZ / 2;
	long copied = 0, bad = 0;
	struct event done;
	pid_t pid;

	ASSERT_EQ(0, madvise(tail, TAIL_SZ, MADV_DONTDUMP));
	memset(tail, 3, TAIL_SZ);
	ASSERT_EQ(0, event_init(&done));
	pid = fork();
	ASSERT_LE(0, pid);
	if (acting(variant, pid)) {
		if (madvise(tail - moved, moved, MADV_DONTDUMP))
			bad = 1000 - !fail("MADV_DONTDUMP");
		bad += check_range(mem, mem, REGION_SZ, 1, "acting side");
		copied = vmstat_read("cow_pte_copied");
		if (munmap(mem, REGION_SZ - moved))
			bad = 1000 - !fail("munmap");
		copied = vmstat_read("cow_pte_copied") - copied;
		if (copied)
			fprintf(stderr, "# unmapping a whole VMA copied %ld tables\n",
				copied);
		bad += copied;
		bad += check_range(mem, tail - moved, moved, 1, "acting side");
		event_signal(&done);
	} else {
		event_wait(&done);
		bad = check_range(mem, mem, REGION_SZ, 1, "other side");
	}
	if (pid && !variant->child_acts)
		self->mem = mmap(mem, REGION_SZ - moved, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	BOTH_SIDES_DONE(pid, bad);
}

/*
 * Races: the side that acts is fixed by the case, so these have a stock
 * and a COW PTE variant only.
 */
FIXTURE(race) {
	char *mem;
	struct baseline base;
};

FIXTURE_VARIANT(race) {
	bool cow_pte;
};

FIXTURE_VARIANT_ADD(race, stock) {
	.cow_pte = false,
};

FIXTURE_VARIANT_ADD(race, cow_pte) {
	.cow_pte = true,
};

FIXTURE_SETUP(race)
{
	if (stock_variant_skipped(variant->cow_pte))
		SKIP(return, "stock fork: left out by COWPTE_SKIP_STOCK");
	baseline_take(&self->base);
	if (variant->cow_pte && cow_pte_enable())
		SKIP(return, "no COW PTE in this kernel");
	self->mem = region_alloc(REGION_SZ);
	ASSERT_NE(NULL, self->mem);
	stamp_range(self->mem, self->mem, REGION_SZ, 1);
}

FIXTURE_TEARDOWN(race)
{
	if (!self->mem)
		return;
	munmap(self->mem, REGION_SZ);
	prctl(PR_SET_COW_PTE, PR_COW_PTE_OFF, 0, 0, 0);
	/* A test that skipped before forking shared nothing. */
	if (_metadata->exit_code == KSFT_SKIP)
		return;
	EXPECT_BASELINE(&self->base, variant->cow_pte ? 1 : 0, 1024);
}

/* --- Migration entries of exclusive read-only pages ------------------ */

static atomic_bool migrating;

/* Move the region's pages between nodes 0 and 1 until told to stop. */
static void *migrator(void *arg)
{
	char *mem = arg;
	size_t n = REGION_SZ / PAGE_SZ;
	void **pages = malloc(n * sizeof(*pages));
	int *nodes = malloc(n * sizeof(*nodes));
	int *status = malloc(n * sizeof(*status));

	for (int node = 1; pages && nodes && status &&
	     atomic_load(&migrating); node ^= 1) {
		for (size_t i = 0; i < n; i++) {
			pages[i] = mem + i * PAGE_SZ;
			nodes[i] = node;
		}
		syscall(SYS_move_pages, 0, n, pages, nodes, status,
			MPOL_MF_MOVE);
	}
	free(pages);
	free(nodes);
	free(status);
	return NULL;
}

/*
 * A page written and then made read-only stays exclusive to its mm. Fork
 * must not leave it exclusive in both mms, and that holds for the
 * migration entry that stands in for it while it moves: a break that
 * copies such an entry as it is lets both sides restore an exclusive
 * mapping, and one side's writes then reach the other. The child makes the
 * region writable (a break, under migration) and writes; the parent's
 * data must not change. Each round makes the pages exclusive again.
 */
TEST_F_TIMEOUT(race, migration_read_exclusive, 300)
{
	char *mem = self->mem;
	pthread_t thread;
	time_t until = time(NULL) + 20;
	long bad = 0;
	int round;

	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "one NUMA node (make run NUMA=1)");
	atomic_store(&migrating, true);
	ASSERT_EQ(0, pthread_create(&thread, NULL, migrator, mem));
	/* 20 s, and at least 10 rounds on a slow (debug) kernel. */
	for (round = 2; round < 200 && (time(NULL) < until || round < 12) && !bad;
	     round++) {
		pid_t pid;

		if (mprotect(mem, REGION_SZ, PROT_READ | PROT_WRITE))
			break;
		stamp_range(mem, mem, REGION_SZ, round);
		if (mprotect(mem, REGION_SZ, PROT_READ))
			break;
		pid = fork();
		if (pid < 0)
			break;
		if (pid == 0) {
			if (mprotect(mem, REGION_SZ, PROT_READ | PROT_WRITE))
				_exit(1);
			stamp_range(mem, mem, REGION_SZ, 1000 + round);
			_exit(0);
		}
		EXPECT_EQ(0, reap(pid));
		bad = check_range(mem, mem, REGION_SZ, round, "parent");
	}
	atomic_store(&migrating, false);
	pthread_join(thread, NULL);
	ASSERT_EQ(0, mprotect(mem, REGION_SZ, PROT_READ | PROT_WRITE));
	if (bad)
		fprintf(stderr, "# round %d: %ld pages hold the child's data\n",
			round - 1, bad);
	EXPECT_EQ(0, bad);
	EXPECT_LT(10, round);
}

/* --- swapoff copies only the tables that hold its entries ------------ */

/*
 * A fork server's children share its tables; swapoff visits every one of
 * them in every process. Only a table that holds swap entries needs a
 * copy (and then only one: the last sharer takes the table over), so
 * with the first of the two tables paged out before the fork, swapoff
 * copies at most one table, and everyone keeps their data.
 */
TEST_F_TIMEOUT(race, swapoff_copies_swapped_only, 300)
{
	char *mem = self->mem, dev[64];
	struct event done, swapped;
	long copied;
	pid_t pid;

	if (!swap_device(dev, sizeof(dev)))
		SKIP(return, "no swap device");
	ASSERT_EQ(0, madvise(mem, TABLE_SZ, MADV_PAGEOUT));
	ASSERT_EQ(0, event_init(&done));
	ASSERT_EQ(0, event_init(&swapped));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		event_signal(&swapped);
		event_wait(&done);
		_exit(bad_to_code(check_range(mem, mem, REGION_SZ, 1, "child")));
	}
	event_wait(&swapped);
	copied = vmstat_read("cow_pte_copied");
	EXPECT_EQ(0, syscall(SYS_swapoff, dev));
	copied = vmstat_read("cow_pte_copied") - copied;
	EXPECT_EQ(0, syscall(SYS_swapon, dev, 0));
	event_signal(&done);
	EXPECT_EQ(0, reap(pid));
	EXPECT_EQ(0, check_range(mem, mem, REGION_SZ, 1, "parent"));
	if (variant->cow_pte) {
		if (copied > 1)
			fprintf(stderr, "# swapoff copied %ld tables\n", copied);
		EXPECT_GE(1, copied);
	}
}

/* --- Memory no mm counts still counts for the OOM killer ------------- */

/* /proc/PID/oom_score, or -1. */
static long oom_score_read(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/oom_score", pid);
	return knob_read(path);
}

/*
 * A snapshot of 256 MiB: the child only reads, while the parent writes
 * every page, so the parent, which counted the pages, copies every table
 * and leaves them to the child. The child's VmRSS stays near zero, but it
 * holds the old pages; its OOM score must show them, as a stock child's
 * does.
 */
TEST_F_TIMEOUT(race, oom_score_counts_unowned, 180)
{
	size_t len = 128 * TABLE_SZ;
	long expected, share, score, total;
	struct event forked, written;
	char *big;
	pid_t pid;

	total = (meminfo_read("MemTotal") + meminfo_read("SwapTotal")) / 4;
	ASSERT_LT(0, total);
	big = region_alloc(len);
	ASSERT_NE(NULL, big);
	stamp_range(big, big, len, 1);
	ASSERT_EQ(0, event_init(&forked));
	ASSERT_EQ(0, event_init(&written));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		event_signal(&forked);
		event_wait(&written);
		_exit(bad_to_code(check_range(big, big, len, 1, "child")));
	}
	event_wait(&forked);
	stamp_range(big, big, len, 2);
	/*
	 * oom_score is (1000 + badness in 1/1000 of RAM + swap) * 2 / 3:
	 * 666 for a process of no size. The child must count at least 90%
	 * of the region.
	 */
	share = (long)(len / PAGE_SZ) * 1000 / total;
	expected = (1000 + share * 9 / 10) * 2 / 3;
	score = oom_score_read(pid);
	event_signal(&written);
	EXPECT_EQ(0, reap(pid));
	EXPECT_EQ(0, check_range(big, big, len, 2, "parent"));
	munmap(big, len);
	if (score < expected)
		fprintf(stderr, "# the child's oom_score is %ld, want %ld or more\n",
			score, expected);
	EXPECT_LE(expected, score);
	/* The region must weigh enough to tell it from nothing. */
	EXPECT_LE(20, share);
}

/* --- The TLB flush of a break, before its share is given up ---------- */

struct spin_read {
	uint64_t *at;
	uint64_t forbidden;
	atomic_bool stop;
	atomic_long seen;
};

/* Read one word until told to stop; count reads of the forbidden value. */
static void *spin_reader(void *arg)
{
	struct spin_read *s = arg;

	while (!atomic_load(&s->stop))
		if (READ_ONCE(*s->at) == s->forbidden)
			atomic_fetch_add(&s->seen, 1);
	return NULL;
}

/*
 * The child keeps one thread reading page 0 while another writes page 1 of
 * the same table, which copies the table for the child. The parent, now
 * the last sharer, then takes the old table over and writes a new page
 * into page 0. Until the child's TLB lets go of the old table, a CPU of
 * the child could still walk it and see the parent's page: the break must
 * flush before the parent can reuse the table. (Under QEMU TCG, which keeps
 * no paging-structure caches, this can only pass; on hardware it is a
 * race the test gives many chances.)
 */
TEST_F_TIMEOUT(race, break_flushes_before_drop, 300)
{
	char *mem = self->mem;
	uint64_t parent_val = 0xbadc0ffee0ddf00dULL;
	long bad = 0;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "needs two CPUs");
	for (int round = 0; round < 50 && !bad; round++) {
		struct event broken, written;
		pid_t pid;

		ASSERT_EQ(0, event_init(&broken));
		ASSERT_EQ(0, event_init(&written));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0) {
			struct spin_read s = {
				.at = (uint64_t *)mem,
				.forbidden = parent_val,
			};
			pthread_t t;

			if (pthread_create(&t, NULL, spin_reader, &s))
				_exit(99);
			/* Let the reader fill its TLB through the table. */
			usleep(1000);
			mem[PAGE_SZ + PAGE_SZ / 2] = 7;
			event_signal(&broken);
			event_wait(&written);
			usleep(20000);
			atomic_store(&s.stop, true);
			pthread_join(t, NULL);
			_exit(bad_to_code(atomic_load(&s.seen) +
					  (*(uint64_t *)mem != stamp(mem, mem, 1))));
		}
		event_wait(&broken);
		WRITE_ONCE(*(uint64_t *)mem, parent_val);
		event_signal(&written);
		bad = reap(pid);
		*(uint64_t *)mem = stamp(mem, mem, 1);
	}
	EXPECT_EQ(0, bad);
}

/* --- A poisoned page, unmapped from every sharer --------------------- */

static sigjmp_buf bus_jmp;
static atomic_bool bus_seen;	/* lock-free: a signal handler may set it */

static void on_sigbus(int sig)
{
	atomic_store(&bus_seen, true);
}

static void on_sigbus_jump(int sig)
{
	siglongjmp(bus_jmp, 1);
}

/*
 * A child's view of the poisoned page: 0 when a read raised SIGBUS, as it
 * must once memory_failure() unmapped the page, 1 when the page was still
 * mapped. The rest of the region must be intact.
 */
static int read_poisoned(char *mem, char *page)
{
	struct sigaction sa = { .sa_handler = on_sigbus_jump };
	int mapped;
	long bad;

	if (sigaction(SIGBUS, &sa, NULL))
		return 99;
	/* Set once sigsetjmp() has returned: it need not be volatile. */
	if (sigsetjmp(bus_jmp, 1)) {
		mapped = 0;
	} else {
		(void)READ_ONCE(*page);
		mapped = 1;
	}
	bad = check_range(mem, mem, page - mem, 1, "child") +
	      check_range(mem, page + PAGE_SZ,
			  mem + REGION_SZ - page - PAGE_SZ, 1, "child");
	if (mapped)
		fprintf(stderr, "# child %d: the poisoned page is still mapped\n",
			getpid());
	return bad_to_code(bad + mapped);
}

#define POISON_SHARERS	12

/*
 * memory_failure() unmaps a poisoned page from every mm once; a page still
 * mapped after that is left to whoever touches it next. Twelve children
 * (more than the kernel copies for in one pass) share the table that maps
 * the page, while the parent has its own copy, so the unmap has to copy
 * the children's table from an rmap walk, where it may not sleep. Such an
 * allocation fails here (fail_page_alloc, for the parent's allocations
 * that cannot sleep), as it can under memory pressure or when a child
 * holds its mmap lock: the page must still be unmapped from every child.
 */
TEST_F_TIMEOUT(race, hwpoison_unmaps_every_sharer, 180)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	char *mem = self->mem, *page = mem + TABLE_SZ + 5 * PAGE_SZ;
	struct event poisoned;
	pid_t pid[POISON_SHARERS];
	int fd, ret, err;

	if (access("/sys/kernel/debug/fail_page_alloc", F_OK))
		SKIP(return, "no fail_page_alloc in debugfs");
	ASSERT_EQ(0, event_init(&poisoned));
	for (int i = 0; i < POISON_SHARERS; i++) {
		pid[i] = fork();
		ASSERT_LE(0, pid[i]);
		if (pid[i] == 0) {
			event_wait(&poisoned);
			_exit(read_poisoned(mem, page));
		}
	}
	/* A table of the parent's own: the write keeps the page's stamp. */
	stamp_range(mem, mem + TABLE_SZ, PAGE_SZ, 1);
	/* MF_ACTION_REQUIRED signals the caller, as a machine check would. */
	ASSERT_EQ(0, sigaction(SIGBUS, &sa, NULL));
	fd = arm_page_alloc_failures(true);
	ASSERT_LE(0, fd);
	fail_next(fd, "1000");
	ret = madvise(page, PAGE_SZ, MADV_HWPOISON);
	err = errno;
	fail_next(fd, "0");
	close(fd);
	knob_write("/proc/self/make-it-fail", "0");
	if (ret)
		fprintf(stderr, "# MADV_HWPOISON: %s\n", strerror(err));
	EXPECT_EQ(0, ret);
	for (int i = 0; i < POISON_SHARERS; i++)
		event_signal(&poisoned);
	for (int i = 0; i < POISON_SHARERS; i++)
		EXPECT_EQ(0, reap(pid[i]));
	signal(SIGBUS, SIG_DFL);
}

/* --- A core dump reads shared tables without copying them ------------ */

/*
 * Whether the ELF core at @path holds REGION_SZ bytes at @mem with the
 * stamps of generation 1: the dump must show the child's data.
 */
static long core_holds_region(const char *path, char *mem)
{
	struct elf64_hdr eh;
	struct elf64_phdr ph;
	long bad = -1;
	char *buf;
	int fd = open(path, O_RDONLY);

	if (fd < 0)
		return fail(path);
	buf = malloc(REGION_SZ);
	if (!buf || pread(fd, &eh, sizeof(eh), 0) != sizeof(eh))
		goto out;
	for (int i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph)) !=
		    sizeof(ph))
			goto out;
		if (ph.p_type != PT_LOAD || ph.p_vaddr != (uintptr_t)mem)
			continue;
		if (ph.p_filesz < REGION_SZ ||
		    pread(fd, buf, REGION_SZ, ph.p_offset) != REGION_SZ)
			break;
		bad = 0;
		for (size_t off = 0; off < REGION_SZ; off += PAGE_SZ)
			if (*(uint64_t *)(buf + off) !=
			    stamp(mem, mem + off, 1) && bad++ < 4)
				fprintf(stderr, "# core: page %zu differs\n",
					off / PAGE_SZ);
		break;
	}
	if (bad < 0)
		fprintf(stderr, "# core: no segment at %p\n", mem);
out:
	free(buf);
	close(fd);
	return bad;
}

/*
 * A process that dumps core reads every page it maps. Reading does not
 * change a shared table, so the dump must copy none (a fork server with
 * many children would otherwise need memory for all of them at once), and
 * the core must hold the data.
 */
TEST_F_TIMEOUT(race, core_dump_copies_nothing, 180)
{
	const char *pattern = "/tmp/cow_pte_core.%p";
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	char saved[256] = "", path[64];
	long copied;
	FILE *f;
	int status;
	pid_t pid;

	f = fopen("/proc/sys/kernel/core_pattern", "r");
	if (!f || !fgets(saved, sizeof(saved), f) ||
	    knob_write("/proc/sys/kernel/core_pattern", pattern))
		SKIP(return, "cannot set core_pattern");
	fclose(f);
	copied = vmstat_read("cow_pte_copied");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		setrlimit(RLIMIT_CORE, &unlimited);
		prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
		signal(SIGABRT, SIG_DFL);
		raise(SIGABRT);
		_exit(99);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	copied = vmstat_read("cow_pte_copied") - copied;
	knob_write("/proc/sys/kernel/core_pattern", saved);
	snprintf(path, sizeof(path), "/tmp/cow_pte_core.%d", pid);
	EXPECT_TRUE(WIFSIGNALED(status) && WCOREDUMP(status));
	EXPECT_EQ(0, core_holds_region(path, self->mem));
	unlink(path);
	EXPECT_EQ(0, copied);
}

TEST_HARNESS_MAIN
