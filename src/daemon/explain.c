/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * explain: one message through the schema rules and one or more filters,
 * with the filters' own explanations (see explain.h). Every call compiles
 * what it needs and throws it away: this serves people asking "why", a few
 * times a minute, not the message stream.
 */
#include "explain.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "src/common/buf.h"
#include "src/common/strv.h"
#include "filters/filter.h"
#include "src/schema/schema.h"

/* One message, described once, and what the filters need to run on it. */
struct explained_msg {
	struct meta meta;
	struct msg_view view;
	struct filter_scratch *scratch;
};

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *explain_meta_json(const struct meta *m)
{
	json_t *o = json_pack("{s:o, s:o, s:o, s:o, s:o, s:s, s:o, s:o}", "app",
			      str_or_null(m->app), "title", str_or_null(m->title), "summary",
			      str_or_null(m->summary), "link", str_or_null(m->link), "agent",
			      str_or_null(m->agent), "severity", severity_name(m->severity),
			      "usernames", strv_to_json(m->usernames, m->n_usernames), "packages",
			      strv_to_json(m->packages, m->n_packages));
	if (o && meta_flags_to_json(m, o)) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Describe `message` (an envelope) with the schema rules. */
static int describe(const struct schema *sc, const json_t *message, struct explained_msg *x,
		    struct directory_error *e)
{
	const json_t *topic = json_object_get(message, "topic");
	memset(x, 0, sizeof *x);
	if (!sc)
		return directory_fail(e, 503, "no schema rules are loaded");
	if (!json_is_object(message))
		return directory_fail(e, 400, "message: expected a JSON object (an envelope with "
					      "\"topic\" and \"msg\")");
	if (!json_is_string(topic) || !json_string_length(topic))
		return directory_fail(e, 400, "message: \"topic\" is required (a non-empty string)");
	if (!(x->scratch = filter_scratch_new()) ||
	    schema_describe(sc, json_string_value(topic), json_object_get(message, "msg"),
			    &x->meta))
		return directory_fail(e, 500, "out of memory");
	x->view.topic = json_string_value(topic);
	x->view.msg = json_object_get(message, "msg");
	x->view.meta = &x->meta;
	return 0;
}

static void explained_release(struct explained_msg *x)
{
	meta_release(&x->meta);
	filter_scratch_free(x->scratch);
}

/* Run one filter; *out is {"match": bool, "why": text}. */
static int run_filter(const struct filter *f, const struct explained_msg *x,
		      const struct filter_user *user, json_t **out, struct directory_error *e)
{
	struct buf why = BUF_INIT;
	bool matched = false;
	int rc = filter_explain(f, &x->view, user, x->scratch, &why, &matched);
	if (!rc)
		*out = json_pack("{s:b, s:s}", "match", matched, "why", why.data ? why.data : "");
	buf_release(&why);
	if (rc || !*out)
		return directory_fail(e, 500, "out of memory");
	return 0;
}

static int compile(const char *src, struct filter **f, struct directory_error *e)
{
	struct filter_error fe = {0};
	int rc = filter_compile(src, f, &fe);
	if (rc == -ENOMEM)
		return directory_fail(e, 500, "out of memory");
	if (rc)
		return directory_fail(e, 400, "filter %d:%d: %s", fe.line, fe.col, fe.msg);
	return 0;
}

static int with_meta(json_t *res, const struct explained_msg *x, struct directory_error *e)
{
	if (json_object_set_new(res, "meta", explain_meta_json(&x->meta)))
		return directory_fail(e, 500, "out of memory");
	return 0;
}

/* Optional "user": their name and lists for `me` and `@list`. */
static int load_user(struct store *s, const json_t *name, json_t **doc,
		     struct directory_user_view *v, struct directory_error *e)
{
	int rc;
	*doc = NULL;
	memset(v, 0, sizeof *v);
	if (!name)
		return 0;
	if (!json_is_string(name))
		return directory_fail(e, 400, "user: expected a user name");
	if ((rc = directory_user_get(s, json_string_value(name), doc, e)))
		return rc;
	if (directory_user_view_init(*doc, v))
		return directory_fail(e, 500, "out of memory");
	return 0;
}

int explain_filter(const struct schema *sc, struct store *s, const json_t *in, json_t **out,
		   struct directory_error *e)
{
	static const char *const known[] = {"filter", "message", "user", NULL};
	const json_t *src = json_object_get(in, "filter");
	struct filter *f = NULL;
	struct explained_msg x = {0};
	struct directory_user_view v = {0};
	json_t *user = NULL, *res = NULL;
	int rc;
	if (!json_is_object(in))
		return directory_fail(e, 400, "expected a JSON object with \"filter\" and \"message\"");
	if ((rc = directory_check_keys(in, "filter test", known, NULL, e)))
		return rc;
	if (!json_is_string(src))
		return directory_fail(e, 400, "filter test: \"filter\" is required (a string)");
	if (!json_object_get(in, "message"))
		return directory_fail(e, 400, "filter test: \"message\" is required (an envelope)");
	if ((rc = compile(json_string_value(src), &f, e)) ||
	    (rc = load_user(s, json_object_get(in, "user"), &user, &v, e)) ||
	    (rc = describe(sc, json_object_get(in, "message"), &x, e)) ||
	    (rc = run_filter(f, &x, user ? &v.user : NULL, &res, e)) ||
	    (rc = with_meta(res, &x, e)))
		goto out;
	*out = res;
	res = NULL;
out:
	json_decref(res);
	explained_release(&x);
	directory_user_view_release(&v);
	json_decref(user);
	filter_free(f);
	return rc;
}

/* One subscription's verdict: {"id", "name", "enabled", "match", "why"}. */
static int explain_sub(const json_t *sub, const struct explained_msg *x,
		       const struct filter_user *user, json_t **out, struct directory_error *e)
{
	struct filter *f = NULL;
	struct directory_error ce;
	const char *src = json_string_value(json_object_get(sub, "filter"));
	int rc = compile(src ? src : "", &f, &ce);
	if (rc && rc != -EINVAL) {
		*e = ce;
		return rc;
	}
	*out = NULL;
	if (rc) /* stored before a language change, say: report it, go on with the rest */
		*out = json_pack("{s:b, s:s+}", "match", 0, "why", "does not compile: ", ce.msg);
	else if ((rc = run_filter(f, x, user, out, e)))
		*out = NULL;
	filter_free(f);
	if (rc && rc != -EINVAL)
		return rc;
	json_t *name = json_object_get(sub, "name");
	if (!*out || json_object_set(*out, "id", json_object_get(sub, "id")) ||
	    json_object_set_new(*out, "name", name ? json_incref(name) : json_null()) ||
	    json_object_set(*out, "enabled", json_object_get(sub, "enabled"))) {
		json_decref(*out);
		return directory_fail(e, 500, "out of memory");
	}
	return 0;
}

int explain_sub_view(const json_t *sub, const struct msg_view *v, const struct filter_user *user,
		     json_t **out, struct directory_error *e)
{
	struct explained_msg x = {.view = *v};
	if (!(x.scratch = filter_scratch_new()))
		return directory_fail(e, 500, "out of memory");
	int rc = explain_sub(sub, &x, user, out, e);
	filter_scratch_free(x.scratch);
	return rc;
}

static int explain_subs(const json_t *subs, const struct explained_msg *x,
			const struct filter_user *user, json_t *res, struct directory_error *e)
{
	json_t *arr = json_array(), *sub, *one;
	size_t i;
	if (!arr || json_object_set_new(res, "subscriptions", arr))
		return directory_fail(e, 500, "out of memory");
	json_array_foreach(subs, i, sub) {
		int rc = explain_sub(sub, x, user, &one, e);
		if (rc)
			return rc;
		if (json_array_append_new(arr, one))
			return directory_fail(e, 500, "out of memory");
	}
	return 0;
}

int explain_user(const struct schema *sc, struct store *s, const char *user, const json_t *in,
		 json_t **out, struct directory_error *e)
{
	static const char *const known[] = {"message", NULL};
	struct explained_msg x = {0};
	struct directory_user_view v = {0};
	json_t *doc = NULL, *subs = NULL, *res = NULL, *name = json_string(user);
	int rc;
	if (!name)
		return directory_fail(e, 500, "out of memory");
	if (!json_is_object(in))
		rc = directory_fail(e, 400, "expected a JSON object with \"message\"");
	else if (!(rc = directory_check_keys(in, "explain", known, NULL, e)) &&
		 !json_object_get(in, "message"))
		rc = directory_fail(e, 400, "explain: \"message\" is required (an envelope)");
	if (rc || (rc = load_user(s, name, &doc, &v, e)) ||
	    (rc = directory_sub_list(s, user, &subs, e)) ||
	    (rc = describe(sc, json_object_get(in, "message"), &x, e)))
		goto out;
	if (!(res = json_object()))
		rc = directory_fail(e, 500, "out of memory");
	else if (!(rc = with_meta(res, &x, e)) && !(rc = explain_subs(subs, &x, &v.user, res, e))) {
		*out = res;
		res = NULL;
	}
out:
	json_decref(res);
	explained_release(&x);
	directory_user_view_release(&v);
	json_decref(subs);
	json_decref(doc);
	json_decref(name);
	return rc;
}
