// SPDX-License-Identifier: GPL-2.0
/*
 * The parent's first write to each shared table after fork, over and over,
 * for a profiler to watch: "breakloop [-s] [-p PAGES] MIB ROUNDS" maps MIB
 * MiB of 4 KiB pages, writes PAGES of every 512 (default all), then
 * ROUNDS times forks a child that waits, writes one byte in each 2 MiB
 * table (each write a break of the shared table and a COW fault on the
 * page; with -s, stock fork: a COW fault only) and lets the child go.
 * Prints the time (ICOUNT=1: instructions) per table. With PAGES varied,
 * the cost splits into a part per table and a part per entry copied.
 * See breakprof.sh.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#ifndef PR_SET_COW_PTE
#define PR_SET_COW_PTE	0x43505445
#define PR_COW_PTE_ON	1
#endif

#define TABLE_SZ (2UL << 20)

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void usage(const char *prog)
{
	fprintf(stderr, "usage: %s [-s] [-p PAGES] MIB ROUNDS\n"
		"  -s        stock fork (no PR_SET_COW_PTE)\n"
		"  -p PAGES  pages present in each 2 MiB table, 1..512 (default 512)\n",
		prog);
	exit(2);
}

int main(int argc, char **argv)
{
	long mib, rounds, present = 512;
	int stock = 0, c;
	size_t size, tables;
	double total = 0;
	char *mem;

	while ((c = getopt(argc, argv, "sp:")) != -1) {
		if (c == 's')
			stock = 1;
		else if (c == 'p')
			present = atol(optarg);
		else
			usage(argv[0]);
	}
	if (argc - optind != 2)
		usage(argv[0]);
	mib = atol(argv[optind]);
	rounds = atol(argv[optind + 1]);
	if (mib < 2 || rounds < 1 || present < 1 || present > 512)
		usage(argv[0]);
	size = (size_t)mib << 20;
	tables = size / TABLE_SZ;
	mem = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED || madvise(mem, size, MADV_NOHUGEPAGE)) {
		perror("mmap");
		return 1;
	}
	/* The written page of each table comes first among those present. */
	for (size_t i = 0; i < tables; i++)
		for (long p = 0; p < present; p++)
			mem[i * TABLE_SZ + (p + 1) % 512 * 4096] = 1;
	if (!stock && prctl(PR_SET_COW_PTE, PR_COW_PTE_ON, 0, 0, 0)) {
		perror("PR_SET_COW_PTE");
		return 1;
	}
	for (long r = 0; r < rounds; r++) {
		int go[2];
		double t0;
		pid_t pid;
		char b = 0;

		if (pipe(go))
			return 1;
		pid = fork();
		if (pid < 0)
			return 1;
		if (pid == 0) {
			close(go[1]);
			_exit(read(go[0], &b, 1) < 0);
		}
		close(go[0]);
		t0 = now_ns();
		for (size_t i = 0; i < tables; i++)
			mem[i * TABLE_SZ + 4096] = (char)r;
		total += now_ns() - t0;
		if (write(go[1], &b, 1) != 1 || waitpid(pid, NULL, 0) != pid)
			return 1;
		close(go[1]);
	}
	printf("%s\t%ld\t%.0f\n", stock ? "stock" : "cow_pte", present,
	       total / tables / rounds);
	return 0;
}
