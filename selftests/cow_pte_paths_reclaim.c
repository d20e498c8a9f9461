// SPDX-License-Identifier: GPL-2.0
/*
 * Path tests, memory taken back: KSM, swapoff, memory cgroup reclaim, the
 * OOM killer and reaper, khugepaged and page allocation failures, each
 * reaching a PTE table that fork left shared. The fixture and the one-side
 * machinery they run on are in paths_common.h.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/userfaultfd.h>

#include "paths_common.h"

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
		bad += READ_ONCE(*p) != (p < *mem + len / 2 ? 0x11 : 0x22);
	return bad;
}

static long ksm_check_unmerged(char **mem, size_t len)
{
	long bad = 0;

	for (char *p = *mem; p < *mem + len; p += PAGE_SZ)
		bad += READ_ONCE(p[7]) != (p < *mem + len / 2 ? 0x11 : 0x22);
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
		bad += READ_ONCE(p[100]) != (p < mem + len / 2 ? 0x11 : 0x22);
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

/* --- swapoff, memory cgroups, OOM ------------------------------------- */

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

/*
 * Reclaim in a memory cgroup takes the region's pages whoever maps them:
 * its reverse-map walk unmaps each page from every mm, through a table
 * they share or through their own (stock fork). Each side's swap counter
 * then counts the entries in its tables, and both read their data back
 * from swap.
 */
static const char *reclaim_cg;	/* the test's memory cgroup */

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
	char cg[] = "/sys/fs/cgroup/cowpte-rc-XXXXXX";
	const char *why = mem_cgroup_make(cg, NULL);

	if (why)
		SKIP(return, "%s", why);
	reclaim_cg = cg;
	ONE_SIDE(prep_reclaim, act_memcg_reclaim, NULL);
	cgroup_enter("/sys/fs/cgroup");
	rmdir(cg);
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

#define KHUGEPAGED	"/sys/kernel/mm/transparent_hugepage/khugepaged/"

static long khugepaged_read(const char *name)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), KHUGEPAGED "%s", name);
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
	FILE *f = fopen(KHUGEPAGED "scan_sleep_millisecs", "w");

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
