// SPDX-License-Identifier: GPL-2.0
/*
 * The cow_pte tracepoints and the counters of the tables fork did not share:
 * each event fires where it should, names the path that broke a table, and
 * stays quiet where nothing was shared.
 *
 * The events are read from a tracefs instance of the test's own, which
 * follows this process and its children only (set_event_pid, event-fork).
 */
#define _GNU_SOURCE
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>
#include <liburing.h>

#include "kselftest_harness.h"
#include "cowpte_util.h"

#define TABLES		5
#define REGION_SZ	(TABLES * TABLE_SZ)
#define MAX_EVENTS	4096

struct trace_event {
	char name[32];
	pid_t pid;
	unsigned long addr;
	int sharers;
	char reason[32];
};

static int trace_write(const char *dir, const char *file, const char *val)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	return knob_write(path, val);
}

/*
 * A tracefs instance following this process and its children: 0, 1 when
 * there is no tracefs, -1 when the cow_pte events cannot be enabled.
 */
static int trace_start(char *dir, size_t size)
{
	static const char * const roots[] = {
		"/sys/kernel/tracing", "/sys/kernel/debug/tracing",
	};
	char pid[16];

	for (int i = 0; i < 2; i++) {
		snprintf(dir, size, "%s/instances/cowpte-%d", roots[i], getpid());
		if (!mkdir(dir, 0700))
			break;
		if (i == 1)
			return 1;
	}
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (trace_write(dir, "set_event_pid", pid) ||
	    trace_write(dir, "options/event-fork", "1") ||
	    trace_write(dir, "events/cow_pte/enable", "1"))
		return -1;
	return 0;
}

static void trace_stop(const char *dir)
{
	trace_write(dir, "events/cow_pte/enable", "0");
	rmdir(dir);
}

/*
 * The events recorded so far whose address lies in [@from, @to), into @ev;
 * returns how many, or -1.
 */
static int trace_read(const char *dir, const char *from, const char *to,
		      struct trace_event *ev)
{
	char path[512], line[512];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/trace", dir);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (n < MAX_EVENTS && fgets(line, sizeof(line), f)) {
		char *task = line, *at = strstr(line, " mm_cow_p");
		struct trace_event *e = &ev[n];
		char *dash, *s;

		if (line[0] == '#' || !at)
			continue;
		while (*task == ' ')
			task++;
		/* "comm-pid [cpu] flags timestamp: name: fields" */
		dash = strchr(task, '[');
		if (!dash)
			continue;
		while (dash > task && *dash != '-')
			dash--;
		e->pid = atoi(dash + 1);
		if (sscanf(at + 1, "%31[^:]:", e->name) != 1)
			continue;
		s = strstr(at, "addr=");
		if (!s || sscanf(s, "addr=%lx sharers=%d", &e->addr,
				 &e->sharers) != 2)
			continue;
		e->reason[0] = '\0';
		s = strstr(at, "reason=");
		if (s)
			sscanf(s, "reason=%31s", e->reason);
		if (e->addr >= (unsigned long)from && e->addr < (unsigned long)to)
			n++;
	}
	fclose(f);
	return n;
}

/* How many of @ev are @name (and @reason, and for @addr, unless 0/NULL). */
static int count(struct trace_event *ev, int n, const char *name,
		 const char *reason, const char *addr)
{
	int c = 0;

	for (int i = 0; i < n; i++)
		if (!strcmp(ev[i].name, name) &&
		    (!reason || !strcmp(ev[i].reason, reason)) &&
		    (!addr || ev[i].addr == (unsigned long)addr))
			c++;
	return c;
}

FIXTURE(trace) {
	char dir[256];
	char *mem;
	struct trace_event *ev;
};

FIXTURE_SETUP(trace)
{
	int ret;

	self->mem = NULL;
	self->ev = NULL;
	if (prctl(PR_GET_COW_PTE, 0, 0, 0, 0) < 0)
		SKIP(return, "no COW PTE in this kernel");
	ret = trace_start(self->dir, sizeof(self->dir));
	if (ret > 0)
		SKIP(return, "no tracefs: %s", strerror(errno));
	self->ev = calloc(MAX_EVENTS, sizeof(*self->ev));
	ASSERT_EQ(0, ret) TH_LOG("the cow_pte events cannot be enabled");
	ASSERT_NE(NULL, self->ev);
	self->mem = region_alloc(REGION_SZ);
	ASSERT_NE(NULL, self->mem);
	stamp_range(self->mem, self->mem, REGION_SZ, 1);
}

FIXTURE_TEARDOWN(trace)
{
	if (self->mem)
		munmap(self->mem, REGION_SZ);
	prctl(PR_SET_COW_PTE, PR_COW_PTE_OFF, 0, 0, 0);
	if (self->ev)
		trace_stop(self->dir);
	free(self->ev);
}

/* Fork a child that writes the first page of @mem and exits; its status. */
static int fork_writer(char *mem)
{
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		mem[0] = 2;
		_exit(0);
	}
	return reap(pid);
}

#define EVENTS() \
	trace_read(self->dir, self->mem, self->mem + REGION_SZ, self->ev)

/*
 * Fork shares each table (sharers=2); the child's write breaks one (a fault,
 * leaving the parent alone: sharers=1), the parent's write to that table
 * reuses it; the child's exit drops the others, which the parent then
 * reuses too. Nothing fires twice.
 */
TEST_F(trace, share_break_reuse_drop)
{
	char *mem = self->mem;
	struct trace_event *ev = self->ev;
	int n;

	ASSERT_EQ(0, prctl(PR_SET_COW_PTE, PR_COW_PTE_ON, 0, 0, 0));
	ASSERT_EQ(0, fork_writer(mem));
	stamp_range(mem, mem, REGION_SZ, 3);
	n = EVENTS();
	ASSERT_LT(0, n);
	EXPECT_EQ(TABLES, count(ev, n, "mm_cow_pte_share", NULL, NULL));
	for (int i = 0; i < n; i++) {
		if (!strcmp(ev[i].name, "mm_cow_pte_share")) {
			EXPECT_EQ(getpid(), ev[i].pid);
			EXPECT_EQ(2, ev[i].sharers);
		}
	}
	EXPECT_EQ(1, count(ev, n, "mm_cow_pte_break", "fault", mem));
	EXPECT_EQ(1, count(ev, n, "mm_cow_pte_break", NULL, NULL));
	for (int i = 0; i < n; i++) {
		if (!strcmp(ev[i].name, "mm_cow_pte_break")) {
			EXPECT_NE(getpid(), ev[i].pid);
			EXPECT_EQ(1, ev[i].sharers);
		}
	}
	EXPECT_EQ(TABLES - 1, count(ev, n, "mm_cow_pte_drop", NULL, NULL));
	EXPECT_EQ(0, count(ev, n, "mm_cow_pte_drop", NULL, mem));
	EXPECT_EQ(TABLES, count(ev, n, "mm_cow_pte_reuse", "fault", NULL));
	EXPECT_EQ(0, check_range(mem, mem, REGION_SZ, 3, "parent"));
}

/*
 * Each path that must change a shared table says so in the break. The
 * ranges of mprotect and mlock are whole tables, so that their VMA splits
 * fall on table boundaries, where they break nothing.
 */
TEST_F(trace, break_names_the_path)
{
	char *mem = self->mem;
	struct trace_event *ev = self->ev;
	struct event done;
	int fd[2], n;
	pid_t pid;

	ASSERT_EQ(0, event_init(&done));
	ASSERT_EQ(0, pipe(fd));
	ASSERT_EQ(0, prctl(PR_SET_COW_PTE, PR_COW_PTE_ON, 0, 0, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		/* Keep every table shared until the parent is done. */
		event_wait(&done);
		_exit(bad_to_code(check_range(mem, mem, REGION_SZ, 1,
					      "child")));
	}
	EXPECT_EQ(0, mprotect(mem, TABLE_SZ, PROT_READ));
	EXPECT_EQ(0, madvise(mem + TABLE_SZ, PAGE_SZ, MADV_FREE));
	EXPECT_EQ(0, mlock(mem + 2 * TABLE_SZ, TABLE_SZ));
	/* A copy into the region by the kernel: a fault of its own. */
	ASSERT_EQ(1, write(fd[1], "x", 1));
	ASSERT_EQ(1, read(fd[0], mem + 3 * TABLE_SZ, 1));
	/* A VMA flag of one page: only the split changes the table. */
	EXPECT_EQ(0, madvise(mem + 4 * TABLE_SZ, PAGE_SZ, MADV_RANDOM));
	event_signal(&done);
	EXPECT_EQ(0, reap(pid));
	n = EVENTS();
	ASSERT_LT(0, n);
	EXPECT_EQ(1, count(ev, n, "mm_cow_pte_break", "mprotect", mem));
	EXPECT_EQ(1, count(ev, n, "mm_cow_pte_break", "madvise",
			   mem + TABLE_SZ));
	EXPECT_EQ(1, count(ev, n, "mm_cow_pte_break", "mlock",
			   mem + 2 * TABLE_SZ));
	EXPECT_EQ(1, count(ev, n, "mm_cow_pte_break", "kernel",
			   mem + 3 * TABLE_SZ));
	EXPECT_EQ(1, count(ev, n, "mm_cow_pte_break", "vma_split",
			   mem + 4 * TABLE_SZ));
	EXPECT_EQ(TABLES, count(ev, n, "mm_cow_pte_break", NULL, NULL));
	/*
	 * The parent broke every table: the exiting child was the last
	 * sharer of each, took it back and dropped nothing.
	 */
	EXPECT_EQ(0, count(ev, n, "mm_cow_pte_drop", NULL, NULL));
	EXPECT_EQ(TABLES, count(ev, n, "mm_cow_pte_reuse", "zap", NULL));
	munlock(mem + 2 * TABLE_SZ, TABLE_SZ);
	close(fd[0]);
	close(fd[1]);
}

/* Without the mode, and for reads, nothing fires. */
TEST_F(trace, quiet_without_sharing)
{
	char *mem = self->mem;
	pid_t pid;
	int n;

	ASSERT_EQ(0, fork_writer(mem));
	EXPECT_EQ(0, EVENTS());

	/* With the mode, a child that only reads breaks nothing. */
	ASSERT_EQ(0, prctl(PR_SET_COW_PTE, PR_COW_PTE_ON, 0, 0, 0));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(bad_to_code(check_range(mem, mem, REGION_SZ, 1,
					      "child")));
	ASSERT_EQ(0, reap(pid));
	n = EVENTS();
	EXPECT_EQ(TABLES, count(self->ev, n, "mm_cow_pte_share", NULL, NULL));
	EXPECT_EQ(0, count(self->ev, n, "mm_cow_pte_break", NULL, NULL));
	EXPECT_EQ(TABLES, count(self->ev, n, "mm_cow_pte_drop", NULL, NULL));
}

/* Fork with the mode on, and return how much @counter grew meanwhile. */
static long fork_counting(const char *counter)
{
	long before = vmstat_read(counter);
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0)
		_exit(0);
	if (reap(pid))
		return -1;
	return vmstat_read(counter) - before;
}

/*
 * The tables fork copied are counted by why: a table the VMA does not
 * cover whole, a locked VMA, a VMA registered with userfaultfd, a private
 * file mapping, an mm that pinned pages.
 */
TEST_F(trace, unshared_tables_counted_by_reason)
{
	char *mem = self->mem;
	struct uffdio_register reg = {
		.range = { (unsigned long)mem, TABLE_SZ },
		.mode = UFFDIO_REGISTER_MODE_MISSING,
	};
	struct uffdio_api api = { .api = UFFD_API };
	char path[] = "/tmp/cowpte-trace-XXXXXX";
	struct iovec iov = { mem + 3 * TABLE_SZ, PAGE_SZ };
	struct io_uring ring;
	int uffd, fd;
	char *file;

	ASSERT_EQ(0, prctl(PR_SET_COW_PTE, PR_COW_PTE_ON, 0, 0, 0));
	/* Half a table: no longer covered whole by one VMA. */
	ASSERT_EQ(0, mprotect(mem + TABLE_SZ / 2, TABLE_SZ / 2, PROT_READ));
	EXPECT_LE(2, fork_counting("cow_pte_skip_partial"));
	ASSERT_EQ(0, mprotect(mem + TABLE_SZ / 2, TABLE_SZ / 2,
			      PROT_READ | PROT_WRITE));

	ASSERT_EQ(0, mlock(mem + TABLE_SZ, TABLE_SZ));
	EXPECT_LE(1, fork_counting("cow_pte_skip_mlock"));
	ASSERT_EQ(0, munlock(mem + TABLE_SZ, TABLE_SZ));

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC);
	if (uffd >= 0 && !ioctl(uffd, UFFDIO_API, &api)) {
		reg.range.start = (unsigned long)(mem + 2 * TABLE_SZ);
		ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));
		EXPECT_LE(1, fork_counting("cow_pte_skip_uffd"));
		close(uffd);
	} else {
		TH_LOG("no userfaultfd: not checked");
	}

	/*
	 * A private file mapping, written: fork copies its anon pages. Placed
	 * on whole tables, so that it is not counted as partial instead.
	 */
	fd = mkstemp(path);
	ASSERT_LE(0, fd);
	unlink(path);
	ASSERT_EQ(0, ftruncate(fd, 2 * TABLE_SZ));
	file = region_alloc(2 * TABLE_SZ);
	ASSERT_NE(NULL, file);
	ASSERT_EQ(file, mmap(file, 2 * TABLE_SZ, PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_FIXED, fd, 0));
	memset(file, 1, 2 * TABLE_SZ);
	EXPECT_LE(1, fork_counting("cow_pte_skip_vma"));
	munmap(file, 2 * TABLE_SZ);
	close(fd);

	/* Without the mode, fork counts nothing. */
	ASSERT_EQ(0, prctl(PR_SET_COW_PTE, PR_COW_PTE_OFF, 0, 0, 0));
	EXPECT_EQ(0, fork_counting("cow_pte_skip_partial"));

	/*
	 * Last, as it lasts as long as the mm: a pin (io_uring fixed
	 * buffers) makes every later fork copy every table.
	 */
	ASSERT_EQ(0, prctl(PR_SET_COW_PTE, PR_COW_PTE_ON, 0, 0, 0));
	if (io_uring_queue_init(4, &ring, 0)) {
		TH_LOG("no io_uring: pinned mms not checked");
		return;
	}
	ASSERT_EQ(0, io_uring_register_buffers(&ring, &iov, 1));
	EXPECT_LE(TABLES, fork_counting("cow_pte_skip_pinned"));
	io_uring_queue_exit(&ring);
}

/*
 * PMD tables (vm.cow_pte_pmd): two forks share the GiB's PMD table, with
 * the 1 GiB-aligned address; the first child's write breaks it (a
 * fault), the second child's exit drops it, the parent's write takes it
 * back. The PTE level's events below it come on top.
 */
TEST_F(trace, pmd_share_break_drop_reuse)
{
	struct trace_event *ev = self->ev;
	long knob = knob_read(PMD_KNOB);
	char val[24];
	char *gib;
	pid_t pid;
	int n;

	if (knob < 0)
		SKIP(return, "no " PMD_KNOB);
	ASSERT_EQ(0, knob_write(PMD_KNOB, "1"));
	gib = region_map(GIB, GIB, MAP_NORESERVE, false);
	ASSERT_NE(NULL, gib);
	for (size_t off = 0; off < GIB; off += 64 * TABLE_SZ)
		gib[off] = 1;
	ASSERT_EQ(0, prctl(PR_SET_COW_PTE, PR_COW_PTE_ON, 0, 0, 0));
	ASSERT_EQ(0, fork_writer(gib));
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0)
		_exit(0);
	ASSERT_EQ(0, reap(pid));
	gib[0] = 3;
	n = trace_read(self->dir, gib, gib + GIB, ev);
	ASSERT_LT(0, n);
	EXPECT_EQ(2, count(ev, n, "mm_cow_pmd_share", NULL, gib));
	EXPECT_EQ(1, count(ev, n, "mm_cow_pmd_break", "fault", gib));
	EXPECT_EQ(1, count(ev, n, "mm_cow_pmd_drop", NULL, gib));
	EXPECT_EQ(1, count(ev, n, "mm_cow_pmd_reuse", "fault", gib));
	for (int i = 0; i < n; i++)
		if (!strcmp(ev[i].name, "mm_cow_pmd_break") ||
		    !strcmp(ev[i].name, "mm_cow_pmd_drop"))
			EXPECT_NE(getpid(), ev[i].pid);
	munmap(gib, GIB);
	snprintf(val, sizeof(val), "%ld", knob);
	knob_write(PMD_KNOB, val);
}

TEST_HARNESS_MAIN
