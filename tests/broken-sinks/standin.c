/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Test plugin: a stand-in sink whose outcome per item is scripted by the
 * item's address, and which records what it received, for the dispatcher's
 * unit test (tests/unit/daemon/test_dispatch.c).
 * Addresses: "ok" delivered; "retry" retry; "retry-after:N" retry after N
 * seconds; "reject" rejected; "broken" this instance is broken; "gone" the
 * destination is gone. Anything else: rejected. The reason is "standin:
 * ADDRESS".
 * Option `log = PATH`: each deliver call appends "call N" and then one line
 * "item ADDRESS DEST NOTES" per item to PATH; an item with the web app's
 * links (ABI 1.2) adds "links UNSUBSCRIBE_URL WHY_URL" ("-" for NULL) and
 * "text TEXT" with its newlines as '|'.
 * Not for: testing the ABI's edge cases (the other plugins here do that).
 */
#include <herald/sink.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((visibility("default"))) const struct herald_sink_ops *
herald_sink_entry(uint32_t host_abi);

struct standin {
	char *log; /* NULL: record nothing */
};

static int init(const struct herald_sink_host *host, const struct herald_sink_option *options,
		size_t n_options, void **instance, char *err, size_t errlen)
{
	struct standin *s = calloc(1, sizeof *s);
	if (!s)
		return snprintf(err, errlen, "out of memory"), 1;
	for (size_t i = 0; i < n_options; i++)
		if (!strcmp(options[i].key, "log") && !(s->log = strdup(options[i].value)))
			return free(s), snprintf(err, errlen, "out of memory"), 1;
	*instance = s;
	return 0;
}

static int validate(void *instance, const char *address, char *err, size_t errlen)
{
	return 0;
}

static void outcome(const struct herald_sink_item *it, struct herald_sink_result *r)
{
	const char *a = it->address;
	snprintf(r->reason, sizeof r->reason, "standin: %s", a);
	if (!strcmp(a, "ok"))
		r->outcome = HERALD_SINK_DELIVERED;
	else if (!strcmp(a, "retry"))
		r->outcome = HERALD_SINK_RETRY;
	else if (!strncmp(a, "retry-after:", 12))
		r->outcome = HERALD_SINK_RETRY, r->retry_after = (uint32_t)strtoul(a + 12, NULL, 10);
	else if (!strcmp(a, "broken"))
		r->outcome = HERALD_SINK_BROKEN;
	else if (!strcmp(a, "gone"))
		r->outcome = HERALD_SINK_GONE;
	else
		r->outcome = HERALD_SINK_REJECTED;
}

static void put_links(FILE *f, const struct herald_sink_item *it)
{
	if (!HERALD_SINK_HAS(it, struct herald_sink_item, why_url) ||
	    (!it->unsubscribe_url && !it->why_url))
		return;
	fprintf(f, "links %s %s\ntext ", it->unsubscribe_url ? it->unsubscribe_url : "-",
		it->why_url ? it->why_url : "-");
	for (const char *p = it->text; p && *p; p++)
		fputc(*p == '\n' ? '|' : *p, f);
	fputc('\n', f);
}

static void deliver(void *instance, const struct herald_sink_item *const *items, size_t n,
		    struct herald_sink_result *const *results)
{
	struct standin *s = instance;
	FILE *f = s->log ? fopen(s->log, "a") : NULL;
	if (f)
		fprintf(f, "call %zu\n", n);
	for (size_t i = 0; i < n; i++) {
		outcome(items[i], results[i]);
		if (f)
			fprintf(f, "item %s %llu %zu\n", items[i]->address,
				(unsigned long long)items[i]->destination, items[i]->n_notes);
		if (f)
			put_links(f, items[i]);
	}
	if (f)
		fclose(f);
}

static void shutdown_(void *instance)
{
	struct standin *s = instance;
	free(s->log);
	free(s);
}

static const struct herald_sink_ops ops = {
    .size = sizeof ops,
    .abi = HERALD_SINK_ABI_VERSION,
    .name = "standin",
    .init = init,
    .validate = validate,
    .deliver = deliver,
    .shutdown = shutdown_,
};

const struct herald_sink_ops *herald_sink_entry(uint32_t host_abi)
{
	return HERALD_SINK_ABI_MAJOR_OF(host_abi) == HERALD_SINK_ABI_MAJOR ? &ops : NULL;
}
