/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * canon_bench: how fast canon_json() runs over the message corpus.
 *
 * For: a number to compare before and after a change to src/common/canon*.c.
 * It reports MB/s of input and messages/s, single-threaded, output buffer
 * reused as the daemon does. Not a test and not built by default:
 *
 *   cc -O2 -I. bench/canon_bench.c src/common/canon*.c src/common/buf.c -lm -o canon_bench
 *   ./canon_bench [tests/data/fedmsg-messages.jsonl] [seconds]
 */
#include "src/common/canon.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct msg {
	char *text;
	size_t len;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t load(const char *path, struct msg **msgs, size_t *bytes)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, n = 0, room = 0;
	ssize_t len;

	if (!f) {
		perror(path);
		exit(1);
	}
	*bytes = 0;
	while ((len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			len--;
		if (n == room) {
			room = room ? room * 2 : 1024;
			*msgs = realloc(*msgs, room * sizeof **msgs);
		}
		(*msgs)[n].text = malloc((size_t)len);
		memcpy((*msgs)[n].text, line, (size_t)len);
		(*msgs)[n].len = (size_t)len;
		*bytes += (size_t)len;
		n++;
	}
	free(line);
	fclose(f);
	return n;
}

static void run(const struct msg *msgs, size_t n, size_t bytes, unsigned flags, double secs)
{
	struct buf out = BUF_INIT;
	size_t rounds = 0, failed = 0;
	double t0 = now(), t;

	do {
		for (size_t i = 0; i < n; i++) {
			buf_reset(&out);
			failed += canon_json(msgs[i].text, msgs[i].len, flags, &out, NULL) != 0;
		}
		rounds++;
	} while ((t = now() - t0) < secs);
	printf("flags %u: %zu rounds, %.1f MB/s, %.0f messages/s, %.2f us/message, %zu errors\n",
	       flags, rounds, (double)(bytes * rounds) / t / 1e6, (double)(n * rounds) / t,
	       t / (double)(n * rounds) * 1e6, failed);
	buf_release(&out);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "tests/data/fedmsg-messages.jsonl";
	double secs = argc > 2 ? atof(argv[2]) : 3;
	struct msg *msgs = NULL;
	size_t bytes, n = load(path, &msgs, &bytes);

	printf("%zu messages, %zu bytes\n", n, bytes);
	run(msgs, n, bytes, 0, secs);
	run(msgs, n, bytes, CANON_STRIP_CREDENTIALS | CANON_FIX_ARCHIVE, secs);
	for (size_t i = 0; i < n; i++)
		free(msgs[i].text);
	free(msgs);
	return 0;
}
