// SPDX-License-Identifier: GPL-2.0
/*
 * Randomized stress of COW PTE against a model.
 *
 * A tree of processes (the root also runs threads) forks with COW PTE on and
 * applies random operations to random ranges of its own memory. Every
 * process keeps a model of what each of its pages must hold and checks the
 * pages an operation touched after every step, and all of them before it
 * exits. A mismatch prints the seed, the process, the step, the operation
 * and the address. One fork in eight is a stock fork, which copies tables
 * that earlier forks left shared.
 *
 * Each page holds a 64-bit tag at three offsets (0 = never written or
 * dropped). Tags carry the writer's lineage and step, so a page that shows
 * up in the wrong process or at the wrong address does not match.
 *
 * The kselftest runner passes no arguments, so the knobs are environment
 * variables (make stress sets them):
 *   COWPTE_STRESS_SECONDS  how long the random tree runs (default 10)
 *   COWPTE_STRESS_SEED     the seed (default: from the clock; printed)
 *   COWPTE_STRESS_THREADS  threads of the root process (default 2)
 *   COWPTE_LEAK_CYCLES     fork+exit cycles of the leak check (default 2000)
 *
 * Runs with the same seed take the same random decisions per process and
 * thread; the interleaving of threads and processes is up to the scheduler.
 *
 * Three results: the stress, the stress again with page allocation and slab
 * failures injected into its own tasks (clean errors, SIGBUS and OOM kills
 * are allowed; a model mismatch is not), and the leak check. Where the
 * kernel can share PMD tables (vm.cow_pte_pmd, set for the run), each of
 * the three runs again with each slice at the start of a GiB of its own,
 * which one VMA covers, so that forks share its PMD table and operations
 * meet it first. Each phase runs in a process of its own (see apart()).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <linux/mempolicy.h>
#include <liburing.h>

#include "kselftest.h"
#include "cowpte_util.h"

#define SLICE_TABLES	4
#define SLICE_PAGES	(SLICE_TABLES * TABLE_SZ / PAGE_SZ)
#define MAX_THREADS	4
#define MAX_PROCS	12	/* live processes of the tree */
#define MAX_DEPTH	4
#define MAX_KIDS	8	/* unreaped children of one process */
#define MAX_SPLICED	8	/* pages waiting in a process's vmsplice pipe */
#define DEV_PAGES	256	/* blocks of the scratch disk for O_DIRECT */

/* The three words of a page that carry its tag. */
static const size_t tag_off[] = { 0, 2048 / 8, PAGE_SZ / 8 - 1 };

/* Page state in the model. */
#define P_MAPPED	0x01
#define P_READ		0x02
#define P_WRITE		0x04
#define P_MAYBE_ZERO	0x08	/* MADV_FREE: the tag, or zero if reclaimed */

struct spliced {
	uint64_t tag;
	bool maybe_zero;
};

/* One thread's view: its slice of the region and what the slice holds. */
struct worker {
	char *base;			/* SLICE_PAGES pages */
	uint64_t tag[SLICE_PAGES];
	uint8_t st[SLICE_PAGES];
	uint64_t rng;
	char who[48];			/* lineage, e.g. "root.t1/3/0" */
	unsigned long step;
	const char *op;
	int depth;
	pid_t kids[MAX_KIDS];
	int nkids;
	int pipe[2];			/* vmsplice pipe, -1 when closed */
	struct spliced spliced[MAX_SPLICED];
	int nspliced;
	bool forked;			/* this process has forked */
};

/* Shared by the whole tree (MAP_SHARED). */
struct shared {
	atomic_int procs;
	atomic_int failed;
	atomic_long ops;
	atomic_long forks;
	atomic_long oom_kills;
	atomic_long enomem;	/* calls that failed for want of memory */
};

static struct shared *sh;
static char *region;
static size_t region_len;
static bool pmd_layout;		/* each slice starts a GiB of its own */
static int nthreads;
static uint64_t seed;
static struct timespec deadline;
static bool injecting;
static char zram_path[32];

static void run_worker(struct worker *w, long max_steps);
static void op_fork(struct worker *w);

static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned long pick(struct worker *w, unsigned long n)
{
	return n ? next_rand(&w->rng) % n : 0;
}

static bool past_deadline(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline.tv_sec ||
	       (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec);
}

/* Where thread @t's slice starts. */
static char *slice_base(int t)
{
	return region + t * (pmd_layout ? GIB : SLICE_PAGES * PAGE_SZ);
}

static char *page_addr(struct worker *w, unsigned long i)
{
	return w->base + i * PAGE_SZ;
}

/* A tag for page @i written at this step: nonzero, unique to the writer. */
static uint64_t new_tag(struct worker *w, unsigned long i)
{
	uint64_t h = seed ^ ((uint64_t)w->step << 20) ^ i;

	/* Now and then a tag from a tiny pool, so that KSM finds twins. */
	if (pick(w, 8) == 0)
		return 0x4b534d0000000000ULL | pick(w, 4);
	for (const char *c = w->who; *c; c++)
		h = (h ^ (uint8_t)*c) * 0x100000001b3ULL;
	return h | 1;
}

static uint64_t dev_tag(unsigned long block)
{
	return 0xd15c000000000000ULL | (seed & 0xffffff) << 16 | block;
}

static void put_tag(char *page, uint64_t tag)
{
	for (size_t k = 0; k < 3; k++)
		WRITE_ONCE(((uint64_t *)page)[tag_off[k]], tag);
}

static void stop_tree(void)
{
	atomic_store(&sh->failed, 1);
}

/* Long messages are kept whole, for grep, on lines of their own. */
#define MISMATCH_MSG \
	"MISMATCH seed %llu %s step %lu op %s: page %p (slice page %lu) holds %#llx/%#llx/%#llx, want %#llx%s\n"

static void mismatch(struct worker *w, unsigned long i, const uint64_t v[3])
{
	ksft_print_msg(MISMATCH_MSG,
		       (unsigned long long)seed, w->who, w->step, w->op,
		       page_addr(w, i), i, (unsigned long long)v[0],
		       (unsigned long long)v[1], (unsigned long long)v[2],
		       (unsigned long long)w->tag[i],
		       (w->st[i] & P_MAYBE_ZERO) ? " or 0" : "");
	stop_tree();
}

/* Check the pages [i, i + n) the model says are readable. */
static bool check(struct worker *w, unsigned long i, unsigned long n)
{
	for (unsigned long j = i; j < i + n; j++) {
		const uint64_t *p = (const uint64_t *)page_addr(w, j);
		uint64_t v[3];

		if ((w->st[j] & (P_MAPPED | P_READ)) != (P_MAPPED | P_READ))
			continue;
		for (size_t k = 0; k < 3; k++)
			v[k] = READ_ONCE(p[tag_off[k]]);
		if (v[0] == w->tag[j] && v[1] == v[0] && v[2] == v[0])
			continue;
		if ((w->st[j] & P_MAYBE_ZERO) && !v[0] && !v[1] && !v[2])
			continue;
		mismatch(w, j, v);
		return false;
	}
	return true;
}

/* Write a fresh tag to every writable page of [i, i + n). */
static void op_write(struct worker *w, unsigned long i, unsigned long n)
{
	for (unsigned long j = i; j < i + n; j++) {
		if ((w->st[j] & (P_MAPPED | P_WRITE)) != (P_MAPPED | P_WRITE))
			continue;
		w->tag[j] = new_tag(w, j);
		w->st[j] &= ~P_MAYBE_ZERO;
		put_tag(page_addr(w, j), w->tag[j]);
	}
}

static bool all_mapped(struct worker *w, unsigned long i, unsigned long n)
{
	for (unsigned long j = i; j < i + n; j++)
		if (!(w->st[j] & P_MAPPED))
			return false;
	return true;
}

static int prot_of(uint8_t st)
{
	return ((st & P_READ) ? PROT_READ : 0) | ((st & P_WRITE) ? PROT_WRITE : 0);
}

/*
 * After a failed mprotect the protections of a multi-VMA range may be half
 * changed, which is allowed: read the truth back from /proc/self/maps.
 */
static void resync_prot(struct worker *w, unsigned long i, unsigned long n)
{
	char line[256], perms[8];
	unsigned long start, end;
	FILE *f = fopen("/proc/self/maps", "r");

	/*
	 * Reading the maps can fail too when failures are injected. Then
	 * what the range holds is unknown: forget it, as a failed munmap
	 * does, rather than keep protections that may no longer hold.
	 */
	if (!f) {
		memset(&w->st[i], 0, n);
		return;
	}
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %7s", &start, &end, perms) != 3)
			continue;
		for (unsigned long j = i; j < i + n; j++) {
			unsigned long a = (unsigned long)page_addr(w, j);

			if (a < start || a >= end || !(w->st[j] & P_MAPPED))
				continue;
			w->st[j] &= ~(P_READ | P_WRITE);
			w->st[j] |= (perms[0] == 'r' ? P_READ : 0) |
				    (perms[1] == 'w' ? P_WRITE : 0);
		}
	}
	if (ferror(f))
		memset(&w->st[i], 0, n);
	fclose(f);
}

static void op_mprotect(struct worker *w, unsigned long i, unsigned long n)
{
	static const uint8_t choices[] = { P_READ | P_WRITE, P_READ, 0,
					   P_READ | P_WRITE };
	uint8_t prot = choices[pick(w, 4)];

	if (!all_mapped(w, i, n))
		return;
	if (mprotect(page_addr(w, i), n * PAGE_SZ, prot_of(prot))) {
		resync_prot(w, i, n);
		return;
	}
	for (unsigned long j = i; j < i + n; j++)
		w->st[j] = (w->st[j] & ~(P_READ | P_WRITE)) | prot;
}

/*
 * "Unmapped" in the model is always safe: such pages are never touched
 * again until a later op maps them afresh. So a failed munmap, which may
 * or may not have unmapped, counts as done.
 */
static void op_munmap(struct worker *w, unsigned long i, unsigned long n)
{
	munmap(page_addr(w, i), n * PAGE_SZ);
	memset(&w->st[i], 0, n);
}

/* Fresh anonymous memory over [i, i + n), replacing whatever was there. */
static void op_map(struct worker *w, unsigned long i, unsigned long n)
{
	if (mmap(page_addr(w, i), n * PAGE_SZ, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
		/* The old mapping may be gone already. */
		memset(&w->st[i], 0, n);
		return;
	}
	for (unsigned long j = i; j < i + n; j++) {
		w->st[j] = P_MAPPED | P_READ | P_WRITE;
		w->tag[j] = 0;
	}
}

static void op_mremap(struct worker *w, unsigned long i, unsigned long n)
{
	unsigned long d;

	/* Half the moves take whole tables, which mremap moves by the PMD. */
	if (pick(w, 2)) {
		n = TABLE_SZ / PAGE_SZ * (1 + pick(w, SLICE_TABLES / 2));
		i = pick(w, SLICE_TABLES - n / (TABLE_SZ / PAGE_SZ) + 1) *
		    (TABLE_SZ / PAGE_SZ);
		d = pick(w, SLICE_TABLES - n / (TABLE_SZ / PAGE_SZ) + 1) *
		    (TABLE_SZ / PAGE_SZ);
	} else {
		d = pick(w, SLICE_PAGES - n + 1);
	}
	if (n > SLICE_PAGES / 2 || !all_mapped(w, i, n))
		return;
	/* A destination that does not overlap the source. */
	if (d < i + n && i < d + n)
		return;
	if (mremap(page_addr(w, i), n * PAGE_SZ, n * PAGE_SZ,
		   MREMAP_MAYMOVE | MREMAP_FIXED, page_addr(w, d)) == MAP_FAILED) {
		if (errno != EFAULT && errno != ENOMEM)
			ksft_print_msg("%s: mremap: %s\n", w->who, strerror(errno));
		/*
		 * The source stays as it was; MREMAP_FIXED unmaps the
		 * destination before it looks at the source.
		 */
		op_munmap(w, d, n);
		return;
	}
	memmove(&w->tag[d], &w->tag[i], n * sizeof(w->tag[0]));
	memmove(&w->st[d], &w->st[i], n);
	memset(&w->st[i], 0, n);
}

static void op_madvise(struct worker *w, unsigned long i, unsigned long n)
{
	/* DONTDUMP and DODUMP split and merge VMAs, moving boundaries. */
	static const int advice[] = { MADV_DONTNEED, MADV_FREE, MADV_PAGEOUT,
				      MADV_COLD, MADV_COLLAPSE, MADV_MERGEABLE,
				      MADV_WILLNEED, MADV_DONTDUMP, MADV_DODUMP };
	int a = advice[pick(w, ARRAY_SIZE(advice))];
	int ret;

	if (!all_mapped(w, i, n))
		return;
	if (a == MADV_COLLAPSE) {
		i &= ~(TABLE_SZ / PAGE_SZ - 1);
		n = TABLE_SZ / PAGE_SZ;
		if (i + n > SLICE_PAGES || !all_mapped(w, i, n))
			return;
	}
	ret = madvise(page_addr(w, i), n * PAGE_SZ, a);
	if (a != MADV_DONTNEED && a != MADV_FREE)
		return;		/* the contents stay */
	/* Done, or (on a multi-VMA range) perhaps partly done. */
	for (unsigned long j = i; j < i + n; j++) {
		if (!ret && a == MADV_DONTNEED) {
			w->tag[j] = 0;
			w->st[j] &= ~P_MAYBE_ZERO;
		} else if (w->tag[j]) {
			w->st[j] |= P_MAYBE_ZERO;
		}
	}
}

static void op_mlock(struct worker *w, unsigned long i, unsigned long n)
{
	if (!all_mapped(w, i, n))
		return;
	if (pick(w, 2))
		mlock(page_addr(w, i), n * PAGE_SZ);
	else
		munlock(page_addr(w, i), n * PAGE_SZ);
}

/*
 * Move the pages to one of two NUMA nodes, when there are two: pages of
 * tables other processes share stay (-EACCES), the rest move, and the
 * contents stay either way. Races with forks of the other threads.
 */
static void op_move_pages(struct worker *w, unsigned long i, unsigned long n)
{
	static int two_nodes = -1;
	void *pages[64];
	int nodes[64], status[64];
	int node = pick(w, 2);

	if (two_nodes < 0)
		two_nodes = !access("/sys/devices/system/node/node1", F_OK);
	if (!two_nodes)
		return;
	n = n > 64 ? 64 : n;
	for (unsigned long j = 0; j < n; j++) {
		pages[j] = page_addr(w, i + j);
		nodes[j] = node;
	}
	syscall(SYS_move_pages, 0, n, pages, nodes, status, MPOL_MF_MOVE);
}

/*
 * Pin a range as an io_uring fixed buffer does, then let go. The process
 * has MMF_HAS_PINNED from then on: its breaks must copy pages that look
 * pinned, and it never shares tables at fork again, so only children pin.
 */
static void op_pin(struct worker *w, unsigned long i, unsigned long n)
{
	struct io_uring ring;
	struct iovec iov;

	if (!w->depth || !all_mapped(w, i, n))
		return;
	for (unsigned long j = i; j < i + n; j++)
		if ((w->st[j] & (P_READ | P_WRITE)) != (P_READ | P_WRITE))
			return;
	if (io_uring_queue_init(2, &ring, 0))
		return;
	iov.iov_base = page_addr(w, i);
	iov.iov_len = (n > 64 ? 64 : n) * PAGE_SZ;
	if (!io_uring_register_buffers(&ring, &iov, 1))
		io_uring_unregister_buffers(&ring);
	io_uring_queue_exit(&ring);
}

/*
 * vmsplice a readable page into this process's pipe and unmap it: whatever
 * its other sharers write later, the pipe must give back what it held.
 */
static void op_vmsplice(struct worker *w, unsigned long i)
{
	struct iovec iov = { page_addr(w, i), PAGE_SZ };

	if ((w->st[i] & (P_MAPPED | P_READ)) != (P_MAPPED | P_READ) ||
	    w->nspliced == MAX_SPLICED)
		return;
	if (w->pipe[0] < 0 && pipe2(w->pipe, O_NONBLOCK))
		return;
	if (vmsplice(w->pipe[1], &iov, 1, 0) != (ssize_t)PAGE_SZ)
		return;
	w->spliced[w->nspliced].tag = w->tag[i];
	w->spliced[w->nspliced].maybe_zero = w->st[i] & P_MAYBE_ZERO;
	w->nspliced++;
	/* Half the time a child that may write the page comes first. */
	if (pick(w, 2))
		op_fork(w);
	op_munmap(w, i, 1);
}

#define SPLICED_MISMATCH_MSG \
	"MISMATCH seed %llu %s step %lu: spliced page %d holds %#llx, want %#llx\n"

static bool drain_spliced(struct worker *w)
{
	uint64_t buf[PAGE_SZ / 8];

	for (int k = 0; k < w->nspliced; k++) {
		struct spliced *s = &w->spliced[k];
		bool zero;

		if (read(w->pipe[0], buf, PAGE_SZ) != (ssize_t)PAGE_SZ) {
			ksft_print_msg("%s: vmsplice pipe: %s\n", w->who, strerror(errno));
			stop_tree();
			return false;
		}
		zero = !buf[tag_off[0]] && !buf[tag_off[1]] && !buf[tag_off[2]];
		if ((buf[tag_off[0]] == s->tag && buf[tag_off[1]] == s->tag &&
		     buf[tag_off[2]] == s->tag) || (s->maybe_zero && zero))
			continue;
		w->op = "vmsplice drain";
		ksft_print_msg(SPLICED_MISMATCH_MSG,
			       (unsigned long long)seed, w->who, w->step, k,
			       (unsigned long long)buf[tag_off[0]],
			       (unsigned long long)s->tag);
		stop_tree();
		return false;
	}
	w->nspliced = 0;
	return true;
}

/*
 * A child's end, as reap() gives it. With failures injected, a kill by the
 * OOM killer or a SIGBUS from a fault that could not allocate is a clean
 * outcome; anything else but a zero exit fails the run.
 */
static void child_ended(const char *who, pid_t pid, int code)
{
	if (!code)
		return;
	if (injecting && (code == 128 + SIGKILL || code == 128 + SIGBUS)) {
		atomic_fetch_add(&sh->oom_kills, 1);
		return;
	}
	/*
	 * reap() gives -1 when waitpid() itself failed, which a failure
	 * injected into this task may cause as into any system call (seen
	 * once, in make check on 2026-12-08); the child, if still there, is
	 * reaped at the end.
	 */
	if (injecting && code == -1) {
		atomic_fetch_add(&sh->enomem, 1);
		return;
	}
	/* Once the tree stops, every process below says so: show the first. */
	if (!atomic_load(&sh->failed))
		ksft_print_msg("%s: child %d ended with %d\n", who, pid, code);
	stop_tree();
}

/*
 * Write fresh tags with process_vm_writev into a child that shares our
 * tables. The child must see them, we must not. The target is the child
 * because the writes pin its pages, and a process that had pages pinned
 * never shares its tables again.
 */
static void op_pvwritev(struct worker *w, unsigned long i, unsigned long n)
{
	struct iovec local[3 * 8], remote[3 * 8];
	uint64_t tags[8];
	ssize_t done = -1;
	struct event go;
	pid_t pid;

	n = n > 8 ? 8 : n;
	for (unsigned long j = i; j < i + n; j++)
		if ((w->st[j] & (P_MAPPED | P_WRITE)) != (P_MAPPED | P_WRITE))
			return;
	for (unsigned long j = 0; j < n; j++) {
		tags[j] = new_tag(w, i + j);
		for (size_t k = 0; k < 3; k++) {
			local[3 * j + k].iov_base = &tags[j];
			local[3 * j + k].iov_len = 8;
			remote[3 * j + k].iov_base =
				(uint64_t *)page_addr(w, i + j) + tag_off[k];
			remote[3 * j + k].iov_len = 8;
		}
	}
	if (event_init(&go))
		return;
	pid = fork();
	if (pid < 0) {
		close(go.fd[0]);
		close(go.fd[1]);
		return;
	}
	if (!pid) {
		/* The helper: wait for the count of bytes written, then look. */
		close(go.fd[1]);
		if (read(go.fd[0], &done, sizeof(done)) != sizeof(done))
			_exit(0);	/* the writer gave up */
		for (unsigned long j = 0; j < n; j++) {
			if (done < (ssize_t)(24 * (j + 1)))
				break;		/* partly written: unknown */
			w->tag[i + j] = tags[j];
			w->st[i + j] &= ~P_MAYBE_ZERO;
		}
		w->op = "process_vm_writev (target's view)";
		_exit(check(w, i, done > 0 ? done / 24 : 0) &&
		      check(w, i + n, SLICE_PAGES - i - n) && check(w, 0, i) ? 0 : 1);
	}
	close(go.fd[0]);
	done = process_vm_writev(pid, local, 3 * n, remote, 3 * n, 0);
	if (write(go.fd[1], &done, sizeof(done)) != sizeof(done))
		done = -1;
	close(go.fd[1]);
	child_ended(w->who, pid, reap(pid));
}

/* Read blocks of the scratch disk into [i, i + n) with O_DIRECT. */
static void op_odirect(struct worker *w, unsigned long i, unsigned long n)
{
	unsigned long blk;
	ssize_t got;
	int fd;

	/* Reads pin pages: leave the root able to share. */
	if (!zram_path[0] || !w->depth)
		return;
	n = n > 16 ? 16 : n;
	for (unsigned long j = i; j < i + n; j++)
		if ((w->st[j] & (P_MAPPED | P_WRITE)) != (P_MAPPED | P_WRITE))
			return;
	blk = pick(w, DEV_PAGES - n + 1);
	fd = open(zram_path, O_RDONLY | O_DIRECT);
	if (fd < 0)
		return;
	got = pread(fd, page_addr(w, i), n * PAGE_SZ, blk * PAGE_SZ);
	close(fd);
	if (got != (ssize_t)(n * PAGE_SZ)) {
		op_write(w, i, n);	/* unknown: overwrite */
		return;
	}
	for (unsigned long j = 0; j < n; j++) {
		w->tag[i + j] = dev_tag(blk + j);
		w->st[i + j] &= ~P_MAYBE_ZERO;
	}
}

static bool reap_kids(struct worker *w, bool all)
{
	int status;

	for (int k = 0; k < w->nkids; k++) {
		pid_t pid = waitpid(w->kids[k], &status, all ? 0 : WNOHANG);

		if (pid == 0)
			continue;
		if (pid == w->kids[k]) {
			atomic_fetch_sub(&sh->procs, 1);
			child_ended(w->who, pid, exit_code(status));
		}
		w->kids[k--] = w->kids[--w->nkids];
	}
	return !atomic_load(&sh->failed);
}

/*
 * Over a shared PMD table, most operations leave VMA boundaries inside
 * the GiB, after which fork shares PTE tables only. Before a fork, undo
 * what can be undone without losing data: map the holes afresh, make the
 * slice readable and writable, unlocked, dumpable, unmergeable and with
 * the region's THP advice, so that its VMAs merge back into the GiB's
 * (those mremap() moved stay apart).
 */
static void heal(struct worker *w)
{
	unsigned long i = 0, j;

	while (i < SLICE_PAGES) {
		for (j = i; j < SLICE_PAGES && !(w->st[j] & P_MAPPED); j++)
			;
		if (j > i)
			op_map(w, i, j - i);
		i = j + 1;
	}
	if (!all_mapped(w, 0, SLICE_PAGES))
		return;
	if (mprotect(w->base, SLICE_PAGES * PAGE_SZ, PROT_READ | PROT_WRITE)) {
		resync_prot(w, 0, SLICE_PAGES);
		return;
	}
	for (j = 0; j < SLICE_PAGES; j++)
		w->st[j] |= P_READ | P_WRITE;
	munlock(w->base, SLICE_PAGES * PAGE_SZ);
	madvise(w->base, SLICE_PAGES * PAGE_SZ, MADV_DODUMP);
	madvise(w->base, SLICE_PAGES * PAGE_SZ, MADV_UNMERGEABLE);
	madvise(w->base, SLICE_PAGES * PAGE_SZ,
		injecting ? MADV_NOHUGEPAGE : MADV_HUGEPAGE);
}

static void op_fork(struct worker *w)
{
	bool stock, snapshot;
	pid_t pid;
	int n;

	if (w->depth >= MAX_DEPTH || w->nkids == MAX_KIDS)
		return;
	if (pmd_layout)
		heal(w);
	if (atomic_fetch_add(&sh->procs, 1) >= MAX_PROCS) {
		atomic_fetch_sub(&sh->procs, 1);
		return;
	}
	n = w->nkids;
	/*
	 * Now and then a stock fork: it copies tables that earlier forks
	 * left shared with children still alive.
	 */
	stock = !pick(w, 8);
	/*
	 * And now and then a snapshot fork, whose child copies its tables
	 * before it runs while this side goes on (where the kernel has it).
	 */
	snapshot = !stock && !pick(w, 4);
	if (stock)
		prctl(PR_SET_COW_PTE, PR_COW_PTE_OFF, 0, 0, 0);
	else if (snapshot)
		prctl(PR_SET_COW_PTE, PR_COW_PTE_ON | PR_COW_PTE_SNAPSHOT,
		      0, 0, 0);
	pid = fork();
	if (stock || snapshot)
		cow_pte_enable();
	if (pid < 0) {
		atomic_fetch_sub(&sh->procs, 1);
		return;
	}
	if (pid) {
		w->kids[w->nkids++] = pid;
		atomic_fetch_add(&sh->forks, 1);
		return;
	}
	/* The child: one thread, this slice; the parent's kids are not ours. */
	w->nkids = 0;
	w->depth++;
	snprintf(w->who + strlen(w->who), sizeof(w->who) - strlen(w->who),
		 "/%d", n);
	w->rng ^= next_rand(&w->rng) ^ 0x6b6964ULL;
	/* The vmsplice pipe is the parent's to drain. */
	if (w->pipe[0] >= 0) {
		close(w->pipe[0]);
		close(w->pipe[1]);
		w->pipe[0] = -1;
		w->pipe[1] = -1;
	}
	w->nspliced = 0;
	w->forked = false;
	if (!check(w, 0, SLICE_PAGES))
		_exit(1);
	/* Other threads' slices: drop them half the time (zap of shared tables). */
	if (pick(w, 2))
		for (int t = 0; t < nthreads; t++)
			if (slice_base(t) != w->base)
				munmap(slice_base(t), SLICE_PAGES * PAGE_SZ);
	run_worker(w, 50 + pick(w, 400));
	_exit(atomic_load(&sh->failed) ? 1 : 0);
}

static void step(struct worker *w)
{
	unsigned long i, n, r = pick(w, 100);

	/*
	 * Over a shared PMD table, each process forks first, while its GiB
	 * is likely still whole, so that what follows meets a shared table.
	 */
	if (pmd_layout && !w->forked) {
		w->forked = true;
		w->op = "fork";
		op_fork(w);
		return;
	}

	/* Range sizes: a page, a few, a table, up to the whole slice. */
	switch (pick(w, 4)) {
	case 0:
		n = 1;
		break;
	case 1:
		n = 1 + pick(w, 16);
		break;
	case 2:
		n = TABLE_SZ / PAGE_SZ;
		break;
	default:
		n = 1 + pick(w, SLICE_PAGES);
		break;
	}
	i = pick(w, SLICE_PAGES - n + 1);
	w->step++;
	errno = 0;
	atomic_fetch_add(&sh->ops, 1);

	if (r < 30) {
		w->op = "write";
		op_write(w, i, n);
	} else if (r < 37) {
		w->op = "read";
	} else if (r < 39) {
		w->op = "move_pages";
		op_move_pages(w, i, n);
	} else if (r < 40) {
		w->op = "pin";
		op_pin(w, i, n);
	} else if (r < 44) {
		w->op = "munmap";
		op_munmap(w, i, n);
	} else if (r < 50) {
		w->op = "map";
		op_map(w, i, n);
	} else if (r < 55) {
		w->op = "mremap";
		op_mremap(w, i, n);
		/* The source is gone; the destination is what we check. */
		n = SLICE_PAGES;
		i = 0;
	} else if (r < 63) {
		w->op = "mprotect";
		op_mprotect(w, i, n);
	} else if (r < 75) {
		w->op = "madvise";
		op_madvise(w, i, n);
	} else if (r < 78) {
		w->op = "mlock";
		op_mlock(w, i, n);
	} else if (r < 86) {
		w->op = "fork";
		op_fork(w);
	} else if (r < 89) {
		w->op = "process_vm_writev";
		op_pvwritev(w, i, n);
	} else if (r < 90) {
		w->op = "O_DIRECT read";
		op_odirect(w, i, n);
	} else if (r < 94) {
		w->op = "vmsplice";
		op_vmsplice(w, i);
	} else if (r < 96) {
		w->op = "vmsplice drain";
		drain_spliced(w);
	} else {
		w->op = "reap";
		reap_kids(w, false);
	}
	if (errno == ENOMEM || errno == EAGAIN)
		atomic_fetch_add(&sh->enomem, 1);
	check(w, i, n);
}

/* The worker of this thread, for the SIGSEGV report. */
static __thread struct worker *current_worker;

/*
 * A SIGSEGV means the model thought a page was there and readable when it
 * was not: report it like a mismatch (seed, lineage, step, op, address),
 * then die of the signal as before. snprintf is not async-signal-safe, but
 * the thread that faulted was touching its pages, not in stdio.
 */
static void segv_report(int sig, siginfo_t *si, void *uc)
{
	struct worker *w = current_worker;
	char msg[256];
	int len;

	if (w) {
		long i = ((char *)si->si_addr - w->base) / (long)PAGE_SZ;
		bool in = (char *)si->si_addr >= w->base && i < (long)SLICE_PAGES;

		len = snprintf(msg, sizeof(msg),
			       "# SIGSEGV seed %llu %s step %lu op %s: address %p (slice page %ld, model state %#x)\n",
			       (unsigned long long)seed, w->who, w->step, w->op,
			       si->si_addr, in ? i : -1L, in ? w->st[i] : 0);
		if (len > 0 && write(STDOUT_FILENO, msg, len) != len)
			_exit(1);
	}
	/* SA_RESETHAND: returning faults again, and the default action kills. */
}

static void run_worker(struct worker *w, long max_steps)
{
	struct sigaction sa = { .sa_sigaction = segv_report,
				.sa_flags = SA_SIGINFO | SA_RESETHAND };

	current_worker = w;
	sigaction(SIGSEGV, &sa, NULL);
	while (max_steps-- && !past_deadline() && !atomic_load(&sh->failed))
		step(w);
	w->op = "final check";
	if (!atomic_load(&sh->failed)) {
		check(w, 0, SLICE_PAGES);
		if (w->nspliced)
			drain_spliced(w);
	}
	reap_kids(w, true);
}

static void *thread_main(void *arg)
{
	struct worker *w = arg;

	if (injecting) {
		int fd = open("/proc/thread-self/make-it-fail", O_WRONLY);

		if (fd < 0 || write(fd, "1", 1) != 1)
			ksft_print_msg("cannot inject failures into %s\n", w->who);
		if (fd >= 0)
			close(fd);
	}
	run_worker(w, -1);
	return NULL;
}

static unsigned long env_ul(const char *name, unsigned long def)
{
	const char *v = getenv(name);
	char *end;
	unsigned long n;

	if (!v || !*v)
		return def;
	errno = 0;
	n = strtoul(v, &end, 0);
	if (errno || *end)
		ksft_exit_fail_msg("%s=%s is not a number\n", name, v);
	return n;
}

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t len = strlen(val);

	if (fd < 0)
		return -1;
	if (write(fd, val, len) != len) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/*
 * A scratch zram disk with known blocks, written by a throwaway child: an
 * O_DIRECT write pins pages, and a process that pinned never shares again.
 */
static void setup_zram(void)
{
	char path[64];
	int id = -1, status;
	FILE *f = fopen("/sys/class/zram-control/hot_add", "r");
	pid_t pid;

	if (!f)
		return;
	if (fscanf(f, "%d", &id) != 1)
		id = -1;
	fclose(f);
	snprintf(path, sizeof(path), "/sys/block/zram%d/disksize", id);
	if (id < 0 || write_file(path, "4M"))
		return;
	snprintf(zram_path, sizeof(zram_path), "/dev/zram%d", id);
	pid = fork();
	if (!pid) {
		char *buf = aligned_alloc(PAGE_SZ, DEV_PAGES * PAGE_SZ);
		int fd = open(zram_path, O_WRONLY | O_DIRECT);

		if (!buf || fd < 0)
			_exit(1);
		memset(buf, 0, DEV_PAGES * PAGE_SZ);
		for (unsigned long b = 0; b < DEV_PAGES; b++)
			put_tag(buf + b * PAGE_SZ, dev_tag(b));
		_exit(pwrite(fd, buf, DEV_PAGES * PAGE_SZ, 0) !=
		      (ssize_t)(DEV_PAGES * PAGE_SZ));
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || status) {
		ksft_print_msg("no scratch disk: O_DIRECT reads left out\n");
		zram_path[0] = 0;
	}
}

static void remove_zram(void)
{
	if (zram_path[0])
		write_file("/sys/class/zram-control/hot_remove", zram_path + 9);
}

#define FAIL_DIR "/sys/kernel/debug/"

/* One allocation in a hundred fails, in tasks marked make-it-fail only. */
static bool arm_injection(bool on)
{
	static const char *const knobs[] = { "fail_page_alloc/", "failslab/" };
	static const char *const vals[][2] = {
		{ "task-filter", "Y" }, { "probability", "1" },
		{ "interval", "1" }, { "verbose", "0" },
		{ "ignore-gfp-wait", "N" }, { "space", "0" },
	};
	char path[128];

	for (size_t k = 0; k < 2; k++) {
		for (size_t v = 0; on && v < ARRAY_SIZE(vals); v++) {
			snprintf(path, sizeof(path), FAIL_DIR "%s%s", knobs[k],
				 vals[v][0]);
			/* failslab has no ignore-gfp-wait knob of that name. */
			if (write_file(path, vals[v][1]) && k == 0)
				return false;
		}
		snprintf(path, sizeof(path), FAIL_DIR "%stimes", knobs[k]);
		if (write_file(path, on ? "-1" : "0"))
			return false;
	}
	return true;
}

/*
 * A process the OOM killer ends leaves its children running, and main()
 * made us their subreaper. Wait for them before the next phase, whose
 * counters they would move as they share, copy and drop tables.
 */
static void reap_orphans(void)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, 0)) > 0 || errno == EINTR)
		if (pid > 0)
			child_ended("an orphan", pid, exit_code(status));
}

#define STRESS_MSG \
	"%s%s: %ld ops, %ld forks, %ld tables shared (%ld PMD tables), %ld ENOMEM/EAGAIN, %ld children killed by OOM/SIGBUS\n"

/*
 * The random tree for @secs seconds; true when no mismatch was seen. With
 * @pmd, over a GiB whose PMD table forks share.
 */
static bool stress(unsigned int secs, bool inject, bool pmd)
{
	struct worker *w;
	pthread_t tid[MAX_THREADS];
	long shared0 = vmstat_read("cow_pte_shared");
	long pmd0 = vmstat_read("cow_pmd_shared");

	/* An injected failure may have left the mode off in this process. */
	if (cow_pte_enable())
		ksft_exit_fail_msg("PR_SET_COW_PTE: %s\n", strerror(errno));
	injecting = inject;
	memset(sh, 0, sizeof(*sh));
	atomic_store(&sh->procs, 1);
	pmd_layout = pmd;
	region_len = nthreads * (pmd ? GIB : SLICE_PAGES * PAGE_SZ);
	/*
	 * THP is off or on for the whole region (a madvise() of a slice would
	 * split its VMA): on for the plain run, off with failures injected.
	 */
	region = pmd ? region_map(region_len, GIB, MAP_NORESERVE, !inject) :
		       region_alloc(region_len);
	if (!region)
		ksft_exit_fail_msg("region: %s\n", strerror(errno));
	/* region_alloc turns THP off; let half the slices have it. */
	w = calloc(nthreads, sizeof(*w));
	if (!w)
		ksft_exit_fail_msg("no memory for the model\n");
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += secs;
	for (int t = 0; t < nthreads; t++) {
		w[t].base = slice_base(t);
		w[t].rng = seed ^ (0x7468726561640000ULL + t + (inject ? 0x100 : 0));
		w[t].pipe[0] = -1;
		w[t].pipe[1] = -1;
		snprintf(w[t].who, sizeof(w[t].who), "%s.t%d",
			 inject ? "inject" : "root", t);
		if ((t & 1) && !pmd)
			madvise(w[t].base, SLICE_PAGES * PAGE_SZ, MADV_HUGEPAGE);
		memset(w[t].st, P_MAPPED | P_READ | P_WRITE, SLICE_PAGES);
		op_write(&w[t], 0, SLICE_PAGES);
	}
	for (int t = 0; t < nthreads; t++)
		if (pthread_create(&tid[t], NULL, thread_main, &w[t]))
			ksft_exit_fail_msg("pthread_create failed\n");
	for (int t = 0; t < nthreads; t++)
		pthread_join(tid[t], NULL);
	reap_orphans();
	if (inject)
		write_file("/proc/self/make-it-fail", "0");
	ksft_print_msg(STRESS_MSG,
		       inject ? "with failures injected" : "stress",
		       pmd ? " (PMD tables)" : "",
		       atomic_load(&sh->ops), atomic_load(&sh->forks),
		       vmstat_read("cow_pte_shared") - shared0,
		       vmstat_read("cow_pmd_shared") - pmd0,
		       atomic_load(&sh->enomem), atomic_load(&sh->oom_kills));
	for (int t = 0; t < nthreads; t++)
		if (w[t].pipe[0] >= 0) {
			close(w[t].pipe[0]);
			close(w[t].pipe[1]);
		}
	munmap(region, region_len);
	free(w);
	/* No sharing means the run tested the stock fork only. */
	if (!inject && vmstat_read("cow_pte_shared") == shared0) {
		ksft_print_msg("no table was shared\n");
		return false;
	}
	if (!inject && pmd && vmstat_read("cow_pmd_shared") == pmd0) {
		ksft_print_msg("no PMD table was shared\n");
		return false;
	}
	return !atomic_load(&sh->failed);
}

/*
 * Memory no process holds, in kB: MemFree, the per-CPU free lists MemFree
 * leaves out, and slab. The lists grow and shrink by tens of MB with the
 * allocation rate, and slab by megabytes on the debug kernel (KASAN's
 * quarantine); their sum holds within a few hundred kB over a quiet loop.
 * A leaked page table or data page lowers it; slab leaks are kmemleak's
 * to find (cow_pte.c allocates no slab objects).
 */
static long unheld_kb(void)
{
	long kb = meminfo_read("MemFree") + meminfo_read("Slab"), n;
	char line[256];
	FILE *f = fopen("/proc/zoneinfo", "r");

	if (!f)
		return kb;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " count: %ld", &n) == 1)
			kb += n * (PAGE_SZ / 1024);
	fclose(f);
	return kb;
}

#define LEAK_MSG \
	"leak check%s: %lu cycles, %ld tables shared, %ld given back, %ld PMD tables shared, %ld given back; PageTables %+ld kB, AnonPages %+ld kB, free memory %+ld kB over the last %lu cycles\n"

/*
 * @cycles fork+exit cycles of a process with shared tables leave page
 * tables, anonymous memory, free memory and the COW PTE counters where
 * they were.
 */
static bool leak_check(unsigned long cycles, bool pmd)
{
	size_t len = 16 * TABLE_SZ;
	unsigned long warmup = cycles / 10;
	struct baseline b;
	long shared, ended, pmd_shared, pmd_ended;
	long pt, anon, others, unheld0 = 0, unheld;
	bool tables_ok;
	char *mem;
	int code;

	if (cow_pte_enable())
		return false;
	baseline_take(&b);
	/* With @pmd, the 16 tables are the start of a GiB forks share whole. */
	mem = pmd ? region_map(GIB, GIB, MAP_NORESERVE, false) :
		    region_alloc(len);
	if (!mem)
		return false;
	memset(mem, 1, len);
	for (unsigned long c = 0; c < cycles; c++) {
		/* Free memory settles once slab and per-CPU caches have grown. */
		if (c == warmup)
			unheld0 = unheld_kb();
		pid_t pid = fork();

		if (pid < 0) {
			ksft_print_msg("fork: %s\n", strerror(errno));
			return false;
		}
		if (!pid) {
			/* Every other child copies one table on its way out. */
			if (c & 1)
				mem[(c % 16) * TABLE_SZ] = 2;
			_exit(0);
		}
		code = reap(pid);
		if (code) {
			ksft_print_msg("leak check: cycle %lu: child ended with %d\n",
				       c, code);
			return false;
		}
	}
	/* Taken with the region still mapped, as at the end of the warm-up. */
	unheld = unheld_kb() - unheld0;
	munmap(mem, pmd ? GIB : len);
	shared = vmstat_read("cow_pte_shared") - b.shared;
	ended = vmstat_read("cow_pte_copied") - b.copied +
		vmstat_read("cow_pte_dropped") - b.dropped;
	pmd_shared = vmstat_read("cow_pmd_shared") - b.pmd_shared;
	pmd_ended = vmstat_read("cow_pmd_copied") - b.pmd_copied +
		    vmstat_read("cow_pmd_dropped") - b.pmd_dropped;
	pt = meminfo_read("PageTables") - b.page_tables;
	anon = anon_growth(&b, &others);
	ksft_print_msg(LEAK_MSG, pmd ? " (PMD tables)" : "", cycles, shared,
		       ended, pmd_shared, pmd_ended, pt, anon, unheld,
		       cycles - warmup);
	/*
	 * Each cycle shares 16 tables, or one PMD table (whose break shares
	 * the 16 at the PTE level). The counters must match exactly; page
	 * tables and anonymous memory come back to within what the runner
	 * keeps; free memory to within 4 MiB, which a leak of a page every
	 * cycle exceeds from 1,100 cycles on (400 MB over 100,000).
	 */
	tables_ok = pmd ? pmd_shared >= (long)cycles : shared >= (long)cycles * 16;
	return tables_ok && shared == ended && pmd_shared == pmd_ended &&
	       pt <= 64 && anon <= 256 && unheld > -4096;
}

enum phase { STRESS, INJECTED, LEAK };

/*
 * Each phase runs in a process of its own, forked from this one. The
 * stress leaves the process that runs it marked as having pinned pages
 * (cow_pte_skip_pinned then counts its forks), and fork never shares such
 * a process's tables again: a later phase in the same process would test
 * the stock fork only. A child starts without that mark.
 */
static bool apart(enum phase phase, unsigned int secs, unsigned long cycles,
		  bool pmd)
{
	pid_t pid = fork();
	bool ok;

	if (pid < 0)
		return false;
	if (pid)
		return reap(pid) == 0;
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	if (phase == LEAK)
		ok = leak_check(cycles, pmd);
	else
		ok = stress(secs, phase == INJECTED, pmd);
	_exit(ok ? 0 : 1);
}

#define KSM_RUN "/sys/kernel/mm/ksm/run"

static char read_file_char(const char *path)
{
	char c = 0;
	int fd = open(path, O_RDONLY);

	if (fd >= 0) {
		if (read(fd, &c, 1) != 1)
			c = 0;
		close(fd);
	}
	return c;
}

int main(void)
{
	bool ksm_was_off;
	long pmd_knob;
	unsigned int secs = env_ul("COWPTE_STRESS_SECONDS", 10);
	unsigned long cycles = env_ul("COWPTE_LEAK_CYCLES", 2000);

	seed = env_ul("COWPTE_STRESS_SEED", (unsigned long)time(NULL));
	nthreads = env_ul("COWPTE_STRESS_THREADS", 2);

	/* Forked children must not inherit and repeat buffered output. */
	setvbuf(stdout, NULL, _IONBF, 0);
	prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
	ksft_print_header();
	pmd_knob = knob_read(PMD_KNOB);
	ksft_set_plan(pmd_knob < 0 ? 3 : 6);
	if (nthreads < 1 || nthreads > MAX_THREADS)
		ksft_exit_fail_msg("COWPTE_STRESS_THREADS must be 1..%d\n", MAX_THREADS);
	if (cow_pte_enable())
		ksft_exit_skip("no COW PTE in this kernel: %s\n", strerror(errno));
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		ksft_exit_fail_msg("mmap: %s\n", strerror(errno));
	ksft_print_msg("seed %llu, %u s, %d threads (COWPTE_STRESS_SEED=%llu reruns it)\n",
		       (unsigned long long)seed, secs, nthreads,
		       (unsigned long long)seed);
	setup_zram();
	/* Let ksmd merge the twins MADV_MERGEABLE marks; restored below. */
	ksm_was_off = read_file_char(KSM_RUN) == '0' && !write_file(KSM_RUN, "1");

	for (int pmd = 0; pmd <= (pmd_knob >= 0); pmd++) {
		const char *what = pmd ? " (PMD tables)" : "";

		if (pmd && write_file(PMD_KNOB, "1"))
			ksft_exit_fail_msg("cannot set %s\n", PMD_KNOB);
		ksft_test_result(apart(STRESS, pmd ? secs / 2 + 1 : secs, 0, pmd),
				 "stress%s\n", what);
		if (!arm_injection(true)) {
			ksft_test_result_skip("stress with failures injected%s%s\n",
					      what, " (no fail_page_alloc)");
		} else {
			bool ok = apart(INJECTED, secs / 2 + 1, 0, pmd);

			arm_injection(false);
			ksft_test_result(ok, "stress with failures injected%s\n",
					 what);
		}
		ksft_test_result(apart(LEAK, 0, pmd ? cycles / 4 + 1 : cycles,
				       pmd),
				 "leak check%s\n", what);
	}
	if (pmd_knob >= 0) {
		char val[24];

		snprintf(val, sizeof(val), "%ld", pmd_knob);
		write_file(PMD_KNOB, val);
	}
	remove_zram();
	if (ksm_was_off)
		write_file(KSM_RUN, "0");
	ksft_finished();
}
