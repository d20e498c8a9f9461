#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Fork of a Python worker: a numpy array and many small objects, then
os.fork() of a worker that reads a little, as a pre-forking Python server
or a multiprocessing pool does, while the parent goes on working. Times
fork() in the parent, the parent's work while the worker lives, and all
of it until waitpid(), for stock fork, COW PTE and snapshot mode, in
turns within one process. Prints benchutil.h's rows.

usage: pyworker.py [-m MiB] [-o objects] [-r runs] [--thp madvise|never]

Under ICOUNT=1 (harness/run.sh) the guest clock counts instructions, so
the "ns" printed are guest instructions.
"""
import argparse
import ctypes
import os
import statistics
import sys
import time

import numpy as np

PR_SET_COW_PTE = 0x43505445
PR_GET_COW_PTE = 0x43505446
MODES = (("stock", 0), ("cow_pte", 1), ("snapshot", 1 | 4))

libc = ctypes.CDLL(None, use_errno=True)
libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4


def set_mode(mode):
    if libc.prctl(PR_SET_COW_PTE, mode, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        sys.exit("pyworker: prctl(PR_SET_COW_PTE, %d): %s" %
                 (mode, os.strerror(err)))


def one_fork(arr, objs):
    """Clock ns of fork() in the parent, of the parent's work while the
    worker lives, and of all of it until waitpid() returns."""
    r, w = os.pipe()
    t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    pid = os.fork()
    if pid == 0:
        # The worker reads a few elements and objects, writes nothing big,
        # and stays until the parent is done.
        os.close(w)
        s = int(arr[:: max(1, arr.size // 64)].sum()) + len(objs[-1])
        os.read(r, 1)
        os._exit(0 if s >= 0 else 1)
    t1 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    # The parent goes on serving: it walks its objects (their reference
    # counts are written) and updates a slice of the array.
    n = 0
    for o in objs:
        n += len(o)
    arr[: arr.size // 16] += 1.0
    t2 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    os.close(r)
    os.close(w)
    _, status = os.waitpid(pid, 0)
    t3 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    if status or n <= 0:
        sys.exit("pyworker: worker failed: %#x" % status)
    return t1 - t0, t2 - t1, t3 - t0


def stats(v):
    q = statistics.quantiles(v, n=4) if len(v) > 1 else [v[0]] * 3
    return [statistics.median(v), min(v), max(v), q[0], q[2]]


def row(test, param, stock, cow):
    ratios = [s / c for s, c in zip(stock, cow)]
    fields = ["R", "pyworker", test, param, "ns", "lower", str(len(stock))]
    fields += ["%.6g" % x for x in stats(stock) + stats(cow)]
    fields += ["%.4g" % statistics.median(ratios), "%.4g" % min(ratios),
               "%.4g" % max(ratios)]
    print("\t".join(fields))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-m", type=int, default=512, help="array MiB")
    ap.add_argument("-o", type=int, default=200000, help="small objects")
    ap.add_argument("-r", type=int, default=7, help="forks per mode")
    ap.add_argument("--thp", choices=("madvise", "never"), default="madvise",
                    help="THP as numpy sets it (madvise), or off (never)")
    a = ap.parse_args()
    if a.m < 1 or a.o < 1 or not 1 <= a.r <= 256:
        ap.error("-m and -o must be positive, -r 1..256")
    if libc.prctl(PR_GET_COW_PTE, 0, 0, 0, 0) < 0:
        sys.exit("pyworker: this kernel has no COW PTE")
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled", "w") as f:
            f.write(a.thp)
    except OSError as e:
        sys.exit("pyworker: cannot set THP to %s: %s" % (a.thp, e))

    # numpy asks for huge pages (MADV_HUGEPAGE) on arrays of 4 MiB or more.
    arr = np.ones(a.m << 17, dtype=np.float64)
    objs = [str(i) * 3 for i in range(a.o)]
    with open("/proc/self/smaps_rollup") as f:
        thp_kb = [int(line.split()[1]) for line in f
                  if line.startswith("AnonHugePages:")][0]
    print("I\tpyworker\tarray_mib\t%d\t%d" % (a.m, a.m))
    print("I\tpyworker\tthp_anon_kb\t%d\t%d" % (a.m, thp_kb))

    one_fork(arr, objs)  # warm up
    res = {name: ([], [], []) for name, _ in MODES}
    for _ in range(a.r):
        for name, mode in MODES:
            set_mode(mode)
            for i, ns in enumerate(one_fork(arr, objs)):
                res[name][i].append(ns)
    set_mode(0)
    param = "%d-%s" % (a.m, a.thp)
    for name in ("cow_pte", "snapshot"):
        for i, what in enumerate(("fork", "parent_work", "total")):
            row("%s_%s" % (what, name), param, res["stock"][i],
                res[name][i])


if __name__ == "__main__":
    main()
