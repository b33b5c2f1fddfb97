/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * directory_dest: a user's destinations (see directory.h): checking one
 * against the configured sinks, adding, pausing, resuming, verifying and
 * deleting (refused while a subscription still sends to it). Not for
 * delivering to it (dispatch.c) nor for what happens to its queued notes.
 */
#include "directory.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "directory_int.h"
#include "src/common/buf.h"
#include "store.h"

/* ---- destinations ---- */

static int dest_from_input(const char *user, const json_t *in, json_t **out,
			   struct directory_error *e)
{
	static const char *const known[] = {"sink", "address", NULL};
	static const char *const owned[] = {"id",     "user",	       "verified",
					    "paused", "paused_reason", NULL};
	const json_t *sink = json_object_get(in, "sink"), *addr = json_object_get(in, "address");
	char b[80];
	int rc;
	if (!json_is_object(in))
		return directory_fail(e, 400, "expected a JSON object describing the destination");
	if ((rc = directory_check_keys(in, "destination", known, owned, e)))
		return rc;
	if (!json_is_string(sink))
		return directory_fail(e, 400, "destination: \"sink\" is required (a string)");
	if (!directory_valid_word(json_string_value(sink), DIRECTORY_SINK_MAX))
		return directory_fail(e, 400, "sink '%s': expected 1 to %d of a-z, 0-9, '_' and '-'",
				      directory_shown(json_string_value(sink), b, sizeof b),
				      DIRECTORY_SINK_MAX);
	if (!addr)
		return directory_fail(e, 400, "destination: \"address\" is required (a string)");
	if ((rc = directory_check_text(addr, "address", 1, DIRECTORY_ADDRESS_MAX, e)))
		return rc;
	*out = json_pack("{s:I, s:s, s:O, s:O, s:b, s:b, s:n}", "id", (json_int_t)0, "user", user,
			 "sink", sink, "address", addr, "verified", 0, "paused", 0,
			 "paused_reason");
	return *out ? 0 : directory_fail(e, 500, "out of memory");
}

/* The sink must exist and accept the address, before anything is stored. */
static int check_sink(const struct directory_sinks *sinks, const json_t *doc,
		      struct directory_error *e)
{
	char err[300] = "";
	const char *sink = json_string_value(json_object_get(doc, "sink"));
	const char *addr = json_string_value(json_object_get(doc, "address"));
	if (!sinks || !sinks->validate)
		return 0;
	int rc = sinks->validate(sinks->arg, sink, addr, err, sizeof err);
	if (rc == -ENOENT)
		return directory_fail(e, 400, "no sink '%s' is configured in heraldd", sink);
	if (rc)
		return directory_fail(e, 400, "sink '%s' refuses the address: %s", sink, err);
	return 0;
}

int directory_dest_add(struct store *s, const char *user, const json_t *in,
		       const struct directory_sinks *sinks, json_t **out, struct directory_error *e)
{
	json_t *doc = NULL;
	struct store_txn *t;
	int rc;
	if ((rc = directory_check_user_name(user, e)) || (rc = dest_from_input(user, in, &doc, e)))
		return rc;
	if ((rc = check_sink(sinks, doc, e))) {
		json_decref(doc);
		return rc;
	}
	if ((rc = store_begin(s, &t))) {
		json_decref(doc);
		return directory_store_fail(e, rc);
	}
	rc = directory_rec_add(s, t, STORE_DESTS, user, doc, DIRECTORY_DESTS_PER_USER, e);
	if ((rc = directory_finish(t, rc, e)))
		json_decref(doc);
	else
		*out = doc;
	return rc;
}

int directory_dest_get(struct store *s, const char *user, uint64_t id, json_t **out,
		       struct directory_error *e)
{
	struct rec_key k;
	struct buf b = BUF_INIT;
	int rc = directory_check_user_name(user, e);
	if (rc)
		return rc;
	directory_rec_key(&k, user, id);
	rc = store_doc_get(s, STORE_DESTS, k.b, k.len, &b);
	if (!rc)
		rc = directory_doc_parse(b.data, b.len, out);
	buf_release(&b);
	if (rc == -ENOENT)
		return directory_fail(e, 404, "user '%s' has no destination %llu", user,
				      (unsigned long long)id);
	return rc ? directory_store_fail(e, rc) : 0;
}

int directory_dest_paused_txn(struct store_txn *t, const char *user, uint64_t id, bool *paused,
			      bool *verified)
{
	struct rec_key k;
	json_t *doc;
	if (!directory_valid_user_name(user))
		return -EINVAL;
	directory_rec_key(&k, user, id);
	int rc = directory_doc_load(t, STORE_DESTS, k.b, k.len, &doc);
	if (rc)
		return rc;
	*paused = json_is_true(json_object_get(doc, "paused"));
	*verified = json_is_true(json_object_get(doc, "verified"));
	json_decref(doc);
	return 0;
}

int directory_dest_list(struct store *s, const char *user, json_t **out,
			struct directory_error *e)
{
	return directory_rec_list(s, STORE_DESTS, user, out, e);
}

static bool sub_uses(const json_t *sub, uint64_t dest)
{
	size_t i;
	json_t *v;
	json_array_foreach(json_object_get(sub, "destinations"), i, v)
		if ((uint64_t)json_integer_value(v) == dest)
			return true;
	return false;
}

/* 409 naming every subscription of the user that sends to `dest`. */
static int check_unused(struct store *s, const char *user, uint64_t dest,
			struct directory_error *e)
{
	json_t *subs, *sub;
	struct buf names = BUF_INIT;
	size_t i, n = 0;
	int rc = directory_scan(s, STORE_SUBS, user, &subs, e);
	if (rc)
		return rc;
	json_array_foreach(subs, i, sub) {
		if (!sub_uses(sub, dest))
			continue;
		const char *label = json_string_value(json_object_get(sub, "name"));
		buf_printf(&names, "%s%llu", n++ ? ", " : "",
			   (unsigned long long)directory_doc_id(sub));
		if (label)
			buf_printf(&names, " (%s)", label);
	}
	if (n)
		rc = directory_fail(e, 409, "destination %llu is used by subscription%s %s; change "
					    "or remove %s first", (unsigned long long)dest,
				    n > 1 ? "s" : "", names.data ? names.data : "",
				    n > 1 ? "them" : "it");
	buf_release(&names);
	json_decref(subs);
	return rc;
}

/* A pending verification code (destcode.c) goes with its destination. */
static int drop_code(struct store_txn *t, const char *user, uint64_t id,
		     struct directory_error *e)
{
	struct rec_key k;
	directory_rec_key(&k, user, id);
	int rc = store_doc_del(t, STORE_CODES, k.b, k.len);
	return rc && rc != -ENOENT ? directory_store_fail(e, rc) : 0;
}

int directory_dest_del(struct store *s, const char *user, uint64_t id, json_t **out,
		       struct directory_error *e)
{
	struct store_txn *t;
	int rc = directory_check_user_name(user, e);
	if (rc)
		return rc;
	if ((rc = store_begin(s, &t)))
		return directory_store_fail(e, rc);
	if (!(rc = directory_user_exists(t, user, e)) && !(rc = check_unused(s, user, id, e)))
		rc = directory_rec_del(t, STORE_DESTS, user, id, e);
	if (!rc)
		rc = drop_code(t, user, id, e);
	if ((rc = directory_finish(t, rc, e)))
		return rc;
	return directory_deleted(id, out, e);
}

static int set_paused(json_t *doc, const void *arg, struct directory_error *e)
{
	const json_t *reason = arg; /* NULL: resume */
	if (json_object_set_new(doc, "paused", json_boolean(reason != NULL)) ||
	    json_object_set(doc, "paused_reason", reason ? (json_t *)reason : json_null()))
		return directory_fail(e, 500, "out of memory");
	return 0;
}

int directory_dest_pause(struct store *s, const char *user, uint64_t id, const json_t *in,
			 json_t **out, struct directory_error *e)
{
	static const char *const known[] = {"reason", NULL};
	const json_t *reason = in ? json_object_get(in, "reason") : NULL;
	int rc;
	if (in && !json_is_object(in))
		return directory_fail(e, 400, "expected a JSON object such as {\"reason\": \"...\"}");
	if (in && (rc = directory_check_keys(in, "pause", known, NULL, e)))
		return rc;
	if (reason && !json_is_null(reason) &&
	    (rc = directory_check_text(reason, "reason", 1, DIRECTORY_REASON_MAX, e)))
		return rc;
	return directory_rec_edit(s, STORE_DESTS, user, id, set_paused,
				  reason ? reason : json_null(), out, e);
}

int directory_dest_resume(struct store *s, const char *user, uint64_t id, json_t **out,
			  struct directory_error *e)
{
	return directory_rec_edit(s, STORE_DESTS, user, id, set_paused, NULL, out, e);
}

static int set_verified(json_t *doc, const void *arg, struct directory_error *e)
{
	if (json_object_set_new(doc, "verified", json_true()))
		return directory_fail(e, 500, "out of memory");
	return 0;
}

int directory_dest_set_verified(struct store *s, const char *user, uint64_t id, json_t **out,
				struct directory_error *e)
{
	return directory_rec_edit(s, STORE_DESTS, user, id, set_verified, NULL, out, e);
}
