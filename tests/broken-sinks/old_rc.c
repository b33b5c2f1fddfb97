/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test plugin: written to ABI 1.0's "non-zero is failure", it returns
 * positive values. With the option refuse=yes init returns 1; flush returns
 * 1 and reopen -ENOSPC. The host must take every non-zero as a failure and
 * pass on a negative errno only (-EIO for the positive ones).
 */
#include <herald/sink.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((visibility("default"))) const struct herald_sink_ops *
herald_sink_entry(uint32_t host_abi);

static int instance_state;

static int init(const struct herald_sink_host *host, const struct herald_sink_option *options,
		size_t n_options, void **instance, char *err, size_t errlen)
{
	(void)host;
	if (n_options && !strcmp(options[0].key, "refuse")) {
		snprintf(err, errlen, "refused with 1");
		return 1;
	}
	*instance = &instance_state;
	return 0;
}

static void deliver(void *instance, const struct herald_sink_item *const *items, size_t n,
		    struct herald_sink_result *const *results)
{
	(void)instance;
	(void)items;
	for (size_t i = 0; i < n; i++)
		results[i]->outcome = HERALD_SINK_DELIVERED;
}

static int flush(void *instance, int64_t deadline_ms)
{
	(void)instance;
	(void)deadline_ms;
	return 1;
}

static void shutdown_(void *instance)
{
	(void)instance;
}

static int reopen(void *instance)
{
	(void)instance;
	return -ENOSPC;
}

static const struct herald_sink_ops ops = {
    .size = sizeof ops,
    .abi = HERALD_SINK_ABI_VERSION,
    .name = "old_rc",
    .init = init,
    .deliver = deliver,
    .flush = flush,
    .shutdown = shutdown_,
    .reopen = reopen,
};

const struct herald_sink_ops *herald_sink_entry(uint32_t host_abi)
{
	return HERALD_SINK_ABI_MAJOR_OF(host_abi) == HERALD_SINK_ABI_MAJOR ? &ops : NULL;
}
