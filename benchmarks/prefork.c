// SPDX-License-Identifier: GPL-2.0
/*
 * A pre-forking server and its client: the zygote / serverless pattern. The
 * server warms up a large heap once, then forks one child per request; the
 * child reads and updates a little of the heap, answers and exits.
 *
 *   prefork server -s SOCKET [-m heap_MiB] [-r pages_read] [-w pages_written]
 *   prefork client -s SOCKET [-n requests] [-q]
 *
 * The server does not touch the COW PTE mode: start it under the launcher
 * (cowpte -m exec, or -m off for stock fork). It prints "ready" on stdout
 * once the heap is warm, and stops on SIGTERM.
 *
 * The client sends requests one after another over fresh connections and
 * prints "p50=.. p99=.. max=.. rps=.." (latencies in us); -q drops the
 * per-request lines on stderr.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "benchutil.h"

#define MAX_REQS 100000

struct request {
	uint64_t id;
};

struct answer {
	uint64_t id;
	uint64_t sum;
};

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	stopping = 1;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: prefork server -s SOCKET [-m heap_MiB] [-r pages_read] [-w pages_written]\n"
		"       prefork client -s SOCKET [-n requests] [-q]\n");
	exit(2);
}

static void fail(const char *what)
{
	fprintf(stderr, "prefork: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void sock_addr(struct sockaddr_un *sa, const char *path)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path)) {
		fprintf(stderr, "prefork: socket path too long: %s\n", path);
		exit(2);
	}
	strcpy(sa->sun_path, path);
}

static bool full_io(int fd, void *buf, size_t len, bool out)
{
	while (len) {
		ssize_t n = out ? write(fd, buf, len) : read(fd, buf, len);

		if (n <= 0)
			return false;
		buf = (char *)buf + n;
		len -= n;
	}
	return true;
}

/* The child's work: read @reads pages, write @writes pages, spread by @id. */
static uint64_t handle(char *heap, size_t pages, uint64_t id, long reads, long writes)
{
	uint64_t seed = id * 0x9e3779b97f4a7c15ULL + 1, sum = 0;

	for (long i = 0; i < reads; i++)
		sum += ((volatile char *)heap)[(xorshift64(&seed) % pages) * PAGE_SZ];
	for (long i = 0; i < writes; i++)
		((volatile char *)heap)[(xorshift64(&seed) % pages) * PAGE_SZ] = (char)id;
	return sum;
}

static int server(const char *path, long mib, long reads, long writes)
{
	size_t size = (size_t)mib << 20, pages = size / PAGE_SZ;
	struct sockaddr_un sa;
	struct sigaction act = { .sa_handler = on_term };
	char *heap;
	int lfd;

	heap = region_alloc_thp(size, false);
	if (!heap)
		fail("mmap");
	/* Warm up: every page written, as a runtime's initialised heap. */
	for (size_t i = 0; i < pages; i++)
		heap[i * PAGE_SZ] = (char)i;

	sock_addr(&sa, path);
	unlink(path);
	lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 64))
		fail("listen");
	sigaction(SIGTERM, &act, NULL);
	sigaction(SIGINT, &act, NULL);
	printf("ready\n");
	fflush(stdout);

	while (!stopping) {
		struct request req;
		int fd = accept(lfd, NULL, NULL);
		pid_t pid;

		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		if (fd < 0) {
			if (errno == EINTR)
				continue;
			fail("accept");
		}
		pid = fork();
		if (pid < 0) {
			perror("prefork: fork");
			close(fd);
			continue;
		}
		if (pid == 0) {
			struct answer ans;

			close(lfd);
			if (!full_io(fd, &req, sizeof(req), false))
				_exit(1);
			ans.id = req.id;
			ans.sum = handle(heap, pages, req.id, reads, writes);
			_exit(full_io(fd, &ans, sizeof(ans), true) ? 0 : 1);
		}
		close(fd);
	}
	unlink(path);
	while (wait(NULL) > 0)
		;
	return 0;
}

static int client(const char *path, long n, bool quiet)
{
	static double lat[MAX_REQS];
	struct sockaddr_un sa;
	double t_start, total;

	sock_addr(&sa, path);
	t_start = now_us();
	for (long i = 0; i < n; i++) {
		struct request req = { .id = (uint64_t)i + 1 };
		struct answer ans;
		double t0 = now_us();
		int fd = socket(AF_UNIX, SOCK_STREAM, 0);

		if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			fail("connect to the server");
		if (!full_io(fd, &req, sizeof(req), true) ||
		    !full_io(fd, &ans, sizeof(ans), false) || ans.id != req.id) {
			fprintf(stderr, "prefork: request %ld: no answer\n", i);
			return 1;
		}
		close(fd);
		lat[i] = now_us() - t0;
		if (!quiet)
			fprintf(stderr, "request %ld: %.0f us\n", i, lat[i]);
	}
	total = now_us() - t_start;
	qsort(lat, n, sizeof(double), cmp_double);
	printf("p50=%.1f p99=%.1f max=%.1f rps=%.3f\n", quantile(lat, n, 0.5),
	       quantile(lat, n, 0.99), lat[n - 1], n / (total / 1e6));
	return 0;
}

int main(int argc, char **argv)
{
	long mib = 1024, reads = 64, writes = 16, n = 50;
	const char *path = NULL;
	bool quiet = false, is_server;
	int opt;

	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "server"))
		is_server = true;
	else if (!strcmp(argv[1], "client"))
		is_server = false;
	else
		usage();
	optind = 2;
	while ((opt = getopt(argc, argv, is_server ? "s:m:r:w:" : "s:n:q")) != -1) {
		switch (opt) {
		case 's':
			path = optarg;
			break;
		case 'm':
			if ((mib = parse_long(optarg, 1, 1L << 20)) < 0)
				usage();
			break;
		case 'r':
			if ((reads = parse_long(optarg, 0, 1L << 30)) < 0)
				usage();
			break;
		case 'w':
			if ((writes = parse_long(optarg, 0, 1L << 30)) < 0)
				usage();
			break;
		case 'n':
			if ((n = parse_long(optarg, 1, MAX_REQS)) < 0)
				usage();
			break;
		case 'q':
			quiet = true;
			break;
		default:
			usage();
		}
	}
	if (!path || optind != argc)
		usage();
	return is_server ? server(path, mib, reads, writes) : client(path, n, quiet);
}
