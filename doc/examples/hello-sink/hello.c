/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * hello: a complete, minimal herald sink, built outside herald's tree.
 *
 * For every item it appends "hello USER: SUBJECT\n" to the file named by the
 * option `path`. Build it with the Makefile next to this file, install
 * hello.so into heraldd's plugin_dir and configure
 *
 *     [sink hello]
 *     plugin = hello
 *     path = /var/lib/herald/hello.txt
 *
 * See herald-sink(3) for the rules this file follows.
 */
#include <herald/sink.h>

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


struct hello {
	const struct herald_sink_host *host; /* lent until shutdown returns */
	int fd;
};

/* Log through the daemon. `log` is in ABI 1.0, so every host has it; the
 * check shows how to use a field that a newer minor version appended. */
static void say(const struct hello *h, const char *what, int err)
{
	if (HERALD_SINK_HAS(h->host, struct herald_sink_host, log) && h->host->log)
		h->host->log(h->host, HERALD_SINK_LOG_ERROR, "%s: %s", what, strerror(err));
}

/* Like every int operation: 0, or a negative errno with a message in err.
 * A failed init frees what it allocated: the host will not call shutdown. */
static int hello_init(const struct herald_sink_host *host, const struct herald_sink_option *opts,
		      size_t n_opts, void **instance, char *err, size_t errlen)
{
	const char *path = NULL;
	struct hello *h;
	int rc;

	for (size_t i = 0; i < n_opts; i++) {
		if (strcmp(opts[i].key, "path")) {
			snprintf(err, errlen, "unknown option '%s' (line %u)", opts[i].key,
				 opts[i].line);
			return -EINVAL;
		}
		path = opts[i].value;
	}
	if (!path || path[0] != '/') {
		snprintf(err, errlen, "path: required, and absolute");
		return -EINVAL;
	}
	h = malloc(sizeof *h);
	if (!h) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	h->host = host;
	h->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (h->fd < 0) {
		rc = -errno;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(-rc));
		free(h);
		return rc;
	}
	*instance = h;
	return 0;
}

/* Append s, its control characters as spaces: one item, one line. */
static size_t put_clean(char *buf, size_t at, size_t cap, const char *s)
{
	for (; s && *s && at < cap; s++)
		buf[at++] = (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s;
	return at;
}

static void hello_deliver(void *instance, const struct herald_sink_item *const *items, size_t n,
			  struct herald_sink_result *const *results)
{
	struct hello *h = instance;

	for (size_t i = 0; i < n; i++) {
		struct herald_sink_result *r = results[i];
		char line[1024];
		size_t len = put_clean(line, 0, sizeof line - 1, "hello ");

		len = put_clean(line, len, sizeof line - 1, items[i]->user);
		len = put_clean(line, len, sizeof line - 1, ": ");
		len = put_clean(line, len, sizeof line - 1, items[i]->subject);
		line[len++] = '\n';
		if (write(h->fd, line, len) == (ssize_t)len) {
			r->outcome = HERALD_SINK_DELIVERED;
			continue;
		}
		/* A full disk passes; anything else means this file is unusable. */
		int e = errno;
		r->outcome = e == ENOSPC || e == EDQUOT ? HERALD_SINK_RETRY : HERALD_SINK_BROKEN;
		snprintf(r->reason, sizeof r->reason, "write failed: %s", strerror(e));
		say(h, "write", e);
	}
}

static void hello_shutdown(void *instance)
{
	struct hello *h = instance;

	if (close(h->fd))
		say(h, "close", errno);
	free(h);
}

static const struct herald_sink_ops hello_ops = {
    .size = sizeof hello_ops,
    .abi = HERALD_SINK_ABI_VERSION,
    .name = "hello", /* must match the file name, hello.so */
    .init = hello_init,
    .validate = NULL, /* every address is fine */
    .deliver = hello_deliver,
    .flush = NULL,
    .shutdown = hello_shutdown,
    .reopen = NULL,
};

/* sink.h declares it with HERALD_SINK_EXPORT, so -fvisibility=hidden keeps it visible. */
HERALD_SINK_EXPORT const struct herald_sink_ops *herald_sink_entry(uint32_t host_abi)
{
	/* Same major: we can talk. A newer minor host only appended fields. */
	if (HERALD_SINK_ABI_MAJOR_OF(host_abi) != HERALD_SINK_ABI_MAJOR)
		return NULL;
	return &hello_ops;
}
