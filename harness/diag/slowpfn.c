// SPDX-License-Identifier: GPL-2.0
/* Touch anonymous pages one by one; report those whose first write is slow,
 * with their pfn. Diagnostic for the forced hmm-tests slowness. */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <fcntl.h>
#include <unistd.h>
#include <time.h>
#include <sys/mman.h>

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	size_t mb = argc > 1 ? strtoul(argv[1], NULL, 0) : 3000;
	double thr = argc > 2 ? atof(argv[2]) : 0.005;
	uint64_t lo = argc > 3 ? strtoull(argv[3], NULL, 0) : 0;
	uint64_t hi = argc > 4 ? strtoull(argv[4], NULL, 0) : 0;
	size_t inr = 0;
	double tin = 0;
	size_t n = mb << 8, i, slow = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY);
	char *p = mmap(NULL, n << 12, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	double t0 = now(), tmax = 0;

	if (p == MAP_FAILED || fd < 0)
		return 1;
	for (i = 0; i < n; i++) {
		double t = now(), d;
		uint64_t e = 0;

		p[i << 12] = 1;
		d = now() - t;
		if (d > tmax)
			tmax = d;
		if (hi) {
			pread(fd, &e, 8, ((uintptr_t)(p + (i << 12)) >> 12) * 8);
			e &= (1ULL << 55) - 1;
			if (e >= lo && e < hi) {
				inr++;
				tin += d;
				printf("in range page %zu: %.4f s pfn %llx\n", i, d,
				       (unsigned long long)e);
			}
		}
		if (d < thr)
			continue;
		if (!hi)
			pread(fd, &e, 8, ((uintptr_t)(p + (i << 12)) >> 12) * 8);
		printf("slow page %zu: %.3f s pfn %llx\n", i, d,
		       (unsigned long long)(e & ((1ULL << 55) - 1)));
		fflush(stdout);
		slow++;
	}
	printf("%zu pages in %.1f s, %zu slow (> %.3f s), max %.3f s; %zu in range, %.3f s\n",
	       n, now() - t0, slow, thr, tmax, inr, tin);
	return 0;
}
