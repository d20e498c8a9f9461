// SPDX-License-Identifier: GPL-2.0
/*
 * The COW PTE prctl ABI (modes, errors, inheritance over fork, behaviour
 * over execve) and the /proc/vmstat counters that show what happened to the
 * shared tables.
 */
#define _GNU_SOURCE
#include "kselftest_harness.h"
#include "cowpte_util.h"

#define PR_COW_PTE_ON_EXEC_SNAPSHOT	(PR_COW_PTE_ON_EXEC | PR_COW_PTE_SNAPSHOT)

static const char *self_exe;

static int get_mode(void)
{
	return prctl(PR_GET_COW_PTE, 0, 0, 0, 0);
}

static bool have_cow_pte(void)
{
	return get_mode() >= 0;
}

TEST(modes_round_trip)
{
	int mode;

	if (!have_cow_pte())
		SKIP(return, "kernel without COW PTE: %s", strerror(errno));
	EXPECT_EQ(PR_COW_PTE_OFF, get_mode());
	for (mode = PR_COW_PTE_ON_EXEC; mode >= PR_COW_PTE_OFF; mode--) {
		ASSERT_EQ(0, prctl(PR_SET_COW_PTE, mode, 0, 0, 0));
		EXPECT_EQ(mode, get_mode());
	}
	for (mode = PR_COW_PTE_ON; mode <= PR_COW_PTE_ON_EXEC; mode++) {
		ASSERT_EQ(0, prctl(PR_SET_COW_PTE, mode | PR_COW_PTE_SNAPSHOT,
				   0, 0, 0));
		EXPECT_EQ(mode | PR_COW_PTE_SNAPSHOT, get_mode());
	}
	/* Setting a mode without the flag takes the flag away. */
	ASSERT_EQ(0, prctl(PR_SET_COW_PTE, PR_COW_PTE_ON, 0, 0, 0));
	EXPECT_EQ(PR_COW_PTE_ON, get_mode());
	ASSERT_EQ(0, prctl(PR_SET_COW_PTE, PR_COW_PTE_OFF, 0, 0, 0));
	EXPECT_EQ(PR_COW_PTE_OFF, get_mode());
}

TEST(bad_arguments)
{
	if (!have_cow_pte())
		SKIP(return, "kernel without COW PTE: %s", strerror(errno));
	ASSERT_EQ(0, prctl(PR_SET_COW_PTE, PR_COW_PTE_ON, 0, 0, 0));

	EXPECT_EQ(-1, prctl(PR_SET_COW_PTE, 3, 0, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	/* Snapshot qualifies a mode that is on. */
	EXPECT_EQ(-1, prctl(PR_SET_COW_PTE, PR_COW_PTE_SNAPSHOT, 0, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, prctl(PR_SET_COW_PTE, 3 | PR_COW_PTE_SNAPSHOT, 0, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, prctl(PR_SET_COW_PTE, 8, 0, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, prctl(PR_SET_COW_PTE, -1UL, 0, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, prctl(PR_SET_COW_PTE, PR_COW_PTE_OFF, 1, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, prctl(PR_SET_COW_PTE, PR_COW_PTE_OFF, 0, 1, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, prctl(PR_SET_COW_PTE, PR_COW_PTE_OFF, 0, 0, 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, prctl(PR_GET_COW_PTE, 1, 0, 0, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, prctl(PR_GET_COW_PTE, 0, 0, 0, 1));
	EXPECT_EQ(EINVAL, errno);
	/* A rejected call leaves the mode alone. */
	EXPECT_EQ(PR_COW_PTE_ON, get_mode());
}

TEST(inherited_over_fork)
{
	int mode;

	if (!have_cow_pte())
		SKIP(return, "kernel without COW PTE: %s", strerror(errno));
	for (mode = PR_COW_PTE_OFF; mode <= PR_COW_PTE_ON_EXEC_SNAPSHOT;
	     mode++) {
		pid_t pid;

		if (mode == (PR_COW_PTE_OFF | PR_COW_PTE_SNAPSHOT) ||
		    (mode & 3) == 3)
			continue;
		ASSERT_EQ(0, prctl(PR_SET_COW_PTE, mode, 0, 0, 0));
		pid = fork();
		ASSERT_LE(0, pid);
		if (pid == 0)
			_exit(get_mode());
		EXPECT_EQ(mode, reap(pid));
	}
}

/* Run this program again, which reports its mode as its exit status. */
static int mode_after_exec(int mode)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (prctl(PR_SET_COW_PTE, mode, 0, 0, 0))
			_exit(100);
		execl(self_exe, self_exe, "--report-mode", NULL);
		_exit(101);
	}
	return reap(pid);
}

TEST(over_exec)
{
	if (!have_cow_pte())
		SKIP(return, "kernel without COW PTE: %s", strerror(errno));
	EXPECT_EQ(PR_COW_PTE_OFF, mode_after_exec(PR_COW_PTE_OFF));
	EXPECT_EQ(PR_COW_PTE_OFF, mode_after_exec(PR_COW_PTE_ON));
	EXPECT_EQ(PR_COW_PTE_ON_EXEC, mode_after_exec(PR_COW_PTE_ON_EXEC));
	EXPECT_EQ(PR_COW_PTE_OFF,
		  mode_after_exec(PR_COW_PTE_ON | PR_COW_PTE_SNAPSHOT));
	EXPECT_EQ(PR_COW_PTE_ON_EXEC_SNAPSHOT,
		  mode_after_exec(PR_COW_PTE_ON_EXEC_SNAPSHOT));
}

struct counters {
	long shared, copied, reused, dropped;
};

static struct counters counters(void)
{
	struct counters c = {
		vmstat_read("cow_pte_shared"), vmstat_read("cow_pte_copied"),
		vmstat_read("cow_pte_reused"), vmstat_read("cow_pte_dropped"),
	};

	return c;
}

#define TABLES	16

/*
 * A child that exits without touching anything drops its references and
 * copies nothing; the parent, left the only sharer, then reuses each table
 * on its first write instead of copying it.
 */
TEST(untouched_child_drops_parent_reuses)
{
	struct counters c0, c1, c2;
	char *mem;
	pid_t pid;

	if (!have_cow_pte())
		SKIP(return, "kernel without COW PTE: %s", strerror(errno));
	mem = region_alloc(TABLES * TABLE_SZ);
	ASSERT_NE(NULL, mem);
	stamp_range(mem, mem, TABLES * TABLE_SZ, 1);
	ASSERT_EQ(0, prctl(PR_SET_COW_PTE, PR_COW_PTE_ON, 0, 0, 0));

	c0 = counters();
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(0);
	ASSERT_EQ(0, reap(pid));
	c1 = counters();
	EXPECT_LE(c0.shared + TABLES, c1.shared);
	EXPECT_LE(c0.dropped + TABLES, c1.dropped);
	EXPECT_EQ(c0.copied, c1.copied);

	stamp_range(mem, mem, TABLES * TABLE_SZ, 2);
	c2 = counters();
	EXPECT_LE(c1.reused + TABLES, c2.reused);
	EXPECT_EQ(c1.copied, c2.copied);
	EXPECT_EQ(0, check_range(mem, mem, TABLES * TABLE_SZ, 2, "parent"));
	munmap(mem, TABLES * TABLE_SZ);
}

/*
 * A child that writes to every table copies each one; the parent, left the
 * only sharer, reuses them; the child's copies show in its VmPTE.
 */
TEST(writing_child_copies)
{
	struct counters c0, c1;
	char *mem;
	pid_t pid;

	if (!have_cow_pte())
		SKIP(return, "kernel without COW PTE: %s", strerror(errno));
	mem = region_alloc(TABLES * TABLE_SZ);
	ASSERT_NE(NULL, mem);
	stamp_range(mem, mem, TABLES * TABLE_SZ, 1);
	ASSERT_EQ(0, prctl(PR_SET_COW_PTE, PR_COW_PTE_ON, 0, 0, 0));

	c0 = counters();
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		for (int i = 0; i < TABLES; i++)
			stamp_range(mem, mem + i * TABLE_SZ, PAGE_SZ, 3);
		_exit(bad_to_code(check_range(mem, mem + TABLE_SZ - PAGE_SZ,
					      PAGE_SZ, 1, "child")));
	}
	ASSERT_EQ(0, reap(pid));
	c1 = counters();
	EXPECT_LE(c0.copied + TABLES, c1.copied);
	stamp_range(mem, mem, TABLES * TABLE_SZ, 2);
	EXPECT_LE(c1.reused + TABLES, counters().reused);
	munmap(mem, TABLES * TABLE_SZ);
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--report-mode"))
		return get_mode();
	self_exe = "/proc/self/exe";
	return test_harness_run(argc, argv);
}
