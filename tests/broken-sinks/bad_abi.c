/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test plugin: a complete table, but for sink ABI 2.0. The host must refuse
 * it ("does not speak sink ABI 1.2 (it offers 2.0)") before touching more. */
#include <herald/sink.h>

#include <stdlib.h>

__attribute__((visibility("default"))) const struct herald_sink_ops *
herald_sink_entry(uint32_t host_abi);

static int init(const struct herald_sink_host *host, const struct herald_sink_option *options,
		size_t n_options, void **instance, char *err, size_t errlen)
{
	abort(); /* never called: the host refuses the table first */
}

static void deliver(void *instance, const struct herald_sink_item *const *items, size_t n,
		    struct herald_sink_result *const *results)
{
	abort();
}

static void shutdown_(void *instance)
{
	abort();
}

static const struct herald_sink_ops ops = {
    .size = sizeof ops,
    .abi = 2u << 16,
    .name = "bad_abi",
    .init = init,
    .deliver = deliver,
    .shutdown = shutdown_,
};

const struct herald_sink_ops *herald_sink_entry(uint32_t host_abi)
{
	return &ops;
}
