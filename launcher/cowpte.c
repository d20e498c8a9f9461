// SPDX-License-Identifier: GPL-2.0
/*
 * cowpte: run an unmodified program with COW PTE fork switched on.
 *
 *   cowpte [-m exec|snapshot|on|off] [-f] [-q] [-v] [--] PROGRAM [ARGS...]
 *
 * The default mode, "exec", sets PR_COW_PTE_ON_EXEC, which survives the
 * execve() of PROGRAM (and of whatever PROGRAM executes). "on" gives
 * PROGRAM alone PR_COW_PTE_ON: that mode is dropped at execve(), so PROGRAM
 * sets it itself, from the constructor of libcowpte.so, which the launcher
 * preloads once. "off" runs PROGRAM the same way with COW PTE off, so that
 * a comparison differs in the mode only. "snapshot" is "exec" with
 * PR_COW_PTE_SNAPSHOT: each child of a fork copies its tables before it
 * runs, so the parent (a database saving a snapshot) keeps stock costs.
 *
 * Exit status: PROGRAM's; 2 for bad usage; 125 when the kernel has no COW
 * PTE (unless -f) or the launcher itself fails; 126 when PROGRAM cannot be
 * executed; 127 when it is not found (as shells do).
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cowpte.h"

#define EXIT_USAGE	2
#define EXIT_FAIL	125
#define EXIT_NOEXEC	126
#define EXIT_NOTFOUND	127

static const char *prog = "cowpte";

static void usage(FILE *f, int status)
{
	if (status) {
		fprintf(f, "usage: %s [-m exec|snapshot|on|off] [-f] [-q] [-v] [--] PROGRAM [ARGS...]\n"
			"Try '%s --help' for more.\n", prog, prog);
		exit(status);
	}
	fprintf(f,
		"usage: %s [-m exec|snapshot|on|off] [-f] [-q] [-v] [--] PROGRAM [ARGS...]\n"
		"Run PROGRAM with copy-on-write PTE tables for fork().\n"
		"  -m, --mode exec  COW PTE for PROGRAM and the programs it executes\n"
		"                   (PR_COW_PTE_ON_EXEC; the default)\n"
		"  -m, --mode snapshot  as exec, and each child copies its tables\n"
		"                   before it runs, so the parent's writes after fork\n"
		"                   cost what they cost after a stock fork\n"
		"  -m, --mode on    COW PTE for PROGRAM only (PR_COW_PTE_ON, set by\n"
		"                   preloading %s; dynamically linked programs)\n"
		"  -m, --mode off   COW PTE off: stock fork, for comparisons\n"
		"  -f, --force      run PROGRAM without COW PTE when the kernel lacks it\n"
		"  -q, --quiet      no warning when -f runs PROGRAM without COW PTE\n"
		"  -v, --verbose    say which mode PROGRAM gets\n"
		"  -h, --help       this help\n"
		"Exit status: PROGRAM's, or 2 bad usage, 125 no COW PTE in this kernel\n"
		"or launcher failure, 126 PROGRAM not executable, 127 PROGRAM not found.\n",
		prog, COWPTE_LIB_NAME);
	exit(status);
}

static void die(int status, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

static void die(int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

/*
 * Where PROGRAM would be found by execvp(), for the "-m on" check below.
 * Returns false when it is not found (execvp() then reports it).
 */
static bool find_program(const char *name, char *out, size_t len)
{
	const char *path, *p;

	if (strchr(name, '/')) {
		snprintf(out, len, "%s", name);
		return access(out, X_OK) == 0;
	}
	path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path; ; p = strchr(p, ':') + 1) {
		size_t dlen = strcspn(p, ":");

		if ((int)dlen < 1)
			snprintf(out, len, "./%s", name);
		else
			snprintf(out, len, "%.*s/%s", (int)dlen, p, name);
		if (access(out, X_OK) == 0)
			return true;
		if (!strchr(p, ':'))
			return false;
	}
}

/*
 * True when @path is an ELF executable without a program interpreter: the
 * dynamic loader never runs, so a preloaded library cannot act.
 */
static bool is_static_elf(const char *path)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	bool interp = false;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 ||
	    eh.e_phentsize != sizeof(ph)) {
		close(fd);
		return false;	/* a script or another format: let it run */
	}
	for (int i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph)) !=
		    sizeof(ph))
			break;
		if (ph.p_type == PT_INTERP)
			interp = true;
	}
	close(fd);
	return !interp;
}

/* Put libcowpte.so, found next to this launcher, first in LD_PRELOAD. */
static void preload_library(const char *program)
{
	char self[PATH_MAX], lib[PATH_MAX + 32], path[PATH_MAX];
	const char *env = getenv("COWPTE_LIB"), *old;
	char *slash, *val;

	if (env && *env) {
		snprintf(lib, sizeof(lib), "%s", env);
	} else {
		if (!realpath("/proc/self/exe", self))
			die(EXIT_FAIL, "cannot find where the launcher is: %s",
			    strerror(errno));
		slash = strrchr(self, '/');
		*slash = '\0';
		snprintf(lib, sizeof(lib), "%s/%s", self, COWPTE_LIB_NAME);
	}
	if (access(lib, R_OK))
		die(EXIT_FAIL, "-m on needs %s: %s (build it with make -C launcher)",
		    lib, strerror(errno));
	if (find_program(program, path, sizeof(path)) && is_static_elf(path))
		die(EXIT_FAIL, "%s is statically linked, so %s cannot set its mode; use -m exec",
		    path, COWPTE_LIB_NAME);

	old = getenv("LD_PRELOAD");
	if (old && *old) {
		if (asprintf(&val, "%s:%s", lib, old) < 0)
			die(EXIT_FAIL, "out of memory");
	} else {
		val = lib;
	}
	if (setenv("LD_PRELOAD", val, 1) || setenv(COWPTE_ONCE_ENV, "1", 1))
		die(EXIT_FAIL, "cannot set the environment: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "mode",    required_argument, NULL, 'm' },
		{ "force",   no_argument,       NULL, 'f' },
		{ "quiet",   no_argument,       NULL, 'q' },
		{ "verbose", no_argument,       NULL, 'v' },
		{ "help",    no_argument,       NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	bool force = false, quiet = false, verbose = false;
	const char *mode_name = "exec";
	int mode = PR_COW_PTE_ON_EXEC, set, c;

	if (argv[0] && *argv[0]) {
		const char *base = strrchr(argv[0], '/');

		prog = base ? base + 1 : argv[0];
	}
	/*
	 * "+": options end at PROGRAM, whose own options are left alone;
	 * ":": bad options are reported here, under the launcher's name.
	 */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:m:fqvh", longopts, NULL)) != -1) {
		switch (c) {
		case 'm':
			mode_name = optarg;
			if (!strcmp(optarg, "exec"))
				mode = PR_COW_PTE_ON_EXEC;
			else if (!strcmp(optarg, "snapshot"))
				mode = PR_COW_PTE_ON_EXEC | PR_COW_PTE_SNAPSHOT;
			else if (!strcmp(optarg, "on"))
				mode = PR_COW_PTE_ON;
			else if (!strcmp(optarg, "off"))
				mode = PR_COW_PTE_OFF;
			else {
				fprintf(stderr, "%s: unknown mode '%s' (exec, snapshot, on or off)\n",
					prog, optarg);
				usage(stderr, EXIT_USAGE);
			}
			break;
		case 'f':
			force = true;
			break;
		case 'q':
			quiet = true;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout, 0);
			break;
		case ':':
			fprintf(stderr, "%s: option %s needs an argument\n",
				prog, argv[optind - 1]);
			usage(stderr, EXIT_USAGE);
			break;
		default:
			if (optopt)
				fprintf(stderr, "%s: unknown option -%c\n", prog, optopt);
			else
				fprintf(stderr, "%s: unknown option %s\n", prog,
					argv[optind - 1]);
			usage(stderr, EXIT_USAGE);
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "%s: no program to run\n", prog);
		usage(stderr, EXIT_USAGE);
	}
	if (!*argv[optind]) {
		fprintf(stderr, "%s: empty program name\n", prog);
		usage(stderr, EXIT_USAGE);
	}

	/*
	 * "on": PROGRAM must set the mode itself after execve(); the launcher
	 * starts it with the mode off, in case it inherited ON_EXEC.
	 */
	set = prctl(PR_SET_COW_PTE, mode == PR_COW_PTE_ON ? PR_COW_PTE_OFF : mode,
		    0, 0, 0);
	if (set && mode != PR_COW_PTE_OFF) {
		if (errno != EINVAL && errno != ENOSYS)
			die(EXIT_FAIL, "prctl(PR_SET_COW_PTE): %s", strerror(errno));
		if (!force && (mode & PR_COW_PTE_SNAPSHOT) &&
		    prctl(PR_GET_COW_PTE, 0, 0, 0, 0) >= 0)
			die(EXIT_FAIL, "this kernel has COW PTE without the snapshot mode; "
			    "use -m exec");
		if (!force)
			die(EXIT_FAIL, "this kernel has no COW PTE (prctl PR_SET_COW_PTE: %s); "
			    "boot one built with CONFIG_COW_PTE, or use -f to run %s without it",
			    strerror(errno), argv[optind]);
		if (!quiet)
			fprintf(stderr, "%s: warning: this kernel has no COW PTE (%s); "
				"running %s with stock fork\n",
				prog, strerror(errno), argv[optind]);
	} else {
		if (mode == PR_COW_PTE_ON)
			preload_library(argv[optind]);
		if (verbose)
			fprintf(stderr, "%s: running %s with COW PTE mode %s%s\n",
				prog, argv[optind], mode_name,
				set ? " (this kernel has no COW PTE)" : "");
	}

	execvp(argv[optind], &argv[optind]);
	if (errno == ENOENT) {
		if (strchr(argv[optind], '/'))
			die(EXIT_NOTFOUND, "%s: %s", argv[optind], strerror(errno));
		die(EXIT_NOTFOUND, "%s: command not found", argv[optind]);
	}
	die(EXIT_NOEXEC, "cannot execute %s: %s", argv[optind], strerror(errno));
}
