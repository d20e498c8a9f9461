// SPDX-License-Identifier: GPL-2.0
/*
 * How QEMU's -icount counts a string instruction: times "rep stosb" of 1,
 * 64, 1024 and 4096 bytes (best of 50 rounds of 100). Under ICOUNT=1 the
 * times are instructions; one per byte means each iteration counts as an
 * instruction, so a kernel page clear or copy weighs about 4,096.
 */
#include <stdio.h>
#include <time.h>

static char buf[8192];

static double now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static void stos(unsigned long n)
{
	void *d = buf;

	asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(0) : "memory");
}

int main(void)
{
	static const unsigned long sizes[] = { 1, 64, 1024, 4096 };

	for (int s = 0; s < 4; s++) {
		double best = 1e18;

		for (int r = 0; r < 50; r++) {
			double t0 = now_ns(), d;

			for (int i = 0; i < 100; i++)
				stos(sizes[s]);
			d = (now_ns() - t0) / 100;
			if (d < best)
				best = d;
		}
		printf("rep stosb %lu bytes: %.0f\n", sizes[s], best);
	}
	return 0;
}
