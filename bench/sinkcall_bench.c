/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sinkcall_bench: what a call into a sink costs with the sink in its own
 * process (herald-sinkhost, the default) against inline, with the file
 * sink writing to /dev/null so the call is nearly all overhead.
 *
 *   sinkcall_bench [BUILD_DIR] [BATCHES] [BATCH]
 *
 * For each mode: BATCHES (2000) deliver calls of BATCH (64) single-note
 * items shaped like bench/e2e's (a 1 KiB note JSON, text and Markdown), then
 * the same with one item per call. JSON lines: per mode and batch size,
 * microseconds per call and per item; the last line is the per-item ratio
 * process/inline at the full batch. Not for measuring a real sink's I/O.
 */
#include "src/daemon/sinkhost.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/common/clock.h"

static char json[1024], text[600], md[600];

static void fill(char *b, size_t n, char c)
{
	memset(b, c, n - 1);
	b[n - 1] = '\0';
}

/* Seconds per call of `batch` items, over `calls` calls. */
static double run(struct sink *s, size_t calls, size_t batch)
{
	static const char *const pkgs[] = {"kernel"};
	static const uint64_t subs[] = {1};
	struct herald_notification n = {.size = sizeof n,
					.id = "0123456789abcdef0123456789abcdef",
					.user = "alice",
					.destination = 1,
					.address = "x",
					.topic = "org.fedoraproject.prod.bodhi.update",
					.title = "kernel-6.1 pushed to stable",
					.summary = "the summary",
					.link = "https://x/",
					.agent = "ralph",
					.severity = "info",
					.packages = pkgs,
					.n_packages = 1,
					.subscriptions = subs,
					.n_subscriptions = 1,
					.msg_id = "2024-abc",
					.json = json,
					.text = text,
					.markdown = md,
					.attempt = 1};
	const struct herald_notification *np = &n;
	struct herald_sink_item *it = calloc(batch, sizeof *it);
	struct herald_sink_result *r = calloc(batch, sizeof *r);
	for (size_t i = 0; i < batch; i++)
		it[i] = (struct herald_sink_item){.size = sizeof *it,
						  .user = "alice",
						  .destination = 1,
						  .address = "x",
						  .notes = &np,
						  .n_notes = 1,
						  .id = n.id,
						  .subject = n.title,
						  .text = text,
						  .markdown = md};
	uint64_t t0 = clock_mono_us();
	for (size_t c = 0; c < calls; c++)
		if (sink_deliver(s, it, batch, r) || r[0].outcome != HERALD_SINK_DELIVERED) {
			fprintf(stderr, "sinkcall_bench: delivery failed: %s\n", r[0].reason);
			exit(1);
		}
	double us = (double)(clock_mono_us() - t0) / (double)calls;
	free(it);
	free(r);
	return us;
}

int main(int argc, char **argv)
{
	const char *build = argc > 1 ? argv[1] : ".";
	size_t calls = argc > 2 ? strtoul(argv[2], NULL, 10) : 2000;
	size_t batch = argc > 3 ? strtoul(argv[3], NULL, 10) : 64;
	char dir[1200], err[600];
	const struct herald_sink_option opt = {"path", "/dev/null", 1};
	double per_item[2] = {0, 0};
	static const char *const names[] = {"process", "inline"};

	fill(json, sizeof json, 'j');
	fill(text, sizeof text, 't');
	fill(md, sizeof md, 'm');
	snprintf(dir, sizeof dir, "%s/sinks", build);
	for (int mode = 0; mode < 2; mode++) {
		struct sink *s;
		if (sink_open("bench", "file", dir, NULL, &opt, 1, mode ? SINK_INLINE : 0, &s, err,
			      sizeof err)) {
			fprintf(stderr, "sinkcall_bench: %s\n", err);
			return 1;
		}
		run(s, calls / 10 + 1, batch); /* warm-up */
		double big = run(s, calls, batch), one = run(s, calls, 1);
		per_item[mode] = big / (double)batch;
		printf("{\"bench\": \"sinkcall\", \"isolation\": \"%s\", \"batch\": %zu, "
		       "\"us_per_call\": %.1f, \"us_per_item\": %.2f}\n",
		       names[mode], batch, big, big / (double)batch);
		printf("{\"bench\": \"sinkcall\", \"isolation\": \"%s\", \"batch\": 1, "
		       "\"us_per_call\": %.1f, \"us_per_item\": %.2f}\n",
		       names[mode], one, one);
		sink_close(s);
	}
	printf("{\"bench\": \"sinkcall\", \"metric\": \"per_item_process_over_inline\", "
	       "\"value\": %.2f, \"extra_us_per_item\": %.2f}\n",
	       per_item[0] / per_item[1], per_item[0] - per_item[1]);
	return 0;
}
