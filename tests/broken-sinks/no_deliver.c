/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test plugin: a table without the required deliver operation. */
#include <herald/sink.h>

#include <stdlib.h>

__attribute__((visibility("default"))) const struct herald_sink_ops *
herald_sink_entry(uint32_t host_abi);

static int init(const struct herald_sink_host *host, const struct herald_sink_option *options,
		size_t n_options, void **instance, char *err, size_t errlen)
{
	abort();
}

static void shutdown_(void *instance)
{
	abort();
}

static const struct herald_sink_ops ops = {
    .size = sizeof ops,
    .abi = HERALD_SINK_ABI_VERSION,
    .name = "no_deliver",
    .init = init,
    .deliver = NULL,
    .shutdown = shutdown_,
};

const struct herald_sink_ops *herald_sink_entry(uint32_t host_abi)
{
	return HERALD_SINK_ABI_MAJOR_OF(host_abi) == HERALD_SINK_ABI_MAJOR ? &ops : NULL;
}
