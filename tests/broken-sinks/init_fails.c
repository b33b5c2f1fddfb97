/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test plugin: a valid table whose init refuses ("refusing to start: test");
 * the host must report it and unload the plugin. */
#include <herald/sink.h>

#include <stdio.h>
#include <stdlib.h>

__attribute__((visibility("default"))) const struct herald_sink_ops *
herald_sink_entry(uint32_t host_abi);

static int init(const struct herald_sink_host *host, const struct herald_sink_option *options,
		size_t n_options, void **instance, char *err, size_t errlen)
{
	snprintf(err, errlen, "refusing to start: test");
	return -1;
}

static void deliver(void *instance, const struct herald_sink_item *const *items, size_t n,
		    struct herald_sink_result *const *results)
{
	abort();
}

static void shutdown_(void *instance)
{
	abort(); /* init failed: nothing to shut down */
}

static const struct herald_sink_ops ops = {
    .size = sizeof ops,
    .abi = HERALD_SINK_ABI_VERSION,
    .name = "init_fails",
    .init = init,
    .deliver = deliver,
    .shutdown = shutdown_,
};

const struct herald_sink_ops *herald_sink_entry(uint32_t host_abi)
{
	return HERALD_SINK_ABI_MAJOR_OF(host_abi) == HERALD_SINK_ABI_MAJOR ? &ops : NULL;
}
