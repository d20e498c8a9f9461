// SPDX-License-Identifier: GPL-2.0
/*
 * redisprobe: the latency a Redis client sees around a BGSAVE.
 *
 * One connection sends GET and SET (a value of the populated size) to
 * random populated keys back to back, one request in flight, and records
 * each request's latency. After a warm-up, a second connection sends BGSAVE;
 * the server forks inside that command, so the request in flight then waits
 * for the whole fork. The probe goes on while the child saves, when the
 * parent's writes copy pages (and, with COW PTE, tables).
 *
 *   redisprobe [-p port] [-k keys] [-v bytes] [-w warmup_s] [-d during_s]
 *
 * Prints one line of name=value pairs (times in us): bgsave_rtt (BGSAVE's
 * round trip), before_p50/p99 (requests done before BGSAVE was sent),
 * during_p50/p99/max (requests done in the during_s seconds from then on,
 * so including the one the fork stalled), during_ops.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "benchutil.h"

#define MAX_OPS (1 << 21)

struct conn {
	int fd;
	char buf[65536];
	size_t len, pos;
};

static int port = 6379;
static long keys = 1000, value_len = 100;
static double warmup_s = 1, during_s = 5;

static atomic_bool stop;
static double *op_start, *op_lat;
static long nops;
static char *value;

static void fail(const char *what)
{
	fprintf(stderr, "redisprobe: %s: %s\n", what, errno ? strerror(errno) : "protocol error");
	exit(1);
}

static void conn_open(struct conn *c)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0)
		fail("socket");
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)))
		fail("connect to redis on 127.0.0.1");
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->len = c->pos = 0;
}

static void send_all(struct conn *c, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(c->fd, buf, len);

		if (n <= 0)
			fail("write");
		buf += n;
		len -= n;
	}
}

/* Send a command of @argc arguments in RESP. */
static void command(struct conn *c, int argc, const char **argv, const size_t *lens)
{
	char head[64];

	snprintf(head, sizeof(head), "*%d\r\n", argc);
	send_all(c, head, strlen(head));
	for (int i = 0; i < argc; i++) {
		snprintf(head, sizeof(head), "$%zu\r\n", lens[i]);
		send_all(c, head, strlen(head));
		send_all(c, argv[i], lens[i]);
		send_all(c, "\r\n", 2);
	}
}

static int getbyte(struct conn *c)
{
	if (c->pos == c->len) {
		ssize_t n = read(c->fd, c->buf, sizeof(c->buf));

		if (n <= 0)
			fail("read from redis");
		c->len = n;
		c->pos = 0;
	}
	return (unsigned char)c->buf[c->pos++];
}

/* Read a line up to CRLF into @line; returns its first byte (the type). */
static int getline_crlf(struct conn *c, char *line, size_t size)
{
	size_t n = 0;
	int ch;

	while ((ch = getbyte(c)) != '\n')
		if (ch != '\r' && n + 1 < size)
			line[n++] = ch;
	line[n] = '\0';
	return line[0];
}

/* Read one reply (simple, error, integer, bulk); fails on an error reply. */
static void reply(struct conn *c)
{
	char line[256];
	long len;

	switch (getline_crlf(c, line, sizeof(line))) {
	case '+':
	case ':':
		return;
	case '$':
		len = strtol(line + 1, NULL, 10);
		for (long i = 0; i < len + 2 && len >= 0; i++)
			getbyte(c);
		return;
	case '-':
		fprintf(stderr, "redisprobe: redis says: %s\n", line);
		exit(1);
	default:
		errno = 0;
		fail("unexpected reply");
	}
}

static void *probe(void *arg)
{
	uint64_t seed = 0x2545f4914f6cdd1dULL;
	struct conn *c = arg;
	char key[32];

	while (!atomic_load(&stop) && nops < MAX_OPS) {
		long k = xorshift64(&seed) % keys;
		const char *argv[3] = { nops % 2 ? "SET" : "GET", key, value };
		size_t lens[3] = { 3, 0, value_len };
		double t0;

		lens[1] = snprintf(key, sizeof(key), "key:%ld", k);
		t0 = now_us();
		command(c, nops % 2 ? 3 : 2, argv, lens);
		reply(c);
		op_start[nops] = t0;
		op_lat[nops] = now_us() - t0;
		nops++;
	}
	return NULL;
}

static void usage(void)
{
	fprintf(stderr, "usage: redisprobe [-p port] [-k keys] [-v value_bytes] [-w warmup_s] [-d during_s]\n");
	exit(2);
}

/*
 * p-quantile of the latencies of ops that completed in [from, to): a request
 * in flight when BGSAVE came in, stalled by the fork, counts as "during".
 */
static double lat_quantile(double from, double to, double q, long *count)
{
	double *v = malloc(nops * sizeof(double) + 1);
	long n = 0;
	double r;

	if (!v)
		fail("malloc");
	for (long i = 0; i < nops; i++)
		if (op_start[i] + op_lat[i] >= from && op_start[i] + op_lat[i] < to)
			v[n++] = op_lat[i];
	if (count)
		*count = n;
	if (!n) {
		free(v);
		return -1;
	}
	qsort(v, n, sizeof(double), cmp_double);
	r = quantile(v, n, q);
	free(v);
	return r;
}

int main(int argc, char **argv)
{
	struct conn *pc = malloc(sizeof(*pc)), *cc = malloc(sizeof(*cc));
	const char *bgsave[1] = { "BGSAVE" };
	size_t bglen[1] = { 6 };
	double t_bg, rtt, end;
	pthread_t th;
	long during_ops;
	int opt;

	while ((opt = getopt(argc, argv, "p:k:v:w:d:h")) != -1) {
		switch (opt) {
		case 'p':
			port = parse_long(optarg, 1, 65535);
			if (port < 0)
				usage();
			break;
		case 'k':
			keys = parse_long(optarg, 1, 1L << 40);
			if (keys < 0)
				usage();
			break;
		case 'v':
			value_len = parse_long(optarg, 1, 1 << 24);
			if (value_len < 0)
				usage();
			break;
		case 'w':
			warmup_s = parse_long(optarg, 0, 3600);
			if (warmup_s < 0)
				usage();
			break;
		case 'd':
			during_s = parse_long(optarg, 1, 3600);
			if (during_s < 0)
				usage();
			break;
		default:
			usage();
		}
	}
	if (optind != argc)
		usage();
	op_start = malloc(MAX_OPS * sizeof(double));
	op_lat = malloc(MAX_OPS * sizeof(double));
	value = malloc(value_len);
	if (!pc || !cc || !op_start || !op_lat || !value)
		fail("malloc");
	memset(value, 'v', value_len);
	conn_open(pc);
	conn_open(cc);

	if (pthread_create(&th, NULL, probe, pc))
		fail("pthread_create");
	usleep(warmup_s * 1e6);
	t_bg = now_us();
	command(cc, 1, bgsave, bglen);
	reply(cc);
	rtt = now_us() - t_bg;
	end = t_bg + during_s * 1e6;
	while (now_us() < end)
		usleep(10000);
	atomic_store(&stop, true);
	pthread_join(th, NULL);

	printf("bgsave_rtt=%.0f before_p50=%.1f before_p99=%.1f during_p50=%.1f during_p99=%.1f during_max=%.1f",
	       rtt, lat_quantile(0, t_bg, 0.5, NULL), lat_quantile(0, t_bg, 0.99, NULL),
	       lat_quantile(t_bg, end, 0.5, &during_ops),
	       lat_quantile(t_bg, end, 0.99, NULL),
	       lat_quantile(t_bg, end, 1.0, NULL));
	printf(" during_ops=%ld\n", during_ops);
	return 0;
}
