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

#include "buf.h"
#include "directory.h"
#include "explain.h"

/* One request matched to a route: the captured path parts and the body. */
struct call {
	const struct api_v1_request *r;
	const char *arg[2]; /* ':' captures: user name, list name */
	const char *id_text; /* '#' capture, parsed into id */
	uint64_t id;
	const json_t *body; /* NULL when there was none */
};

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

static int all_users(struct store *s, const char *unused, json_t **out, struct directory_error *e)
{
	return directory_user_list(s, out, e);
}

static int h_users(const struct call *c, json_t **out, struct directory_error *e)
{
	return wrap(c, all_users, "users", out, e);
}

static int h_user_add(const struct call *c, json_t **out, struct directory_error *e)
{
	return directory_user_add(c->r->store, c->body, out, e);
}

static int h_user_get(const struct call *c, json_t **out, struct directory_error *e)
{
	return directory_user_get(c->r->store, c->arg[0], out, e);
}

static int h_user_del(const struct call *c, json_t **out, struct directory_error *e)
{
	return directory_user_del(c->r->store, c->arg[0], out, e);
}

static int h_list_put(const struct call *c, json_t **out, struct directory_error *e)
{
	return directory_user_set_list(c->r->store, c->arg[0], c->arg[1], c->body, out, e);
}

static int h_dests(const struct call *c, json_t **out, struct directory_error *e)
{
	return wrap(c, directory_dest_list, "destinations", out, e);
}

static int h_dest_add(const struct call *c, json_t **out, struct directory_error *e)
{
	return directory_dest_add(c->r->store, c->arg[0], c->body, out, e);
}

static int h_dest_del(const struct call *c, json_t **out, struct directory_error *e)
{
	return directory_dest_del(c->r->store, c->arg[0], c->id, out, e);
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
	return rc ? rc : directory_dest_resume(c->r->store, c->arg[0], c->id, out, e);
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

static const struct route routes[] = {
	{"GET", "users", BODY_NONE, 200, h_users},
	{"POST", "users", BODY_REQUIRED, 201, h_user_add},
	{"GET", "users/:", BODY_NONE, 200, h_user_get},
	{"DELETE", "users/:", BODY_NONE, 200, h_user_del},
	{"PUT", "users/:/lists/:", BODY_REQUIRED, 200, h_list_put},
	{"GET", "users/:/destinations", BODY_NONE, 200, h_dests},
	{"POST", "users/:/destinations", BODY_REQUIRED, 201, h_dest_add},
	{"DELETE", "users/:/destinations/#", BODY_NONE, 200, h_dest_del},
	{"POST", "users/:/destinations/#/pause", BODY_OPTIONAL, 200, h_dest_pause},
	{"POST", "users/:/destinations/#/resume", BODY_OPTIONAL, 200, h_dest_resume},
	{"GET", "users/:/subscriptions", BODY_NONE, 200, h_subs},
	{"POST", "users/:/subscriptions", BODY_REQUIRED, 201, h_sub_add},
	{"GET", "users/:/subscriptions/#", BODY_NONE, 200, h_sub_get},
	{"DELETE", "users/:/subscriptions/#", BODY_NONE, 200, h_sub_del},
	{"POST", "users/:/subscriptions/#/enable", BODY_OPTIONAL, 200, h_sub_enable},
	{"POST", "users/:/subscriptions/#/disable", BODY_OPTIONAL, 200, h_sub_disable},
	{"POST", "users/:/explain", BODY_REQUIRED, 200, h_explain},
	{"POST", "filter/test", BODY_REQUIRED, 200, h_filter_test},
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
