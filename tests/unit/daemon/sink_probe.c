/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sink_probe: load one sink plugin through sinkhost, the way heraldd does,
 * and push one notification through it. For tests of plugins built outside
 * the tree (tests/integration/test_example_sink.sh).
 *
 *   sink_probe PLUGIN_PATH [key=value...] -- ADDRESS
 *
 * Validates ADDRESS, delivers one single-note item to it and prints
 * `outcome=delivered` (or retry, rejected, broken) and, if any, `reason=...`.
 * Exit status: 0 delivered, 1 another outcome, 2 usage, load or validate
 * failure (the message on stderr).
 */
#include "src/daemon/sinkhost.h"

#include <stdio.h>
#include <string.h>

#define MAX_OPTS 32

/* argv[2..] up to "--" as options; returns how many, or -1. */
static int parse_options(int argc, char **argv, struct herald_sink_option *opts, int *dashdash)
{
	int n = 0, i;

	for (i = 2; i < argc && strcmp(argv[i], "--"); i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq || eq == argv[i] || n == MAX_OPTS)
			return -1;
		*eq = '\0';
		/* "line": the option's position on the command line */
		opts[n] = (struct herald_sink_option){argv[i], eq + 1, (unsigned)n + 1};
		n++;
	}
	*dashdash = i;
	return i + 2 == argc ? n : -1;
}

static enum herald_sink_outcome deliver_one(struct sink *s, const char *address)
{
	static const char *const pkgs[] = {"hello"};
	static const uint64_t subs[] = {1};
	struct herald_notification n = {
	    .size = sizeof n,
	    .id = "0123456789abcdef0123456789abcdef",
	    .user = "alice",
	    .destination = 1,
	    .address = address,
	    .topic = "org.example.prod.probe",
	    .title = "probe notification",
	    .summary = "",
	    .link = "",
	    .agent = "",
	    .severity = "info",
	    .packages = pkgs,
	    .n_packages = 1,
	    .subscriptions = subs,
	    .n_subscriptions = 1,
	    .msg_id = "",
	    .json =
		"{\"id\":\"0123456789abcdef0123456789abcdef\",\"title\":\"probe notification\"}",
	    .text = "probe notification",
	    .markdown = "probe notification",
	    .attempt = 1,
	};
	const struct herald_notification *notes[] = {&n};
	struct herald_sink_item it = {
	    .size = sizeof it,
	    .user = n.user,
	    .destination = n.destination,
	    .address = address,
	    .notes = notes,
	    .n_notes = 1,
	    .id = n.id,
	    .subject = n.title,
	    .text = n.text,
	    .markdown = n.markdown,
	};
	struct herald_sink_result r;

	sink_deliver(s, &it, 1, &r);
	printf("outcome=%s\n", herald_sink_outcome_name(r.outcome));
	if (r.reason[0])
		printf("reason=%s\n", r.reason);
	return r.outcome;
}

int main(int argc, char **argv)
{
	struct herald_sink_option opts[MAX_OPTS];
	struct sink *s;
	char err[1024];
	int n, at;

	n = argc > 1 ? parse_options(argc, argv, opts, &at) : -1;
	if (n < 0) {
		fprintf(stderr, "usage: sink_probe PLUGIN_PATH [key=value...] -- ADDRESS\n");
		return 2;
	}
	if (sink_open("probe", argv[1], NULL, NULL, opts, (size_t)n, 0, &s, err, sizeof err)) {
		fprintf(stderr, "sink_probe: %s\n", err);
		return 2;
	}
	if (sink_validate(s, argv[at + 1], err, sizeof err)) {
		fprintf(stderr, "sink_probe: address refused: %s\n", err);
		sink_close(s);
		return 2;
	}
	n = deliver_one(s, argv[at + 1]) == HERALD_SINK_DELIVERED ? 0 : 1;
	sink_close(s);
	return n;
}
