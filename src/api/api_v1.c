/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * api_v1: the /v1 management resources (see api_v1.h). A table maps method
 * and path pattern to a handler; each handler is one call into directory.c
 * or explain.c. Bodies are parsed here (JSON, duplicate keys refused); what
 * they may contain is the directory's business.
 */
#include "api_v1.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "src/common/buf.h"
#include "src/daemon/directory.h"
#include "src/daemon/dispatch.h"
#include "src/daemon/explain.h"
#include "src/common/log.h"
#include "src/daemon/outbox.h"
#include "src/daemon/store.h"
#include "src/daemon/usertoken.h"
#include "src/common/clock.h"
#include "src/web/preview.h"
#include "src/web/why.h"

#define LIST_DEFAULT 100
#define LIST_MAX 1000

/* One request matched to a route: the captured path parts and the body. */
struct call {
	const struct api_v1_request *r;
	const char *arg[2]; /* ':' captures: user name, list name */
	const char *id_text; /* '#' capture, parsed into id */
	uint64_t id;
	const char *hex;     /* '*' capture: a notification id */
	const json_t *body; /* NULL when there was none */
};

static int outbox_fail(struct directory_error *e, int rc, const char *hex);

typedef int (*handler_fn)(const struct call *c, json_t **out, struct directory_error *e);

enum body_rule { BODY_NONE, BODY_REQUIRED, BODY_OPTIONAL };

struct route {
	const char *method;
	const char *pattern; /* after "/v1/": literal parts, ':' any name, '#' an id */
	enum body_rule body;
	unsigned ok;         /* status on success */
	handler_fn fn;
};

/* A list result is wrapped in an object so it can grow fields later. */
typedef int (*list_fn)(struct store *s, const char *user, json_t **out, struct directory_error *e);

static int wrap(const struct call *c, list_fn fn, const char *key, json_t **out,
		struct directory_error *e)
{
	json_t *arr = NULL;
	int rc = fn(c->r->store, c->arg[0], &arr, e);
	if (rc)
		return rc;
	if (!(*out = json_pack("{s:o}", key, arr)))
		return directory_fail(e, 500, "out of memory");
	return 0;
}

static int parse_limit(const struct call *c, size_t *limit, struct directory_error *e);

/* {"users": [...], "next": NAME or null}: pass next as ?after= for more
 * (100k users must page, not arrive in one answer). */
static int h_users(const struct call *c, json_t **out, struct directory_error *e)
{
	const char *after = c->r->q_after;
	json_t *arr = NULL;
	size_t limit;
	int rc = parse_limit(c, &limit, e);
	if (!rc && after && !directory_valid_user_name(after))
		rc = directory_fail(e, 400, "after: not a user name");
	if (rc || (rc = directory_user_page(c->r->store, after, limit, &arr, e)))
		return rc;
	json_t *last = json_array_size(arr) == limit ? json_array_get(arr, limit - 1) : NULL;
	*out = json_pack("{s:o, s:O}", "users", arr, "next",
			 last ? json_object_get(last, "name") : json_null());
	return *out ? 0 : directory_fail(e, 500, "out of memory");
}

static int h_user_add(const struct call *c, json_t **out, struct directory_error *e)
{
	return directory_user_add(c->r->store, c->body, out, e);
}

static int h_user_get(const struct call *c, json_t **out, struct directory_error *e)
{
	return directory_user_get(c->r->store, c->arg[0], out, e);
}

static int h_user_patch(const struct call *c, json_t **out, struct directory_error *e)
{
	return directory_user_update(c->r->store, c->arg[0], c->body, out, e);
}

/* What waited, parked, for a destination that is gone is due now: the
 * dispatcher finds the destination missing and makes dead letters of it,
 * where the user can still see it (parked, it would wait for ever). */
static void release_deleted(const struct call *c, const char *user, uint64_t dest)
{
	int n = outbox_unpark(c->r->store, user, dest, clock_wall_ms());
	if (n < 0) /* the delete stands; what stays parked is seen in `herald outbox` */
		log_warn("api: destination %llu of %s is deleted, but what waited for it stays "
			 "parked (%s)", (unsigned long long)dest, user, store_strerror(n));
	else if (n > 0)
		dispatch_wake(c->r->dispatch);
}

static int h_user_del(const struct call *c, json_t **out, struct directory_error *e)
{
	json_t *dests = NULL, *d;
	size_t i;
	int rc = directory_dest_list(c->r->store, c->arg[0], &dests, e);
	if (!rc)
		rc = directory_user_del(c->r->store, c->arg[0], out, e);
	json_array_foreach(rc ? NULL : dests, i, d)
		release_deleted(c, c->arg[0], (uint64_t)json_integer_value(json_object_get(d, "id")));
	json_decref(dests);
	return rc;
}

static int h_list_put(const struct call *c, json_t **out, struct directory_error *e)
{
	return directory_user_set_list(c->r->store, c->arg[0], c->arg[1], c->body, out, e);
}

/* Each destination says whether its sink asks for a code ("needs_code"), so
 * a page knows whether "verified": false is waiting for one. */
static int h_dests(const struct call *c, json_t **out, struct directory_error *e)
{
	int rc = wrap(c, directory_dest_list, "destinations", out, e);
	size_t i;
	json_t *d;
	json_array_foreach(rc ? NULL : json_object_get(*out, "destinations"), i, d) {
		const char *sink = json_string_value(json_object_get(d, "sink"));
		bool needs = c->r->dispatch && sink && dispatch_needs_code(c->r->dispatch, sink);
		if (json_object_set_new(d, "needs_code", json_boolean(needs))) {
			json_decref(*out);
			*out = NULL;
			return directory_fail(e, 500, "out of memory");
		}
	}
	return rc;
}

static int validate_sink(void *arg, const char *sink, const char *address, char *err,
			 size_t errlen)
{
	return dispatch_validate(arg, sink, address, err, errlen);
}

/* Send a new verification code to destination `doc`; the outcome goes into
 * the answer ("verification": "code sent" or the sink's reason). */
static int send_code(const struct call *c, const json_t *doc, json_t *answer)
{
	char err[400] = "";
	const char *sink = json_string_value(json_object_get(doc, "sink"));
	const char *addr = json_string_value(json_object_get(doc, "address"));
	uint64_t id = (uint64_t)json_integer_value(json_object_get(doc, "id"));
	int rc = dispatch_send_code(c->r->dispatch, sink, c->arg[0], id, addr ? addr : "", err,
				    sizeof err);
	return json_object_set_new(answer, "verification",
				   json_string(rc ? err : "a code was sent to the address"))
		       ? -ENOMEM
		       : 0;
}

static int h_dest_add(const struct call *c, json_t **out, struct directory_error *e)
{
	struct directory_sinks sinks = {validate_sink, c->r->dispatch};
	int rc = directory_dest_add(c->r->store, c->arg[0], c->body,
				    c->r->dispatch ? &sinks : NULL, out, e);
	const char *sink = rc ? NULL : json_string_value(json_object_get(*out, "sink"));
	if (sink && dispatch_needs_code(c->r->dispatch, sink) && send_code(c, *out, *out))
		return directory_fail(e, 500, "out of memory");
	return rc;
}

/* Check a verification code against the pending one. */
static int confirm_code(const struct call *c, const char *code, struct directory_error *e)
{
	switch (dispatch_check_code(c->r->dispatch, c->arg[0], c->id, code)) {
	case 0: return 0;
	case -EACCES: return directory_fail(e, 403, "wrong code");
	case -EBUSY:
		return directory_fail(e, 429, "too many wrong codes: ask for a new one with "
					      "{\"resend\": true}");
	default:
		return directory_fail(e, 404, "no code is pending for this destination (it expired "
					      "or was used): ask for one with {\"resend\": true}");
	}
}

/* What waited for the destination (paused or unverified) is due now; the
 * answer says how many. */
static int release(const struct call *c, json_t *answer, struct directory_error *e)
{
	int n = outbox_unpark(c->r->store, c->arg[0], c->id, clock_wall_ms());
	if (n < 0 || json_object_set_new(answer, "released", json_integer(n < 0 ? 0 : n))) {
		json_decref(answer);
		return n < 0 ? outbox_fail(e, n, NULL) : directory_fail(e, 500, "out of memory");
	}
	dispatch_wake(c->r->dispatch);
	return 0;
}

/* {"code": TEXT} confirms the address; {"resend": true} sends a new code. */
static int h_dest_verify(const struct call *c, json_t **out, struct directory_error *e)
{
	static const char *const known[] = {"code", "resend", NULL};
	json_t *doc;
	int rc = directory_check_keys(c->body, "verify", known, NULL, e);
	if (rc || (rc = directory_dest_get(c->r->store, c->arg[0], c->id, &doc, e)))
		return rc;
	const char *sink = json_string_value(json_object_get(doc, "sink"));
	const char *code = json_string_value(json_object_get(c->body, "code"));
	if (!dispatch_needs_code(c->r->dispatch, sink))
		rc = directory_fail(e, 409, "sink '%s' does not verify destinations", sink);
	else if (json_is_true(json_object_get(doc, "verified")))
		rc = directory_fail(e, 409, "destination %llu is verified already",
				    (unsigned long long)c->id);
	else if (json_is_true(json_object_get(c->body, "resend")))
		rc = send_code(c, doc, doc) ? directory_fail(e, 500, "out of memory") : 0;
	else if (!code)
		rc = directory_fail(e, 400, "expected {\"code\": \"...\"} or {\"resend\": true}");
	else
		rc = confirm_code(c, code, e);
	if (rc) {
		json_decref(doc);
		return rc;
	}
	if (!code) {
		*out = doc;
		return 0;
	}
	json_decref(doc);
	if ((rc = directory_dest_set_verified(c->r->store, c->arg[0], c->id, out, e)))
		return rc;
	return release(c, *out, e);
}

static int h_dest_del(const struct call *c, json_t **out, struct directory_error *e)
{
	int rc = directory_dest_del(c->r->store, c->arg[0], c->id, out, e);
	if (!rc)
		release_deleted(c, c->arg[0], c->id);
	return rc;
}

static int h_dest_pause(const struct call *c, json_t **out, struct directory_error *e)
{
	return directory_dest_pause(c->r->store, c->arg[0], c->id, c->body, out, e);
}

/* Actions without parameters take no body, or an empty object. */
static int no_params(const struct call *c, const char *what, struct directory_error *e)
{
	static const char *const none[] = {NULL};
	if (!c->body)
		return 0;
	if (!json_is_object(c->body))
		return directory_fail(e, 400, "%s: expected no body or {}", what);
	return directory_check_keys(c->body, what, none, NULL, e);
}

static int h_dest_resume(const struct call *c, json_t **out, struct directory_error *e)
{
	int rc = no_params(c, "resume", e);
	if (rc || (rc = directory_dest_resume(c->r->store, c->arg[0], c->id, out, e)))
		return rc;
	return release(c, *out, e);
}

static int h_subs(const struct call *c, json_t **out, struct directory_error *e)
{
	return wrap(c, directory_sub_list, "subscriptions", out, e);
}

static int h_sub_add(const struct call *c, json_t **out, struct directory_error *e)
{
	return directory_sub_add(c->r->store, c->arg[0], c->body, out, e);
}

static int h_sub_get(const struct call *c, json_t **out, struct directory_error *e)
{
	return directory_sub_get(c->r->store, c->arg[0], c->id, out, e);
}

static int h_sub_del(const struct call *c, json_t **out, struct directory_error *e)
{
	return directory_sub_del(c->r->store, c->arg[0], c->id, out, e);
}

static int h_sub_enable(const struct call *c, json_t **out, struct directory_error *e)
{
	int rc = no_params(c, "enable", e);
	return rc ? rc : directory_sub_set_enabled(c->r->store, c->arg[0], c->id, true, out, e);
}

static int h_sub_disable(const struct call *c, json_t **out, struct directory_error *e)
{
	int rc = no_params(c, "disable", e);
	return rc ? rc : directory_sub_set_enabled(c->r->store, c->arg[0], c->id, false, out, e);
}

/* ---- personal API tokens ---- */

static int h_tokens(const struct call *c, json_t **out, struct directory_error *e)
{
	return wrap(c, usertoken_list, "tokens", out, e);
}

static int h_token_add(const struct call *c, json_t **out, struct directory_error *e)
{
	return usertoken_create(c->r->store, c->arg[0], c->body, (int64_t)(clock_wall_ms() / 1000),
				out, e);
}

static int h_token_del(const struct call *c, json_t **out, struct directory_error *e)
{
	return usertoken_revoke(c->r->store, c->arg[0], c->id, out, e);
}

static int h_explain(const struct call *c, json_t **out, struct directory_error *e)
{
	return explain_user(c->r->schema, c->r->store, c->arg[0], c->body, out, e);
}

/* A user-scoped token may test filters, but only with its own lists. */
static int h_filter_test(const struct call *c, json_t **out, struct directory_error *e)
{
	const struct api_scope *sc = c->r->scope;
	const char *user = json_string_value(json_object_get(c->body, "user"));
	if (sc->kind == API_SCOPE_USER && user && strcmp(user, sc->user))
		return directory_fail(e, 403, "this token may only act for user '%s'", sc->user);
	return explain_filter(c->r->schema, c->r->store, c->body, out, e);
}

/* "This would have matched N of the last M messages" (src/web/preview.h). */
static int h_preview(const struct call *c, json_t **out, struct directory_error *e)
{
	return preview_run(c->r->recent, c->r->store, c->arg[0], c->body, out, e);
}

/* "Why did I get this" for one of the user's notes (src/web/why.h). */
static int h_why(const struct call *c, json_t **out, struct directory_error *e)
{
	return why_note(c->r->recent, c->r->store, c->r->schema, c->arg[0], c->hex, out, e);
}

/* ---- the outbox, dead letters and deliveries ---- */


static int outbox_fail(struct directory_error *e, int rc, const char *hex)
{
	if (rc == -ENOENT)
		return directory_fail(e, 404, "no notification %.40s here", hex ? hex : "");
	if (rc == -EINVAL)
		return directory_fail(e, 400, "'%.40s' is not a notification id (32 hex digits)",
				      hex ? hex : "");
	if (rc == -ENOSPC)
		return directory_fail(e, 507, "%s", store_strerror(rc));
	return directory_fail(e, 500, "store: %s", store_strerror(rc));
}

static int parse_limit(const struct call *c, size_t *limit, struct directory_error *e)
{
	const char *s = c->r->q_limit;
	char *end;
	*limit = LIST_DEFAULT;
	if (!s)
		return 0;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v == 0 || v > LIST_MAX)
		return directory_fail(e, 400, "limit must be a number from 1 to %d", LIST_MAX);
	*limit = v;
	return 0;
}

typedef int (*note_list_fn)(struct store *s, const char *user, const char *after, size_t limit,
			    json_t **out);

/* {"notifications": [...], "next": ID or null}: pass next as ?after= for more. */
static int note_page(const struct call *c, note_list_fn fn, const char *user, json_t **out,
		     struct directory_error *e)
{
	size_t limit, i;
	json_t *arr = NULL, *v;
	int rc = parse_limit(c, &limit, e);
	if (rc)
		return rc;
	if (user && (rc = directory_user_get(c->r->store, user, &v, e)))
		return rc;
	if (user)
		json_decref(v);
	if ((rc = fn(c->r->store, user, c->r->q_after, limit, &arr)))
		return outbox_fail(e, rc, c->r->q_after);
	json_array_foreach(arr, i, v)
		json_object_del(v, "msg"); /* `show` has it; lists stay small */
	json_t *last = json_array_size(arr) == limit ? json_array_get(arr, limit - 1) : NULL;
	*out = json_pack("{s:o, s:O}", "notifications", arr, "next",
			 last ? json_object_get(last, "id") : json_null());
	return *out ? 0 : directory_fail(e, 500, "out of memory");
}

static int h_outbox(const struct call *c, json_t **out, struct directory_error *e)
{
	return note_page(c, outbox_list, c->arg[0], out, e);
}

static int h_dead(const struct call *c, json_t **out, struct directory_error *e)
{
	return note_page(c, outbox_dead_list, c->arg[0], out, e);
}

typedef int (*note_show_fn)(struct store *s, const unsigned char id[OUTBOX_ID_LEN],
			    json_t **out);

/* One note, which must belong to the user of the path (if there is one). */
static int note_get(const struct call *c, note_show_fn fn, unsigned char id[OUTBOX_ID_LEN],
		    json_t **out, struct directory_error *e)
{
	int rc = outbox_unhex(c->hex, id);
	if (!rc)
		rc = fn(c->r->store, id, out);
	if (rc)
		return outbox_fail(e, rc, c->hex);
	const char *u = json_string_value(json_object_get(*out, "user"));
	if (c->arg[0] && (!u || strcmp(u, c->arg[0]))) {
		json_decref(*out);
		return outbox_fail(e, -ENOENT, c->hex);
	}
	return 0;
}

static int h_note(const struct call *c, json_t **out, struct directory_error *e)
{
	unsigned char id[OUTBOX_ID_LEN];
	return note_get(c, outbox_show, id, out, e);
}

static int h_dead_note(const struct call *c, json_t **out, struct directory_error *e)
{
	unsigned char id[OUTBOX_ID_LEN];
	return note_get(c, outbox_dead_show, id, out, e);
}

/* Retry or drop one note: check it exists (and whose it is), then act. */
static int note_act(const struct call *c, note_show_fn show, bool retry, bool dead,
		    json_t **out, struct directory_error *e)
{
	unsigned char id[OUTBOX_ID_LEN];
	json_t *doc;
	int rc = note_get(c, show, id, &doc, e);
	if (rc)
		return rc;
	json_decref(doc);
	uint64_t now = clock_wall_ms();
	if (retry)
		rc = dead ? outbox_dead_retry(c->r->store, id, now) : outbox_retry(c->r->store, id, now);
	else
		rc = dead ? outbox_dead_drop(c->r->store, id) : outbox_drop(c->r->store, id);
	if (rc)
		return outbox_fail(e, rc, c->hex);
	if (retry)
		dispatch_wake(c->r->dispatch);
	*out = json_pack("{s:s, s:s}", retry ? "retried" : "dropped", c->hex, "from",
			 dead ? "deadletter" : "outbox");
	return *out ? 0 : directory_fail(e, 500, "out of memory");
}

static int h_note_retry(const struct call *c, json_t **out, struct directory_error *e)
{
	return note_act(c, outbox_show, true, false, out, e);
}

static int h_note_drop(const struct call *c, json_t **out, struct directory_error *e)
{
	return note_act(c, outbox_show, false, false, out, e);
}

static int h_dead_retry(const struct call *c, json_t **out, struct directory_error *e)
{
	return note_act(c, outbox_dead_show, true, true, out, e);
}

static int h_dead_drop(const struct call *c, json_t **out, struct directory_error *e)
{
	return note_act(c, outbox_dead_show, false, true, out, e);
}

static int h_delivered(const struct call *c, json_t **out, struct directory_error *e)
{
	size_t limit;
	json_t *arr;
	int rc = parse_limit(c, &limit, e);
	if (!rc && c->arg[0] && !(rc = directory_user_get(c->r->store, c->arg[0], &arr, e)))
		json_decref(arr);
	if (rc)
		return rc;
	if ((rc = outbox_delivered_list(c->r->store, c->arg[0], limit, &arr)))
		return outbox_fail(e, rc, NULL);
	*out = json_pack("{s:o}", "delivered", arr);
	return *out ? 0 : directory_fail(e, 500, "out of memory");
}

static int h_sinks(const struct call *c, json_t **out, struct directory_error *e)
{
	json_t *arr;
	struct outbox_counts n;
	if (!c->r->dispatch)
		arr = json_array();
	else if (dispatch_status(c->r->dispatch, &arr))
		arr = NULL;
	if (!arr)
		return directory_fail(e, 500, "out of memory");
	int rc = outbox_count(c->r->store, clock_wall_ms(), &n);
	if (rc) {
		json_decref(arr);
		return outbox_fail(e, rc, NULL);
	}
	*out = json_pack("{s:o, s:{s:I, s:I, s:I, s:I, s:I}}", "sinks", arr, "outbox", "pending",
			 (json_int_t)n.pending, "due_now", (json_int_t)n.due_now, "parked",
			 (json_int_t)n.parked, "digests", (json_int_t)n.digests, "dead",
			 (json_int_t)n.dead);
	return *out ? 0 : directory_fail(e, 500, "out of memory");
}

/* An instance paused after repeated crashes of its sink process. */
static int h_sink_resume(const struct call *c, json_t **out, struct directory_error *e)
{
	int rc = no_params(c, "resume", e);
	if (rc)
		return rc;
	if (!c->r->dispatch || dispatch_resume(c->r->dispatch, c->arg[0]))
		return directory_fail(e, 404, "no sink '%s'", c->arg[0]);
	*out = json_pack("{s:s}", "resumed", c->arg[0]);
	return *out ? 0 : directory_fail(e, 500, "out of memory");
}

static const struct route routes[] = {
	{"GET", "users", BODY_NONE, 200, h_users},
	{"POST", "users", BODY_REQUIRED, 201, h_user_add},
	{"GET", "users/:", BODY_NONE, 200, h_user_get},
	{"PATCH", "users/:", BODY_REQUIRED, 200, h_user_patch},
	{"DELETE", "users/:", BODY_NONE, 200, h_user_del},
	{"PUT", "users/:/lists/:", BODY_REQUIRED, 200, h_list_put},
	{"GET", "users/:/destinations", BODY_NONE, 200, h_dests},
	{"POST", "users/:/destinations", BODY_REQUIRED, 201, h_dest_add},
	{"DELETE", "users/:/destinations/#", BODY_NONE, 200, h_dest_del},
	{"POST", "users/:/destinations/#/pause", BODY_OPTIONAL, 200, h_dest_pause},
	{"POST", "users/:/destinations/#/resume", BODY_OPTIONAL, 200, h_dest_resume},
	{"POST", "users/:/destinations/#/verify", BODY_REQUIRED, 200, h_dest_verify},
	{"GET", "users/:/subscriptions", BODY_NONE, 200, h_subs},
	{"POST", "users/:/subscriptions", BODY_REQUIRED, 201, h_sub_add},
	{"GET", "users/:/subscriptions/#", BODY_NONE, 200, h_sub_get},
	{"DELETE", "users/:/subscriptions/#", BODY_NONE, 200, h_sub_del},
	{"POST", "users/:/subscriptions/#/enable", BODY_OPTIONAL, 200, h_sub_enable},
	{"POST", "users/:/subscriptions/#/disable", BODY_OPTIONAL, 200, h_sub_disable},
	{"POST", "users/:/explain", BODY_REQUIRED, 200, h_explain},
	{"GET", "users/:/tokens", BODY_NONE, 200, h_tokens},
	{"POST", "users/:/tokens", BODY_REQUIRED, 201, h_token_add},
	{"DELETE", "users/:/tokens/#", BODY_NONE, 200, h_token_del},
	{"POST", "filter/test", BODY_REQUIRED, 200, h_filter_test},
	{"POST", "users/:/preview", BODY_REQUIRED, 200, h_preview},
	{"GET", "users/:/why/*", BODY_NONE, 200, h_why},
	{"GET", "users/:/outbox", BODY_NONE, 200, h_outbox},
	{"GET", "users/:/outbox/*", BODY_NONE, 200, h_note},
	{"POST", "users/:/outbox/*/retry", BODY_OPTIONAL, 200, h_note_retry},
	{"DELETE", "users/:/outbox/*", BODY_NONE, 200, h_note_drop},
	{"GET", "users/:/deadletter", BODY_NONE, 200, h_dead},
	{"GET", "users/:/deadletter/*", BODY_NONE, 200, h_dead_note},
	{"POST", "users/:/deadletter/*/retry", BODY_OPTIONAL, 200, h_dead_retry},
	{"DELETE", "users/:/deadletter/*", BODY_NONE, 200, h_dead_drop},
	{"GET", "users/:/delivered", BODY_NONE, 200, h_delivered},
	{"GET", "outbox", BODY_NONE, 200, h_outbox},
	{"GET", "outbox/*", BODY_NONE, 200, h_note},
	{"POST", "outbox/*/retry", BODY_OPTIONAL, 200, h_note_retry},
	{"DELETE", "outbox/*", BODY_NONE, 200, h_note_drop},
	{"GET", "deadletter", BODY_NONE, 200, h_dead},
	{"GET", "deadletter/*", BODY_NONE, 200, h_dead_note},
	{"POST", "deadletter/*/retry", BODY_OPTIONAL, 200, h_dead_retry},
	{"DELETE", "deadletter/*", BODY_NONE, 200, h_dead_drop},
	{"GET", "delivered", BODY_NONE, 200, h_delivered},
	{"GET", "sinks", BODY_NONE, 200, h_sinks},
	{"POST", "sinks/:/resume", BODY_OPTIONAL, 200, h_sink_resume},
};

#define N_ROUTES (sizeof routes / sizeof routes[0])

/* Does the path (after "v1") fit the pattern? Captures into c. */
static bool path_fits(const char *pattern, char *const *seg, size_t nseg, struct call *c)
{
	char part[32];
	size_t i = 0, n_arg = 0;
	const char *p = pattern;
	while (*p) {
		size_t len = strcspn(p, "/");
		if (i >= nseg || len >= sizeof part)
			return false;
		memcpy(part, p, len);
		part[len] = '\0';
		if (!strcmp(part, ":") && n_arg < 2)
			c->arg[n_arg++] = seg[i];
		else if (!strcmp(part, "#"))
			c->id_text = seg[i]; /* parse_id says whether it is one */
		else if (!strcmp(part, "*"))
			c->hex = seg[i];
		else if (strcmp(part, seg[i]))
			return false;
		i++;
		p += len + (p[len] == '/');
	}
	return i == nseg;
}

/* The id segment, if the route has one: a positive decimal number. */
static int parse_id(struct call *c, struct directory_error *e)
{
	const char *s = c->id_text;
	char *end;
	if (!s)
		return 0;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (*s < '0' || *s > '9' || *end || errno || v == 0 || v > INT64_MAX)
		return directory_fail(e, 400, "'%.40s' is not an id (a positive number)", s);
	c->id = v;
	return 0;
}

static const char *method_of(const char *m)
{
	return strcmp(m, "HEAD") ? m : "GET";
}

/* The route for this request: 0, or 404/405 in *e. */
static int find_route(const struct api_v1_request *r, const struct route **out, struct call *c,
		      struct directory_error *e)
{
	struct buf allowed = BUF_INIT;
	*out = NULL;
	for (size_t i = 0; i < N_ROUTES && !*out; i++) {
		struct call tmp = {.r = r};
		if (!path_fits(routes[i].pattern, r->seg + 1, r->nseg - 1, &tmp))
			continue;
		if (!strcmp(routes[i].method, method_of(r->method))) {
			*out = &routes[i];
			*c = tmp;
		} else {
			buf_printf(&allowed, "%s%s", allowed.len ? ", " : "", routes[i].method);
		}
	}
	int rc = 0;
	if (!*out && allowed.len)
		rc = directory_fail(e, 405, "method %s not allowed here (use %s)", r->method,
				    allowed.data);
	else if (!*out)
		rc = directory_fail(e, 404, "no such resource");
	buf_release(&allowed);
	return rc;
}

static int parse_body(const struct api_v1_request *r, enum body_rule rule, json_t **out,
		      struct directory_error *e)
{
	json_error_t jerr;
	*out = NULL;
	if (!r->body_len) {
		if (rule == BODY_REQUIRED)
			return directory_fail(e, 400, "expected a JSON request body");
		return 0;
	}
	if (rule == BODY_NONE)
		return directory_fail(e, 400, "%s takes no request body", r->method);
	if (!(*out = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr)))
		return directory_fail(e, 400, "request body is not valid JSON: %s (line %d, "
					      "column %d)", jerr.text, jerr.line, jerr.column);
	return 0;
}

static json_t *error_json(const char *msg)
{
	return json_pack("{s:s}", "error", msg);
}

int api_v1_handle(const struct api_v1_request *r, unsigned *status, json_t **out)
{
	const struct route *route = NULL;
	struct call c = {.r = r};
	struct directory_error e = {0};
	json_t *body = NULL, *res = NULL;
	int rc = find_route(r, &route, &c, &e);
	if (!rc)
		rc = parse_id(&c, &e);
	if (!rc)
		rc = parse_body(r, route->body, &body, &e);
	if (!rc) {
		c.body = body;
		rc = route->fn(&c, &res, &e);
	}
	json_decref(body);
	if (rc) {
		*status = e.status ? (unsigned)e.status : 500;
		*out = error_json(e.msg[0] ? e.msg : "internal error");
	} else {
		*status = route->ok;
		*out = res;
	}
	return *out ? 0 : -ENOMEM;
}
