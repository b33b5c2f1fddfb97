/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sink_driver: drive a sink plugin directly, without heraldd: for bench/email
 * and bench/webpush, and for the cases of test_email.sh and test_webpush.sh
 * that the daemon would never hand a sink (header injection).
 *
 *   sink_driver PLUGIN MODE COUNT BATCH [key=value...] -- ADDRESS...
 *
 * Loads PLUGIN with dlopen the way sinkhost does (ABI check, name), inits it
 * with the options, and delivers COUNT items in deliver() calls of BATCH
 * items, item i going to ADDRESS[i % n]. MODE: `plain` (a short ASCII
 * notification), `hostile` (CR/LF/NUL-free but control-laden, "\r\nBcc:"
 * bearing title, user, topic and packages, and invalid UTF-8). Prints one
 * line per item when COUNT <= 20 ("i outcome reason"), then
 * "delivered=D retry=R rejected=J broken=B seconds=S". Exit 0 when every
 * item was delivered, 1 otherwise, 2 on usage or load errors.
 *
 * The items carry the web app's links (ABI 1.2) from the environment:
 * HERALD_DRIVER_UNSUBSCRIBE_URL and HERALD_DRIVER_WHY_URL (unset: NULL); in
 * `hostile` mode they are CR/LF-bearing URLs instead.
 *
 * Standalone: libc, libdl and herald/sink.h, like a sink.
 */
#define _GNU_SOURCE
#include <herald/sink.h>

#include "sinkdriver.h"

#include <dlfcn.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_OPTS 32

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct fixture {
	struct herald_notification n;
	struct herald_sink_item it;
	char id[33];
	char title[160];
};

static const char *const plain_pkgs[] = {"kernel", "glibc"};
static const char *const hostile_pkgs[] = {"pkg\r\nBcc: pkg@evil.example", "ok-pkg",
					   "p\xff\xfe\r\n\r\nbody-injection"};
static const uint64_t subs[] = {7, 12};

static void fill(struct fixture *f, size_t i, const char *address, int hostile)
{
	snprintf(f->id, sizeof f->id, "%016" PRIx64 "%016zx", (uint64_t)0xfeedface, i);
	snprintf(f->title, sizeof f->title,
		 hostile ? "hostile %zu\r\nBcc: title@evil.example\r\n\r\nfake body"
			 : "note %zu: kernel-6.1 built",
		 i);
	f->n = (struct herald_notification){
	    .size = sizeof f->n,
	    .id = f->id,
	    .user = hostile ? "mallory\r\nBcc: user@evil.example" : "alice",
	    .destination = 1,
	    .address = address,
	    .topic =
		hostile ? "org.test\nBcc: topic@evil.example\x01\x7f\xc2\x85" : "org.test.build",
	    .title = f->title,
	    .summary = "",
	    .link = "",
	    .agent = "",
	    .severity = "info",
	    .packages = hostile ? hostile_pkgs : plain_pkgs,
	    .n_packages = hostile ? 3 : 2,
	    .subscriptions = subs,
	    .n_subscriptions = 2,
	    .msg_id = "",
	    .json = "{}",
	    .text = f->title,
	    .markdown = f->title,
	    .attempt = 1,
	};
	f->it = (struct herald_sink_item){
	    .size = sizeof f->it,
	    .user = f->n.user,
	    .destination = 1,
	    .address = address,
	    .n_notes = 1,
	    .id = f->id,
	    .subject = f->title,
	    .text = hostile ? "line one\n.\n.leading dot\nend\n" : f->title,
	    .markdown = f->title,
	    .unsubscribe_url = hostile ? "https://evil.example/u\r\nBcc: url@evil.example"
				       : getenv("HERALD_DRIVER_UNSUBSCRIBE_URL"),
	    .why_url = hostile ? "https://evil.example/w>\r\n\r\nbody"
			       : getenv("HERALD_DRIVER_WHY_URL"),
	};
}

static int usage(void)
{
	fprintf(
	    stderr,
	    "usage: sink_driver PLUGIN plain|hostile COUNT BATCH [key=value...] -- ADDRESS...\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct herald_sink_option opts[MAX_OPTS];
	size_t n_opts = 0, count, batch, counts[HERALD_SINK_GONE + 1] = {0};
	int i, hostile;
	char err[256] = "";
	void *inst = NULL;

	if (argc < 7)
		return usage();
	hostile = !strcmp(argv[2], "hostile");
	count = strtoul(argv[3], NULL, 10);
	batch = strtoul(argv[4], NULL, 10);
	for (i = 5; i < argc && strcmp(argv[i], "--"); i++) {
		char *eq = strchr(argv[i], '=');
		if (!eq || n_opts == MAX_OPTS)
			return usage();
		*eq = '\0';
		opts[n_opts] = (struct herald_sink_option){argv[i], eq + 1, (unsigned)n_opts + 1};
		n_opts++;
	}
	if (i + 1 >= argc || !count || !batch)
		return usage();
	char **addrs = argv + i + 1;
	size_t n_addrs = (size_t)(argc - i - 1);

	void *dl = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	herald_sink_entry_fn entry = dl ? (herald_sink_entry_fn)dlsym(dl, HERALD_SINK_ENTRY) : NULL;
	const struct herald_sink_ops *ops = entry ? entry(HERALD_SINK_ABI_VERSION) : NULL;
	if (!ops) {
		fprintf(stderr, "sink_driver: cannot load %s: %s\n", argv[1],
			dl ? "no entry or ABI" : dlerror());
		return 2;
	}
	struct herald_sink_host host = {.size = sizeof host,
					.abi = HERALD_SINK_ABI_VERSION,
					.instance = "driver",
					.config_path = NULL,
					.log = driver_log};
	if (ops->init(&host, opts, n_opts, &inst, err, sizeof err)) {
		fprintf(stderr, "sink_driver: init failed: %s\n", err);
		return 2;
	}
	struct fixture *fx = calloc(batch, sizeof *fx);
	const struct herald_sink_item **items = calloc(batch, sizeof *items);
	struct herald_sink_result *res = calloc(batch, sizeof *res);
	struct herald_sink_result **rp = calloc(batch, sizeof *rp);
	if (!fx || !items || !res || !rp)
		return 2;
	double t0 = now_s();
	for (size_t done = 0; done < count;) {
		size_t k = count - done < batch ? count - done : batch;
		for (size_t j = 0; j < k; j++) {
			fill(&fx[j], done + j, addrs[(done + j) % n_addrs], hostile);
			items[j] = &fx[j].it;
			res[j] = (struct herald_sink_result){.size = sizeof res[j]};
			rp[j] = &res[j];
		}
		const struct herald_notification *np[batch];
		for (size_t j = 0; j < k; j++) {
			np[j] = &fx[j].n;
			fx[j].it.notes = &np[j];
		}
		ops->deliver(inst, items, k, rp);
		for (size_t j = 0; j < k; j++) {
			if ((unsigned)res[j].outcome <= HERALD_SINK_GONE)
				counts[res[j].outcome]++;
			if (count <= 20)
				printf("%zu %s %s\n", done + j, herald_sink_outcome_name(res[j].outcome),
				       res[j].reason);
		}
		done += k;
	}
	double secs = now_s() - t0;
	printf("delivered=%zu retry=%zu rejected=%zu broken=%zu seconds=%.3f\n", counts[0],
	       counts[1], counts[2], counts[3], secs);
	ops->shutdown(inst);
	free(fx);
	free(items);
	free(res);
	free(rp);
	dlclose(dl);
	return counts[0] == count ? 0 : 1;
}
