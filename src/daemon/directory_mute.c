/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * directory_mute: muting a subscription for a while (the web app's signed
 * "mute" link) and turning it back on when the time is up (see
 * directory.h). A mute is the document's "enabled": false plus
 * "muted_until", and an entry in STORE_MUTES keyed by that time, so that
 * finding what is due is one cursor read at the front of that table. The
 * matcher needs no timer of its own: it skips disabled subscriptions, and
 * turning one back on is an ordinary document change.
 * Not for: enabling and disabling by the owner (directory_subs.c), which
 * ends a mute by dropping muted_until (the entry here then finds nothing
 * to do).
 */
#include "directory.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "directory_int.h"
#include "src/common/be64.h"
#include "store.h"

struct mute_key {
	unsigned char b[8 + sizeof(((struct rec_key *)0)->b)];
	size_t len;
};

static void mute_key(struct mute_key *k, int64_t until, const struct rec_key *rec)
{
	put_be64(k->b, (uint64_t)until);
	memcpy(k->b + 8, rec->b, rec->len);
	k->len = 8 + rec->len;
}

static int set_muted(json_t *doc, int64_t until, bool *changed, struct directory_error *e)
{
	*changed = !json_object_get(doc, "state"); /* quarantined: stays as it is */
	if (*changed && (json_object_set_new(doc, "enabled", json_false()) ||
			 json_object_set_new(doc, "muted_until", json_integer((json_int_t)until))))
		return directory_fail(e, 500, "out of memory");
	return 0;
}

int directory_sub_mute(struct store *s, const char *user, uint64_t id, int64_t until_s,
		       json_t **out, struct directory_error *e)
{
	struct store_txn *t;
	struct rec_key k;
	struct mute_key mk;
	json_t *doc = NULL;
	bool changed = false;
	int rc = directory_check_user_name(user, e);
	if (rc)
		return rc;
	if ((rc = store_begin(s, &t)))
		return directory_store_fail(e, rc);
	directory_rec_key(&k, user, id);
	mute_key(&mk, until_s, &k);
	if (!(rc = directory_user_exists(t, user, e)) &&
	    !(rc = directory_rec_load(t, STORE_SUBS, user, id, &doc, e)) &&
	    !(rc = set_muted(doc, until_s, &changed, e)) && changed &&
	    ((rc = directory_doc_save(t, STORE_SUBS, k.b, k.len, doc)) ||
	     (rc = store_doc_put(t, STORE_MUTES, mk.b, mk.len, "{}", 2))))
		rc = directory_store_fail(e, rc);
	if ((rc = directory_finish(t, rc, e)))
		json_decref(doc);
	else
		*out = doc;
	return rc;
}

/* ---- turning them back on ---- */

static int first_cb(void *arg, const void *key, size_t klen, const char *json, size_t len)
{
	struct mute_key *k = arg;
	if (klen <= 8 + 1 + 8 || klen > sizeof k->b)
		return -EPROTO;
	memcpy(k->b, key, klen);
	k->len = klen;
	return 1; /* the first is all we want */
}

/* The subscription of entry k, if it is still muted until that time. */
static bool still_muted(const json_t *doc, int64_t until)
{
	const json_t *mu = json_object_get(doc, "muted_until");
	return mu && json_integer_value(mu) == until && json_is_false(json_object_get(doc, "enabled")) &&
	       !json_object_get(doc, "state");
}

/* Turn on the subscription of entry k (if still muted: *on) and drop k. */
static int unmute_one(struct store *s, const struct mute_key *k, int64_t until, bool *on)
{
	struct store_txn *t;
	json_t *doc = NULL;
	const unsigned char *rec = k->b + 8;
	size_t rlen = k->len - 8;
	int rc = store_begin(s, &t);
	if (rc)
		return rc;
	rc = directory_doc_load(t, STORE_SUBS, rec, rlen, &doc);
	*on = !rc && still_muted(doc, until);
	if (*on) {
		json_object_del(doc, "muted_until");
		rc = json_object_set_new(doc, "enabled", json_true()) ? -ENOMEM
			: directory_doc_save(t, STORE_SUBS, rec, rlen, doc);
	} else if (rc == -ENOENT) {
		rc = 0; /* deleted meanwhile */
	}
	if (!rc)
		rc = store_doc_del(t, STORE_MUTES, k->b, k->len);
	if (rc)
		store_abort(t);
	else
		rc = store_commit(t);
	json_decref(doc);
	return rc;
}

int directory_unmute_due(struct store *s, int64_t now_s, size_t max)
{
	size_t n = 0, seen = 0;
	while (seen < max) {
		struct mute_key k = {.len = 0};
		int rc = store_doc_foreach(s, STORE_MUTES, NULL, 0, first_cb, &k);
		if (rc < 0)
			return rc;
		if (!k.len)
			break; /* none */
		int64_t until = (int64_t)get_be64(k.b);
		if (until > now_s)
			break;
		bool on = false;
		if ((rc = unmute_one(s, &k, until, &on)))
			return rc;
		seen++;
		n += on;
	}
	return (int)n;
}
