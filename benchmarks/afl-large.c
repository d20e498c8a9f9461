// SPDX-License-Identifier: GPL-2.0
/*
 * A large AFL++ target: main() first builds an in-memory index (AFL_LARGE_MIB
 * MiB, default 512, every page written), as a target that loads a model, a
 * dictionary or a database before it parses anything. The fork server starts
 * after that (__AFL_INIT, deferred fork server), so each execution is a fork
 * of a process holding the whole index. Each input is a list of words: each
 * is looked up, and the slot of the last one is updated, so every execution
 * also writes to the index, as real targets write to their state.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef __AFL_INIT
#define __AFL_INIT() do { } while (0)
#endif

struct slot {
	uint64_t key;
	uint64_t value;
};

static uint64_t hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (len--)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h;
}

int main(void)
{
	const char *env = getenv("AFL_LARGE_MIB");
	long mib = env ? atol(env) : 512;
	size_t nslots, len;
	struct slot *index;
	char buf[4096], *word, *save;
	uint64_t hits = 0, last = 0;

	if (mib < 1 || mib > (1L << 20)) {
		fprintf(stderr, "afl-large: AFL_LARGE_MIB must be 1..1048576\n");
		return 2;
	}
	nslots = ((size_t)mib << 20) / sizeof(struct slot);
	index = malloc(nslots * sizeof(struct slot));
	if (!index) {
		fprintf(stderr, "afl-large: cannot allocate %ld MiB\n", mib);
		return 1;
	}
	for (size_t i = 0; i < nslots; i++) {
		index[i].key = i * 0x9e3779b97f4a7c15ULL;
		index[i].value = i;
	}

	__AFL_INIT();
	len = fread(buf, 1, sizeof(buf) - 1, stdin);
	buf[len] = '\0';
	for (word = strtok_r(buf, " \n,", &save); word;
	     word = strtok_r(NULL, " \n,", &save)) {
		uint64_t h = hash(word, strlen(word));
		struct slot *s = &index[h % nslots];

		last = h % nslots;
		if ((s->key & 0xff) == (h & 0xff)) {
			hits++;
			if (s->value % 7 == 3)
				hits += 2;
		}
		if (word[0] == '#' && strlen(word) > 3)
			hits += 10;
	}
	index[last].value++;
	printf("%llu\n", (unsigned long long)hits);
	return 0;
}
