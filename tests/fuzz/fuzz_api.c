/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * fuzz_api: libFuzzer target for the control API's request handling: paths
 * and their decoding, bearer tokens and scopes, the body limit, the /v1
 * routes and the directory, outbox and explain code behind them, against a
 * real LMDB store. Each request goes through api_route(), which is what the
 * libmicrohttpd callback runs (api.h); the HTTP parsing itself is
 * libmicrohttpd's and not fuzzed here.
 *
 * An input is up to 32 requests separated by a line "%%". A request is one
 * line "VIA METHOD PATH[?QUERY]" and then its body (the rest, maybe empty):
 *   VIA  unix   the admin socket, no token asked
 *        admin, read, alice   TCP with that scope's token (user:alice)
 *        none   TCP without an Authorization header
 *        anything else   TCP with VIA itself as the Authorization header
 *   QUERY  only "after" and "limit" are read, as the server would pass them
 * Two more lines stand for the pipeline, so that the outbox, dead letter and
 * delivery resources have something to show: "note USER DEST SECONDS" puts
 * the body as a note document in the outbox (SECONDS: its digest interval,
 * 0 instant), as the committer does; "fail" makes dead letters of up to four
 * due entries, "done" records up to four as delivered, as the recorder does.
 * Sink addresses are not checked (no dispatcher: api.h allows that).
 *
 * For: crashes, sanitizer reports, and the API's promise that every answer
 * is a status between 200 and 599 with a JSON body (or the counters' text).
 * Not for: concurrency (one thread), libmicrohttpd, the sinks.
 *
 * State: the store (in a fresh directory under /dev/shm, else /tmp) is opened
 * once per process and lives across inputs, so a sequence of inputs can reach
 * deep states (users with destinations and subscriptions); a reproducer that
 * needs earlier state should carry it as requests of its own. The directory
 * is removed at exit. FUZZ_API_VERBOSE=1 prints every answer. The rules come from $HERALD_SCHEMA_RULES, else
 * $top_srcdir/src/schema/rules, else ./src/schema/rules.
 *
 * Run: scripts/fuzz (or build-fuzz/tests/fuzz/fuzz_api -dict=tests/fuzz/api.dict
 *      CORPUS tests/fuzz/seeds/api). Seeds: tests/fuzz/seeds/api/
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/api/api.h"
#include "src/common/buf.h"
#include "src/common/config.h"
#include "src/common/log.h"
#include "src/daemon/metrics.h"
#include "src/daemon/outbox.h"
#include "src/daemon/store.h"
#include "src/schema/schema.h"

#define MAX_REQUESTS 32
#define MAP_SIZE ((size_t)256 << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The scopes' tokens, as the token file has them. */
static const struct {
	const char *via, *token, *scope;
} tokens[] = {
	{"admin", "fuzz-admin-token-0123456789", "admin"},
	{"read", "fuzz-read-token-0123456789", "read"},
	{"alice", "fuzz-alice-token-0123456789", "user:alice"},
};

/* What lives for the whole process (a fuzz target has no other place). */
struct world {
	char dir[64], tokens[128];
	struct config cfg;
	struct metrics metrics;
	struct store *store;
	struct schema *schema;
	struct api *api;
	bool verbose; /* $FUZZ_API_VERBOSE: print each answer */
};

static struct world *world;

static void fail(const char *what, const char *err)
{
	fprintf(stderr, "fuzz_api: %s (%s)\n", what, err);
	abort();
}

static void remove_dir(void)
{
	static const char *const files[] = {"herald.mdb", "herald.mdb-lock", "data.mdb",
					    "lock.mdb", "tokens"};
	char path[256];
	api_stop(world->api);
	store_close(world->store);
	schema_free(world->schema);
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", world->dir, files[i]);
		unlink(path);
	}
	rmdir(world->dir);
	free(world);
	world = NULL;
}

static void write_tokens(struct world *w)
{
	FILE *f;
	snprintf(w->tokens, sizeof w->tokens, "%s/tokens", w->dir);
	if (!(f = fopen(w->tokens, "w")) || chmod(w->tokens, 0600))
		fail("cannot write the token file", strerror(errno));
	for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++)
		fprintf(f, "%s %s\n", tokens[i].token, tokens[i].scope);
	fclose(f);
}

static struct world *get_world(void)
{
	char rules[1024], err[1024];
	const char *top = getenv("top_srcdir"), *dir = getenv("HERALD_SCHEMA_RULES");
	struct world *w;
	if (world)
		return world;
	if (!(w = calloc(1, sizeof *w)))
		abort();
	log_setup("fuzz_api", L_ERROR, false);
	snprintf(w->dir, sizeof w->dir, "%s/herald-fuzz-api-XXXXXX",
		 access("/dev/shm", W_OK) ? "/tmp" : "/dev/shm");
	if (!mkdtemp(w->dir))
		fail("cannot make a state directory", strerror(errno));
	write_tokens(w);
	snprintf(rules, sizeof rules, "%s/src/schema/rules", top ? top : ".");
	if (schema_load(dir ? dir : rules, NULL, &w->schema, err, sizeof err))
		fail("cannot load the rules", err);
	if (store_open(w->dir, MAP_SIZE, 1000, &w->store, err, sizeof err))
		fail("cannot open the store", err);
	w->cfg.api_tokens = w->tokens;
	struct api_deps deps = {.cfg = &w->cfg, .metrics = &w->metrics, .store = w->store,
				.schema = w->schema};
	if (api_new(&deps, &w->api, err, sizeof err))
		fail("cannot make the api", err);
	w->verbose = getenv("FUZZ_API_VERBOSE") != NULL;
	world = w;
	atexit(remove_dir);
	return w;
}

/* "after" and "limit" from a query string, into owned copies. */
static void query_param(const char *q, const char *name, char **out)
{
	size_t n = strlen(name);
	for (const char *p = q; p && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL) {
		if (!strncmp(p, name, n) && p[n] == '=') {
			*out = strndup(p + n + 1, strcspn(p + n + 1, "&"));
			return;
		}
	}
}

/* The request line's VIA word as the transport would hand it over. */
static void set_via(struct api_call *call, const char *via, char *hdr, size_t hdrlen)
{
	call->tcp = strcmp(via, "unix") != 0;
	if (!call->tcp || !strcmp(via, "none"))
		return;
	call->authorization = via;
	for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++)
		if (!strcmp(via, tokens[i].via)) {
			snprintf(hdr, hdrlen, "Bearer %s", tokens[i].token);
			call->authorization = hdr;
		}
}

static void check_answer(unsigned status, const struct buf *out)
{
	if (status < 200 || status > 599) {
		fprintf(stderr, "fuzz_api: status %u\n", status);
		abort();
	}
	if (!out->len || out->data[out->len - 1] != '\n') {
		fprintf(stderr, "fuzz_api: answer without a body or its newline\n");
		abort();
	}
}

/* "note USER DEST SECONDS" + a document: into the outbox, due now. Its id
 * is the document's "id" when that leads the body as 32 hex digits (as the
 * committer writes it), else made from the body's first 16 bytes. */
static void note(struct world *w, const char *user, const char *dest, const char *secs,
		 const char *body, size_t body_len)
{
	unsigned char key[16] = {0}, id[OUTBOX_ID_LEN];
	struct store_txn *t;
	memcpy(key, body, body_len < sizeof key ? body_len : sizeof key);
	if (body_len < 8 + OUTBOX_HEX_LEN || strncmp(body, "{\"id\":\"", 7) ||
	    outbox_unhex(strndupa(body + 7, OUTBOX_HEX_LEN), id))
		outbox_note_id(key, user, strtoull(dest, NULL, 10), id);
	struct outbox_add a = {.id = id, .user = user, .dest = strtoull(dest, NULL, 10),
			       .json = body, .len = body_len, .now = 1700000000000,
			       .digest_interval = (uint32_t)strtoul(secs, NULL, 10),
			       .digest_max = 3};
	if (store_begin(w->store, &t))
		return;
	if (outbox_put(t, &a) < 0)
		store_abort(t);
	else
		store_commit(t);
}

/* "fail" or "done": up to four due entries dead-lettered or delivered. */
static void outcome(struct world *w, bool delivered)
{
	struct outbox_entry e[4];
	struct store_txn *t;
	size_t n = 0;
	uint64_t next;
	if (outbox_due(w->store, UINT64_MAX / 2, e, 4, &n, NULL, NULL, &next))
		return;
	for (size_t i = 0; i < n; i++) {
		json_t *notes = NULL;
		bool more = false;
		if (outbox_load(w->store, &e[i], 10, &notes, &more) || store_begin(w->store, &t)) {
			json_decref(notes);
			continue;
		}
		int rc = delivered ? outbox_delivered(t, &e[i], notes, more, "fuzz", 1700000001000, 100)
				   : outbox_dead(t, &e[i], notes, "fuzz", 1700000001000);
		if (rc)
			store_abort(t);
		else
			store_commit(t);
		json_decref(notes);
	}
}

/* One request: the line (NUL-terminated, owned) and the body after it. */
static void one(struct world *w, char *line, const char *body, size_t body_len)
{
	char *via = strtok(line, " "), *method = strtok(NULL, " "), *target = strtok(NULL, " ");
	char *after = NULL, *limit = NULL, *q, hdr[128], cl[32];
	struct buf out = BUF_INIT;
	unsigned status = 0;
	if (via && (!strcmp(via, "fail") || !strcmp(via, "done"))) {
		outcome(w, via[0] == 'd');
		return;
	}
	if (!via || !method || !target)
		return;
	if (!strcmp(via, "note")) { /* METHOD is the user, TARGET the destination */
		char *secs = strtok(NULL, " ");
		note(w, method, target, secs ? secs : "0", body, body_len);
		return;
	}
	if ((q = strchr(target, '?'))) {
		*q++ = '\0';
		query_param(q, "after", &after);
		query_param(q, "limit", &limit);
	}
	snprintf(cl, sizeof cl, "%zu", body_len);
	struct api_call call = {.method = method, .path = target, .q_after = after,
				.q_limit = limit, .body = body, .body_len = body_len,
				.content_length = body_len ? cl : NULL};
	set_via(&call, via, hdr, sizeof hdr);
	if (!api_route(w->api, &call, &status, &out)) {
		check_answer(status, &out);
		if (w->verbose) /* writing seeds: see what each request got */
			fprintf(stderr, "%s %s %s -> %u %.*s", via, method, target, status,
				(int)out.len, out.data);
	}
	buf_release(&out);
	free(after);
	free(limit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct world *w = get_world();
	char *text = malloc(size + 1), *p, *end;
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	p = text;
	end = text + size;
	for (int n = 0; n < MAX_REQUESTS && p < end; n++) {
		char *sep = memmem(p, (size_t)(end - p), "\n%%\n", 4), *stop = sep ? sep : end;
		char *nl = memchr(p, '\n', (size_t)(stop - p));
		char *body = nl ? nl + 1 : stop;
		if (nl)
			*nl = '\0';
		*stop = '\0';
		/* The body keeps any NUL bytes it has: the server hands them on. */
		one(w, p, body, (size_t)(stop - body));
		p = sep ? sep + 4 : end;
	}
	free(text);
	return 0;
}
