/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Holding a forked child back, for benchmarks that time fork() or the
 * parent's work right after it. Stands alone (forkdemo is built from its
 * own source and this header only); needs _GNU_SOURCE.
 */
#ifndef HOLDCHILD_H
#define HOLDCHILD_H

#include <sched.h>

/*
 * Keep the child of the next fork from running until child_may_run(), so
 * that a timing of fork() in the parent does not include the child's run
 * on a one-CPU guest: pin this process to its CPU and make it real-time,
 * with SCHED_RESET_ON_FORK so that the child is an ordinary task on the
 * same CPU, which waits while the parent is runnable. Returns 0, or -1
 * (not root, say) with nothing changed.
 */
static inline int child_waits(cpu_set_t *saved)
{
	struct sched_param sp = { .sched_priority = 1 };
	cpu_set_t one;
	int cpu = sched_getcpu();

	if (cpu < 0 || sched_getaffinity(0, sizeof(*saved), saved))
		return -1;
	CPU_ZERO(&one);
	CPU_SET(cpu, &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		return -1;
	if (sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp)) {
		sched_setaffinity(0, sizeof(*saved), saved);
		return -1;
	}
	return 0;
}

static inline void child_may_run(const cpu_set_t *saved)
{
	struct sched_param sp = { .sched_priority = 0 };

	sched_setscheduler(0, SCHED_OTHER, &sp);
	sched_setaffinity(0, sizeof(*saved), saved);
}

#endif /* HOLDCHILD_H */
