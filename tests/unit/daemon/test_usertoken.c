/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for usertoken (personal API tokens) and the paging of users, on
 * a real LMDB store: a token works at once and stops at once, only its hash
 * is stored, the per-user cap, last_used written at most once a minute, a
 * deleted user takes their tokens along, and none of it rebuilds the match
 * index (no generation bump, no changed users).
 */
#include "src/daemon/usertoken.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/common/buf.h"
#include "src/daemon/directory.h"
#include "src/daemon/store.h"
#include "tests/unit/tap.h"

static struct store *S;

static json_t *J(const char *text)
{
	return json_loads(text, 0, NULL);
}

static void add_user(const char *name)
{
	struct directory_error e = {0};
	char body[200];
	snprintf(body, sizeof body, "{\"name\": \"%s\"}", name);
	json_t *in = J(body), *out = NULL;
	if (directory_user_add(S, in, &out, &e))
		diag("adding %s: %s", name, e.msg);
	json_decref(in);
	json_decref(out);
}

/* A token for `user` named `name`; its text into tok (NULL: expect refusal). */
static json_t *create(const char *user, const char *body, int64_t now, int status)
{
	struct directory_error e = {0};
	json_t *in = J(body), *out = NULL;
	int rc = usertoken_create(S, user, in, now, &out, &e);
	json_decref(in);
	if (status) {
		ok(rc < 0 && e.status == status, "create for %s %s -> %d %s", user, body, e.status,
		   e.msg);
		return NULL;
	}
	if (rc)
		diag("create: %s", e.msg);
	return out;
}

static json_int_t last_used_of(const char *user, json_int_t id)
{
	struct directory_error e = {0};
	json_t *arr = NULL, *t;
	size_t i;
	json_int_t v = -1;
	if (usertoken_list(S, user, &arr, &e))
		return -2;
	json_array_foreach(arr, i, t)
		if (json_integer_value(json_object_get(t, "id")) == id)
			v = json_object_get(t, "last_used")
				    ? json_integer_value(json_object_get(t, "last_used"))
				    : 0;
	json_decref(arr);
	return v;
}

static bool stored_anywhere(const char *token)
{
	/* The store file must not hold the token text. */
	char path[300], cmd[600];
	snprintf(path, sizeof path, "%s", getenv("TEST_STORE_DIR"));
	snprintf(cmd, sizeof cmd, "grep -qF '%s' %s/herald.mdb", token, path);
	return system(cmd) == 0;
}

static void tokens(void)
{
	char user[DIRECTORY_NAME_MAX + 1];
	char **changed = NULL;
	size_t n_changed = 0;
	bool all = false;
	add_user("alice");
	add_user("bob");
	store_take_changed(S, &changed, &n_changed, &all);
	for (size_t i = 0; i < n_changed; i++)
		free(changed[i]);
	free(changed);
	uint64_t gen = store_doc_generation(S);

	json_t *t = create("alice", "{\"name\": \"laptop\"}", 1000, 0);
	const char *tok = json_string_value(json_object_get(t, "token"));
	json_int_t id = json_integer_value(json_object_get(t, "id"));
	ok(tok && strlen(tok) == USERTOKEN_LEN && !strncmp(tok, "hrl_", 4) &&
		   strspn(tok + 4, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
			   43,
	   "a token is hrl_ + 43 base64url characters");
	ok(!strncmp(json_string_value(json_object_get(t, "prefix")), tok, USERTOKEN_SHOWN) &&
		   strlen(json_string_value(json_object_get(t, "prefix"))) == USERTOKEN_SHOWN &&
		   json_integer_value(json_object_get(t, "created")) == 1000 &&
		   !json_object_get(t, "user"),
	   "create answers id, name, prefix, created and the token");
	ok(tok && usertoken_find(S, tok, 1000, user) == 0 && !strcmp(user, "alice"),
	   "the token is alice's at once");
	ok(tok && !stored_anywhere(tok), "the store does not hold the token itself");
	ok(usertoken_find(S, "hrl_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1000, user) == -ENOENT &&
		   usertoken_find(S, "nonsense", 1000, user) == -ENOENT &&
		   usertoken_find(S, NULL, 1000, user) == -ENOENT,
	   "unknown, malformed and missing tokens are nobody's");

	struct directory_error e = {0};
	json_t *arr = NULL;
	ok(!usertoken_list(S, "alice", &arr, &e) && json_array_size(arr) == 1 &&
		   !json_object_get(json_array_get(arr, 0), "token") &&
		   !json_object_get(json_array_get(arr, 0), "hash") &&
		   !strcmp(json_string_value(json_object_get(json_array_get(arr, 0), "name")),
			   "laptop"),
	   "the list shows name and prefix, never the token or its hash");
	json_decref(arr);
	ok(last_used_of("alice", id) == 1000, "the first use is recorded");
	usertoken_find(S, tok, 1059, user);
	ok(last_used_of("alice", id) == 1000, "a use within a minute writes nothing");
	usertoken_find(S, tok, 1060, user);
	ok(last_used_of("alice", id) == 1060, "a use a minute later is recorded");

	ok(store_doc_generation(S) == gen, "tokens do not bump the document generation");
	store_take_changed(S, &changed, &n_changed, &all);
	ok(n_changed == 0 && !all, "nor mark the user changed (no match-index rebuild)");
	free(changed);

	create("nobody", "{\"name\": \"x\"}", 1000, 404);
	create("alice", "{}", 1000, 400);
	create("alice", "{\"name\": \"\"}", 1000, 400);
	create("alice", "{\"name\": \"x\", \"scope\": \"admin\"}", 1000, 400);
	create("alice", "[]", 1000, 400);

	/* Up to 20 each; bob's tokens are not alice's. */
	json_t *more[USERTOKEN_PER_USER];
	for (int i = 1; i < USERTOKEN_PER_USER; i++)
		more[i] = create("alice", "{\"name\": \"more\"}", 1000, 0);
	ok(more[USERTOKEN_PER_USER - 1] != NULL, "20 tokens for one user");
	create("alice", "{\"name\": \"one too many\"}", 1000, 409);
	json_t *b = create("bob", "{\"name\": \"bob's\"}", 1000, 0);
	const char *btok = json_string_value(json_object_get(b, "token"));
	ok(btok && usertoken_find(S, btok, 1000, user) == 0 && !strcmp(user, "bob"),
	   "bob's token is bob's");

	json_t *out = NULL;
	ok(usertoken_revoke(S, "bob", (uint64_t)id, &out, &e) == -ENOENT && e.status == 404,
	   "bob cannot revoke alice's token by its id");
	ok(usertoken_find(S, tok, 1000, user) == 0, "... it still works");
	ok(usertoken_revoke(S, "alice", (uint64_t)id, &out, &e) == 0 &&
		   json_integer_value(json_object_get(out, "deleted")) == id,
	   "alice revokes it");
	json_decref(out);
	ok(usertoken_find(S, tok, 1000, user) == -ENOENT, "a revoked token is refused at once");
	ok(usertoken_revoke(S, "alice", (uint64_t)id, &out, &e) == -ENOENT && e.status == 404,
	   "revoking twice: 404");
	json_t *again = create("alice", "{\"name\": \"room again\"}", 1000, 0);
	ok(again != NULL, "revoking made room for one more");

	const char *keep = json_string_value(json_object_get(more[1], "token"));
	ok(directory_user_del(S, "alice", &out, &e) == 0 &&
		   json_integer_value(json_object_get(out, "tokens")) == USERTOKEN_PER_USER,
	   "deleting alice counts her 20 tokens");
	json_decref(out);
	ok(usertoken_find(S, keep, 1000, user) == -ENOENT, "her tokens die with her");
	add_user("alice");
	ok(!usertoken_list(S, "alice", &arr, &e) && json_array_size(arr) == 0,
	   "a new alice has none of the old alice's tokens");
	json_decref(arr);
	ok(usertoken_find(S, btok, 1000, user) == 0, "bob's token lives on");
	for (int i = 1; i < USERTOKEN_PER_USER; i++)
		json_decref(more[i]);
	json_decref(again);
	json_decref(b);
	json_decref(t);
}

/* directory_user_page: every user once, in order, in bounded pages. */
static void paging(void)
{
	char name[32];
	for (int i = 0; i < 250; i++) {
		snprintf(name, sizeof name, "p%04d", i);
		add_user(name);
	}
	struct directory_error e = {0};
	const char *after = NULL;
	char last[DIRECTORY_NAME_MAX + 1] = "";
	size_t seen = 0, pages = 0, biggest = 0;
	bool ordered = true;
	for (;;) {
		json_t *arr = NULL, *u;
		size_t i;
		if (directory_user_page(S, after, 100, &arr, &e))
			break;
		pages++;
		biggest = json_array_size(arr) > biggest ? json_array_size(arr) : biggest;
		json_array_foreach(arr, i, u) {
			const char *n = json_string_value(json_object_get(u, "name"));
			ordered = ordered && strcmp(n, last) > 0;
			snprintf(last, sizeof last, "%s", n);
			seen++;
		}
		size_t got = json_array_size(arr);
		json_decref(arr);
		if (got < 100)
			break;
		after = last;
	}
	ok(seen == 252 && ordered && biggest == 100 && pages == 3,
	   "252 users in 3 pages of at most 100, in order, none twice (%zu, %zu pages)", seen,
	   pages);
	json_t *arr = NULL;
	ok(!directory_user_page(S, "zzz", 10, &arr, &e) && json_array_size(arr) == 0,
	   "after the last name: an empty page");
	json_decref(arr);
	ok(!directory_user_page(S, "p0100", 1, &arr, &e) && json_array_size(arr) == 1 &&
		   !strcmp(json_string_value(json_object_get(json_array_get(arr, 0), "name")),
			   "p0101"),
	   "after is exclusive");
	json_decref(arr);
}

int main(void)
{
	char dir[] = "/tmp/herald-test-usertoken-XXXXXX", err[300], cmd[300];
	if (!mkdtemp(dir) || store_open(dir, 1 << 26, 100, &S, err, sizeof err))
		return 1;
	setenv("TEST_STORE_DIR", dir, 1);
	tokens();
	paging();
	store_close(S);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		diag("could not remove %s", dir);
	return tap_done();
}
