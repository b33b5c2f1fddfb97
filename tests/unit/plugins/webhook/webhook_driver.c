/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * webhook_driver: drive the webhook sink directly, without heraldd, for the
 * cases of test_webhook.sh the daemon cannot produce: a host of ABI 1.0 (no
 * HERALD_SINK_GONE), an address that went bad after validate(), an item id
 * that would break a header, and one batch of many items (concurrency and
 * max_per_host, seen from the server's side).
 *
 *   webhook_driver PLUGIN HOST_MINOR [key=value...] -- ADDRESS...
 *
 * Loads PLUGIN with dlopen as sinkhost does, inits it with the options as a
 * host of ABI 1.HOST_MINOR, and delivers one item per ADDRESS in a single
 * deliver() call. An ADDRESS prefixed "badid:" gets an id with CR/LF in it.
 * Prints one line per item: "i outcome retry_after reason". Exit 0 when
 * every item was delivered, 1 otherwise, 2 on usage or load errors.
 *
 * Standalone: libc and herald/sink.h, like a sink.
 */
#define _GNU_SOURCE
#include <herald/sink.h>

#include "sinkdriver.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_OPTS 32
#define MAX_ITEMS 256

struct fixture {
	struct herald_notification n;
	const struct herald_notification *notes[1];
	struct herald_sink_item it;
	struct herald_sink_result r;
	char id[40];
	char json[200];
};

static void fill(struct fixture *f, size_t i, const char *address)
{
	bool bad = !strncmp(address, "badid:", 6);

	if (bad)
		snprintf(f->id, sizeof f->id, "0000\r\nX-Injected: %zu", i);
	else
		snprintf(f->id, sizeof f->id, "%032zx", i + 1);
	snprintf(f->json, sizeof f->json, "{\"id\":\"%032zx\",\"title\":\"driver %zu\"}", i + 1, i);
	f->n = (struct herald_notification){.size = sizeof f->n,
					    .id = f->id,
					    .user = "driver",
					    .address = bad ? address + 6 : address,
					    .topic = "org.test.driver",
					    .title = "driver",
					    .summary = "",
					    .link = "",
					    .agent = "",
					    .severity = "info",
					    .json = f->json,
					    .text = "driver text",
					    .markdown = "driver *markdown*",
					    .attempt = 1};
	f->notes[0] = &f->n;
	f->it = (struct herald_sink_item){.size = sizeof f->it,
					  .user = "driver",
					  .address = f->n.address,
					  .notes = f->notes,
					  .n_notes = 1,
					  .id = f->id,
					  .subject = "driver subject",
					  .text = "driver text",
					  .markdown = "driver *markdown*"};
	f->r = (struct herald_sink_result){.size = sizeof f->r};
}

int main(int argc, char **argv)
{
	struct herald_sink_option opts[MAX_OPTS];
	static struct fixture fx[MAX_ITEMS];
	const struct herald_sink_item *items[MAX_ITEMS];
	struct herald_sink_result *results[MAX_ITEMS];
	size_t n_opts = 0, n = 0;
	char err[256] = "";
	void *inst = NULL;
	int i = 3, rc = 0;

	if (argc < 4) {
		fprintf(stderr, "usage: webhook_driver PLUGIN HOST_MINOR [key=value...] -- ADDRESS...\n");
		return 2;
	}
	for (; i < argc && strcmp(argv[i], "--"); i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq || n_opts == MAX_OPTS) {
			fprintf(stderr, "bad option '%s'\n", argv[i]);
			return 2;
		}
		*eq = '\0';
		opts[n_opts++] = (struct herald_sink_option){argv[i], eq + 1, (unsigned)n_opts};
	}
	for (i++; i < argc && n < MAX_ITEMS; i++, n++) {
		fill(&fx[n], n, argv[i]);
		items[n] = &fx[n].it;
		results[n] = &fx[n].r;
	}
	void *so = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	herald_sink_entry_fn entry = so ? (herald_sink_entry_fn)dlsym(so, HERALD_SINK_ENTRY) : NULL;
	uint32_t abi = (HERALD_SINK_ABI_MAJOR << 16) | (uint32_t)atoi(argv[2]);
	const struct herald_sink_ops *ops = entry ? entry(abi) : NULL;
	if (!ops || strcmp(ops->name, "webhook")) {
		fprintf(stderr, "cannot load %s: %s\n", argv[1], so ? "no webhook entry" : dlerror());
		return 2;
	}
	struct herald_sink_host host = {.size = sizeof host,
					.abi = abi,
					.instance = "driver",
					.config_path = "./driver.conf",
					.log = driver_log};
	if (ops->init(&host, opts, n_opts, &inst, err, sizeof err)) {
		fprintf(stderr, "init: %s\n", err);
		return 2;
	}
	ops->deliver(inst, items, n, results);
	for (size_t k = 0; k < n; k++) {
		unsigned o = (unsigned)fx[k].r.outcome;
		printf("%zu %s %u %s\n", k, herald_sink_outcome_name(o), fx[k].r.retry_after,
		       fx[k].r.reason);
		rc |= fx[k].r.outcome != HERALD_SINK_DELIVERED;
	}
	ops->shutdown(inst);
	dlclose(so);
	return rc;
}
