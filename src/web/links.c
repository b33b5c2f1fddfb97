/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * links: signed unsubscribe and mute links, their key file and their pages
 * (see links.h). Not for routing them (the web listener) nor for what a
 * subscription is (directory.c).
 */
#define _GNU_SOURCE /* asprintf */
#include "links.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "src/common/b64url.h"
#include "src/common/be64.h"

#define VERSION 1
#define MAC_LEN 32
#define HEAD_LEN 19 /* version, action, expiry, subscription, name length */
#define PAYLOAD_MAX (HEAD_LEN + DIRECTORY_NAME_MAX)
#define TOKEN_MAX B64URL_LEN(PAYLOAD_MAX + MAC_LEN)

struct links {
	unsigned char key[LINKS_KEY_LEN];
	char *base; /* without a trailing '/' */
	long ttl_s;
};

enum action { ACT_NONE, ACT_UNSUBSCRIBE, ACT_MUTE };

static enum action action_of(const char *name)
{
	if (name && !strcmp(name, "unsubscribe"))
		return ACT_UNSUBSCRIBE;
	if (name && !strcmp(name, "mute"))
		return ACT_MUTE;
	return ACT_NONE;
}

/* ---- the key file ---- */

/* A regular file of exactly LINKS_KEY_LEN bytes only its owner can read. */
static int read_key(int fd, const char *path, unsigned char key[LINKS_KEY_LEN], char *err,
		    size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st))
		return snprintf(err, errlen, "links: %s: %s", path, strerror(errno)), -errno;
	if (!S_ISREG(st.st_mode))
		return snprintf(err, errlen, "links: %s: not a regular file", path), -EINVAL;
	if (st.st_mode & 077)
		return snprintf(err, errlen, "links: %s: mode %04o lets group or others read the "
					     "link key; run chmod 600 %s",
				path, (unsigned)(st.st_mode & 07777), path),
		       -EPERM;
	if (st.st_size != LINKS_KEY_LEN ||
	    read(fd, key, LINKS_KEY_LEN) != LINKS_KEY_LEN)
		return snprintf(err, errlen, "links: %s: expected exactly %d bytes", path,
				LINKS_KEY_LEN),
		       -EINVAL;
	return 0;
}

/* Write a fresh key to a temporary file and link it into place: readers
 * never see half a key, and when two start at once the first link wins
 * (EEXIST: the other's key is read back). */
static int create_key(const char *dir, const char *path, char *err, size_t errlen)
{
	unsigned char key[LINKS_KEY_LEN];
	char tmp[4096];
	int rc = 0, fd;
	if (snprintf(tmp, sizeof tmp, "%s/.link.key.XXXXXX", dir) >= (int)sizeof tmp)
		return snprintf(err, errlen, "links: state_dir path too long"), -ENAMETOOLONG;
	if (RAND_bytes(key, sizeof key) != 1)
		return snprintf(err, errlen, "links: no randomness for a key"), -EIO;
	if ((fd = mkstemp(tmp)) < 0) { /* mode 0600 */
		rc = -errno;
		snprintf(err, errlen, "links: cannot create %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write(fd, key, sizeof key) != (ssize_t)sizeof key || fsync(fd)) {
		rc = -EIO;
		snprintf(err, errlen, "links: cannot write %s: %s", tmp, strerror(errno));
	} else if (link(tmp, path) && errno != EEXIST) {
		rc = -errno;
		snprintf(err, errlen, "links: cannot create %s: %s", path, strerror(errno));
	}
	close(fd);
	unlink(tmp);
out:
	OPENSSL_cleanse(key, sizeof key);
	return rc;
}

static int load_key(const char *dir, unsigned char key[LINKS_KEY_LEN], char *err,
		    size_t errlen)
{
	char path[4096];
	int rc, fd;
	if (snprintf(path, sizeof path, "%s/link.key", dir) >= (int)sizeof path)
		return snprintf(err, errlen, "links: state_dir path too long"), -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT) {
		if ((rc = create_key(dir, path, err, errlen)))
			return rc;
		fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	}
	if (fd < 0)
		return snprintf(err, errlen, "links: %s: %s", path, strerror(errno)), -errno;
	rc = read_key(fd, path, key, err, errlen);
	close(fd);
	return rc;
}

int links_check(const char *state_dir, char *err, size_t errlen)
{
	unsigned char key[LINKS_KEY_LEN];
	char path[4096];
	int rc, fd;
	if (snprintf(path, sizeof path, "%s/link.key", state_dir) >= (int)sizeof path)
		return snprintf(err, errlen, "links: state_dir path too long"), -ENAMETOOLONG;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return errno == ENOENT ? 0
				       : (snprintf(err, errlen, "links: %s: %s", path, strerror(errno)),
					  -errno);
	rc = read_key(fd, path, key, err, errlen);
	close(fd);
	OPENSSL_cleanse(key, sizeof key);
	return rc;
}

int links_open(const char *state_dir, const char *base_url, long ttl_s, struct links **out,
	       char *err, size_t errlen)
{
	struct links *l = calloc(1, sizeof *l);
	size_t n = base_url ? strlen(base_url) : 0;
	int rc;
	*out = NULL;
	if (!l)
		return snprintf(err, errlen, "links: out of memory"), -ENOMEM;
	while (n && base_url[n - 1] == '/')
		n--;
	if (!n || ttl_s <= 0) {
		snprintf(err, errlen, "links: a base URL and a positive lifetime are needed");
		rc = -EINVAL;
	} else if (!(l->base = strndup(base_url, n))) {
		snprintf(err, errlen, "links: out of memory");
		rc = -ENOMEM;
	} else {
		rc = load_key(state_dir, l->key, err, errlen);
	}
	if (rc) {
		links_close(l);
		return rc;
	}
	l->ttl_s = ttl_s;
	*out = l;
	return 0;
}

void links_close(struct links *l)
{
	if (!l)
		return;
	OPENSSL_cleanse(l->key, sizeof l->key);
	free(l->base);
	free(l);
}

/* ---- tokens ---- */

static int mac(const struct links *l, const unsigned char *p, size_t n,
	       unsigned char out[MAC_LEN])
{
	unsigned int len = 0;
	if (!HMAC(EVP_sha256(), l->key, LINKS_KEY_LEN, p, n, out, &len) || len != MAC_LEN)
		return -EIO;
	return 0;
}

char *links_make(const struct links *l, const char *action, const char *user, uint64_t sub,
		 int64_t now_s)
{
	unsigned char raw[PAYLOAD_MAX + MAC_LEN];
	char token[TOKEN_MAX + 1], *url = NULL;
	enum action a = action_of(action);
	if (!l || !a || !user || !directory_valid_user_name(user))
		return NULL;
	size_t un = strlen(user), n = HEAD_LEN + un;
	raw[0] = VERSION;
	raw[1] = (unsigned char)a;
	put_be64(raw + 2, (uint64_t)(now_s + l->ttl_s));
	put_be64(raw + 10, sub);
	raw[18] = (unsigned char)un;
	memcpy(raw + HEAD_LEN, user, un);
	if (mac(l, raw, n, raw + n))
		return NULL;
	b64url_encode(raw, n + MAC_LEN, token);
	if (asprintf(&url, "%s/%s/%s", l->base, action, token) < 0)
		url = NULL;
	return url;
}

char *links_why(const struct links *l, const char *note_id)
{
	char *url = NULL;
	if (!l || !note_id || strlen(note_id) != 32 ||
	    strspn(note_id, "0123456789abcdef") != 32)
		return NULL;
	if (asprintf(&url, "%s/why.html?id=%s", l->base, note_id) < 0)
		url = NULL;
	return url;
}

int links_verify(const struct links *l, const char *action, const char *token, int64_t now_s,
		 char user[DIRECTORY_NAME_MAX + 1], uint64_t *sub)
{
	unsigned char raw[PAYLOAD_MAX + MAC_LEN], want[MAC_LEN];
	enum action a = action_of(action);
	size_t tlen = token ? strlen(token) : 0;
	long n = tlen <= TOKEN_MAX ? b64url_decode(token, tlen, raw, sizeof raw) : -EINVAL;
	if (!a || n < HEAD_LEN + 1 + MAC_LEN)
		return -EBADMSG;
	size_t plen = (size_t)n - MAC_LEN;
	/* The MAC first: nothing of an unsigned payload is looked at. */
	if (mac(l, raw, plen, want) || CRYPTO_memcmp(want, raw + plen, MAC_LEN))
		return -EBADMSG;
	if (raw[0] != VERSION || raw[1] != a || raw[18] != plen - HEAD_LEN)
		return -EBADMSG;
	memcpy(user, raw + HEAD_LEN, plen - HEAD_LEN);
	user[plen - HEAD_LEN] = '\0';
	if (!directory_valid_user_name(user))
		return -EBADMSG;
	uint64_t expiry = get_be64(raw + 2);
	if (now_s < 0 || (uint64_t)now_s >= expiry)
		return -ETIME;
	*sub = get_be64(raw + 10);
	return 0;
}

/* ---- pages ---- */

static int put_escaped(struct buf *b, const char *s)
{
	int rc = 0;
	for (; !rc && *s; s++) {
		switch (*s) {
		case '&': rc = buf_puts(b, "&amp;"); break;
		case '<': rc = buf_puts(b, "&lt;"); break;
		case '>': rc = buf_puts(b, "&gt;"); break;
		case '"': rc = buf_puts(b, "&quot;"); break;
		case '\'': rc = buf_puts(b, "&#39;"); break;
		default: rc = buf_putc(b, *s);
		}
	}
	return rc;
}

/* What a page says: a title, a paragraph (its %s parts escaped), and for a
 * confirmation the button. */
struct page {
	unsigned status;
	const char *title;
	const char *button;   /* NULL: no form */
	const char *web_link; /* NULL: no link to the web app */
};

static int page_begin(struct buf *b, const struct page *p)
{
	int rc = buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
			     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
			     "<meta name=\"referrer\" content=\"no-referrer\">\n"
			     /* the page is BASE/ACTION/TOKEN: this is BASE/css/, prefix or not */
			     "<link rel=\"stylesheet\" href=\"../css/herald.css\">\n<title>");
	if (!rc)
		rc = put_escaped(b, p->title);
	if (!rc)
		rc = buf_puts(b, " - herald</title>\n</head>\n<body>\n<main>\n<h1>");
	if (!rc)
		rc = put_escaped(b, p->title);
	return rc ? rc : buf_puts(b, "</h1>\n<p>");
}

/* The confirmation form posts back to this very URL (no action attribute),
 * with the RFC 8058 field, so it and a mail client's one-click POST are
 * the same request. */
static int page_end(struct buf *b, const struct page *p, const char *base)
{
	int rc = buf_puts(b, "</p>\n");
	if (!rc && p->button) {
		rc = buf_puts(b, "<form method=\"post\">\n<input type=\"hidden\" "
				 "name=\"List-Unsubscribe\" value=\"One-Click\">\n<button "
				 "type=\"submit\">");
		if (!rc)
			rc = put_escaped(b, p->button);
		if (!rc)
			rc = buf_puts(b, "</button>\n</form>\n");
	}
	if (!rc && p->web_link) {
		rc = buf_puts(b, "<p><a href=\"");
		if (!rc)
			rc = put_escaped(b, base);
		if (!rc)
			rc = buf_puts(b, "/\">");
		if (!rc)
			rc = put_escaped(b, p->web_link);
		if (!rc)
			rc = buf_puts(b, "</a></p>\n");
	}
	return rc ? rc : buf_puts(b, "</main>\n</body>\n</html>\n");
}

/* A page with one sentence: `text` with up to two escaped arguments. */
static int page(struct buf *b, const struct links *l, const struct page *p, unsigned *status,
		const char *text, const char *a1, const char *a2)
{
	const char *args[2] = {a1, a2};
	int rc = page_begin(b, p), k = 0;
	for (const char *s = text; !rc && *s; s++) {
		if (s[0] == '%' && s[1] == 's' && k < 2) {
			const char *a = args[k++];
			rc = put_escaped(b, a ? a : "");
			s++;
		} else {
			rc = buf_putc(b, *s);
		}
	}
	if (!rc)
		rc = page_end(b, p, l->base);
	*status = p->status;
	return rc;
}

static const char *sub_label(const json_t *sub, char *buf, size_t n)
{
	const char *name = json_string_value(json_object_get(sub, "name"));
	if (name && *name)
		snprintf(buf, n, "\u201c%s\u201d", name);
	else
		snprintf(buf, n, "number %lld", (long long)json_integer_value(json_object_get(sub, "id")));
	return buf;
}

static int bad_link(const struct links *l, int rc, unsigned *status, struct buf *out)
{
	static const struct page bad = {400, "This link is not valid", NULL, "Open herald"};
	static const struct page old = {410, "This link has expired", NULL, "Sign in to herald"};
	if (rc == -ETIME)
		return page(out, l, &old, status,
			    "Unsubscribe and mute links work for a limited time. Nothing was changed. "
			    "Use the link in a newer notification, or sign in to manage your "
			    "subscriptions.",
			    NULL, NULL);
	return page(out, l, &bad, status,
		    "This link was not made by this herald, or it was changed on the way. "
		    "Nothing was changed.",
		    NULL, NULL);
}

static int confirm(const struct links *l, bool mute, const char *label, const char *user,
		   unsigned *status, struct buf *out)
{
	static const struct page unsub = {200, "Unsubscribe?", "Unsubscribe", NULL};
	static const struct page quiet = {200, "Mute this subscription?", "Mute", NULL};
	if (mute)
		return page(out, l, &quiet, status,
			    "Mute the subscription %s of %s for 7 days? herald will send nothing for "
			    "it until then. Nothing changes until you press the button.",
			    label, user);
	return page(out, l, &unsub, status,
		    "Unsubscribe from the subscription %s of %s? It will be turned off and send "
		    "nothing more. Nothing changes until you press the button.",
		    label, user);
}

static int act(const struct links *l, const struct links_request *r, bool mute,
	       const char *user, uint64_t id, const char *label, unsigned *status,
	       struct buf *out)
{
	static const struct page unsub = {200, "Unsubscribed", NULL, "Sign in to turn it back on"};
	static const struct page quiet = {200, "Muted", NULL, "Sign in to change it"};
	static const struct page fail = {500, "Something went wrong", NULL, NULL};
	struct directory_error e = {0};
	json_t *doc = NULL;
	char until[64];
	int rc = mute ? directory_sub_mute(r->store, user, id, r->now_s + LINKS_MUTE_S, &doc, &e)
		      : directory_sub_set_enabled(r->store, user, id, false, &doc, &e);
	json_decref(doc);
	time_t t = (time_t)(r->now_s + LINKS_MUTE_S);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(until, sizeof until, "%Y-%m-%d %H:%M UTC", &tm))
		snprintf(until, sizeof until, "in 7 days");
	if (rc)
		return page(out, l, &fail, status,
			    "herald could not change the subscription (%s). Please try again later.",
			    e.msg, NULL);
	if (mute)
		return page(out, l, &quiet, status,
			    "The subscription %s is muted for 7 days: herald sends nothing for it "
			    "until %s, then it is back on by itself. You can turn it back on "
			    "sooner, or off for good, in the web app.",
			    label, until);
	return page(out, l, &unsub, status,
		    "You are unsubscribed: the subscription %s of %s is turned off. You can turn "
		    "it back on in the web app.",
		    label, user);
}

int links_page(const struct links *l, const struct links_request *r, unsigned *status,
	       struct buf *out)
{
	static const struct page gone = {410, "This subscription no longer exists", NULL,
					 "Sign in to herald"};
	static const struct page method = {405, "Method not allowed", NULL, NULL};
	static const struct page fail = {500, "Something went wrong", NULL, NULL};
	char user[DIRECTORY_NAME_MAX + 1], label[DIRECTORY_SUB_NAME_MAX * 2 + 16];
	struct directory_error e = {0};
	json_t *sub = NULL;
	uint64_t id = 0;
	bool get = !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD");
	if (!get && strcmp(r->method, "POST"))
		return page(out, l, &method, status, "Use the link, or the button on its page.",
			    NULL, NULL);
	int rc = links_verify(l, r->action, r->token, r->now_s, user, &id);
	if (rc)
		return bad_link(l, rc, status, out);
	if ((rc = directory_sub_get(r->store, user, id, &sub, &e)))
		return e.status == 404
			       ? page(out, l, &gone, status,
				      "The subscription this link is for was deleted. Nothing was "
				      "changed.",
				      NULL, NULL)
			       : page(out, l, &fail, status,
				      "herald could not read the subscription (%s). Please try again "
				      "later.",
				      e.msg, NULL);
	sub_label(sub, label, sizeof label);
	json_decref(sub);
	bool mute = !strcmp(r->action, "mute");
	if (get)
		return confirm(l, mute, label, user, status, out);
	return act(l, r, mute, user, id, label, status, out);
}
