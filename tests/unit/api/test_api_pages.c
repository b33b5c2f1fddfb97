/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit test for GET /v1/users paging (api_v1.c): 100,000 users written
 * straight into a real store, then paged through with ?limit and ?after:
 * every user exactly once, in name order, each answer bounded, and a bad
 * limit or after refused.
 */
#include "src/api/api_v1.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/daemon/store.h"
#include "tests/unit/tap.h"

#define N_USERS 100000
/* One user's document is under 80 bytes here; 1,000 of them well under this. */
#define PAGE_BYTES_MAX (128 * 1024)

static struct store *S;

static int fill(void)
{
	struct store_txn *t;
	char name[32], doc[128];
	int rc = store_begin(S, &t);
	for (int i = 0; !rc && i < N_USERS; i++) {
		int n = snprintf(name, sizeof name, "user%06d", i);
		int d = snprintf(doc, sizeof doc,
				 "{\"name\":\"%s\",\"lists\":{},\"quiet_hours\":null,\"timezone\":\"UTC\"}",
				 name);
		rc = store_doc_put(t, STORE_USERS, name, (size_t)n, doc, (size_t)d);
	}
	if (rc) {
		store_abort(t);
		return rc;
	}
	return store_commit(t);
}

/* GET /v1/users?after=&limit= as an admin; *bytes: the answer's size. */
static json_t *get_page(const char *after, const char *limit, unsigned *status, size_t *bytes)
{
	static char v1[] = "v1", users[] = "users";
	char *seg[] = {v1, users};
	struct api_scope admin = {.kind = API_SCOPE_ADMIN};
	struct api_v1_request r = {.method = "GET", .seg = seg, .nseg = 2, .scope = &admin,
				   .store = S, .q_after = after, .q_limit = limit};
	json_t *out = NULL;
	if (api_v1_handle(&r, status, &out))
		return NULL;
	char *s = json_dumps(out, JSON_COMPACT);
	*bytes = s ? strlen(s) : 0;
	free(s);
	return out;
}

/* Page through everything with `limit`; check order, count and size. */
static void walk(const char *limit, size_t per_page)
{
	char after[64] = "", prev[64] = "";
	size_t seen = 0, pages = 0, biggest = 0, most = 0;
	bool ordered = true, statuses = true;
	for (;;) {
		unsigned status = 0;
		size_t bytes = 0, i;
		json_t *page = get_page(*after ? after : NULL, limit, &status, &bytes), *u;
		if (!page || status != 200) {
			statuses = false;
			json_decref(page);
			break;
		}
		pages++;
		biggest = bytes > biggest ? bytes : biggest;
		json_t *arr = json_object_get(page, "users");
		most = json_array_size(arr) > most ? json_array_size(arr) : most;
		json_array_foreach(arr, i, u) {
			const char *n = json_string_value(json_object_get(u, "name"));
			ordered = ordered && n && strcmp(n, prev) > 0;
			snprintf(prev, sizeof prev, "%s", n ? n : "");
			seen++;
		}
		const json_t *next = json_object_get(page, "next");
		bool more = json_is_string(next);
		if (more)
			snprintf(after, sizeof after, "%s", json_string_value(next));
		json_decref(page);
		if (!more)
			break;
	}
	ok(statuses && seen == N_USERS && ordered,
	   "limit %s: all %d users once each, in order (%zu seen in %zu pages)",
	   limit ? limit : "(default)", N_USERS, seen, pages);
	ok(most == per_page && biggest <= PAGE_BYTES_MAX,
	   "limit %s: at most %zu users and %zu bytes an answer (largest %zu users, %zu bytes)",
	   limit ? limit : "(default)", per_page, (size_t)PAGE_BYTES_MAX, most, biggest);
}

static void refusals(void)
{
	unsigned status;
	size_t bytes;
	const char *bad_limits[] = {"0", "1001", "-1", "ten", "", NULL};
	for (int i = 0; bad_limits[i]; i++) {
		json_t *v = get_page(NULL, bad_limits[i], &status, &bytes);
		ok(status == 400 && strstr(json_string_value(json_object_get(v, "error")), "limit"),
		   "limit '%s' -> %u", bad_limits[i], status);
		json_decref(v);
	}
	json_t *v = get_page("Not A Name/..", "10", &status, &bytes);
	ok(status == 400, "an after that is no user name -> %u", status);
	json_decref(v);
	v = get_page("user099999", NULL, &status, &bytes);
	ok(status == 200 && json_array_size(json_object_get(v, "users")) == 0 &&
		   json_is_null(json_object_get(v, "next")),
	   "after the last user: an empty page and next null");
	json_decref(v);
	v = get_page("user000041", "1", &status, &bytes);
	ok(status == 200 && !strcmp(json_string_value(json_object_get(v, "next")), "user000042"),
	   "a full page's next is its last name");
	json_decref(v);
}

int main(void)
{
	char dir[] = "/tmp/herald-test-pages-XXXXXX", err[300], cmd[300];
	if (!mkdtemp(dir) || store_open(dir, 1u << 30, 100, &S, err, sizeof err))
		return 1;
	ok(fill() == 0, "%d users written into the store", N_USERS);
	walk("1000", 1000);
	walk(NULL, 100);
	refusals();
	store_close(S);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		diag("could not remove %s", dir);
	return tap_done();
}
