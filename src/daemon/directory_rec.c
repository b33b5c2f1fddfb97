/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * directory_rec: what the directory's files share: errors meant for a
 * person, the keys and documents of users' records, transactions that
 * either apply or write nothing, scans, and the add / list / edit / delete
 * steps common to destinations and subscriptions (see directory_int.h).
 * Not for the rules of any one kind of document.
 */
#include "directory.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory_int.h"
#include "src/common/buf.h"
#include "store.h"

/* ---- errors ---- */

static int code_for(int status)
{
	switch (status) {
	case 400: return -EINVAL;
	case 403: return -EPERM;
	case 404: return -ENOENT;
	case 409: return -EEXIST;
	case 507: return -ENOSPC;
	default: return -EIO;
	}
}

int directory_fail(struct directory_error *e, int status, const char *fmt, ...)
{
	va_list ap;
	e->status = status;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	return code_for(status);
}

/* A store failure: the request was fine, the daemon is not. */
int directory_store_fail(struct directory_error *e, int rc)
{
	if (rc == -ENOSPC)
		return directory_fail(e, 507, "the store is full; nothing was changed");
	return directory_fail(e, 500, "store: %s; nothing was changed", store_strerror(rc));
}

/* Client text quoted back in an error: bounded, control characters hidden. */
const char *directory_shown(const char *s, char *out, size_t n)
{
	size_t i = 0; /* n >= 8 */
	for (; s[i] && i + 4 < n; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (s[i])
		memcpy(out + i, "...", 3), i += 3;
	out[i] = '\0';
	return out;
}

/* ---- keys and documents ---- */

/* "user\0" alone (the prefix of all of a user's records), or with an id. */
static void rec_prefix(struct rec_key *k, const char *user)
{
	size_t n = strlen(user); /* validated: at most DIRECTORY_NAME_MAX */
	memcpy(k->b, user, n);
	k->b[n] = '\0';
	k->len = n + 1;
}

void directory_rec_key(struct rec_key *k, const char *user, uint64_t id)
{
	rec_prefix(k, user);
	for (int i = 0; i < 8; i++)
		k->b[k->len + (size_t)i] = (unsigned char)(id >> (56 - 8 * i));
	k->len += 8;
}

int directory_doc_parse(const char *json, size_t len, json_t **out)
{
	*out = json_loadb(json, len, 0, NULL);
	return *out ? 0 : -EPROTO;
}

/* Read a document inside the transaction: 0, -ENOENT, or another error. */
int directory_doc_load(struct store_txn *t, enum store_table tab, const void *key, size_t klen,
		       json_t **out)
{
	struct buf b = BUF_INIT;
	int rc = store_doc_get_txn(t, tab, key, klen, &b);
	if (!rc)
		rc = directory_doc_parse(b.data, b.len, out);
	buf_release(&b);
	return rc;
}

int directory_doc_save(struct store_txn *t, enum store_table tab, const void *key, size_t klen,
		       const json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT);
	if (!s)
		return -ENOMEM;
	int rc = store_doc_put(t, tab, key, klen, s, strlen(s));
	free(s);
	return rc;
}

/* End a transaction: commit when everything went well, else write nothing. */
int directory_finish(struct store_txn *t, int rc, struct directory_error *e)
{
	if (rc) {
		store_abort(t);
		return rc;
	}
	if ((rc = store_commit(t)))
		return directory_store_fail(e, rc);
	e->status = 0;
	return 0;
}

/* The user's document, or 404. Store trouble becomes 500. */
int directory_user_load(struct store_txn *t, const char *name, json_t **out,
			struct directory_error *e)
{
	int rc = directory_doc_load(t, STORE_USERS, name, strlen(name), out);
	if (rc == -ENOENT)
		return directory_fail(e, 404, "no user '%s'", name);
	return rc ? directory_store_fail(e, rc) : 0;
}

int directory_user_exists(struct store_txn *t, const char *name, struct directory_error *e)
{
	json_t *doc;
	int rc = directory_user_load(t, name, &doc, e);
	if (!rc)
		json_decref(doc);
	return rc;
}

static const char *noun(enum store_table tab)
{
	return tab == STORE_DESTS ? "destination" : "subscription";
}

int directory_rec_load(struct store_txn *t, enum store_table tab, const char *user, uint64_t id,
		       json_t **out, struct directory_error *e)
{
	struct rec_key k;
	directory_rec_key(&k, user, id);
	int rc = directory_doc_load(t, tab, k.b, k.len, out);
	if (rc == -ENOENT)
		return directory_fail(e, 404, "user '%s' has no %s %llu", user, noun(tab),
				      (unsigned long long)id);
	return rc ? directory_store_fail(e, rc) : 0;
}

static int save_rec(struct store_txn *t, enum store_table tab, const char *user, uint64_t id,
		    const json_t *doc, struct directory_error *e)
{
	struct rec_key k;
	directory_rec_key(&k, user, id);
	int rc = directory_doc_save(t, tab, k.b, k.len, doc);
	return rc ? directory_store_fail(e, rc) : 0;
}

/* ---- scans ---- */

struct collect {
	json_t *docs;      /* parsed documents, in key order */
};

static int collect_cb(void *arg, const void *key, size_t klen, const char *json, size_t len)
{
	struct collect *c = arg;
	json_t *doc;
	int rc = directory_doc_parse(json, len, &doc);
	if (!rc && json_array_append_new(c->docs, doc))
		rc = -ENOMEM;
	return rc;
}

/*
 * Every document of a table (user NULL) or of one user, in key order. Inside
 * a write transaction this is the state that transaction started from (see
 * directory.h), so scan before writing.
 */
int directory_scan(struct store *s, enum store_table tab, const char *user, json_t **out,
		   struct directory_error *e)
{
	struct collect c = {json_array()};
	struct rec_key k = {.len = 0};
	if (!c.docs)
		return directory_fail(e, 500, "out of memory");
	if (user)
		rec_prefix(&k, user);
	int rc = store_doc_foreach(s, tab, k.b, k.len, collect_cb, &c);
	if (rc) {
		json_decref(c.docs);
		return directory_store_fail(e, rc);
	}
	*out = c.docs;
	return 0;
}

uint64_t directory_doc_id(const json_t *doc)
{
	return (uint64_t)json_integer_value(json_object_get(doc, "id"));
}

static int count_cb(void *arg, const void *key, size_t klen, const char *json, size_t len)
{
	(*(size_t *)arg)++;
	return 0;
}

/* Room for one more record of the user in `tab`? */
static int check_quota(struct store *s, enum store_table tab, const char *user, size_t max,
		       struct directory_error *e)
{
	struct rec_key k;
	size_t n = 0;
	rec_prefix(&k, user);
	int rc = store_doc_foreach(s, tab, k.b, k.len, count_cb, &n);
	if (rc)
		return directory_store_fail(e, rc);
	if (n >= max)
		return directory_fail(e, 409, "user '%s' already has %zu %ss, the most allowed",
				      user, n, noun(tab));
	return 0;
}

/* Store a new record under a fresh id (written into the document). */
int directory_rec_add(struct store *s, struct store_txn *t, enum store_table tab, const char *user,
		      json_t *doc, size_t quota, struct directory_error *e)
{
	uint64_t id;
	int rc;
	if ((rc = directory_user_exists(t, user, e)) || (rc = check_quota(s, tab, user, quota, e)))
		return rc;
	if ((rc = store_next_id(t, &id)))
		return directory_store_fail(e, rc);
	if (json_object_set_new(doc, "id", json_integer((json_int_t)id)))
		return directory_fail(e, 500, "out of memory");
	return save_rec(t, tab, user, id, doc, e);
}

/* All of a user's records in one table, 404 for an unknown user. */
int directory_rec_list(struct store *s, enum store_table tab, const char *user, json_t **out,
		       struct directory_error *e)
{
	json_t *doc;
	int rc = directory_user_get(s, user, &doc, e);
	if (rc)
		return rc;
	json_decref(doc);
	return directory_scan(s, tab, user, out, e);
}

int directory_rec_del(struct store_txn *t, enum store_table tab, const char *user, uint64_t id,
		      struct directory_error *e)
{
	struct rec_key k;
	directory_rec_key(&k, user, id);
	int rc = store_doc_del(t, tab, k.b, k.len);
	if (rc == -ENOENT)
		return directory_fail(e, 404, "user '%s' has no %s %llu", user, noun(tab),
				      (unsigned long long)id);
	return rc ? directory_store_fail(e, rc) : 0;
}

int directory_deleted(uint64_t id, json_t **out, struct directory_error *e)
{
	*out = json_pack("{s:I}", "deleted", (json_int_t)id);
	return *out ? 0 : directory_fail(e, 500, "out of memory");
}

/* Load a record, let `edit` change it, store it back; *out is the result. */
int directory_rec_edit(struct store *s, enum store_table tab, const char *user, uint64_t id,
		       directory_edit_fn edit, const void *arg, json_t **out,
		       struct directory_error *e)
{
	json_t *doc = NULL;
	struct store_txn *t;
	int rc = directory_check_user_name(user, e);
	if (rc)
		return rc;
	if ((rc = store_begin(s, &t)))
		return directory_store_fail(e, rc);
	if (!(rc = directory_user_exists(t, user, e)) &&
	    !(rc = directory_rec_load(t, tab, user, id, &doc, e)) && !(rc = edit(doc, arg, e)))
		rc = save_rec(t, tab, user, id, doc, e);
	if ((rc = directory_finish(t, rc, e)))
		json_decref(doc);
	else
		*out = doc;
	return rc;
}
