/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * directory_subs: a user's subscriptions (see directory.h): checking the
 * filter, the destinations and the delivery mode, adding, showing (with how
 * the matcher will index it), enabling and deleting. Not for matching
 * (match.c reads the same documents).
 */
#include "directory.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "filters/filter.h"
#include "directory_int.h"
#include "src/common/buf.h"
#include "store.h"

/* ---- subscriptions ---- */

int directory_check_filter(const char *src, struct directory_error *e)
{
	struct filter *f = NULL;
	struct filter_error fe = {0};
	int rc = filter_compile(src, &f, &fe);
	if (rc)
		return directory_fail(e, 400, "filter %d:%d: %s", fe.line, fe.col, fe.msg);
	filter_free(f);
	return 0;
}

static int ignore_key(void *arg, const struct filter_key *k)
{
	return 0;
}

/* FILTER_SLOW, FILTER_INDEXED or FILTER_NEVER for this filter and user,
 * as the matcher will see it; FILTER_SLOW when it does not compile. */
static int index_kind(const char *src, const json_t *user)
{
	struct filter *f = NULL;
	struct directory_user_view v;
	int kind = FILTER_SLOW;
	if (filter_compile(src, &f, NULL))
		return FILTER_SLOW;
	if (!directory_user_view_init(user, &v))
		kind = filter_index_keys(f, &v.user, ignore_key, NULL);
	directory_user_view_release(&v);
	filter_free(f);
	return kind;
}

/* destinations: 1..64 positive integer ids, duplicates dropped. */
static int check_dest_ids(const json_t *ids, json_t **out, struct directory_error *e)
{
	size_t i, j, n = json_array_size(ids);
	json_t *v;
	if (!json_is_array(ids) || n < 1 || n > DIRECTORY_SUB_DESTS_MAX)
		return directory_fail(e, 400, "destinations: expected an array of 1 to %d "
					      "destination ids", DIRECTORY_SUB_DESTS_MAX);
	json_t *arr = json_array();
	if (!arr)
		return directory_fail(e, 500, "out of memory");
	json_array_foreach(ids, i, v) {
		if (!json_is_integer(v) || json_integer_value(v) < 1) {
			json_decref(arr);
			return directory_fail(e, 400, "destinations: item %zu is not a destination "
						      "id (a positive integer)", i + 1);
		}
		for (j = 0; j < i && !json_equal(v, json_array_get(ids, j)); j++)
			;
		if (j == i)
			json_array_append(arr, v);
	}
	*out = arr;
	return 0;
}

static int check_mode(const json_t *in, json_t *doc, struct directory_error *e)
{
	const json_t *mode = json_object_get(in, "mode");
	const json_t *iv = json_object_get(in, "digest_interval");
	const char *m = mode ? json_string_value(mode) : "instant";
	if (!m || (strcmp(m, "instant") && strcmp(m, "digest")))
		return directory_fail(e, 400, "mode: expected \"instant\" or \"digest\"");
	bool digest = !strcmp(m, "digest");
	if (!digest && iv)
		return directory_fail(e, 400, "digest_interval: only for mode \"digest\"");
	if (digest && !iv)
		return directory_fail(e, 400, "digest_interval: required for mode \"digest\" "
					      "(seconds, %d to %d)", DIRECTORY_DIGEST_MIN,
				      DIRECTORY_DIGEST_MAX);
	if (digest && (!json_is_integer(iv) || json_integer_value(iv) < DIRECTORY_DIGEST_MIN ||
		       json_integer_value(iv) > DIRECTORY_DIGEST_MAX))
		return directory_fail(e, 400, "digest_interval: expected whole seconds from %d "
					      "(a minute) to %d (a week)", DIRECTORY_DIGEST_MIN,
				      DIRECTORY_DIGEST_MAX);
	if (json_object_set_new(doc, "mode", json_string(m)) ||
	    (digest && json_object_set(doc, "digest_interval", (json_t *)iv)))
		return directory_fail(e, 500, "out of memory");
	return 0;
}

/* The fields of a subscription other than mode, into `doc`. */
static int sub_fields(const json_t *in, json_t *doc, struct directory_error *e)
{
	const json_t *name = json_object_get(in, "name"), *filter = json_object_get(in, "filter");
	const json_t *enabled = json_object_get(in, "enabled");
	json_t *ids = NULL;
	int rc;
	if (name && (rc = directory_check_text(name, "name", 1, DIRECTORY_SUB_NAME_MAX, e)))
		return rc;
	if (!filter)
		return directory_fail(e, 400, "subscription: \"filter\" is required (a string)");
	if ((rc = directory_check_text(filter, "filter", 1, FILTER_MAX_SOURCE, e)) ||
	    (rc = directory_check_filter(json_string_value(filter), e)))
		return rc;
	if (enabled && !json_is_boolean(enabled))
		return directory_fail(e, 400, "enabled: expected true or false");
	if (!json_object_get(in, "destinations"))
		return directory_fail(e, 400, "subscription: \"destinations\" is required (an "
					      "array of destination ids)");
	if ((rc = check_dest_ids(json_object_get(in, "destinations"), &ids, e)))
		return rc;
	if ((name && json_object_set(doc, "name", (json_t *)name)) ||
	    json_object_set(doc, "filter", (json_t *)filter) ||
	    json_object_set_new(doc, "destinations", ids))
		return directory_fail(e, 500, "out of memory");
	if ((rc = check_mode(in, doc, e)))
		return rc;
	if (json_object_set_new(doc, "enabled", json_boolean(!enabled || json_is_true(enabled))))
		return directory_fail(e, 500, "out of memory");
	return 0;
}

static int sub_from_input(const char *user, const json_t *in, json_t **out,
			  struct directory_error *e)
{
	static const char *const known[] = {"name", "filter",	       "destinations",
					    "mode", "digest_interval", "enabled", NULL};
	static const char *const owned[] = {"id",	  "user",   "slow",	  "never",
					    "state", "reason", "muted_until", NULL};
	int rc;
	if (!json_is_object(in))
		return directory_fail(e, 400, "expected a JSON object describing the subscription");
	if ((rc = directory_check_keys(in, "subscription", known, owned, e)))
		return rc;
	json_t *doc = json_pack("{s:I, s:s}", "id", (json_int_t)0, "user", user);
	if (!doc)
		return directory_fail(e, 500, "out of memory");
	if ((rc = sub_fields(in, doc, e)))
		json_decref(doc);
	else
		*out = doc;
	return rc;
}

/* Every destination id must be one of this user's. */
static int check_dests_exist(struct store_txn *t, const char *user, const json_t *doc,
			     struct directory_error *e)
{
	size_t i;
	json_t *v, *dest;
	json_array_foreach(json_object_get(doc, "destinations"), i, v) {
		uint64_t id = (uint64_t)json_integer_value(v);
		int rc = directory_rec_load(t, STORE_DESTS, user, id, &dest, e);
		if (rc == -ENOENT)
			return directory_fail(e, 400, "destination %llu is not one of user '%s''s "
						      "destinations", (unsigned long long)id, user);
		if (rc)
			return rc;
		json_decref(dest);
	}
	return 0;
}

int directory_sub_add(struct store *s, const char *user, const json_t *in, json_t **out,
		      struct directory_error *e)
{
	json_t *doc = NULL;
	struct store_txn *t;
	int rc;
	if ((rc = directory_check_user_name(user, e)) || (rc = sub_from_input(user, in, &doc, e)))
		return rc;
	if ((rc = store_begin(s, &t))) {
		json_decref(doc);
		return directory_store_fail(e, rc);
	}
	/* 404 for the user first, then the destinations. */
	if (!(rc = directory_user_exists(t, user, e)) && !(rc = check_dests_exist(t, user, doc, e)))
		rc = directory_rec_add(s, t, STORE_SUBS, user, doc, DIRECTORY_SUBS_PER_USER, e);
	if ((rc = directory_finish(t, rc, e)))
		json_decref(doc);
	else
		*out = doc;
	return rc;
}

/*
 * "state" and "reason" for the owner: a quarantined subscription carries
 * them in its document (directory_sub_quarantine); for the others they are
 * derived here: "muted" (disabled with a muted_until, directory_mute.c),
 * "disabled", "invalid" (enabled, but its filter is one the
 * language no longer accepts: the matcher skips it, match_load.c) with the
 * compiler's message as the reason, or "active".
 */
static int add_state(json_t *doc, struct directory_error *e)
{
	struct directory_error why = {0};
	const char *src = json_string_value(json_object_get(doc, "filter"));
	const char *state = "active";
	int rc = 0;
	if (json_object_get(doc, "state"))
		return 0;
	if (json_is_false(json_object_get(doc, "enabled")))
		state = json_object_get(doc, "muted_until") ? "muted" : "disabled";
	else if (!src || directory_check_filter(src, &why))
		state = "invalid";
	if (json_object_set_new(doc, "state", json_string(state)))
		rc = -ENOMEM;
	if (!rc && !strcmp(state, "invalid") &&
	    json_object_set_new(doc, "reason", json_string(src ? why.msg : "no filter")))
		rc = -ENOMEM;
	return rc ? directory_fail(e, 500, "out of memory") : 0;
}

int directory_sub_list(struct store *s, const char *user, json_t **out, struct directory_error *e)
{
	size_t i;
	json_t *doc;
	int rc = directory_rec_list(s, STORE_SUBS, user, out, e);
	json_array_foreach(rc ? NULL : *out, i, doc) {
		if ((rc = add_state(doc, e))) {
			json_decref(*out);
			*out = NULL;
			break;
		}
	}
	return rc;
}

int directory_sub_get(struct store *s, const char *user, uint64_t id, json_t **out,
		      struct directory_error *e)
{
	struct rec_key k;
	struct buf b = BUF_INIT;
	json_t *doc = NULL, *u;
	int rc = directory_user_get(s, user, &u, e);
	if (rc)
		return rc;
	directory_rec_key(&k, user, id);
	rc = store_doc_get(s, STORE_SUBS, k.b, k.len, &b);
	if (!rc)
		rc = directory_doc_parse(b.data, b.len, &doc);
	buf_release(&b);
	if (rc)
		json_decref(u);
	if (rc == -ENOENT)
		return directory_fail(e, 404, "user '%s' has no subscription %llu", user,
				      (unsigned long long)id);
	if (rc)
		return directory_store_fail(e, rc);
	const char *src = json_string_value(json_object_get(doc, "filter"));
	int kind = src ? index_kind(src, u) : FILTER_SLOW;
	json_decref(u);
	if (json_object_set_new(doc, "slow", json_boolean(kind == FILTER_SLOW)) ||
	    json_object_set_new(doc, "never", json_boolean(kind == FILTER_NEVER))) {
		json_decref(doc);
		return directory_fail(e, 500, "out of memory");
	}
	if ((rc = add_state(doc, e))) {
		json_decref(doc);
		return rc;
	}
	*out = doc;
	return 0;
}

int directory_sub_del(struct store *s, const char *user, uint64_t id, json_t **out,
		      struct directory_error *e)
{
	struct store_txn *t;
	int rc = directory_check_user_name(user, e);
	if (rc)
		return rc;
	if ((rc = store_begin(s, &t)))
		return directory_store_fail(e, rc);
	if (!(rc = directory_user_exists(t, user, e)))
		rc = directory_rec_del(t, STORE_SUBS, user, id, e);
	if ((rc = directory_finish(t, rc, e)))
		return rc;
	return directory_deleted(id, out, e);
}

/* Enabling clears a quarantine, but only for a filter the language still
 * accepts (an "invalid" one would match nothing: say so now). */
static int set_enabled(json_t *doc, const void *arg, struct directory_error *e)
{
	bool on = *(const bool *)arg;
	const char *src = json_string_value(json_object_get(doc, "filter"));
	struct directory_error why = {0};
	if (on && (!src || directory_check_filter(src, &why)))
		return directory_fail(e, 400, "subscription %llu cannot be enabled: %s; replace it "
					      "with one whose filter is accepted",
				      (unsigned long long)directory_doc_id(doc),
				      src ? why.msg : "it has no filter");
	if (on) {
		json_object_del(doc, "state");
		json_object_del(doc, "reason");
	}
	json_object_del(doc, "muted_until"); /* the owner's word overrides a mute */
	if (json_object_set_new(doc, "enabled", json_boolean(on)))
		return directory_fail(e, 500, "out of memory");
	return 0;
}

static int set_quarantined(json_t *doc, const void *arg, struct directory_error *e)
{
	if (json_object_set_new(doc, "enabled", json_false()) ||
	    json_object_set_new(doc, "state", json_string("quarantined")) ||
	    json_object_set_new(doc, "reason", json_string((const char *)arg)))
		return directory_fail(e, 500, "out of memory");
	return 0;
}

int directory_sub_quarantine(struct store *s, const char *user, uint64_t id, const char *reason,
			     struct directory_error *e)
{
	json_t *doc = NULL;
	int rc = directory_rec_edit(s, STORE_SUBS, user, id, set_quarantined, reason, &doc, e);
	json_decref(doc);
	return rc;
}

int directory_sub_set_enabled(struct store *s, const char *user, uint64_t id, bool enabled,
			      json_t **out, struct directory_error *e)
{
	return directory_rec_edit(s, STORE_SUBS, user, id, set_enabled, &enabled, out, e);
}
