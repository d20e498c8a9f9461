// SPDX-License-Identifier: GPL-2.0
/*
 * The COW PTE launcher (launcher/cowpte) and preload library
 * (launcher/libcowpte.so): the mode an unmodified program ends up with, the
 * mode of the programs it executes in turn, and the errors for a missing or
 * unexecutable program, bad options and a kernel without COW PTE.
 *
 * The program under test is this one again: "--report-mode" exits with
 * REPORT_BASE + its COW PTE mode (REPORT_NONE without COW PTE), and
 * "--report-mode-after-exec" executes itself once more to report the mode
 * that survived a second execve().
 */
#define _GNU_SOURCE
#include <libgen.h>
#include <limits.h>
#include "kselftest_harness.h"
#include "cowpte_util.h"

#define REPORT_BASE	40	/* away from the launcher's own 2, 125-127 */
#define REPORT_NONE	39

static char self[PATH_MAX];
static char launcher[PATH_MAX + 32];
static char preload[PATH_MAX + 32];

static int get_mode(void)
{
	return prctl(PR_GET_COW_PTE, 0, 0, 0, 0);
}

static int report_mode(void)
{
	int mode = get_mode();

	return mode < 0 ? REPORT_NONE : REPORT_BASE + mode;
}

/*
 * Why a test cannot run, or NULL: the launcher and the preload library
 * must be built and, with @cow_pte, the kernel must have COW PTE.
 */
static const char *missing(bool cow_pte)
{
	static char why[PATH_MAX + 128];

	if (access(launcher, X_OK) || access(preload, R_OK)) {
		snprintf(why, sizeof(why),
			 "launcher not built (%.200s): run 'make -C launcher' (make selftests builds it)",
			 launcher);
		return why;
	}
	if (cow_pte && get_mode() < 0) {
		snprintf(why, sizeof(why), "kernel without COW PTE: %s",
			 strerror(errno));
		return why;
	}
	return NULL;
}

/*
 * Run @argv (NULL-terminated) from a child whose own COW PTE mode is
 * @mode (-1: leave it), with LD_PRELOAD set to @ld_preload (NULL: unset).
 * Its stdout and stderr land in @out. Returns its exit status, 128 + signal
 * when killed, -1 when it could not be started.
 */
static int run(const char *const argv[], int mode, const char *ld_preload,
	       char *out, size_t outlen)
{
	size_t got = 0;
	int fd[2], status;
	ssize_t n;
	pid_t pid;

	if (pipe(fd))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], 1);
		dup2(fd[1], 2);
		unsetenv("COWPTE_PRELOAD_ONCE");
		unsetenv("COWPTE_QUIET");
		unsetenv("COWPTE_LIB");
		if (ld_preload)
			setenv("LD_PRELOAD", ld_preload, 1);
		else
			unsetenv("LD_PRELOAD");
		if (mode >= 0 && prctl(PR_SET_COW_PTE, mode, 0, 0, 0))
			_exit(99);
		execv(argv[0], (char *const *)argv);
		_exit(98);
	}
	close(fd[1]);
	while (got + 1 < outlen &&
	       (n = read(fd[0], out + got, outlen - 1 - got)) > 0)
		got += n;
	out[got] = '\0';
	close(fd[0]);
	status = reap(pid);
	/* Show it as TAP comments, one line at a time. */
	for (const char *line = out; *line; ) {
		int len = strcspn(line, "\n");

		fprintf(stderr, "#   | %.*s\n", len, line);
		line += len + (line[len] == '\n');
	}
	return status;
}

#define OUT_SZ 4096

/* The default mode reaches the program and what it executes in turn. */
TEST(exec_mode)
{
	char out[OUT_SZ];
	const char *why = missing(true);

	if (why)
		SKIP(return, "%s", why);
	{
		static const char *const argv[] = { launcher, "--", self,
						    "--report-mode", NULL };

		EXPECT_EQ(REPORT_BASE + PR_COW_PTE_ON_EXEC,
			  run(argv, PR_COW_PTE_OFF, NULL, out, sizeof(out)));
		EXPECT_STREQ("", out);
	}
	{
		/* Without "--", and the program's options left to it. */
		static const char *const argv[] = { launcher, "-m", "exec", self,
						    "--report-mode-after-exec", NULL };

		EXPECT_EQ(REPORT_BASE + PR_COW_PTE_ON_EXEC,
			  run(argv, PR_COW_PTE_OFF, NULL, out, sizeof(out)));
	}
}

/* "-m snapshot": exec mode with the snapshot flag, over execve too. */
TEST(snapshot_mode)
{
	const int want = PR_COW_PTE_ON_EXEC | PR_COW_PTE_SNAPSHOT;
	static const char *const argv[] = { launcher, "-m", "snapshot", self,
					    "--report-mode-after-exec", NULL };
	char out[OUT_SZ];
	const char *why = missing(true);

	if (why)
		SKIP(return, "%s", why);
	EXPECT_EQ(REPORT_BASE + want,
		  run(argv, PR_COW_PTE_OFF, NULL, out, sizeof(out)));
	EXPECT_STREQ("", out);
}

/* "-m on": the program gets ON, the programs it executes get OFF. */
TEST(on_mode)
{
	char out[OUT_SZ];
	const char *why = missing(true);

	if (why)
		SKIP(return, "%s", why);
	{
		static const char *const argv[] = { launcher, "-m", "on", "--", self,
						    "--report-mode", NULL };

		EXPECT_EQ(REPORT_BASE + PR_COW_PTE_ON,
			  run(argv, PR_COW_PTE_OFF, NULL, out, sizeof(out)));
		/* Even when the launcher itself inherited ON_EXEC. */
		EXPECT_EQ(REPORT_BASE + PR_COW_PTE_ON,
			  run(argv, PR_COW_PTE_ON_EXEC, NULL, out, sizeof(out)));
	}
	{
		static const char *const argv[] = { launcher, "--mode=on", self,
						    "--report-mode-after-exec", NULL };

		EXPECT_EQ(REPORT_BASE + PR_COW_PTE_OFF,
			  run(argv, PR_COW_PTE_OFF, NULL, out, sizeof(out)));
	}
	{
		/* A static program would silently miss the preload. */
		static const char *const argv[] = { launcher, "-m", "on", "/sbin/ldconfig",
						    "--version", NULL };

		if (access(argv[3], X_OK))
			return;
		EXPECT_EQ(125, run(argv, -1, NULL, out, sizeof(out)));
		EXPECT_NE(NULL, strstr(out, "statically linked"));
	}
}

/* "-m off" switches off a mode inherited from the launcher's parent. */
TEST(off_mode)
{
	static const char *const argv[] = { launcher, "-m", "off", self,
					    "--report-mode", NULL };
	char out[OUT_SZ];
	const char *why = missing(true);

	if (why)
		SKIP(return, "%s", why);
	EXPECT_EQ(REPORT_BASE + PR_COW_PTE_OFF,
		  run(argv, PR_COW_PTE_ON_EXEC, NULL, out, sizeof(out)));
}

/* A program that does not exist: 127 and a message naming it, as shells. */
TEST(missing_program)
{
	char out[OUT_SZ];
	const char *why = missing(false);

	if (why)
		SKIP(return, "%s", why);
	{
		static const char *const argv[] = { launcher, "-f", "-q", "--",
						    "cowpte-no-such-program", "x", NULL };

		EXPECT_EQ(127, run(argv, -1, NULL, out, sizeof(out)));
		EXPECT_NE(NULL, strstr(out, "cowpte-no-such-program: command not found"));
	}
	{
		static const char *const argv[] = { launcher, "-fq",
						    "/no/such/dir/prog", NULL };

		EXPECT_EQ(127, run(argv, -1, NULL, out, sizeof(out)));
		EXPECT_NE(NULL, strstr(out, "/no/such/dir/prog: No such file"));
	}
	{
		/* Found but not executable: 126. */
		static const char *const argv[] = { launcher, "-fq", "/dev/null", NULL };

		EXPECT_EQ(126, run(argv, -1, NULL, out, sizeof(out)));
		EXPECT_NE(NULL, strstr(out, "cannot execute /dev/null"));
	}
}

/* Bad options and a missing program name: usage and status 2. */
TEST(bad_options)
{
	static const char *const cases[][5] = {
		{ "-x", "true" },
		{ "-m", "bogus", "true" },
		{ "-m" },
		{ "--mode=ON_EXEC", "true" },
		{ "--no-such-option", "true" },
		{ "-q" },
		{ "" },
		{ NULL },
	};
	char out[OUT_SZ];
	const char *why = missing(false);

	if (why)
		SKIP(return, "%s", why);
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *argv[8] = { launcher };

		for (int j = 0; j < 5 && cases[i][j]; j++)
			argv[j + 1] = cases[i][j];
		EXPECT_EQ(2, run(argv, -1, NULL, out, sizeof(out)));
		EXPECT_NE(NULL, strstr(out, "usage: cowpte"));
	}
	{
		static const char *const argv[] = { launcher, "--help", NULL };

		EXPECT_EQ(0, run(argv, -1, NULL, out, sizeof(out)));
		EXPECT_NE(NULL, strstr(out, "-m, --mode exec"));
	}
}

/*
 * The kernel's answer decides: with COW PTE, -f changes nothing; without
 * it, the launcher refuses (125) unless -f, and the preload library says
 * why and lets the program run.
 */
TEST(kernel_support)
{
	static const char *const plain[] = { launcher, self, "--report-mode", NULL };
	static const char *const force[] = { launcher, "-f", self, "--report-mode", NULL };
	static const char *const quiet[] = { launcher, "-f", "-q", self,
					     "--report-mode", NULL };
	static const char *const bare[] = { self, "--report-mode", NULL };
	char out[OUT_SZ];
	const char *why = missing(false);

	if (why)
		SKIP(return, "%s", why);
	if (get_mode() >= 0) {
		TH_LOG("kernel with COW PTE: -f must not change anything");
		EXPECT_EQ(REPORT_BASE + PR_COW_PTE_ON_EXEC,
			  run(force, PR_COW_PTE_OFF, NULL, out, sizeof(out)));
		EXPECT_STREQ("", out);
		return;
	}
	TH_LOG("kernel without COW PTE (%s): checking the errors", strerror(errno));
	EXPECT_EQ(125, run(plain, -1, NULL, out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "this kernel has no COW PTE"));
	EXPECT_EQ(REPORT_NONE, run(force, -1, NULL, out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "warning: this kernel has no COW PTE"));
	EXPECT_EQ(REPORT_NONE, run(quiet, -1, NULL, out, sizeof(out)));
	EXPECT_STREQ("", out);
	EXPECT_EQ(REPORT_NONE, run(bare, -1, preload, out, sizeof(out)));
	EXPECT_NE(NULL, strstr(out, "libcowpte: COW PTE not switched on"));
}

/* LD_PRELOAD=libcowpte.so: ON in the program, kept while LD_PRELOAD is. */
TEST(preload_library)
{
	static const char *const argv[] = { self, "--report-mode", NULL };
	static const char *const again[] = { self, "--report-mode-after-exec", NULL };
	char out[OUT_SZ], both[2 * PATH_MAX + 64];
	const char *why = missing(true);

	if (why)
		SKIP(return, "%s", why);
	EXPECT_EQ(REPORT_BASE + PR_COW_PTE_ON,
		  run(argv, PR_COW_PTE_OFF, preload, out, sizeof(out)));
	EXPECT_STREQ("", out);
	EXPECT_EQ(REPORT_BASE + PR_COW_PTE_ON,
		  run(again, PR_COW_PTE_OFF, preload, out, sizeof(out)));
	/* ON_EXEC from a launcher is not turned down to ON. */
	EXPECT_EQ(REPORT_BASE + PR_COW_PTE_ON_EXEC,
		  run(argv, PR_COW_PTE_ON_EXEC, preload, out, sizeof(out)));
	/* Among other preloaded libraries (any separator). */
	snprintf(both, sizeof(both), "%s %s", "libc.so.6", preload);
	EXPECT_EQ(REPORT_BASE + PR_COW_PTE_ON,
		  run(argv, PR_COW_PTE_OFF, both, out, sizeof(out)));
}

int main(int argc, char **argv)
{
	char dir[PATH_MAX];

	if (argc == 2 && !strcmp(argv[1], "--report-mode"))
		return report_mode();
	if (!realpath("/proc/self/exe", self)) {
		perror("realpath /proc/self/exe");
		return 1;
	}
	if (argc == 2 && !strcmp(argv[1], "--report-mode-after-exec")) {
		execl(self, self, "--report-mode", NULL);
		return 97;
	}
	/* The launcher lives in ../launcher from this program's folder. */
	snprintf(dir, sizeof(dir), "%s", self);
	snprintf(launcher, sizeof(launcher), "%s/../launcher/cowpte", dirname(dir));
	snprintf(preload, sizeof(preload), "%s/../launcher/libcowpte.so", dir);
	return test_harness_run(argc, argv);
}
