/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the COW PTE benchmarks: clocks, the prctl, /proc
 * readers, and the one output format every benchmark prints, so that
 * harness/bench.sh can turn any of them into tables and plots.
 *
 * Output: one tab-separated row per measured quantity,
 *
 *   R bench test param unit better n
 *     stock_med stock_min stock_max stock_q1 stock_q3
 *     cow_med cow_min cow_max cow_q1 cow_q3
 *     ratio_med ratio_min ratio_max
 *
 * where "better" is "lower" or "higher", and ratio is COW PTE's advantage
 * (stock / cow for lower-is-better, cow / stock for higher-is-better), so
 * above 1 means COW PTE wins. The ratio's median and range are over the
 * pairs of runs (run i of stock against run i of COW PTE, which ran next to
 * each other). A side that was not measured prints "-".
 */
#ifndef BENCHUTIL_H
#define BENCHUTIL_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/prctl.h>

/* The prctl ABI, PAGE_SZ, TABLE_SZ, /proc readers, aligned regions. */
#include "cowpte_util.h"
#include "holdchild.h"

#define MAX_RUNS	256

static inline double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static inline bool have_cow_pte(void)
{
	return prctl(PR_GET_COW_PTE, 0, 0, 0, 0) >= 0;
}

/* Set the COW PTE mode; exits when that fails with COW PTE present. */
static inline void set_cow_pte(int mode)
{
	if (prctl(PR_SET_COW_PTE, mode, 0, 0, 0) && mode != PR_COW_PTE_OFF) {
		fprintf(stderr, "prctl(PR_SET_COW_PTE, %d): %s\n", mode,
			strerror(errno));
		exit(1);
	}
}

/* Runs of one quantity, one mode. */
struct series {
	int n;
	double v[MAX_RUNS];
};

static inline void series_add(struct series *s, double v)
{
	if (s->n < MAX_RUNS)
		s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Quantile @q of sorted @v[n], interpolating linearly. */
static inline double quantile(const double *v, int n, double q)
{
	double pos = q * (n - 1);
	int i = (int)pos;

	if (i >= n - 1)
		return v[n - 1];
	return v[i] + (pos - i) * (v[i + 1] - v[i]);
}

static inline void print_stats(FILE *f, const struct series *s)
{
	double v[MAX_RUNS];

	if (!s || !s->n) {
		fprintf(f, "\t-\t-\t-\t-\t-");
		return;
	}
	memcpy(v, s->v, s->n * sizeof(double));
	qsort(v, s->n, sizeof(double), cmp_double);
	fprintf(f, "\t%.6g\t%.6g\t%.6g\t%.6g\t%.6g", quantile(v, s->n, 0.5),
		v[0], v[s->n - 1], quantile(v, s->n, 0.25),
		quantile(v, s->n, 0.75));
}

/* One output row; see the top of this file. */
static inline void emit(const char *bench, const char *test, const char *param,
			const char *unit, bool higher_better,
			const struct series *stock, const struct series *cow)
{
	struct series r = { 0 };

	printf("R\t%s\t%s\t%s\t%s\t%s\t%d", bench, test, param, unit,
	       higher_better ? "higher" : "lower",
	       stock && stock->n ? stock->n : cow ? cow->n : 0);
	print_stats(stdout, stock);
	print_stats(stdout, cow);
	if (stock && cow && stock->n && cow->n) {
		int n = stock->n < cow->n ? stock->n : cow->n;

		for (int i = 0; i < n; i++) {
			double s = stock->v[i], c = cow->v[i];

			if (s > 0 && c > 0)
				series_add(&r, higher_better ? c / s : s / c);
		}
	}
	if (r.n) {
		double v[MAX_RUNS];

		memcpy(v, r.v, r.n * sizeof(double));
		qsort(v, r.n, sizeof(double), cmp_double);
		printf("\t%.4g\t%.4g\t%.4g\n", quantile(v, r.n, 0.5), v[0],
		       v[r.n - 1]);
	} else {
		printf("\t-\t-\t-\n");
	}
	fflush(stdout);
}

/* A single number per mode (a size in kB, say): a row with n = 1. */
static inline void emit_one(const char *bench, const char *test,
			    const char *param, const char *unit,
			    bool has_stock, double stock, bool has_cow, double cow)
{
	struct series s = { 1, { stock } }, c = { 1, { cow } };

	emit(bench, test, param, unit, false, has_stock ? &s : NULL,
	     has_cow ? &c : NULL);
}

/* Parse a whole decimal number in [min, max], or return -1. */
static inline long parse_long(const char *s, long min, long max)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	return v;
}

/* A small, seeded generator, so "random" orders repeat from run to run. */
static inline uint64_t xorshift64(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *state = x;
}

#endif /* BENCHUTIL_H */
