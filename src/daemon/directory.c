/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * directory: users, destinations and subscriptions as validated JSON
 * documents over the store (see directory.h). Each public function checks
 * everything it can before it opens a transaction, then reads, checks the
 * cross-document rules and writes inside one transaction. Not for HTTP or
 * for matching.
 */
#include "directory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/common/buf.h"
#include "filters/filter.h"
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
static int store_fail(struct directory_error *e, int rc)
{
	if (rc == -ENOSPC)
		return directory_fail(e, 507, "the store is full; nothing was changed");
	return directory_fail(e, 500, "store: %s; nothing was changed", store_strerror(rc));
}

/* Client text quoted back in an error: bounded, control characters hidden. */
static const char *shown(const char *s, char *out, size_t n)
{
	size_t i = 0; /* n >= 8 */
	for (; s[i] && i + 4 < n; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (s[i])
		memcpy(out + i, "...", 3), i += 3;
	out[i] = '\0';
	return out;
}

/* ---- pure checks ---- */

static bool lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

bool directory_valid_user_name(const char *name)
{
	size_t n = strlen(name);
	if (n < 1 || n > DIRECTORY_NAME_MAX || !lower_alnum(name[0]))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!lower_alnum(name[i]) && !strchr("._-", name[i]))
			return false;
	return true;
}

/* [a-z0-9_-]{1,max}: list and sink names. */
static bool valid_word(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n < 1 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!lower_alnum(s[i]) && s[i] != '_' && s[i] != '-')
			return false;
	return true;
}

bool directory_valid_list_name(const char *name)
{
	return valid_word(name, DIRECTORY_LIST_NAME_MAX);
}

/* C0 controls, DEL, and C1 controls (U+0080..U+009F, UTF-8 C2 80..C2 9F);
 * `lines` lets newlines and tabs through (filters may span lines). */
static bool has_control(const char *s, size_t len, bool lines)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len; i++) {
		if (lines && (p[i] == '\n' || p[i] == '\t'))
			continue;
		if (p[i] < 0x20 || p[i] == 0x7f)
			return true;
		if (p[i] == 0xc2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f)
			return true;
	}
	return false;
}

/* Zone names are looked up on disk: only plain path words, no way out. */
static bool safe_zone_name(const char *tz)
{
	size_t n = strlen(tz);
	if (n < 1 || n > 128 || tz[0] == '/' || tz[n - 1] == '/' || strstr(tz, "..") ||
	    strstr(tz, "//"))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = tz[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      strchr("/_+-", c)))
			return false;
	}
	return true;
}

bool directory_valid_timezone(const char *tz)
{
	if (!strcmp(tz, "UTC"))
		return true; /* also where no zone database is installed */
	if (!safe_zone_name(tz))
		return false;
	char path[512], magic[4];
	snprintf(path, sizeof path, "%s/%s", HERALD_ZONEINFO_DIR, tz);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ELOOP) /* "US/Eastern" style links are fine: the name was safe */
		fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	bool ok = !fstat(fd, &st) && S_ISREG(st.st_mode) && read(fd, magic, 4) == 4 &&
		  !memcmp(magic, "TZif", 4); /* not zone.tab, iso3166.tab, ... */
	close(fd);
	return ok;
}

/* ---- input checks ---- */

int directory_check_keys(const json_t *obj, const char *what, const char *const *known,
			 const char *const *owned, struct directory_error *e)
{
	const char *k;
	json_t *v;
	char b[80];
	json_object_foreach((json_t *)obj, k, v) {
		bool found = false;
		for (size_t i = 0; known[i] && !found; i++)
			found = !strcmp(k, known[i]);
		for (size_t i = 0; owned && owned[i] && !found; i++)
			if (!strcmp(k, owned[i]))
				return directory_fail(e, 400, "%s: '%s' is set by herald, not by the "
							      "client", what, k);
		if (found)
			continue;
		struct buf list = BUF_INIT;
		for (size_t i = 0; known[i]; i++)
			buf_printf(&list, "%s%s", i ? ", " : "", known[i]);
		int rc = directory_fail(e, 400, "%s: unknown key '%s' (known keys: %s)", what,
					shown(k, b, sizeof b), list.data ? list.data : "none");
		buf_release(&list);
		return rc;
	}
	return 0;
}

/* A string of min..max bytes without control characters (but see
 * has_control for the filter's newlines). */
static int check_text(const json_t *v, const char *what, size_t min, size_t max,
		      struct directory_error *e)
{
	bool lines = !strcmp(what, "filter");
	if (!json_is_string(v))
		return directory_fail(e, 400, "%s: expected a string", what);
	size_t n = json_string_length(v);
	if (n < min || n > max)
		return directory_fail(e, 400, "%s: expected %zu to %zu bytes, got %zu", what, min,
				      max, n);
	if (has_control(json_string_value(v), n, lines))
		return directory_fail(e, 400, "%s: control characters are not allowed", what);
	return 0;
}

static int check_user_name(const char *name, struct directory_error *e)
{
	char b[80];
	if (directory_valid_user_name(name))
		return 0;
	return directory_fail(e, 400, "user name '%s': expected 1 to %d of a-z, 0-9, '.', '_' "
				      "and '-', starting with a letter or digit",
			      shown(name, b, sizeof b), DIRECTORY_NAME_MAX);
}

static int check_list_name(const char *name, struct directory_error *e)
{
	char b[80];
	if (directory_valid_list_name(name))
		return 0;
	return directory_fail(e, 400, "list name '%s': expected 1 to %d of a-z, 0-9, '_' and '-'",
			      shown(name, b, sizeof b), DIRECTORY_LIST_NAME_MAX);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A list's items, checked, sorted and deduplicated into a new array. */
static int normalize_list(const char *list, const json_t *items, json_t **out,
			  struct directory_error *e)
{
	char what[80];
	if (!json_is_array(items))
		return directory_fail(e, 400, "list '%s': expected an array of strings", list);
	size_t n = json_array_size(items);
	if (n > DIRECTORY_LIST_ITEMS_MAX)
		return directory_fail(e, 400, "list '%s': %zu items, at most %d allowed", list, n,
				      DIRECTORY_LIST_ITEMS_MAX);
	const char **v = malloc((n ? n : 1) * sizeof *v);
	json_t *arr = json_array();
	int rc = 0;
	if (!v || !arr) {
		rc = directory_fail(e, 500, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		snprintf(what, sizeof what, "list '%s' item %zu", list, i + 1);
		rc = check_text(json_array_get(items, i), what, 1, DIRECTORY_ITEM_MAX, e);
		v[i] = json_string_value(json_array_get(items, i));
	}
	if (rc)
		goto out;
	qsort(v, n, sizeof *v, cmp_str);
	for (size_t i = 0; i < n && !rc; i++)
		if ((i == 0 || strcmp(v[i], v[i - 1])) &&
		    json_array_append_new(arr, json_string(v[i])))
			rc = directory_fail(e, 500, "out of memory");
out:
	free(v);
	if (rc)
		json_decref(arr);
	else
		*out = arr;
	return rc;
}

static int normalize_lists(const json_t *lists, json_t **out, struct directory_error *e)
{
	if (!json_is_object(lists))
		return directory_fail(e, 400, "lists: expected an object of NAME: [strings]");
	if (json_object_size(lists) > DIRECTORY_LISTS_MAX)
		return directory_fail(e, 400, "lists: %zu lists, at most %d allowed",
				      json_object_size(lists), DIRECTORY_LISTS_MAX);
	json_t *obj = json_object(), *items, *norm;
	const char *k;
	int rc = obj ? 0 : directory_fail(e, 500, "out of memory");
	json_object_foreach((json_t *)lists, k, items) {
		if (rc || (rc = check_list_name(k, e)) || (rc = normalize_list(k, items, &norm, e)))
			break;
		if (json_array_size(norm) == 0) /* an empty list is no list */
			json_decref(norm);
		else if (json_object_set_new(obj, k, norm))
			rc = directory_fail(e, 500, "out of memory");
	}
	if (rc)
		json_decref(obj);
	else
		*out = obj;
	return rc;
}

/* "HH:MM", 00:00 to 23:59. */
static bool valid_clock(const json_t *v)
{
	const char *s = json_string_value(v);
	if (!s || strlen(s) != 5 || s[2] != ':')
		return false;
	for (int i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return false;
	return (s[0] - '0') * 10 + (s[1] - '0') < 24 && s[3] < '6';
}

static int check_quiet_hours(const json_t *q, struct directory_error *e)
{
	static const char *const known[] = {"start", "end", NULL};
	if (json_is_null(q))
		return 0;
	if (!json_is_object(q))
		return directory_fail(e, 400, "quiet_hours: expected {\"start\": \"HH:MM\", "
					      "\"end\": \"HH:MM\"} or null");
	int rc = directory_check_keys(q, "quiet_hours", known, NULL, e);
	if (rc)
		return rc;
	const json_t *start = json_object_get(q, "start"), *end = json_object_get(q, "end");
	if (!valid_clock(start) || !valid_clock(end))
		return directory_fail(e, 400, "quiet_hours: start and end must both be times "
					      "from 00:00 to 23:59 (HH:MM)");
	if (json_equal(start, end))
		return directory_fail(e, 400, "quiet_hours: start and end are the same time");
	return 0;
}

static int check_timezone(const json_t *tz, struct directory_error *e)
{
	char b[80];
	if (!json_is_string(tz))
		return directory_fail(e, 400, "timezone: expected a string such as "
					      "\"Europe/Prague\"");
	if (!directory_valid_timezone(json_string_value(tz)))
		return directory_fail(e, 400, "timezone '%s': not a time zone known under %s",
				      shown(json_string_value(tz), b, sizeof b),
				      HERALD_ZONEINFO_DIR);
	return 0;
}

/* A user document from a request body: every field checked, defaults set. */
static int user_from_input(const json_t *in, json_t **out, struct directory_error *e)
{
	static const char *const known[] = {"name", "lists", "quiet_hours", "timezone", NULL};
	const json_t *name = json_object_get(in, "name"), *lists = json_object_get(in, "lists");
	const json_t *quiet = json_object_get(in, "quiet_hours");
	const json_t *tz = json_object_get(in, "timezone");
	json_t *norm = NULL;
	int rc;
	if (!json_is_object(in))
		return directory_fail(e, 400, "expected a JSON object describing the user");
	if ((rc = directory_check_keys(in, "user", known, NULL, e)))
		return rc;
	if (!json_is_string(name))
		return directory_fail(e, 400, "user: \"name\" is required (a string)");
	if ((rc = check_user_name(json_string_value(name), e)))
		return rc;
	if (quiet && (rc = check_quiet_hours(quiet, e)))
		return rc;
	if (tz && (rc = check_timezone(tz, e)))
		return rc;
	if (lists ? (rc = normalize_lists(lists, &norm, e)) : !(norm = json_object()))
		return rc ? rc : directory_fail(e, 500, "out of memory");
	*out = json_pack("{s:O, s:o, s:O, s:s}", "name", name, "lists", norm, "quiet_hours",
			 quiet ? quiet : json_null(), "timezone",
			 tz ? json_string_value(tz) : "UTC");
	return *out ? 0 : directory_fail(e, 500, "out of memory");
}

/* ---- keys and documents ---- */

struct rec_key {
	unsigned char b[DIRECTORY_NAME_MAX + 1 + 8];
	size_t len;
};

/* "user\0" alone (the prefix of all of a user's records), or with an id. */
static void rec_prefix(struct rec_key *k, const char *user)
{
	size_t n = strlen(user); /* validated: at most DIRECTORY_NAME_MAX */
	memcpy(k->b, user, n);
	k->b[n] = '\0';
	k->len = n + 1;
}

static void rec_key(struct rec_key *k, const char *user, uint64_t id)
{
	rec_prefix(k, user);
	for (int i = 0; i < 8; i++)
		k->b[k->len + (size_t)i] = (unsigned char)(id >> (56 - 8 * i));
	k->len += 8;
}

static int parse_doc(const char *json, size_t len, json_t **out)
{
	*out = json_loadb(json, len, 0, NULL);
	return *out ? 0 : -EPROTO;
}

/* Read a document inside the transaction: 0, -ENOENT, or another error. */
static int load_doc(struct store_txn *t, enum store_table tab, const void *key, size_t klen,
		    json_t **out)
{
	struct buf b = BUF_INIT;
	int rc = store_doc_get_txn(t, tab, key, klen, &b);
	if (!rc)
		rc = parse_doc(b.data, b.len, out);
	buf_release(&b);
	return rc;
}

static int save_doc(struct store_txn *t, enum store_table tab, const void *key, size_t klen,
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
static int finish(struct store_txn *t, int rc, struct directory_error *e)
{
	if (rc) {
		store_abort(t);
		return rc;
	}
	if ((rc = store_commit(t)))
		return store_fail(e, rc);
	e->status = 0;
	return 0;
}

/* The user's document, or 404. Store trouble becomes 500. */
static int load_user(struct store_txn *t, const char *name, json_t **out,
		     struct directory_error *e)
{
	int rc = load_doc(t, STORE_USERS, name, strlen(name), out);
	if (rc == -ENOENT)
		return directory_fail(e, 404, "no user '%s'", name);
	return rc ? store_fail(e, rc) : 0;
}

static int user_exists(struct store_txn *t, const char *name, struct directory_error *e)
{
	json_t *doc;
	int rc = load_user(t, name, &doc, e);
	if (!rc)
		json_decref(doc);
	return rc;
}

static const char *noun(enum store_table tab)
{
	return tab == STORE_DESTS ? "destination" : "subscription";
}

static int load_rec(struct store_txn *t, enum store_table tab, const char *user, uint64_t id,
		    json_t **out, struct directory_error *e)
{
	struct rec_key k;
	rec_key(&k, user, id);
	int rc = load_doc(t, tab, k.b, k.len, out);
	if (rc == -ENOENT)
		return directory_fail(e, 404, "user '%s' has no %s %llu", user, noun(tab),
				      (unsigned long long)id);
	return rc ? store_fail(e, rc) : 0;
}

static int save_rec(struct store_txn *t, enum store_table tab, const char *user, uint64_t id,
		    const json_t *doc, struct directory_error *e)
{
	struct rec_key k;
	rec_key(&k, user, id);
	int rc = save_doc(t, tab, k.b, k.len, doc);
	return rc ? store_fail(e, rc) : 0;
}

/* ---- scans ---- */

struct collect {
	json_t *docs;      /* parsed documents, in key order */
};

static int collect_cb(void *arg, const void *key, size_t klen, const char *json, size_t len)
{
	struct collect *c = arg;
	json_t *doc;
	int rc = parse_doc(json, len, &doc);
	if (!rc && json_array_append_new(c->docs, doc))
		rc = -ENOMEM;
	return rc;
}

/*
 * Every document of a table (user NULL) or of one user, in key order. Inside
 * a write transaction this is the state that transaction started from (see
 * directory.h), so scan before writing.
 */
static int scan(struct store *s, enum store_table tab, const char *user, json_t **out,
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
		return store_fail(e, rc);
	}
	*out = c.docs;
	return 0;
}

static uint64_t doc_id(const json_t *doc)
{
	return (uint64_t)json_integer_value(json_object_get(doc, "id"));
}

/* ---- users ---- */

int directory_user_add(struct store *s, const json_t *in, json_t **out, struct directory_error *e)
{
	json_t *doc = NULL;
	struct store_txn *t;
	int rc = user_from_input(in, &doc, e);
	if (rc)
		return rc;
	const char *name = json_string_value(json_object_get(doc, "name"));
	if ((rc = store_begin(s, &t))) {
		json_decref(doc);
		return store_fail(e, rc);
	}
	json_t *old = NULL;
	rc = load_doc(t, STORE_USERS, name, strlen(name), &old);
	if (!rc) {
		json_decref(old);
		rc = directory_fail(e, 409, "user '%s' already exists", name);
	} else if (rc == -ENOENT) {
		rc = save_doc(t, STORE_USERS, name, strlen(name), doc);
		rc = rc ? store_fail(e, rc) : 0;
	} else {
		rc = store_fail(e, rc);
	}
	if ((rc = finish(t, rc, e)))
		json_decref(doc);
	else
		*out = doc;
	return rc;
}

int directory_user_get(struct store *s, const char *name, json_t **out, struct directory_error *e)
{
	struct buf b = BUF_INIT;
	int rc = check_user_name(name, e);
	if (rc)
		return rc;
	rc = store_doc_get(s, STORE_USERS, name, strlen(name), &b);
	if (!rc)
		rc = parse_doc(b.data, b.len, out);
	buf_release(&b);
	if (rc == -ENOENT)
		return directory_fail(e, 404, "no user '%s'", name);
	return rc ? store_fail(e, rc) : 0;
}

int directory_user_list(struct store *s, json_t **out, struct directory_error *e)
{
	return scan(s, STORE_USERS, NULL, out, e);
}

/* Delete every record of `user` in one table; *n counts them. */
static int delete_records(struct store *s, struct store_txn *t, enum store_table tab,
			  const char *user, size_t *n, struct directory_error *e)
{
	json_t *docs, *doc;
	size_t i;
	int rc = scan(s, tab, user, &docs, e);
	if (rc)
		return rc;
	json_array_foreach(docs, i, doc) {
		struct rec_key k;
		rec_key(&k, user, doc_id(doc));
		if ((rc = store_doc_del(t, tab, k.b, k.len))) {
			rc = store_fail(e, rc);
			break;
		}
	}
	*n = json_array_size(docs);
	json_decref(docs);
	return rc;
}

int directory_user_del(struct store *s, const char *name, json_t **out, struct directory_error *e)
{
	struct store_txn *t;
	size_t n_dests = 0, n_subs = 0;
	int rc = check_user_name(name, e);
	if (rc)
		return rc;
	if ((rc = store_begin(s, &t)))
		return store_fail(e, rc);
	if (!(rc = user_exists(t, name, e)) &&
	    !(rc = delete_records(s, t, STORE_SUBS, name, &n_subs, e)) &&
	    !(rc = delete_records(s, t, STORE_DESTS, name, &n_dests, e)) &&
	    (rc = store_doc_del(t, STORE_USERS, name, strlen(name))))
		rc = store_fail(e, rc);
	if ((rc = finish(t, rc, e)))
		return rc;
	*out = json_pack("{s:s, s:I, s:I}", "deleted", name, "destinations", (json_int_t)n_dests,
			 "subscriptions", (json_int_t)n_subs);
	return 0;
}

static int set_list(json_t *user, const char *list, json_t *norm, struct directory_error *e)
{
	json_t *lists = json_object_get(user, "lists");
	if (!json_is_object(lists))
		return directory_fail(e, 500, "store: user document without lists");
	if (!json_array_size(norm)) {
		json_object_del(lists, list);
		return 0;
	}
	if (!json_object_get(lists, list) && json_object_size(lists) >= DIRECTORY_LISTS_MAX)
		return directory_fail(e, 409, "user '%s' already has %d lists, the most allowed",
				      json_string_value(json_object_get(user, "name")),
				      DIRECTORY_LISTS_MAX);
	if (json_object_set(lists, list, norm))
		return directory_fail(e, 500, "out of memory");
	return 0;
}

int directory_user_set_list(struct store *s, const char *name, const char *list,
			    const json_t *items, json_t **out, struct directory_error *e)
{
	json_t *norm = NULL, *user = NULL;
	struct store_txn *t;
	int rc;
	if ((rc = check_user_name(name, e)) || (rc = check_list_name(list, e)) ||
	    (rc = normalize_list(list, items, &norm, e)))
		return rc;
	if ((rc = store_begin(s, &t))) {
		json_decref(norm);
		return store_fail(e, rc);
	}
	if (!(rc = load_user(t, name, &user, e)) && !(rc = set_list(user, list, norm, e)) &&
	    (rc = save_doc(t, STORE_USERS, name, strlen(name), user)))
		rc = store_fail(e, rc);
	json_decref(norm);
	if ((rc = finish(t, rc, e)))
		json_decref(user);
	else
		*out = user;
	return rc;
}

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
	if (!valid_word(json_string_value(sink), DIRECTORY_SINK_MAX))
		return directory_fail(e, 400, "sink '%s': expected 1 to %d of a-z, 0-9, '_' and '-'",
				      shown(json_string_value(sink), b, sizeof b),
				      DIRECTORY_SINK_MAX);
	if (!addr)
		return directory_fail(e, 400, "destination: \"address\" is required (a string)");
	if ((rc = check_text(addr, "address", 1, DIRECTORY_ADDRESS_MAX, e)))
		return rc;
	*out = json_pack("{s:I, s:s, s:O, s:O, s:b, s:b, s:n}", "id", (json_int_t)0, "user", user,
			 "sink", sink, "address", addr, "verified", 0, "paused", 0,
			 "paused_reason");
	return *out ? 0 : directory_fail(e, 500, "out of memory");
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
		return store_fail(e, rc);
	if (n >= max)
		return directory_fail(e, 409, "user '%s' already has %zu %ss, the most allowed",
				      user, n, noun(tab));
	return 0;
}

/* Store a new record under a fresh id (written into the document). */
static int add_rec(struct store *s, struct store_txn *t, enum store_table tab, const char *user,
		   json_t *doc, size_t quota, struct directory_error *e)
{
	uint64_t id;
	int rc;
	if ((rc = user_exists(t, user, e)) || (rc = check_quota(s, tab, user, quota, e)))
		return rc;
	if ((rc = store_next_id(t, &id)))
		return store_fail(e, rc);
	if (json_object_set_new(doc, "id", json_integer((json_int_t)id)))
		return directory_fail(e, 500, "out of memory");
	return save_rec(t, tab, user, id, doc, e);
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
	if ((rc = check_user_name(user, e)) || (rc = dest_from_input(user, in, &doc, e)))
		return rc;
	if ((rc = check_sink(sinks, doc, e))) {
		json_decref(doc);
		return rc;
	}
	if ((rc = store_begin(s, &t))) {
		json_decref(doc);
		return store_fail(e, rc);
	}
	rc = add_rec(s, t, STORE_DESTS, user, doc, DIRECTORY_DESTS_PER_USER, e);
	if ((rc = finish(t, rc, e)))
		json_decref(doc);
	else
		*out = doc;
	return rc;
}

/* All of a user's records in one table, 404 for an unknown user. */
static int list_recs(struct store *s, enum store_table tab, const char *user, json_t **out,
		     struct directory_error *e)
{
	json_t *doc;
	int rc = directory_user_get(s, user, &doc, e);
	if (rc)
		return rc;
	json_decref(doc);
	return scan(s, tab, user, out, e);
}

int directory_dest_get(struct store *s, const char *user, uint64_t id, json_t **out,
		       struct directory_error *e)
{
	struct rec_key k;
	struct buf b = BUF_INIT;
	int rc = check_user_name(user, e);
	if (rc)
		return rc;
	rec_key(&k, user, id);
	rc = store_doc_get(s, STORE_DESTS, k.b, k.len, &b);
	if (!rc)
		rc = parse_doc(b.data, b.len, out);
	buf_release(&b);
	if (rc == -ENOENT)
		return directory_fail(e, 404, "user '%s' has no destination %llu", user,
				      (unsigned long long)id);
	return rc ? store_fail(e, rc) : 0;
}

int directory_dest_paused_txn(struct store_txn *t, const char *user, uint64_t id, bool *paused,
			      bool *verified)
{
	struct rec_key k;
	json_t *doc;
	if (!directory_valid_user_name(user))
		return -EINVAL;
	rec_key(&k, user, id);
	int rc = load_doc(t, STORE_DESTS, k.b, k.len, &doc);
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
	return list_recs(s, STORE_DESTS, user, out, e);
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
	int rc = scan(s, STORE_SUBS, user, &subs, e);
	if (rc)
		return rc;
	json_array_foreach(subs, i, sub) {
		if (!sub_uses(sub, dest))
			continue;
		const char *label = json_string_value(json_object_get(sub, "name"));
		buf_printf(&names, "%s%llu", n++ ? ", " : "", (unsigned long long)doc_id(sub));
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

static int del_rec(struct store_txn *t, enum store_table tab, const char *user, uint64_t id,
		   struct directory_error *e)
{
	struct rec_key k;
	rec_key(&k, user, id);
	int rc = store_doc_del(t, tab, k.b, k.len);
	if (rc == -ENOENT)
		return directory_fail(e, 404, "user '%s' has no %s %llu", user, noun(tab),
				      (unsigned long long)id);
	return rc ? store_fail(e, rc) : 0;
}

static int deleted(uint64_t id, json_t **out, struct directory_error *e)
{
	*out = json_pack("{s:I}", "deleted", (json_int_t)id);
	return *out ? 0 : directory_fail(e, 500, "out of memory");
}

int directory_dest_del(struct store *s, const char *user, uint64_t id, json_t **out,
		       struct directory_error *e)
{
	struct store_txn *t;
	int rc = check_user_name(user, e);
	if (rc)
		return rc;
	if ((rc = store_begin(s, &t)))
		return store_fail(e, rc);
	if (!(rc = user_exists(t, user, e)) && !(rc = check_unused(s, user, id, e)))
		rc = del_rec(t, STORE_DESTS, user, id, e);
	if ((rc = finish(t, rc, e)))
		return rc;
	return deleted(id, out, e);
}

/* Load a record, let `edit` change it, store it back; *out is the result. */
typedef int (*edit_fn)(json_t *doc, const void *arg, struct directory_error *e);

static int edit_rec(struct store *s, enum store_table tab, const char *user, uint64_t id,
		    edit_fn edit, const void *arg, json_t **out, struct directory_error *e)
{
	json_t *doc = NULL;
	struct store_txn *t;
	int rc = check_user_name(user, e);
	if (rc)
		return rc;
	if ((rc = store_begin(s, &t)))
		return store_fail(e, rc);
	if (!(rc = user_exists(t, user, e)) && !(rc = load_rec(t, tab, user, id, &doc, e)) &&
	    !(rc = edit(doc, arg, e)))
		rc = save_rec(t, tab, user, id, doc, e);
	if ((rc = finish(t, rc, e)))
		json_decref(doc);
	else
		*out = doc;
	return rc;
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
	    (rc = check_text(reason, "reason", 1, DIRECTORY_REASON_MAX, e)))
		return rc;
	return edit_rec(s, STORE_DESTS, user, id, set_paused, reason ? reason : json_null(), out,
			e);
}

int directory_dest_resume(struct store *s, const char *user, uint64_t id, json_t **out,
			  struct directory_error *e)
{
	return edit_rec(s, STORE_DESTS, user, id, set_paused, NULL, out, e);
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
	return edit_rec(s, STORE_DESTS, user, id, set_verified, NULL, out, e);
}

/* ---- the filter's view of a user ---- */

int directory_user_view_init(const json_t *doc, struct directory_user_view *v)
{
	const json_t *lists = json_object_get(doc, "lists"), *items;
	const char *k;
	size_t n_items = 0, n_lists = json_object_size(lists), li = 0, ii = 0, j;
	json_t *it;
	memset(v, 0, sizeof *v);
	v->user.name = json_string_value(json_object_get(doc, "name"));
	json_object_foreach((json_t *)lists, k, items)
		n_items += json_array_size(items);
	v->lists = calloc(n_lists ? n_lists : 1, sizeof *v->lists);
	v->items = calloc(n_items ? n_items : 1, sizeof *v->items);
	if (!v->lists || !v->items)
		return -ENOMEM;
	json_object_foreach((json_t *)lists, k, items) {
		struct filter_list *l = &v->lists[li++];
		l->name = k;
		l->items = v->items + ii;
		json_array_foreach(items, j, it)
			if (json_is_string(it))
				v->items[ii + l->n++] = json_string_value(it);
		/* Saved sorted; sorting again costs little and keeps a filter's
		 * binary search right whatever wrote the document. */
		qsort(v->items + ii, l->n, sizeof *v->items, cmp_str);
		ii += l->n;
	}
	v->user.lists = v->lists;
	v->user.n_lists = li;
	return 0;
}

void directory_user_view_release(struct directory_user_view *v)
{
	free(v->lists);
	free(v->items);
	memset(v, 0, sizeof *v);
}

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
	if (name && (rc = check_text(name, "name", 1, DIRECTORY_SUB_NAME_MAX, e)))
		return rc;
	if (!filter)
		return directory_fail(e, 400, "subscription: \"filter\" is required (a string)");
	if ((rc = check_text(filter, "filter", 1, FILTER_MAX_SOURCE, e)) ||
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
	static const char *const owned[] = {"id", "user", "slow", NULL};
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
		int rc = load_rec(t, STORE_DESTS, user, id, &dest, e);
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
	if ((rc = check_user_name(user, e)) || (rc = sub_from_input(user, in, &doc, e)))
		return rc;
	if ((rc = store_begin(s, &t))) {
		json_decref(doc);
		return store_fail(e, rc);
	}
	/* 404 for the user first, then the destinations. */
	if (!(rc = user_exists(t, user, e)) && !(rc = check_dests_exist(t, user, doc, e)))
		rc = add_rec(s, t, STORE_SUBS, user, doc, DIRECTORY_SUBS_PER_USER, e);
	if ((rc = finish(t, rc, e)))
		json_decref(doc);
	else
		*out = doc;
	return rc;
}

int directory_sub_list(struct store *s, const char *user, json_t **out, struct directory_error *e)
{
	return list_recs(s, STORE_SUBS, user, out, e);
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
	rec_key(&k, user, id);
	rc = store_doc_get(s, STORE_SUBS, k.b, k.len, &b);
	if (!rc)
		rc = parse_doc(b.data, b.len, &doc);
	buf_release(&b);
	if (rc)
		json_decref(u);
	if (rc == -ENOENT)
		return directory_fail(e, 404, "user '%s' has no subscription %llu", user,
				      (unsigned long long)id);
	if (rc)
		return store_fail(e, rc);
	const char *src = json_string_value(json_object_get(doc, "filter"));
	int kind = src ? index_kind(src, u) : FILTER_SLOW;
	json_decref(u);
	if (json_object_set_new(doc, "slow", json_boolean(kind == FILTER_SLOW)) ||
	    json_object_set_new(doc, "never", json_boolean(kind == FILTER_NEVER))) {
		json_decref(doc);
		return directory_fail(e, 500, "out of memory");
	}
	*out = doc;
	return 0;
}

int directory_sub_del(struct store *s, const char *user, uint64_t id, json_t **out,
		      struct directory_error *e)
{
	struct store_txn *t;
	int rc = check_user_name(user, e);
	if (rc)
		return rc;
	if ((rc = store_begin(s, &t)))
		return store_fail(e, rc);
	if (!(rc = user_exists(t, user, e)))
		rc = del_rec(t, STORE_SUBS, user, id, e);
	if ((rc = finish(t, rc, e)))
		return rc;
	return deleted(id, out, e);
}

static int set_enabled(json_t *doc, const void *arg, struct directory_error *e)
{
	if (json_object_set_new(doc, "enabled", json_boolean(*(const bool *)arg)))
		return directory_fail(e, 500, "out of memory");
	return 0;
}

int directory_sub_set_enabled(struct store *s, const char *user, uint64_t id, bool enabled,
			      json_t **out, struct directory_error *e)
{
	return edit_rec(s, STORE_SUBS, user, id, set_enabled, &enabled, out, e);
}
