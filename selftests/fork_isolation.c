// SPDX-License-Identifier: GPL-2.0
/*
 * After fork, parent and child must each see their own memory: a write on
 * one side is never visible on the other, and neither ever sees stale data.
 * These tests hold for stock fork; the cow_pte variant runs the same checks
 * with COW PTE switched on, where the PTE tables start out shared.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <sys/uio.h>
#include <stdatomic.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>

#include "kselftest_harness.h"
#include "cowpte_util.h"

#define NR_TABLES	32
#define REGION_SZ	(NR_TABLES * TABLE_SZ)

FIXTURE(fork) {
	char *mem;
	struct baseline base;
};

FIXTURE_VARIANT(fork) {
	bool cow_pte;
};

FIXTURE_VARIANT_ADD(fork, stock) {
	.cow_pte = false,
};

FIXTURE_VARIANT_ADD(fork, cow_pte) {
	.cow_pte = true,
};

FIXTURE_SETUP(fork)
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
FIXTURE_TEARDOWN(fork)
{
	if (!self->mem)
		return;
	munmap(self->mem, REGION_SZ);
	EXPECT_BASELINE(&self->base, variant->cow_pte ? NR_TABLES : 0, 4096);
}

/* The parent writes after fork; the child must still see the old data. */
TEST_F_TIMEOUT(fork, parent_writes, 180)
{
	struct event written;
	pid_t pid;

	ASSERT_EQ(0, event_init(&written));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		event_wait(&written);
		_exit(bad_to_code(check_range(self->mem, self->mem, REGION_SZ,
					      1, "child")));
	}
	stamp_range(self->mem, self->mem, REGION_SZ, 2);
	event_signal(&written);
	EXPECT_EQ(0, reap(pid));
	EXPECT_EQ(0, check_range(self->mem, self->mem, REGION_SZ, 2, "parent"));
}

/* The child writes; the parent must not see it, before or after exit. */
TEST_F_TIMEOUT(fork, child_writes, 180)
{
	struct event written, checked;
	pid_t pid;

	ASSERT_EQ(0, event_init(&written));
	ASSERT_EQ(0, event_init(&checked));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		stamp_range(self->mem, self->mem, REGION_SZ, 3);
		event_signal(&written);
		event_wait(&checked);
		_exit(bad_to_code(check_range(self->mem, self->mem, REGION_SZ,
					      3, "child")));
	}
	event_wait(&written);
	EXPECT_EQ(0, check_range(self->mem, self->mem, REGION_SZ, 1,
				 "parent, child alive"));
	event_signal(&checked);
	EXPECT_EQ(0, reap(pid));
	EXPECT_EQ(0, check_range(self->mem, self->mem, REGION_SZ, 1,
				 "parent, child gone"));
}

/* Reading first maps nothing new; the later write must still be private. */
TEST_F_TIMEOUT(fork, child_reads_then_writes, 180)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		long bad = check_range(self->mem, self->mem, REGION_SZ, 1,
				       "child read");

		stamp_range(self->mem, self->mem, REGION_SZ, 4);
		bad += check_range(self->mem, self->mem, REGION_SZ, 4,
				   "child write");
		_exit(bad_to_code(bad));
	}
	EXPECT_EQ(0, reap(pid));
	EXPECT_EQ(0, check_range(self->mem, self->mem, REGION_SZ, 1, "parent"));
	stamp_range(self->mem, self->mem, REGION_SZ, 5);
	EXPECT_EQ(0, check_range(self->mem, self->mem, REGION_SZ, 5, "parent"));
}

/*
 * Untouched addresses inside a populated table: the first touch after fork
 * fills a none entry, which must land in the toucher's table only.
 */
static void first_touch(struct __test_metadata *_metadata, char *mem,
			bool child_touches)
{
	char *sparse = mem + TABLE_SZ;
	struct event touched;
	pid_t pid;
	long bad;

	/* Every other page of the second table was never mapped. */
	ASSERT_EQ(0, madvise(sparse, TABLE_SZ, MADV_DONTNEED));
	for (char *p = sparse; p < sparse + TABLE_SZ; p += 2 * PAGE_SZ)
		stamp_range(mem, p, PAGE_SZ, 1);
	ASSERT_EQ(0, event_init(&touched));

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0 ? child_touches : !child_touches) {
		for (char *p = sparse + PAGE_SZ; p < sparse + TABLE_SZ;
		     p += 2 * PAGE_SZ)
			stamp_range(mem, p, PAGE_SZ, 6);
		bad = 0;
		for (char *p = sparse; p < sparse + TABLE_SZ; p += 2 * PAGE_SZ)
			bad += check_range(mem, p, PAGE_SZ, 1, "toucher old") +
			       check_range(mem, p + PAGE_SZ, PAGE_SZ, 6,
					   "toucher new");
		if (pid == 0) {
			event_signal(&touched);
			_exit(bad_to_code(bad));
		}
		event_signal(&touched);
		EXPECT_EQ(0, bad);
		EXPECT_EQ(0, reap(pid));
		return;
	}
	/* This side did not touch: the new pages must stay absent here. */
	event_wait(&touched);
	bad = 0;
	for (char *p = sparse; p < sparse + TABLE_SZ; p += 2 * PAGE_SZ)
		bad += check_range(mem, p, PAGE_SZ, 1, "other old") +
		       check_range(mem, p + PAGE_SZ, PAGE_SZ, 0, "other new");
	bad += check_range(mem, mem, TABLE_SZ, 1, "other first table");
	if (pid == 0)
		_exit(bad_to_code(bad));
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, reap(pid));
}

TEST_F_TIMEOUT(fork, first_touch_in_parent, 180)
{
	first_touch(_metadata, self->mem, false);
}

TEST_F_TIMEOUT(fork, first_touch_in_child, 180)
{
	first_touch(_metadata, self->mem, true);
}

/*
 * One side unmaps a whole table and half of another; the other side keeps
 * all of its memory, and the unmapping side keeps what it did not unmap.
 */
static void unmap_one_side(struct __test_metadata *_metadata, char *mem,
			   bool child_unmaps)
{
	char *whole = mem + 2 * TABLE_SZ, *half = mem + 4 * TABLE_SZ;
	struct event unmapped;
	pid_t pid;
	long bad;

	ASSERT_EQ(0, event_init(&unmapped));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0 ? child_unmaps : !child_unmaps) {
		bad = munmap(whole, TABLE_SZ) ? 1000 : 0;
		bad += munmap(half + TABLE_SZ / 4, TABLE_SZ / 2) ? 1000 : 0;
		stamp_range(mem, mem, TABLE_SZ, 7);
		stamp_range(mem, half, TABLE_SZ / 4, 7);
		event_signal(&unmapped);
		bad += check_range(mem, mem, TABLE_SZ, 7, "unmapper") +
		       check_range(mem, mem + TABLE_SZ, TABLE_SZ, 1, "unmapper") +
		       check_range(mem, half, TABLE_SZ / 4, 7, "unmapper") +
		       check_range(mem, half + 3 * TABLE_SZ / 4, TABLE_SZ / 4, 1,
				   "unmapper") +
		       check_range(mem, half + TABLE_SZ, 3 * TABLE_SZ, 1,
				   "unmapper");
		if (pid == 0)
			_exit(bad_to_code(bad));
		EXPECT_EQ(0, bad);
		EXPECT_EQ(0, reap(pid));
		/* Put the holes back so the teardown unmaps a whole region. */
		mmap(whole, TABLE_SZ, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
		     MAP_FIXED, -1, 0);
		return;
	}
	event_wait(&unmapped);
	bad = check_range(mem, mem, REGION_SZ, 1, "other");
	if (pid == 0)
		_exit(bad_to_code(bad));
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, reap(pid));
}

TEST_F_TIMEOUT(fork, munmap_in_parent, 180)
{
	unmap_one_side(_metadata, self->mem, false);
}

TEST_F_TIMEOUT(fork, munmap_in_child, 180)
{
	unmap_one_side(_metadata, self->mem, true);
}

/*
 * MADV_DONTNEED of a whole table and of part of another in one process:
 * that process reads zeros there, the other keeps its data.
 */
static void dontneed_one_side(struct __test_metadata *_metadata, char *mem,
			      bool child_zaps)
{
	char *whole = mem + 5 * TABLE_SZ, *part = mem + 7 * TABLE_SZ;
	struct event zapped;
	pid_t pid;
	long bad;

	ASSERT_EQ(0, event_init(&zapped));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0 ? child_zaps : !child_zaps) {
		bad = madvise(whole, TABLE_SZ, MADV_DONTNEED) ? 1000 : 0;
		bad += madvise(part + 8 * PAGE_SZ, 16 * PAGE_SZ,
			       MADV_DONTNEED) ? 1000 : 0;
		event_signal(&zapped);
		bad += check_range(mem, whole, TABLE_SZ, 0, "zapper") +
		       check_range(mem, part, 8 * PAGE_SZ, 1, "zapper") +
		       check_range(mem, part + 8 * PAGE_SZ, 16 * PAGE_SZ, 0,
				   "zapper") +
		       check_range(mem, part + 24 * PAGE_SZ,
				   TABLE_SZ - 24 * PAGE_SZ, 1, "zapper") +
		       check_range(mem, mem, 5 * TABLE_SZ, 1, "zapper");
		/* Refill what was zapped: new pages, private to this side. */
		stamp_range(mem, whole, TABLE_SZ, 23);
		bad += check_range(mem, whole, TABLE_SZ, 23, "zapper");
		if (pid == 0)
			_exit(bad_to_code(bad));
		EXPECT_EQ(0, bad);
		EXPECT_EQ(0, reap(pid));
		return;
	}
	event_wait(&zapped);
	bad = check_range(mem, mem, REGION_SZ, 1, "other");
	if (pid == 0)
		_exit(bad_to_code(bad));
	EXPECT_EQ(0, bad);
	EXPECT_EQ(0, reap(pid));
}

TEST_F_TIMEOUT(fork, dontneed_in_parent, 180)
{
	dontneed_one_side(_metadata, self->mem, false);
}

TEST_F_TIMEOUT(fork, dontneed_in_child, 180)
{
	dontneed_one_side(_metadata, self->mem, true);
}

/*
 * vmsplice() before fork: the pipe keeps the page as it was, and no write
 * after the fork reaches it, whichever side writes. Stock fork takes the
 * page's exclusive mark off for that; a shared table must not bring the
 * mark back when its last sharer takes the table over.
 */
static void splice_before_fork(struct __test_metadata *_metadata, char *mem,
			       bool parent_leaves)
{
	char *page = mem + 3 * TABLE_SZ + 5 * PAGE_SZ;
	struct iovec iov = { page, PAGE_SZ };
	uint64_t buf[PAGE_SZ / 8];
	struct event left;
	int fds[2];
	pid_t pid;

	ASSERT_EQ(0, pipe(fds));
	ASSERT_EQ(PAGE_SZ, vmsplice(fds[1], &iov, 1, 0));
	ASSERT_EQ(0, event_init(&left));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (!parent_leaves)
			_exit(0);
		event_wait(&left);
		/* The child is the last to map the tables now. */
		stamp_range(mem, mem, REGION_SZ, 2);
		_exit(bad_to_code(check_range(mem, mem, REGION_SZ, 2, "child")));
	}
	if (parent_leaves) {
		ASSERT_EQ(0, munmap(mem, REGION_SZ));
		event_signal(&left);
		EXPECT_EQ(0, reap(pid));
	} else {
		EXPECT_EQ(0, reap(pid));
		stamp_range(mem, mem, REGION_SZ, 2);
		EXPECT_EQ(0, check_range(mem, mem, REGION_SZ, 2, "parent"));
	}
	ASSERT_EQ(PAGE_SZ, read(fds[0], buf, PAGE_SZ));
	EXPECT_EQ(stamp(mem, page, 1), buf[0]);
	EXPECT_EQ(stamp(mem, page, 1), buf[PAGE_SZ / 8 - 1]);
	close(fds[0]);
	close(fds[1]);
}

TEST_F_TIMEOUT(fork, vmsplice_before_fork_parent_leaves, 180)
{
	splice_before_fork(_metadata, self->mem, true);
}

TEST_F_TIMEOUT(fork, vmsplice_before_fork_child_leaves, 180)
{
	splice_before_fork(_metadata, self->mem, false);
}

/* The parent exits before its child, which must keep its memory intact. */
TEST_F_TIMEOUT(fork, parent_exits_first, 180)
{
	struct event gone;
	pid_t mid;

	/* Orphans are reparented to this process, so it can reap them. */
	ASSERT_EQ(0, prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0));
	ASSERT_EQ(0, event_init(&gone));
	mid = fork();
	ASSERT_LE(0, mid);
	if (mid == 0) {
		/* The middle process plays the parent that exits first. */
		stamp_range(self->mem, self->mem, REGION_SZ, 8);
		pid_t pid = fork();

		if (pid < 0)
			_exit(99);
		if (pid == 0) {
			/* Its parent is gone once the pipe's writer closes. */
			char c;

			close(gone.fd[1]);
			if (read(gone.fd[0], &c, 1) != 0)
				_exit(98);
			stamp_range(self->mem, self->mem, TABLE_SZ, 9);
			_exit(bad_to_code(check_range(self->mem, self->mem,
						      TABLE_SZ, 9, "orphan") +
					  check_range(self->mem,
						      self->mem + TABLE_SZ,
						      REGION_SZ - TABLE_SZ, 8,
						      "orphan")));
		}
		_exit(0);
	}
	close(gone.fd[1]);
	EXPECT_EQ(0, reap(mid));
	int status;
	pid_t orphan = wait(&status);

	ASSERT_LT(0, orphan);
	EXPECT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, check_range(self->mem, self->mem, REGION_SZ, 1, "parent"));
}

/* Three generations, each writing its own slice and checking the others. */
TEST_F_TIMEOUT(fork, three_levels, 180)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		stamp_range(self->mem, self->mem, TABLE_SZ, 10);
		pid_t gpid = fork();

		if (gpid < 0)
			_exit(99);
		if (gpid == 0) {
			long bad = check_range(self->mem, self->mem, TABLE_SZ,
					       10, "grandchild");

			stamp_range(self->mem, self->mem + TABLE_SZ, TABLE_SZ,
				    11);
			bad += check_range(self->mem, self->mem + TABLE_SZ,
					   TABLE_SZ, 11, "grandchild");
			bad += check_range(self->mem, self->mem + 2 * TABLE_SZ,
					   REGION_SZ - 2 * TABLE_SZ, 1,
					   "grandchild");
			_exit(bad_to_code(bad));
		}
		long bad = reap(gpid) ? 1000 : 0;

		bad += check_range(self->mem, self->mem, TABLE_SZ, 10, "child");
		bad += check_range(self->mem, self->mem + TABLE_SZ,
				   REGION_SZ - TABLE_SZ, 1, "child");
		_exit(bad_to_code(bad));
	}
	stamp_range(self->mem, self->mem + 2 * TABLE_SZ, TABLE_SZ, 12);
	EXPECT_EQ(0, reap(pid));
	EXPECT_EQ(0, check_range(self->mem, self->mem, 2 * TABLE_SZ, 1,
				 "parent"));
	EXPECT_EQ(0, check_range(self->mem, self->mem + 2 * TABLE_SZ, TABLE_SZ,
				 12, "parent"));
}

/* Many children of one parent, each writing one page of its own. */
/* Slow under page_table_check and KASAN: more than the default 30 s. */
TEST_F_TIMEOUT(fork, hundred_children, 300)
{
	pid_t pids[100];
	int i;

	for (i = 0; i < 100; i++) {
		pids[i] = fork();
		ASSERT_LE(0, pids[i]);
		if (pids[i] == 0) {
			char *mine = self->mem + i * 3 * PAGE_SZ;

			stamp_range(self->mem, mine, PAGE_SZ, 100 + i);
			_exit(bad_to_code(check_range(self->mem, mine, PAGE_SZ,
						      100 + i, "child") +
				check_range(self->mem, self->mem + REGION_SZ / 2,
					    REGION_SZ / 2, 1, "child")));
		}
	}
	for (i = 0; i < 100; i++)
		EXPECT_EQ(0, reap(pids[i]));
	EXPECT_EQ(0, check_range(self->mem, self->mem, REGION_SZ, 1, "parent"));
}

/*
 * Writes that bypass the page tables' write bit: /proc/PID/mem (GUP with
 * FOLL_FORCE | FOLL_WRITE) and process_vm_writev (GUP with FOLL_WRITE) in
 * one process must not reach the other.
 */
static long write_via_proc_mem(char *mem, char *addr, size_t len, uint64_t gen)
{
	int fd = open("/proc/self/mem", O_RDWR);
	long bad = 0;

	if (fd < 0)
		return 1000;
	for (char *p = addr; p < addr + len; p += PAGE_SZ) {
		uint64_t v = stamp(mem, p, gen);

		if (pwrite(fd, &v, sizeof(v), (off_t)(uintptr_t)p) != sizeof(v) ||
		    pwrite(fd, &v, sizeof(v),
			   (off_t)(uintptr_t)(p + PAGE_SZ - sizeof(v))) != sizeof(v))
			bad++;
	}
	close(fd);
	return bad;
}

TEST_F_TIMEOUT(fork, proc_mem_write_in_child, 180)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		long bad = write_via_proc_mem(self->mem, self->mem, REGION_SZ, 20);

		bad += check_range(self->mem, self->mem, REGION_SZ, 20, "child");
		_exit(bad_to_code(bad));
	}
	EXPECT_EQ(0, reap(pid));
	EXPECT_EQ(0, check_range(self->mem, self->mem, REGION_SZ, 1, "parent"));
}

/* Slow under page_table_check and KASAN: more than the default 30 s. */
TEST_F_TIMEOUT(fork, proc_mem_write_in_parent, 300)
{
	struct event written;
	pid_t pid;

	ASSERT_EQ(0, event_init(&written));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		event_wait(&written);
		_exit(bad_to_code(check_range(self->mem, self->mem, REGION_SZ,
					      1, "child")));
	}
	EXPECT_EQ(0, write_via_proc_mem(self->mem, self->mem, REGION_SZ, 21));
	event_signal(&written);
	EXPECT_EQ(0, reap(pid));
	EXPECT_EQ(0, check_range(self->mem, self->mem, REGION_SZ, 21, "parent"));
}

/* The parent writes into its child with process_vm_writev. */
TEST_F_TIMEOUT(fork, process_vm_writev_into_child, 180)
{
	struct event written;
	uint64_t v[NR_TABLES];
	struct iovec local[NR_TABLES], remote[NR_TABLES];
	pid_t pid;
	int i;

	ASSERT_EQ(0, event_init(&written));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		long bad = 0;

		event_wait(&written);
		for (i = 0; i < NR_TABLES; i++) {
			char *p = self->mem + i * TABLE_SZ;

			bad += *(uint64_t *)p != stamp(self->mem, p, 22);
			bad += check_range(self->mem, p + PAGE_SZ,
					   TABLE_SZ - PAGE_SZ, 1, "child");
		}
		_exit(bad_to_code(bad));
	}
	for (i = 0; i < NR_TABLES; i++) {
		char *p = self->mem + i * TABLE_SZ;

		v[i] = stamp(self->mem, p, 22);
		local[i] = (struct iovec){ &v[i], sizeof(v[i]) };
		remote[i] = (struct iovec){ p, sizeof(v[i]) };
	}
	EXPECT_EQ((ssize_t)sizeof(v),
		  process_vm_writev(pid, local, NR_TABLES, remote, NR_TABLES, 0));
	event_signal(&written);
	EXPECT_EQ(0, reap(pid));
	EXPECT_EQ(0, check_range(self->mem, self->mem, REGION_SZ, 1, "parent"));
}

struct writer {
	char *mem;
	atomic_bool stop;
	atomic_ulong round;
};

static void *writer_thread(void *arg)
{
	struct writer *w = arg;
	uint64_t gen = 1000;

	while (!atomic_load(&w->stop)) {
		stamp_range(w->mem, w->mem, REGION_SZ, ++gen);
		atomic_fetch_add(&w->round, 1);
	}
	return NULL;
}

/* A child's view must stay frozen while the parent's thread writes. */
static void snapshot_child(char *mem)
{
	size_t n = REGION_SZ / PAGE_SZ;
	uint64_t *seen = malloc(n * sizeof(*seen));
	long bad = 0;
	size_t j;

	if (!seen)
		_exit(99);
	for (j = 0; j < n; j++)
		seen[j] = READ_ONCE(*(uint64_t *)(mem + j * PAGE_SZ));
	usleep(20000);
	for (j = 0; j < n; j++)
		if (seen[j] != READ_ONCE(*(uint64_t *)(mem + j * PAGE_SZ)))
			bad++;
	_exit(bad_to_code(bad));
}

/*
 * A thread keeps writing while another thread forks. Each child must see a
 * frozen snapshot: whatever it read first, it must read again later, while
 * the parent's thread goes on writing.
 */
TEST_F_TIMEOUT(fork, thread_writes_during_fork, 180)
{
	struct writer w = { .mem = self->mem };
	pthread_t thread;
	int i;

	ASSERT_EQ(0, pthread_create(&thread, NULL, writer_thread, &w));
	for (i = 0; i < 20; i++) {
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0)
			snapshot_child(self->mem);
		EXPECT_EQ(0, reap(pid));
	}
	atomic_store(&w.stop, true);
	pthread_join(thread, NULL);
	EXPECT_LT(0, atomic_load(&w.round));
}

/*
 * Fork 20 children that stay alive together while @fn runs in a thread,
 * then stop it. Returns how many children failed to fork or saw their
 * snapshot change.
 */
static int forks_during(char *mem, void *(*fn)(void *), void *arg,
			atomic_bool *stop)
{
	pthread_t thread;
	pid_t pids[20];
	int i, n, bad = 0;

	if (pthread_create(&thread, NULL, fn, arg))
		return -1;
	for (n = 0; n < 20; n++) {
		pids[n] = fork();
		if (pids[n] < 0) {
			bad++;
			break;
		}
		if (pids[n] == 0)
			snapshot_child(mem);
	}
	for (i = 0; i < n; i++)
		bad += reap(pids[i]) != 0;
	atomic_store(stop, true);
	pthread_join(thread, NULL);
	return bad;
}

/*
 * The same with the children alive together: the writer then copies
 * tables still shared with one child while the next fork runs. A break
 * under the per-VMA lock and fork both wrote write_protect_seq (a
 * VM_BUG_ON on the debug kernel, found by the stress test).
 */
TEST_F_TIMEOUT(fork, thread_breaks_during_forks, 180)
{
	struct writer w = { .mem = self->mem };

	EXPECT_EQ(0, forks_during(self->mem, writer_thread, &w, &w.stop));
	EXPECT_LT(0, atomic_load(&w.round));
}

struct mover {
	char *src, *dst;
	int uffd;
	int err;
	atomic_bool stop;
	atomic_ulong round;
};

/*
 * Move one page of every source table per round. Most moves fail, and that
 * is fine: a page mapped by a child as well cannot move (EBUSY), a moved
 * page leaves a hole (ENOENT) or fills its destination (EEXIST), and a
 * contended break asks for a retry (EAGAIN). What matters is that every
 * attempt on a shared table breaks it first.
 */
static void *mover_thread(void *arg)
{
	struct mover *m = arg;
	size_t off = 0;

	while (!atomic_load(&m->stop)) {
		for (int i = 0; i < NR_TABLES; i++) {
			struct uffdio_move mv = {
				.dst = (uintptr_t)m->dst + i * TABLE_SZ + off,
				.src = (uintptr_t)m->src + i * TABLE_SZ + off,
				.len = PAGE_SZ,
			};

			if (ioctl(m->uffd, UFFDIO_MOVE, &mv) && errno != EBUSY &&
			    errno != ENOENT && errno != EEXIST &&
			    errno != EAGAIN) {
				m->err = errno;
				return NULL;
			}
		}
		off = (off + PAGE_SZ) % TABLE_SZ;
		atomic_fetch_add(&m->round, 1);
	}
	return NULL;
}

/*
 * UFFDIO_MOVE also runs under per-VMA locks only, and breaks the shared
 * tables of its source: the same race with fork as a thread's faults.
 * The children must keep their snapshot of the source.
 */
TEST_F_TIMEOUT(fork, uffd_move_during_forks, 180)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct mover m = { .src = self->mem };
	struct uffdio_register reg;

	m.uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (m.uffd < 0 || ioctl(m.uffd, UFFDIO_API, &api) ||
	    !(api.features & UFFD_FEATURE_MOVE))
		SKIP(return, "no UFFDIO_MOVE");
	m.dst = region_alloc(REGION_SZ);
	ASSERT_NE(NULL, m.dst);
	reg = (struct uffdio_register){
		.range = { (uintptr_t)m.dst, REGION_SZ },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	ASSERT_EQ(0, ioctl(m.uffd, UFFDIO_REGISTER, &reg));

	EXPECT_EQ(0, forks_during(self->mem, mover_thread, &m, &m.stop));
	EXPECT_EQ(0, m.err);
	EXPECT_LT(0, atomic_load(&m.round));
	close(m.uffd);
	munmap(m.dst, REGION_SZ);
}

TEST_HARNESS_MAIN
