/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * directory: users as validated JSON documents over the store (see
 * directory.h): the checks on names, lists, quiet hours and time zones,
 * adding, changing and deleting a user with everything they own, and the
 * filter's view of a user. Each public function checks everything it can
 * before it opens a transaction, then reads, checks the cross-document
 * rules and writes inside one transaction. Not for HTTP or for matching;
 * destinations and subscriptions are directory_dest.c and directory_subs.c.
 */
#include "directory.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "filters/filter.h"
#include "directory_int.h"
#include "src/common/buf.h"
#include "store.h"
#include "usertoken.h"

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
bool directory_valid_word(const char *s, size_t max)
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
	return directory_valid_word(name, DIRECTORY_LIST_NAME_MAX);
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
		int rc =
		    directory_fail(e, 400, "%s: unknown key '%s' (known keys: %s)", what,
				   directory_shown(k, b, sizeof b), list.data ? list.data : "none");
		buf_release(&list);
		return rc;
	}
	return 0;
}

/* A string of min..max bytes without control characters (but see
 * has_control for the filter's newlines). */
int directory_check_text(const json_t *v, const char *what, size_t min, size_t max,
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

int directory_check_user_name(const char *name, struct directory_error *e)
{
	char b[80];
	if (directory_valid_user_name(name))
		return 0;
	return directory_fail(e, 400, "user name '%s': expected 1 to %d of a-z, 0-9, '.', '_' "
				      "and '-', starting with a letter or digit",
			      directory_shown(name, b, sizeof b), DIRECTORY_NAME_MAX);
}

static int check_list_name(const char *name, struct directory_error *e)
{
	char b[80];
	if (directory_valid_list_name(name))
		return 0;
	return directory_fail(e, 400, "list name '%s': expected 1 to %d of a-z, 0-9, '_' and '-'",
			      directory_shown(name, b, sizeof b), DIRECTORY_LIST_NAME_MAX);
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
		rc = directory_check_text(json_array_get(items, i), what, 1, DIRECTORY_ITEM_MAX, e);
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
				      directory_shown(json_string_value(tz), b, sizeof b),
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
	if ((rc = directory_check_user_name(json_string_value(name), e)))
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
		return directory_store_fail(e, rc);
	}
	json_t *old = NULL;
	rc = directory_doc_load(t, STORE_USERS, name, strlen(name), &old);
	if (!rc) {
		json_decref(old);
		rc = directory_fail(e, 409, "user '%s' already exists", name);
	} else if (rc == -ENOENT) {
		rc = directory_doc_save(t, STORE_USERS, name, strlen(name), doc);
		rc = rc ? directory_store_fail(e, rc) : 0;
	} else {
		rc = directory_store_fail(e, rc);
	}
	if ((rc = directory_finish(t, rc, e)))
		json_decref(doc);
	else
		*out = doc;
	return rc;
}

/* The settings a user may change on their record: quiet hours and time
 * zone. The name is the key and the lists have their own route. */
static int user_settings_check(const json_t *in, struct directory_error *e)
{
	static const char *const known[] = {"quiet_hours", "timezone", NULL};
	const json_t *quiet = json_object_get(in, "quiet_hours"), *tz = json_object_get(in, "timezone");
	int rc;
	if (!json_is_object(in))
		return directory_fail(e, 400, "expected a JSON object with quiet_hours and/or timezone");
	if ((rc = directory_check_keys(in, "user", known, NULL, e)))
		return rc;
	if (!quiet && !tz)
		return directory_fail(e, 400, "user: nothing to change (quiet_hours, timezone)");
	if (quiet && (rc = check_quiet_hours(quiet, e)))
		return rc;
	return tz ? check_timezone(tz, e) : 0;
}

int directory_user_update(struct store *s, const char *name, const json_t *in, json_t **out,
			  struct directory_error *e)
{
	json_t *user = NULL;
	struct store_txn *t;
	int rc;
	if ((rc = directory_check_user_name(name, e)) || (rc = user_settings_check(in, e)))
		return rc;
	if ((rc = store_begin(s, &t)))
		return directory_store_fail(e, rc);
	if (!(rc = directory_user_load(t, name, &user, e))) {
		const char *k;
		json_t *v;
		json_object_foreach((json_t *)in, k, v)
			if (json_object_set(user, k, v))
				rc = directory_fail(e, 500, "out of memory");
		if (!rc && (rc = directory_doc_save(t, STORE_USERS, name, strlen(name), user)))
			rc = directory_store_fail(e, rc);
	}
	if ((rc = directory_finish(t, rc, e)))
		json_decref(user);
	else
		*out = user;
	return rc;
}

int directory_user_get(struct store *s, const char *name, json_t **out, struct directory_error *e)
{
	struct buf b = BUF_INIT;
	int rc = directory_check_user_name(name, e);
	if (rc)
		return rc;
	rc = store_doc_get(s, STORE_USERS, name, strlen(name), &b);
	if (!rc)
		rc = directory_doc_parse(b.data, b.len, out);
	buf_release(&b);
	if (rc == -ENOENT)
		return directory_fail(e, 404, "no user '%s'", name);
	return rc ? directory_store_fail(e, rc) : 0;
}

int directory_user_list(struct store *s, json_t **out, struct directory_error *e)
{
	return directory_scan(s, STORE_USERS, NULL, out, e);
}

struct page {
	json_t *docs;
	size_t limit;
};

#define PAGE_FULL 1 /* stops the walk; not an error */

static int page_cb(void *arg, const void *key, size_t klen, const char *json, size_t len)
{
	struct page *p = arg;
	json_t *doc;
	int rc = directory_doc_parse(json, len, &doc);
	if (!rc && json_array_append_new(p->docs, doc))
		rc = -ENOMEM;
	return rc ? rc : json_array_size(p->docs) >= p->limit ? PAGE_FULL : 0;
}

int directory_user_page(struct store *s, const char *after, size_t limit, json_t **out,
			struct directory_error *e)
{
	struct page p = {json_array(), limit};
	if (!p.docs)
		return directory_fail(e, 500, "out of memory");
	int rc = store_doc_foreach_after(s, STORE_USERS, after ? after : "",
					 after ? strlen(after) : 0, page_cb, &p);
	if (rc < 0) {
		json_decref(p.docs);
		return directory_store_fail(e, rc);
	}
	*out = p.docs;
	return 0;
}

/* Delete every record of `user` in one table; *n counts them. */
static int delete_records(struct store *s, struct store_txn *t, enum store_table tab,
			  const char *user, size_t *n, struct directory_error *e)
{
	json_t *docs, *doc;
	size_t i;
	int rc = directory_scan(s, tab, user, &docs, e);
	if (rc)
		return rc;
	json_array_foreach(docs, i, doc) {
		struct rec_key k;
		directory_rec_key(&k, user, directory_doc_id(doc));
		if ((rc = store_doc_del(t, tab, k.b, k.len))) {
			rc = directory_store_fail(e, rc);
			break;
		}
	}
	*n = json_array_size(docs);
	json_decref(docs);
	return rc;
}

/* The user's pending verification codes (destcode.c keeps them keyed like
 * the destinations): they go with the destinations. */
static int delete_codes(struct store *s, struct store_txn *t, const char *user,
			struct directory_error *e)
{
	json_t *dests = NULL, *doc;
	size_t i;
	int rc = directory_scan(s, STORE_DESTS, user, &dests, e);
	json_array_foreach(dests, i, doc) {
		struct rec_key k;
		directory_rec_key(&k, user, directory_doc_id(doc));
		int r = store_doc_del(t, STORE_CODES, k.b, k.len);
		if (r && r != -ENOENT) {
			rc = directory_store_fail(e, r);
			break;
		}
	}
	json_decref(dests);
	return rc;
}

static int delete_tokens(struct store *s, struct store_txn *t, const char *user, size_t *n,
			 struct directory_error *e)
{
	int rc = usertoken_drop_user_txn(s, t, user, n);
	return rc ? directory_store_fail(e, rc) : 0;
}

int directory_user_del(struct store *s, const char *name, json_t **out, struct directory_error *e)
{
	struct store_txn *t;
	size_t n_dests = 0, n_subs = 0, n_tokens = 0;
	int rc = directory_check_user_name(name, e);
	if (rc)
		return rc;
	if ((rc = store_begin(s, &t)))
		return directory_store_fail(e, rc);
	if (!(rc = directory_user_exists(t, name, e)) &&
	    !(rc = delete_records(s, t, STORE_SUBS, name, &n_subs, e)) &&
	    !(rc = delete_codes(s, t, name, e)) &&
	    !(rc = delete_records(s, t, STORE_DESTS, name, &n_dests, e)) &&
	    !(rc = delete_tokens(s, t, name, &n_tokens, e)) &&
	    (rc = store_doc_del(t, STORE_USERS, name, strlen(name))))
		rc = directory_store_fail(e, rc);
	if ((rc = directory_finish(t, rc, e)))
		return rc;
	*out = json_pack("{s:s, s:I, s:I, s:I}", "deleted", name, "destinations",
			 (json_int_t)n_dests, "subscriptions", (json_int_t)n_subs, "tokens",
			 (json_int_t)n_tokens);
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
	if ((rc = directory_check_user_name(name, e)) || (rc = check_list_name(list, e)) ||
	    (rc = normalize_list(list, items, &norm, e)))
		return rc;
	if ((rc = store_begin(s, &t))) {
		json_decref(norm);
		return directory_store_fail(e, rc);
	}
	if (!(rc = directory_user_load(t, name, &user, e)) &&
	    !(rc = set_list(user, list, norm, e)) &&
	    (rc = directory_doc_save(t, STORE_USERS, name, strlen(name), user)))
		rc = directory_store_fail(e, rc);
	json_decref(norm);
	if ((rc = directory_finish(t, rc, e)))
		json_decref(user);
	else
		*out = user;
	return rc;
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
