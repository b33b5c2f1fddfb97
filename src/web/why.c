/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * why: one note, its subscriptions and their filters explained again (see
 * why.h). Three steps: find the note and where it is, rebuild the message
 * it came from as well as can be, explain each subscription on it.
 */
#include "why.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "src/daemon/explain.h"
#include "src/daemon/outbox.h"
#include "src/daemon/store.h"
#include "src/schema/schema.h"
#include "recent.h"

/* The message the filters run on again, and where it came from. */
struct source {
	struct recent_msg *orig; /* the original, still in the recent store */
	struct meta meta;        /* else: described again from the note */
	json_t *body;            /* the note's body, or an empty object */
	bool kept_body;          /* the note had its body */
	struct msg_view view;
};

static int find_note(struct store *s, const char *user, const char *hex, json_t **note,
		     json_t **rec, const char **state, struct directory_error *e)
{
	unsigned char id[OUTBOX_ID_LEN];
	json_t *n;
	*rec = NULL;
	if (outbox_unhex(hex, id))
		return directory_fail(e, 400, "'%.40s' is not a notification id (32 hex digits)", hex);
	int rc = outbox_show(s, id, &n);
	*state = "pending";
	if (rc == -ENOENT) {
		rc = outbox_dead_show(s, id, &n);
		*state = "dead";
	}
	if (!rc) {
		const char *u = json_string_value(json_object_get(n, "user"));
		if (u && !strcmp(u, user)) {
			*note = n;
			return 0;
		}
		json_decref(n);
		rc = -ENOENT;
	}
	if (rc == -ENOENT) {
		*state = "delivered";
		if (!(rc = outbox_delivered_find(s, user, id, rec, &n))) {
			*note = json_incref(n);
			return 0;
		}
	}
	if (rc == -ENOENT)
		return directory_fail(e, 404, "no notification %s here", hex);
	return directory_fail(e, 500, "store: %s", store_strerror(rc));
}

static char *dup_or_null(const json_t *v)
{
	const char *s = json_string_value(v);
	return s && *s ? strdup(s) : NULL;
}

static int kept_strv(const json_t *arr, char ***out, size_t *n)
{
	json_t *v;
	size_t i;
	*n = 0;
	if (!json_array_size(arr))
		return 0;
	if (!(*out = calloc(json_array_size(arr), sizeof **out)))
		return -ENOMEM;
	json_array_foreach(arr, i, v) {
		if (json_is_string(v) && !((*out)[(*n)++] = strdup(json_string_value(v))))
			return -ENOMEM;
	}
	return 0; /* kept sorted and unique, as the note got them */
}

/* The meta a delivered note kept; the app, which notes do not keep, from
 * what the schema rules make of its topic alone. */
static int kept_meta(const struct schema *sc, const char *topic, const json_t *note,
		     const json_t *empty, struct meta *m)
{
	struct meta d = {0};
	enum severity sev;
	if (sc && !schema_describe(sc, topic, empty, &d)) {
		m->app = d.app;
		d.app = NULL;
	}
	meta_release(&d);
	m->title = dup_or_null(json_object_get(note, "title"));
	m->summary = dup_or_null(json_object_get(note, "summary"));
	m->link = dup_or_null(json_object_get(note, "link"));
	m->agent = dup_or_null(json_object_get(note, "agent"));
	const char *sv = json_string_value(json_object_get(note, "severity"));
	if (sv && !severity_parse(sv, &sev))
		m->severity = sev;
	if (kept_strv(json_object_get(note, "usernames"), &m->usernames, &m->n_usernames) ||
	    kept_strv(json_object_get(note, "packages"), &m->packages, &m->n_packages) ||
	    meta_flags_from_json(m, note))
		return -ENOMEM;
	return 0;
}

/* The original message if the recent store still has it, else the note's. */
static int rebuild(struct recent *r, const struct schema *sc, const json_t *note,
		   struct source *src, struct directory_error *e)
{
	const char *topic = json_string_value(json_object_get(note, "topic"));
	const char *msg_id = json_string_value(json_object_get(note, "msg_id"));
	json_t *body = json_object_get(note, "msg");
	if (r && msg_id && *msg_id && (src->orig = recent_find(r, msg_id))) {
		src->view = (struct msg_view){src->orig->topic, src->orig->msg, &src->orig->meta};
		return 0;
	}
	if (!topic)
		return directory_fail(e, 500, "notification without a topic");
	src->kept_body = body != NULL;
	src->body = body ? json_incref(body) : json_object();
	if (!src->body)
		return directory_fail(e, 500, "out of memory");
	int rc = body ? (sc ? schema_describe(sc, topic, body, &src->meta) : 0)
		      : kept_meta(sc, topic, note, src->body, &src->meta);
	if (rc)
		return directory_fail(e, 500, "out of memory");
	src->view = (struct msg_view){topic, src->body, &src->meta};
	return 0;
}

static void source_release(struct source *src)
{
	recent_msg_unref(src->orig);
	meta_release(&src->meta);
	json_decref(src->body);
}

/* One subscription's verdict: {"id", "name", "filter", "match", "why"}. */
static int explain_one(struct store *s, const char *user, json_int_t id, const struct source *src,
		       const struct filter_user *fu, json_t **out, struct directory_error *e)
{
	struct directory_error ignored;
	json_t *sub = NULL;
	int rc = directory_sub_get(s, user, (uint64_t)id, &sub, &ignored);
	if (rc == -ENOENT) {
		*out = json_pack("{s:I, s:n, s:n, s:b, s:s}", "id", id, "name", "filter", "match", 0,
				 "why", "the subscription was deleted since");
		return *out ? 0 : directory_fail(e, 500, "out of memory");
	}
	if (rc)
		return directory_fail(e, ignored.status, "%s", ignored.msg);
	if (!(rc = explain_sub_view(sub, &src->view, fu, out, e))) {
		json_object_del(*out, "enabled");
		if (json_object_set(*out, "filter", json_object_get(sub, "filter"))) {
			json_decref(*out);
			rc = directory_fail(e, 500, "out of memory");
		}
	}
	json_decref(sub);
	return rc;
}

/* Every subscription the note names; *first: the first that matches again,
 * else the first one (borrowed from *list). */
static int explain_all(struct store *s, const char *user, const json_t *note,
		       const struct source *src, const struct filter_user *fu, json_t *list,
		       json_t **first, struct directory_error *e)
{
	json_t *id, *one;
	size_t i;
	*first = NULL;
	json_array_foreach(json_object_get(note, "subscriptions"), i, id) {
		int rc = explain_one(s, user, json_integer_value(id), src, fu, &one, e);
		if (rc)
			return rc;
		if (json_array_append_new(list, one))
			return directory_fail(e, 500, "out of memory");
		if (!*first || (!json_is_true(json_object_get(*first, "match")) &&
				json_is_true(json_object_get(one, "match"))))
			*first = one;
	}
	return 0;
}

/* {"id", "title", "topic", "time", "sink", "destination", "address", "state", "msg_id"} */
static json_t *note_json(struct store *s, const char *user, const json_t *note,
			 const json_t *rec, const char *state)
{
	struct directory_error ignored;
	json_t *dest = NULL;
	json_int_t did = json_integer_value(json_object_get(rec ? rec : note, "destination"));
	directory_dest_get(s, user, (uint64_t)did, &dest, &ignored); /* gone: no address */
	const json_t *sink = rec ? json_object_get(rec, "sink") : json_object_get(dest, "sink");
	json_t *out = json_pack(
	    "{s:O, s:O*, s:O*, s:I, s:O*, s:I, s:O*, s:s, s:O*}", "id", json_object_get(note, "id"),
	    "title", json_object_get(note, "title"), "topic", json_object_get(note, "topic"), "time",
	    (json_int_t)(json_integer_value(json_object_get(note, "created")) / 1000), "sink", sink,
	    "destination", did, "address", json_object_get(dest, "address"), "state", state,
	    "msg_id", json_object_get(note, "msg_id"));
	json_decref(dest);
	return out;
}

/* The answer, from the explained subscriptions. */
static int answer(struct store *s, const char *user, const json_t *note, const json_t *rec,
		  const char *state, const struct source *src, json_t *list, const json_t *first,
		  json_t **out, struct directory_error *e)
{
	json_t *sub = first ? json_pack("{s:O, s:O, s:O}", "id", json_object_get(first, "id"),
					"name", json_object_get(first, "name"), "filter",
					json_object_get(first, "filter"))
			    : json_null();
	*out = json_pack("{s:o, s:o, s:b, s:s, s:o, s:s, s:b, s:O}", "note",
			 note_json(s, user, note, rec, state), "subscription", sub, "match",
			 first && json_is_true(json_object_get(first, "match")), "why",
			 first ? json_string_value(json_object_get(first, "why")) : "",
			 "meta", explain_meta_json(src->view.meta), "source",
			 src->orig ? "message" : "notification", "body", src->orig || src->kept_body,
			 "subscriptions", list);
	return *out ? 0 : directory_fail(e, 500, "out of memory");
}

int why_note(struct recent *r, struct store *s, const struct schema *sc, const char *user,
	     const char *note_id, json_t **out, struct directory_error *e)
{
	json_t *doc = NULL, *note = NULL, *rec = NULL, *list = NULL, *first;
	struct directory_user_view v = {0};
	struct source src = {0};
	const char *state = NULL;
	int rc = directory_user_get(s, user, &doc, e);
	if (rc || (rc = find_note(s, user, note_id, &note, &rec, &state, e)) ||
	    (rc = rebuild(r, sc, note, &src, e)))
		goto out;
	if (directory_user_view_init(doc, &v) || !(list = json_array())) {
		rc = directory_fail(e, 500, "out of memory");
		goto out;
	}
	if (!(rc = explain_all(s, user, note, &src, &v.user, list, &first, e)))
		rc = answer(s, user, note, rec, state, &src, list, first, out, e);
out:
	json_decref(list);
	source_release(&src);
	directory_user_view_release(&v);
	json_decref(note);
	json_decref(rec);
	json_decref(doc);
	return rc;
}
