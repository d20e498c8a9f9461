// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshot mode (PR_COW_PTE_ON | PR_COW_PTE_SNAPSHOT): the child of a fork
 * copies the tables it shares before it first runs, and its parent, left
 * the last sharer, takes each table back at its first write without a
 * copy. Checked here: that the copies are made where they should be, and
 * that the data of both sides survives whatever either does meanwhile (the
 * parent writing, unmapping or forking again, the child being killed,
 * forking or calling execve).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <linux/sched.h>

#include "kselftest_harness.h"
#include "cowpte_util.h"

#define TABLES		8
#define REGION_SZ	(TABLES * TABLE_SZ)
#define ROUNDS		20

struct counters {
	long copied, reused;
};

static struct counters counters(void)
{
	struct counters c = {
		vmstat_read("cow_pte_copied"), vmstat_read("cow_pte_reused"),
	};

	return c;
}

FIXTURE(snap) {
	char *mem;
	struct baseline base;
};

FIXTURE_SETUP(snap)
{
	baseline_take(&self->base);
	if (prctl(PR_GET_COW_PTE, 0, 0, 0, 0) < 0)
		SKIP(return, "no COW PTE in this kernel");
	/* A kernel with COW PTE but without the snapshot mode fails here. */
	ASSERT_EQ(0, prctl(PR_SET_COW_PTE,
			   PR_COW_PTE_ON | PR_COW_PTE_SNAPSHOT, 0, 0, 0));
	self->mem = region_alloc(REGION_SZ);
	ASSERT_NE(NULL, self->mem);
	stamp_range(self->mem, self->mem, REGION_SZ, 1);
}

FIXTURE_TEARDOWN(snap)
{
	if (self->mem)
		munmap(self->mem, REGION_SZ);
	prctl(PR_SET_COW_PTE, PR_COW_PTE_OFF, 0, 0, 0);
	if (_metadata->exit_code == KSFT_SKIP || !self->mem)
		return;
	EXPECT_BASELINE(&self->base, TABLES, 1024);
}

/*
 * By the time the child runs its first instruction it has copied every
 * table; the parent then writes everywhere and reuses each table, copying
 * none, and the child still sees the data of the fork.
 */
TEST_F(snap, child_copies_before_it_runs)
{
	struct counters c0 = counters(), c1, c2;
	struct event ready, written;
	char *mem = self->mem;
	pid_t pid;

	ASSERT_EQ(0, event_init(&ready));
	ASSERT_EQ(0, event_init(&written));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		long copied = counters().copied - c0.copied;

		if (copied < TABLES)
			fprintf(stderr, "# the child copied %ld tables before it ran, want %d\n",
				copied, TABLES);
		event_signal(&ready);
		event_wait(&written);
		_exit(bad_to_code(check_range(mem, mem, REGION_SZ, 1, "child") +
				  (copied < TABLES)));
	}
	event_wait(&ready);
	c1 = counters();
	stamp_range(mem, mem, REGION_SZ, 2);
	c2 = counters();
	event_signal(&written);
	EXPECT_EQ(0, reap(pid));
	EXPECT_EQ(c1.copied, c2.copied);
	EXPECT_LE(c1.reused + TABLES, c2.reused);
	EXPECT_EQ(0, check_range(mem, mem, REGION_SZ, 2, "parent"));
}

/*
 * The parent acts at once, while the child may still be copying: it writes
 * the first and last tables, unmaps one and makes another read-only. Each
 * side must keep its own data. Each round starts from a new region.
 */
TEST_F(snap, parent_acts_while_child_copies)
{
	long bad = 0;

	for (int round = 0; round < ROUNDS && !bad; round++) {
		char *mem = self->mem;
		pid_t pid = fork();

		ASSERT_LE(0, pid);
		if (pid == 0)
			_exit(bad_to_code(check_range(mem, mem, REGION_SZ, 1,
						      "child")));
		stamp_range(mem, mem, TABLE_SZ, 2);
		stamp_range(mem, mem + REGION_SZ - TABLE_SZ, TABLE_SZ, 2);
		EXPECT_EQ(0, munmap(mem + 2 * TABLE_SZ, TABLE_SZ));
		EXPECT_EQ(0, mprotect(mem + 3 * TABLE_SZ, TABLE_SZ, PROT_READ));
		bad += reap(pid);
		bad += check_range(mem, mem, TABLE_SZ, 2, "parent");
		bad += check_range(mem, mem + 3 * TABLE_SZ, TABLE_SZ, 1,
				   "parent");
		munmap(mem, REGION_SZ);
		self->mem = region_alloc(REGION_SZ);
		ASSERT_NE(NULL, self->mem);
		stamp_range(self->mem, self->mem, REGION_SZ, 1);
	}
	EXPECT_EQ(0, bad);
}

/* A child killed before or while it copies leaves the parent intact. */
TEST_F(snap, child_killed_while_copying)
{
	char *mem = self->mem;
	long bad = 0;

	for (int round = 0; round < ROUNDS; round++) {
		pid_t pid = fork();
		int code;

		ASSERT_LE(0, pid);
		if (pid == 0)
			_exit(0);
		kill(pid, SIGKILL);
		code = reap(pid);
		if (code != 0 && code != 128 + SIGKILL)
			bad++;
		stamp_range(mem, mem + (round % TABLES) * TABLE_SZ, PAGE_SZ,
			    round + 2);
		bad += check_range(mem, mem + (round % TABLES) * TABLE_SZ,
				   PAGE_SZ, round + 2, "parent");
	}
	EXPECT_EQ(0, bad);
}

/*
 * A child born into a memory cgroup with no room (clone3() with
 * CLONE_INTO_CGROUP) is OOM-killed by its first charge: the copy of a
 * table, or a fault if the copies were charged elsewhere. Its shares are
 * dropped on exit, and the parent, in a cgroup of its own, keeps its data
 * and takes its tables back.
 */
TEST_F(snap, child_oom_killed_while_copying)
{
	char cg[] = "/sys/fs/cgroup/cowpte-snap-XXXXXX", path[64];
	struct clone_args args = { .exit_signal = SIGCHLD };
	const char *why = mem_cgroup_make(cg, "0");
	char *mem = self->mem, key[64];
	long kills = 0, n;
	FILE *f;
	pid_t pid;

	if (why)
		SKIP(return, "%s", why);
	args.flags = CLONE_INTO_CGROUP;
	args.cgroup = open(cg, O_RDONLY | O_DIRECTORY);
	ASSERT_LE(0, args.cgroup);
	pid = syscall(__NR_clone3, &args, sizeof(args));
	if (pid == 0) {
		stamp_range(mem, mem, REGION_SZ, 3);
		_exit(0);
	}
	close(args.cgroup);
	ASSERT_LE(0, pid);
	EXPECT_EQ(128 + SIGKILL, reap(pid));
	snprintf(path, sizeof(path), "%s/memory.events", cg);
	f = fopen(path, "r");
	ASSERT_NE(NULL, f);
	while (fscanf(f, "%63s %ld", key, &n) == 2)
		if (!strcmp(key, "oom_kill"))
			kills = n;
	fclose(f);
	EXPECT_LE(1, kills);
	EXPECT_EQ(0, check_range(mem, mem, REGION_SZ, 1, "parent"));
	stamp_range(mem, mem, REGION_SZ, 2);
	EXPECT_EQ(0, check_range(mem, mem, REGION_SZ, 2, "parent"));
	EXPECT_EQ(0, rmdir(cg));
}

/*
 * The child forks at once (its grandchild copies too, as the mode is
 * inherited) and the grandchild calls execve; the parent writes meanwhile.
 */
TEST_F(snap, child_forks_and_execs)
{
	char *mem = self->mem;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		pid_t grandchild = fork();
		long bad;

		if (grandchild < 0)
			_exit(99);
		if (grandchild == 0) {
			if (check_range(mem, mem, REGION_SZ, 1, "grandchild"))
				_exit(1);
			execl("/bin/true", "true", NULL);
			_exit(98);
		}
		stamp_range(mem, mem, TABLE_SZ, 3);
		bad = reap(grandchild);
		bad += check_range(mem, mem, TABLE_SZ, 3, "child");
		bad += check_range(mem, mem + TABLE_SZ, REGION_SZ - TABLE_SZ, 1,
				   "child");
		_exit(bad_to_code(bad));
	}
	stamp_range(mem, mem, REGION_SZ, 2);
	EXPECT_EQ(0, reap(pid));
	EXPECT_EQ(0, check_range(mem, mem, REGION_SZ, 2, "parent"));
}

/*
 * A child stopped for its tracer right after fork: the tracer reads the
 * child's memory (GUP on the child's tables) and the child runs on.
 */
TEST_F(snap, traced_child)
{
	char *mem = self->mem;
	int status;
	long word;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (ptrace(PTRACE_TRACEME, 0, NULL, NULL))
			_exit(99);
		raise(SIGSTOP);
		_exit(bad_to_code(check_range(mem, mem, REGION_SZ, 1, "child")));
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSTOPPED(status));
	stamp_range(mem, mem, TABLE_SZ, 2);
	errno = 0;
	word = ptrace(PTRACE_PEEKDATA, pid, mem + TABLE_SZ, NULL);
	EXPECT_EQ(0, errno);
	EXPECT_EQ((long)stamp(mem, mem + TABLE_SZ, 1), word);
	word = ptrace(PTRACE_PEEKDATA, pid, mem, NULL);
	EXPECT_EQ((long)stamp(mem, mem, 1), word);
	ASSERT_EQ(0, ptrace(PTRACE_DETACH, pid, NULL, NULL));
	EXPECT_EQ(0, reap(pid));
}

TEST_HARNESS_MAIN
