/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for directory: every validation rule on a real LMDB store,
 * each refusal with its status and message, and proof that a refusal
 * changed nothing (the store's document generation stays put).
 */
#include "src/daemon/directory.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/daemon/store.h"
#include "tests/unit/tap.h"

static struct store *S;

static json_t *J(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, 0, &jerr);
	if (!v)
		diag("bad test JSON %s: %s", text, jerr.text);
	return v;
}

typedef int (*add_fn)(struct store *s, const char *user, const json_t *in, json_t **out,
		      struct directory_error *e);

/* Run an add; expect `status` (0 = success) and, for refusals, `needle`. */
static json_t *try_add(const char *what, add_fn fn, const char *user, const char *body,
		       int status, const char *needle)
{
	struct directory_error e = {0};
	json_t *in = J(body), *out = NULL;
	uint64_t gen = store_doc_generation(S);
	int rc = fn(S, user, in, &out, &e);
	json_decref(in);
	if (!status) {
		ok(rc == 0 && out, "%s (%s)", what, rc ? e.msg : "ok");
		return out;
	}
	ok(rc < 0 && e.status == status && strstr(e.msg, needle) &&
		   store_doc_generation(S) == gen,
	   "%s -> %d %s", what, e.status, e.msg);
	return NULL;
}

static int user_add(struct store *s, const char *unused, const json_t *in, json_t **out,
		    struct directory_error *e)
{
	return directory_user_add(s, in, out, e);
}

#define USER(what, body, status, needle) json_decref(try_add(what, user_add, NULL, body, status, needle))
/* The daemon's sink check, as dispatch_validate answers it. */
static int fake_validate(void *arg, const char *sink, const char *addr, char *err, size_t n)
{
	if (!strcmp(sink, "nosuch"))
		return -ENOENT;
	if (strstr(addr, "refuse")) {
		snprintf(err, n, "not for me");
		return -EINVAL;
	}
	return 0;
}

static int dest_add(struct store *s, const char *user, const json_t *in, json_t **out,
		    struct directory_error *e)
{
	struct directory_sinks sinks = {fake_validate, NULL};
	return directory_dest_add(s, user, in, &sinks, out, e);
}

#define DEST(what, user, body, status, needle) try_add(what, dest_add, user, body, status, needle)
#define SUB(what, user, body, status, needle) try_add(what, directory_sub_add, user, body, status, needle)

static void users(void)
{
	struct directory_error e = {0};
	json_t *u = NULL;
	char big[400];
	USER("a plain user", "{\"name\": \"alice\"}", 0, "");
	ok(!directory_user_get(S, "alice", &u, &e) &&
		   !strcmp(json_string_value(json_object_get(u, "timezone")), "UTC") &&
		   json_is_null(json_object_get(u, "quiet_hours")) &&
		   json_object_size(json_object_get(u, "lists")) == 0,
	   "defaults: UTC, no quiet hours, no lists");
	json_decref(u);
	USER("same name again", "{\"name\": \"alice\"}", 409, "already exists");
	USER("capital letters", "{\"name\": \"Alice\"}", 400, "user name 'Alice'");
	USER("leading dot", "{\"name\": \".x\"}", 400, "starting with a letter or digit");
	USER("slash", "{\"name\": \"a/b\"}", 400, "user name");
	USER("empty name", "{\"name\": \"\"}", 400, "user name");
	USER("65 characters",
	     "{\"name\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", 400,
	     "1 to 64");
	USER("no name", "{\"lists\": {}}", 400, "\"name\" is required");
	USER("not an object", "[1]", 400, "expected a JSON object");
	USER("unknown key", "{\"name\": \"bob\", \"colour\": 1}", 400, "unknown key 'colour'");
	USER("bad list name", "{\"name\": \"bob\", \"lists\": {\"My List\": []}}", 400,
	     "list name 'My List'");
	USER("list not an array", "{\"name\": \"bob\", \"lists\": {\"mine\": \"kernel\"}}", 400,
	     "expected an array");
	USER("list item not a string", "{\"name\": \"bob\", \"lists\": {\"mine\": [1]}}", 400,
	     "item 1: expected a string");
	USER("control character", "{\"name\": \"bob\", \"lists\": {\"mine\": [\"a\\u0007b\"]}}",
	     400, "control characters");
	USER("C1 control character",
	     "{\"name\": \"bob\", \"lists\": {\"mine\": [\"a\\u0085b\"]}}", 400,
	     "control characters");
	memset(big, 'x', sizeof big);
	snprintf(big, sizeof big, "{\"name\": \"bob\", \"lists\": {\"mine\": [\"%0257d\"]}}", 0);
	USER("item of 257 bytes", big, 400, "1 to 256 bytes");
	USER("empty item", "{\"name\": \"bob\", \"lists\": {\"mine\": [\"\"]}}", 400, "got 0");
	USER("quiet hours 24:00", "{\"name\": \"bob\", \"quiet_hours\": {\"start\": \"24:00\", "
				  "\"end\": \"07:00\"}}", 400, "00:00 to 23:59");
	USER("quiet hours 7:00", "{\"name\": \"bob\", \"quiet_hours\": {\"start\": \"22:00\", "
				 "\"end\": \"7:00\"}}", 400, "HH:MM");
	USER("quiet hours without end", "{\"name\": \"bob\", \"quiet_hours\": {\"start\": "
					"\"22:00\"}}", 400, "start and end");
	USER("quiet hours extra key", "{\"name\": \"bob\", \"quiet_hours\": {\"start\": \"22:00\", "
				      "\"end\": \"07:00\", \"tz\": 1}}", 400, "unknown key 'tz'");
	USER("quiet hours equal", "{\"name\": \"bob\", \"quiet_hours\": {\"start\": \"22:00\", "
				  "\"end\": \"22:00\"}}", 400, "same time");
	USER("timezone escaping", "{\"name\": \"bob\", \"timezone\": \"../../etc/passwd\"}", 400,
	     "not a time zone");
	USER("timezone absolute", "{\"name\": \"bob\", \"timezone\": \"/etc/localtime\"}", 400,
	     "not a time zone");
	USER("timezone unknown", "{\"name\": \"bob\", \"timezone\": \"Mars/Olympus\"}", 400,
	     "not a time zone");
	USER("timezone not a zone file", "{\"name\": \"bob\", \"timezone\": \"zone.tab\"}", 400,
	     "not a time zone");
	USER("timezone not a string", "{\"name\": \"bob\", \"timezone\": 1}", 400,
	     "expected a string");
	USER("a full user", "{\"name\": \"bob\", \"lists\": {\"mine\": [\"kernel\", \"bash\", "
			    "\"kernel\"], \"empty\": []}, \"quiet_hours\": {\"start\": \"22:00\", "
			    "\"end\": \"07:00\"}, \"timezone\": \"UTC\"}", 0, "");
	ok(!directory_user_get(S, "bob", &u, &e), "bob reads back");
	char *s = json_dumps(json_object_get(u, "lists"), JSON_COMPACT);
	ok(s && !strcmp(s, "{\"mine\":[\"bash\",\"kernel\"]}"),
	   "lists sorted and deduplicated, empty list dropped: %s", s);
	free(s);
	json_decref(u);
	if (!access(HERALD_ZONEINFO_DIR "/Europe/Prague", R_OK))
		USER("a real zone", "{\"name\": \"carol\", \"timezone\": \"Europe/Prague\"}", 0, "");
	else
		ok(1, "# SKIP no zone database");
	ok(directory_user_get(S, "nobody", &u, &e) == -ENOENT && e.status == 404,
	   "unknown user is 404: %s", e.msg);
	ok(directory_user_get(S, "No Body", &u, &e) == -EINVAL && e.status == 400,
	   "bad name in a lookup is 400");
}

static void lists(void)
{
	struct directory_error e = {0};
	json_t *items = J("[\"b\", \"a\", \"b\"]"), *u = NULL, *big = json_array();
	ok(!directory_user_set_list(S, "alice", "watched", items, &u, &e) &&
		   json_array_size(json_object_get(json_object_get(u, "lists"), "watched")) == 2,
	   "PUT a list: sorted, deduplicated");
	json_decref(u);
	for (int i = 0; i <= DIRECTORY_LIST_ITEMS_MAX; i++) {
		char b[16];
		snprintf(b, sizeof b, "p%d", i);
		json_array_append_new(big, json_string(b));
	}
	uint64_t gen = store_doc_generation(S);
	ok(directory_user_set_list(S, "alice", "watched", big, &u, &e) == -EINVAL &&
		   strstr(e.msg, "10001 items") && store_doc_generation(S) == gen,
	   "10001 items refused: %s", e.msg);
	ok(directory_user_set_list(S, "alice", "Bad!", items, &u, &e) == -EINVAL,
	   "bad list name refused");
	ok(directory_user_set_list(S, "nobody", "watched", items, &u, &e) == -ENOENT,
	   "list of an unknown user is 404");
	json_decref(items);
	items = J("[]");
	ok(!directory_user_set_list(S, "alice", "watched", items, &u, &e) &&
		   !json_object_get(json_object_get(u, "lists"), "watched"),
	   "an empty list removes it");
	json_decref(u);
	json_decref(items);
	json_decref(big);
}

static void dests(void)
{
	char big[2200];
	json_t *d = DEST("a destination", "alice", "{\"sink\": \"email\", \"address\": "
						   "\"alice@example.com\"}", 0, "");
	ok(d && json_is_false(json_object_get(d, "verified")) &&
		   json_is_false(json_object_get(d, "paused")) &&
		   json_is_null(json_object_get(d, "paused_reason")) &&
		   json_integer_value(json_object_get(d, "id")) > 0,
	   "new destinations: unverified, not paused, with an id");
	json_decref(d);
	json_decref(DEST("unknown user", "nobody", "{\"sink\": \"email\", \"address\": \"x\"}", 404,
			 "no user 'nobody'"));
	DEST("bad sink", "alice", "{\"sink\": \"E-Mail\", \"address\": \"x\"}", 400, "sink 'E-Mail'");
	DEST("no sink", "alice", "{\"address\": \"x\"}", 400, "\"sink\" is required");
	DEST("a sink heraldd does not have", "alice", "{\"sink\": \"nosuch\", \"address\": \"x\"}",
	     400, "no sink 'nosuch' is configured in heraldd");
	DEST("an address the sink refuses", "alice",
	     "{\"sink\": \"email\", \"address\": \"refuse me\"}", 400,
	     "sink 'email' refuses the address: not for me");
	DEST("no address", "alice", "{\"sink\": \"email\"}", 400, "\"address\" is required");
	DEST("empty address", "alice", "{\"sink\": \"email\", \"address\": \"\"}", 400,
	     "1 to 2048 bytes");
	DEST("newline in address", "alice", "{\"sink\": \"irc\", \"address\": \"#a\\nPRIVMSG\"}",
	     400, "control characters");
	snprintf(big, sizeof big, "{\"sink\": \"webhook\", \"address\": \"%02049d\"}", 0);
	DEST("address of 2049 bytes", "alice", big, 400, "got 2049");
	DEST("client sets verified", "alice", "{\"sink\": \"email\", \"address\": \"x\", "
					      "\"verified\": true}", 400,
	     "'verified' is set by herald");
	DEST("unknown key", "alice", "{\"sink\": \"email\", \"address\": \"x\", \"cc\": 1}", 400,
	     "unknown key 'cc'");
}

static json_t *first_dest(const char *user)
{
	struct directory_error e;
	json_t *all = NULL, *d;
	if (directory_dest_list(S, user, &all, &e))
		return NULL;
	d = json_incref(json_array_get(all, 0));
	json_decref(all);
	return d;
}

static void pause_resume(uint64_t id)
{
	struct directory_error e = {0};
	json_t *in = J("{\"reason\": \"bouncing\"}"), *d = NULL;
	ok(!directory_dest_pause(S, "alice", id, in, &d, &e) &&
		   json_is_true(json_object_get(d, "paused")) &&
		   !strcmp(json_string_value(json_object_get(d, "paused_reason")), "bouncing"),
	   "pause with a reason");
	json_decref(d);
	ok(!directory_dest_resume(S, "alice", id, &d, &e) &&
		   json_is_false(json_object_get(d, "paused")) &&
		   json_is_null(json_object_get(d, "paused_reason")),
	   "resume clears the reason");
	json_decref(d);
	json_decref(in);
	in = J("{\"why\": 1}");
	ok(directory_dest_pause(S, "alice", id, in, &d, &e) == -EINVAL &&
		   strstr(e.msg, "unknown key 'why'"),
	   "pause with an unknown key: %s", e.msg);
	json_decref(in);
	ok(directory_dest_pause(S, "alice", 999999, NULL, &d, &e) == -ENOENT && e.status == 404,
	   "pause an unknown destination: %s", e.msg);
	ok(directory_dest_pause(S, "bob", id, NULL, &d, &e) == -ENOENT,
	   "bob cannot pause alice's destination: %s", e.msg);
}

static void subs(uint64_t dest, uint64_t bob_dest)
{
	char body[300];
	json_t *s;
#define WITH(fmt) (snprintf(body, sizeof body, fmt, (unsigned long long)dest), body)
	s = SUB("a subscription", "alice",
		WITH("{\"filter\": \"topic ~ \\\"*.bodhi.*\\\"\", \"destinations\": [%llu]}"), 0, "");
	ok(s && !strcmp(json_string_value(json_object_get(s, "mode")), "instant") &&
		   json_is_true(json_object_get(s, "enabled")) &&
		   !json_object_get(s, "digest_interval"),
	   "instant and enabled by default");
	json_decref(s);
	SUB("bad filter", "alice",
	    WITH("{\"filter\": \"topic ~ \\\"a\\\" and\", \"destinations\": [%llu]}"), 400,
	    "filter 1:");
	SUB("no filter", "alice", WITH("{\"destinations\": [%llu]}"), 400, "\"filter\" is required");
	SUB("unknown destination", "alice", "{\"filter\": \"topic == \\\"a\\\"\", "
					    "\"destinations\": [424242]}", 400,
	    "destination 424242 is not one of user 'alice''s");
	snprintf(body, sizeof body, "{\"filter\": \"topic == \\\"a\\\"\", \"destinations\": [%llu]}",
		 (unsigned long long)bob_dest);
	SUB("another user's destination", "alice", body, 400, "is not one of user 'alice''s");
	SUB("no destinations", "alice", "{\"filter\": \"topic == \\\"a\\\"\", \"destinations\": []}",
	    400, "1 to 64");
	SUB("id not a number", "alice", "{\"filter\": \"topic == \\\"a\\\"\", \"destinations\": "
					"[\"1\"]}", 400, "item 1 is not a destination id");
	SUB("digest 59 s", "alice", WITH("{\"filter\": \"topic == \\\"a\\\"\", \"destinations\": "
					 "[%llu], \"mode\": \"digest\", \"digest_interval\": 59}"),
	    400, "from 60");
	SUB("digest 604801 s", "alice",
	    WITH("{\"filter\": \"topic == \\\"a\\\"\", \"destinations\": [%llu], \"mode\": "
		 "\"digest\", \"digest_interval\": 604801}"), 400, "to 604800");
	SUB("digest without interval", "alice",
	    WITH("{\"filter\": \"topic == \\\"a\\\"\", \"destinations\": [%llu], \"mode\": "
		 "\"digest\"}"), 400, "required for mode \"digest\"");
	SUB("interval on instant", "alice",
	    WITH("{\"filter\": \"topic == \\\"a\\\"\", \"destinations\": [%llu], "
		 "\"digest_interval\": 60}"), 400, "only for mode \"digest\"");
	SUB("bad mode", "alice", WITH("{\"filter\": \"topic == \\\"a\\\"\", \"destinations\": "
				      "[%llu], \"mode\": \"weekly\"}"), 400, "\"instant\" or");
	SUB("unknown key", "alice", WITH("{\"filter\": \"topic == \\\"a\\\"\", \"destinations\": "
					 "[%llu], \"colour\": 1}"), 400, "unknown key 'colour'");
	SUB("client sets slow", "alice", WITH("{\"filter\": \"topic == \\\"a\\\"\", "
					      "\"destinations\": [%llu], \"slow\": true}"), 400,
	    "'slow' is set by herald");
	snprintf(body, sizeof body, "{\"filter\": \"msg.x == 1\", \"destinations\": [%llu, %llu], "
		 "\"mode\": \"digest\", \"digest_interval\": 60, \"name\": \"slow one\"}",
		 (unsigned long long)dest, (unsigned long long)dest);
	json_decref(SUB("digest at 60 s", "alice", body, 0, ""));
	json_decref(SUB("digest at a week", "alice",
			WITH("{\"filter\": \"packages & @nothing\", \"destinations\": [%llu], "
			     "\"mode\": \"digest\", \"digest_interval\": 604800}"), 0, ""));
#undef WITH
}

/* The n-th subscription of alice: its id. */
static uint64_t sub_id(size_t n)
{
	struct directory_error e;
	json_t *all = NULL;
	uint64_t id = 0;
	if (!directory_sub_list(S, "alice", &all, &e))
		id = (uint64_t)json_integer_value(json_object_get(json_array_get(all, n), "id"));
	json_decref(all);
	return id;
}

static void sub_views(void)
{
	struct directory_error e = {0};
	json_t *s = NULL;
	ok(!directory_sub_get(S, "alice", sub_id(0), &s, &e) &&
		   json_is_false(json_object_get(s, "slow")),
	   "a topic glob is indexable (slow: false)");
	json_decref(s);
	ok(!directory_sub_get(S, "alice", sub_id(1), &s, &e) &&
		   json_is_true(json_object_get(s, "slow")) &&
		   json_array_size(json_object_get(s, "destinations")) == 1,
	   "msg.x == 1 is slow; the repeated destination id was dropped");
	json_decref(s);
	ok(!directory_sub_get(S, "alice", sub_id(2), &s, &e) &&
		   json_is_true(json_object_get(s, "never")),
	   "packages & @nothing can never match for alice");
	json_decref(s);
	ok(!directory_sub_set_enabled(S, "alice", sub_id(0), false, &s, &e) &&
		   json_is_false(json_object_get(s, "enabled")),
	   "disable");
	json_decref(s);
	ok(directory_sub_get(S, "alice", 987654, &s, &e) == -ENOENT && e.status == 404,
	   "unknown subscription is 404: %s", e.msg);
}

static void deletes(uint64_t dest)
{
	struct directory_error e = {0};
	json_t *out = NULL;
	uint64_t gen = store_doc_generation(S);
	ok(directory_dest_del(S, "alice", dest, &out, &e) == -EEXIST && e.status == 409 &&
		   strstr(e.msg, "used by subscriptions") && strstr(e.msg, "(slow one)") &&
		   store_doc_generation(S) == gen,
	   "a used destination is not deleted: %s", e.msg);
	ok(directory_sub_del(S, "alice", 987654, &out, &e) == -ENOENT, "delete unknown sub: 404");
	ok(!directory_sub_del(S, "alice", sub_id(0), &out, &e), "delete a subscription");
	json_decref(out);
	ok(!directory_user_del(S, "alice", &out, &e) &&
		   json_integer_value(json_object_get(out, "subscriptions")) == 2 &&
		   json_integer_value(json_object_get(out, "destinations")) >= 1,
	   "delete alice with her records");
	json_decref(out);
	json_t *all = NULL;
	ok(directory_sub_list(S, "alice", &all, &e) == -ENOENT, "alice's subscriptions are gone");
	ok(directory_user_get(S, "bob", &out, &e) == 0, "bob is still there");
	json_decref(out);
	ok(directory_dest_list(S, "bob", &all, &e) == 0 && json_array_size(all) == 1,
	   "and so is bob's destination");
	json_decref(all);
}

static int count_cb(void *arg, const void *k, size_t kl, const char *j, size_t l)
{
	(*(int *)arg)++;
	return 0;
}

static void nothing_left(void)
{
	int n = 0;
	store_doc_foreach(S, STORE_SUBS, "alice", 6, count_cb, &n);
	store_doc_foreach(S, STORE_DESTS, "alice", 6, count_cb, &n);
	ok(n == 0, "no record of alice is left in the store (%d)", n);
}

static void view(void)
{
	json_t *u = J("{\"name\": \"x\", \"lists\": {\"a\": [\"z\", \"b\"], \"c\": []}}");
	struct directory_user_view v;
	ok(!directory_user_view_init(u, &v) && v.user.n_lists == 2 && v.lists[0].n == 2 &&
		   !strcmp(v.lists[0].items[0], "b") && !strcmp(v.user.name, "x"),
	   "the filter's view of a user: lists with sorted items");
	directory_user_view_release(&v);
	json_decref(u);
}

int main(void)
{
	char dir[] = "/tmp/herald-test-directory-XXXXXX", err[300], cmd[300];
	if (!mkdtemp(dir) || store_open(dir, 1 << 26, 100, &S, err, sizeof err))
		return 1;
	users();
	lists();
	dests();
	json_t *d = first_dest("alice");
	uint64_t dest = (uint64_t)json_integer_value(json_object_get(d, "id"));
	json_decref(d);
	json_decref(DEST("bob's destination", "bob", "{\"sink\": \"irc\", \"address\": \"#b\"}", 0,
			 ""));
	d = first_dest("bob");
	uint64_t bob_dest = (uint64_t)json_integer_value(json_object_get(d, "id"));
	json_decref(d);
	pause_resume(dest);
	subs(dest, bob_dest);
	sub_views();
	deletes(dest);
	nothing_left();
	view();
	store_close(S);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		diag("could not remove %s", dir);
	return tap_done();
}
