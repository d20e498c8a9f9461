// SPDX-License-Identifier: GPL-2.0
/*
 * Path tests, access from outside the process's own loads and stores:
 * device memory (test_hmm), userfaultfd, uprobes, and GUP in its forms
 * (vmsplice, process_vm_readv, ptrace, long-term pins, O_DIRECT, io_uring
 * fixed buffers), each reaching a PTE table that fork left shared. The
 * fixture and the one-side machinery they run on are in paths_common.h.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/userfaultfd.h>
#include <liburing.h>
#include <stdalign.h>

#include "../../../mm/gup_test.h"
#include "../../../lib/test_hmm_uapi.h"

#include "paths_common.h"

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
	if (access(HMM_DEV, F_OK))
		SKIP(return, "no " HMM_DEV " (CONFIG_TEST_HMM)");
	ONE_SIDE(NULL, act_hmm_write, NULL);
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
	if (access(HMM_DEV, F_OK))
		SKIP(return, "no " HMM_DEV " (CONFIG_TEST_HMM)");
	ONE_SIDE(NULL, act_hmm_migrate, NULL);
}

/*
 * Pages already on the device when the table is shared: a copy of the
 * table must see writable device private entries as copy on write, as
 * fork does, and the CPU brings the pages back for each side. (Not the
 * device writing them here: with stock fork, that does not finish.)
 */
TEST_F_TIMEOUT(paths, device_private_before_fork, 180)
{
	if (access(HMM_DEV, F_OK))
		SKIP(return, "no " HMM_DEV " (CONFIG_TEST_HMM)");
	ONE_SIDE(hmm_to_device, act_read, NULL);
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
	if (access(HMM_DEV, F_OK))
		SKIP(return, "no " HMM_DEV " (CONFIG_TEST_HMM)");
	ONE_SIDE(NULL, act_hmm_exclusive, NULL);
}

/*
 * Device exclusive entries in a table when it is shared: fork ends device
 * access, and the first CPU access of either side maps the pages again.
 */
TEST_F_TIMEOUT(paths, device_exclusive_before_fork, 180)
{
	if (access(HMM_DEV, F_OK))
		SKIP(return, "no " HMM_DEV " (CONFIG_TEST_HMM)");
	/*
	 * 6.12 makes a page of a large folio device-exclusive only while
	 * no other page of the folio is mapped: -EBUSY for a THP, before
	 * any fork.
	 */
	if (variant->thp)
		SKIP(return, "device-exclusive pages of a THP (-EBUSY in 6.12)");
	ONE_SIDE(hmm_exclusive, act_read, NULL);
}

/* --- userfaultfd ------------------------------------------------------ */

/*
 * Register the region (missing + write-protect), write-protect it and
 * lift that again, zero-fill a dropped page, copy into another, unregister:
 * all on this side.
 */
static long act_uffd(char **mem, size_t len)
{
	alignas(PAGE_SZ) char src[PAGE_SZ];
	struct uffdio_register reg = {
		.range = { (uintptr_t)*mem, len },
		.mode = UFFDIO_REGISTER_MODE_MISSING | UFFDIO_REGISTER_MODE_WP,
	};
	struct uffdio_writeprotect wp = { .range = reg.range };
	struct uffdio_zeropage zero = {
		.range = { (uintptr_t)*mem + TABLE_SZ, PAGE_SZ },
	};
	char *into = *mem + 2 * TABLE_SZ + 7 * PAGE_SZ;
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

static int probed(int x)
{
	asm volatile("" : "+r"(x));
	return x * 3 + 1;
}

/*
 * Called through a pointer the compiler cannot see through, so that
 * probed() stays a function of its own, where the uprobe sits.
 */
int (*probed_call)(int) = probed;

static long call_probed(void)
{
	long bad = 0;

	for (int i = 0; i < PROBE_CALLS; i++)
		bad += probed_call(i) != i * 3 + 1;
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
		n += READ_ONCE(((uint64_t *)p)[1]) == POKED;
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
		fprintf(stderr,
			"# tracer: %ld of its pages hold the words it poked into the tracee\n",
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

/* --- device memory in a memory cgroup --------------------------------- */

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

/* The test's memory cgroup, and whether the copies must be charged there. */
static const char *charge_cg;
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
	char cg[] = "/sys/fs/cgroup/cowpte-pt-XXXXXX";
	const char *why;

	if (access(HMM_DEV, F_OK))
		SKIP(return, "no " HMM_DEV " (CONFIG_TEST_HMM)");
	why = mem_cgroup_make(cg, NULL);
	if (why)
		SKIP(return, "%s", why);
	charge_cg = cg;
	charge_copies = variant->cow_pte;
	ONE_SIDE(NULL, act_hmm_charged, NULL);
	rmdir(cg);
}

TEST_HARNESS_MAIN
