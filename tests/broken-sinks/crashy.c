/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test plugin: a sink that segfaults on a marked notification, for the
 * sink-isolation tests (tests/integration/test_sink_crash.sh,
 * tests/unit/daemon/test_sinkhost.c). Otherwise it writes one line
 * "ID<TAB>SUBJECT" per delivered item to `path`.
 * Options: `path = FILE` (required); `flag = FILE`: it crashes only while
 * FILE exists (remove it to "fix" the sink); `marker = TEXT` (default
 * "CRASH"): an item whose subject contains TEXT crashes it, as does
 * validating the address "segv" and an address "exit" makes it _exit(3).
 * It logs "crashy: delivering N" through the host before each batch.
 * Not for: anything but being killed by its own bug.
 */
#include <herald/sink.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

__attribute__((visibility("default"))) const struct herald_sink_ops *
herald_sink_entry(uint32_t host_abi);

struct crashy {
	const struct herald_sink_host *host;
	char *path, *flag, *marker;
};

static int init(const struct herald_sink_host *host, const struct herald_sink_option *options,
		size_t n_options, void **instance, char *err, size_t errlen)
{
	struct crashy *c = calloc(1, sizeof *c);
	if (!c)
		return snprintf(err, errlen, "out of memory"), -1;
	c->host = host;
	for (size_t i = 0; i < n_options; i++) {
		char **to = !strcmp(options[i].key, "path")	? &c->path
			    : !strcmp(options[i].key, "flag")	? &c->flag
			    : !strcmp(options[i].key, "marker") ? &c->marker
								: NULL;
		if (to && !*to)
			*to = strdup(options[i].value);
	}
	if (!c->marker)
		c->marker = strdup("CRASH");
	if (!c->path) {
		free(c->flag);
		free(c->marker);
		free(c);
		return snprintf(err, errlen, "path is required"), -22;
	}
	*instance = c;
	return 0;
}

static int armed(const struct crashy *c)
{
	return !c->flag || access(c->flag, F_OK) == 0;
}

static void crash(void)
{
	/* volatile pointer too: a store through a known NULL is undefined, and
	 * a compiler may drop it (seen under ThreadSanitizer at -O1) */
	volatile int *volatile null = NULL;
	*null = 1; /* the bug: SIGSEGV */
	signal(SIGSEGV, SIG_DFL);
	raise(SIGSEGV);
	abort();
}

static int validate(void *instance, const char *address, char *err, size_t errlen)
{
	if (!strcmp(address, "segv") && armed(instance))
		crash();
	return 0;
}

static void deliver(void *instance, const struct herald_sink_item *const *items, size_t n,
		    struct herald_sink_result *const *results)
{
	struct crashy *c = instance;
	c->host->log(c->host, HERALD_SINK_LOG_INFO, "crashy: delivering %zu", n);
	for (size_t i = 0; i < n; i++) {
		if (armed(c) && strstr(items[i]->subject, c->marker))
			crash();
		if (armed(c) && !strcmp(items[i]->address, "exit"))
			_exit(3);
	}
	FILE *f = fopen(c->path, "a");
	for (size_t i = 0; i < n; i++) {
		if (f && fprintf(f, "%s\t%s\n", items[i]->id, items[i]->subject) > 0) {
			results[i]->outcome = HERALD_SINK_DELIVERED;
		} else {
			results[i]->outcome = HERALD_SINK_RETRY;
			snprintf(results[i]->reason, sizeof results[i]->reason, "cannot write");
		}
	}
	if (f)
		fclose(f);
}

static void shutdown_(void *instance)
{
	struct crashy *c = instance;
	free(c->path);
	free(c->flag);
	free(c->marker);
	free(c);
}

static const struct herald_sink_ops ops = {
    .size = sizeof ops,
    .abi = HERALD_SINK_ABI_VERSION,
    .name = "crashy",
    .init = init,
    .validate = validate,
    .deliver = deliver,
    .shutdown = shutdown_,
};

const struct herald_sink_ops *herald_sink_entry(uint32_t host_abi)
{
	return HERALD_SINK_ABI_MAJOR_OF(host_abi) == HERALD_SINK_ABI_MAJOR ? &ops : NULL;
}
