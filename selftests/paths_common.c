// SPDX-License-Identifier: GPL-2.0
/*
 * The helpers that more than one cow_pte_paths_* program uses, built once
 * and linked into each; see paths_common.h.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/userfaultfd.h>

#define PATHS_HELPERS_ONLY
#include "paths_common.h"

/* The process on the other side of the fork, for acts that reach it. */
pid_t other_pid;

long fail(const char *what)
{
	fprintf(stderr, "# %s: %s\n", what, strerror(errno));
	return -1;
}

sigjmp_buf fault_jmp;

void on_fault(int sig)
{
	siglongjmp(fault_jmp, 1);
}

/*
 * Whether touching @p raises @sig: a read, or with @write a write of the
 * byte already there, so that a write that should have faulted changes no
 * data.
 */
bool touch_raises(char *p, bool write, int sig)
{
	struct sigaction sa = { .sa_handler = on_fault }, old;
	bool raised = false;

	sigaction(sig, &sa, &old);
	if (sigsetjmp(fault_jmp, 1))
		raised = true;
	else if (write)
		WRITE_ONCE(*p, READ_ONCE(*p));
	else
		(void)READ_ONCE(*p);
	sigaction(sig, &old, NULL);
	return raised;
}

/*
 * How many pages of the region have all of @bits in the pagemap of @pid
 * (0: this process), or -1.
 */
long pagemap_count_of(pid_t pid, char *mem, size_t len, uint64_t bits)
{
	size_t n = len / PAGE_SZ;
	uint64_t *pm;
	char path[32];
	long count = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/pagemap", pid ? pid : getpid());
	fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	pm = malloc(n * sizeof(*pm));
	if (!pm) {
		close(fd);
		return -1;
	}
	if (pread(fd, pm, n * sizeof(*pm),
		  (uintptr_t)mem / PAGE_SZ * sizeof(*pm)) !=
	    (ssize_t)(n * sizeof(*pm)))
		count = -1;
	for (size_t i = 0; count >= 0 && i < n; i++)
		count += (pm[i] & bits) == bits;
	close(fd);
	free(pm);
	return count;
}

long pagemap_count(char *mem, size_t len, uint64_t bits)
{
	return pagemap_count_of(0, mem, len, bits);
}

/* Paged out before fork: the shared tables hold swap entries. */
long prep_pageout(char *mem, size_t len)
{
	return madvise(mem, len, MADV_PAGEOUT) ? fail("MADV_PAGEOUT") : 0;
}

long act_read(char **mem, size_t len)
{
	return check_range(*mem, *mem, len, 1, "read");
}

/* Set by the tests that need it: whether the tables are shared. */
bool sharing;

int uffd_open(uint64_t features)
{
	struct uffdio_api api = { .api = UFFD_API, .features = features };
	int fd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return -1;
	if (ioctl(fd, UFFDIO_API, &api)) {
		close(fd);
		return -1;
	}
	return fd;
}
