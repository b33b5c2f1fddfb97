/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test plugin: loads and runs, but misbehaves where the host must cope:
 *  - its table's size stops before `reopen`, so the host must not call it;
 *  - init logs a line with control characters through host->log;
 *  - validate refuses with no message ("none"), with an unterminated one
 *    ("fill") or with a multi-line one (anything else);
 *  - deliver gives item 0 an unknown outcome, leaves item 1 alone, and gives
 *    item 2 a rejection whose reason fills the buffer with no NUL.
 */
#include <herald/sink.h>

#include <stdlib.h>
#include <string.h>

__attribute__((visibility("default"))) const struct herald_sink_ops *
herald_sink_entry(uint32_t host_abi);

static int instance_state;

static int init(const struct herald_sink_host *host, const struct herald_sink_option *options,
		size_t n_options, void **instance, char *err, size_t errlen)
{
	host->log(host, HERALD_SINK_LOG_WARNING, "started with %zu options\nforged\x1b[31m",
		  n_options);
	*instance = &instance_state;
	return 0;
}

static int validate(void *instance, const char *address, char *err, size_t errlen)
{
	if (!strcmp(address, "fill"))
		memset(err, 'x', errlen);
	else if (strcmp(address, "none"))
		strcpy(err, "bad\naddress");
	return 1;
}

static void deliver(void *instance, const struct herald_sink_item *const *items, size_t n,
		    struct herald_sink_result *const *results)
{
	if (n > 0)
		results[0]->outcome = (enum herald_sink_outcome)99;
	if (n > 2) {
		results[2]->outcome = HERALD_SINK_REJECTED;
		memset(results[2]->reason, 'y', sizeof results[2]->reason);
	}
}

static void shutdown_(void *instance)
{
}

static int reopen(void *instance)
{
	abort(); /* beyond the table's size: the host must not read this */
}

static const struct herald_sink_ops ops = {
    .size = offsetof(struct herald_sink_ops, reopen),
    .abi = HERALD_SINK_ABI_VERSION,
    .name = "forgetful",
    .init = init,
    .validate = validate,
    .deliver = deliver,
    .shutdown = shutdown_,
    .reopen = reopen,
};

const struct herald_sink_ops *herald_sink_entry(uint32_t host_abi)
{
	return HERALD_SINK_ABI_MAJOR_OF(host_abi) == HERALD_SINK_ABI_MAJOR ? &ops : NULL;
}
