/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for links (signed unsubscribe and mute links): the key file
 * (created 0600, refused when others can read it or it has the wrong size,
 * the same key on the next open), make and verify (every field of a token
 * tampered with, a foreign key, the expiry exactly at the boundary, the
 * wrong action), and the pages on a real store: GET changes nothing, POST
 * disables, a forged, expired or deleted-subscription link changes nothing,
 * and a subscription's name cannot inject markup.
 */
#include "src/web/links.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "src/common/b64url.h"
#include "src/daemon/store.h"
#include "tests/unit/tap.h"

#define BASE "https://herald.example.org/h"
#define TTL 100

static char dir[] = "/tmp/herald-test-links-XXXXXX";
static struct store *S;

static char *token_of(const char *url, const char *action)
{
	char prefix[200];
	snprintf(prefix, sizeof prefix, "%s/%s/", BASE, action);
	return url && !strncmp(url, prefix, strlen(prefix)) ? strdup(url + strlen(prefix)) : NULL;
}

static void key_file(void)
{
	char err[300] = "", path[400], sub[300];
	struct links *l = NULL, *again = NULL;
	struct stat st;
	snprintf(path, sizeof path, "%s/link.key", dir);
	ok(links_open(dir, BASE "/", TTL, &l, err, sizeof err) == 0, "open creates a key (%s)", err);
	ok(!stat(path, &st) && (st.st_mode & 0777) == 0600 && st.st_size == LINKS_KEY_LEN,
	   "link.key: 32 bytes, mode 0600");
	char *u1 = links_make(l, "unsubscribe", "alice", 7, 1000);
	ok(links_open(dir, BASE, TTL, &again, err, sizeof err) == 0, "open again");
	char *u2 = links_make(again, "unsubscribe", "alice", 7, 1000);
	ok(u1 && u2 && !strcmp(u1, u2), "the second open reads the same key: the same link");
	ok(u1 && !strncmp(u1, BASE "/unsubscribe/", strlen(BASE "/unsubscribe/")),
	   "a trailing '/' of the base URL is dropped: %s", u1 ? u1 : "(null)");
	free(u1);
	free(u2);
	links_close(again);
	links_close(l);

	chmod(path, 0640);
	ok(links_open(dir, BASE, TTL, &l, err, sizeof err) == -EPERM &&
		   strstr(err, "mode 0640 lets group or others read the link key"),
	   "a key others can read is refused: %s", err);
	chmod(path, 0600);
	snprintf(sub, sizeof sub, "%s/short", dir);
	mkdir(sub, 0700);
	snprintf(path, sizeof path, "%s/link.key", sub);
	FILE *f = fopen(path, "w");
	fputs("short", f);
	fclose(f);
	chmod(path, 0600);
	ok(links_open(sub, BASE, TTL, &l, err, sizeof err) == -EINVAL &&
		   strstr(err, "exactly 32 bytes"),
	   "a key of the wrong size is refused: %s", err);
	ok(links_open(dir, "", TTL, &l, err, sizeof err) == -EINVAL &&
		   links_open(dir, BASE, 0, &l, err, sizeof err) == -EINVAL,
	   "no base URL or no lifetime: refused");
}

/* Decode, let `edit` change the raw bytes, encode again. */
static char *retoken(const char *tok, size_t at, unsigned char x)
{
	unsigned char raw[256];
	long n = b64url_decode(tok, strlen(tok), raw, sizeof raw);
	char *out = malloc(B64URL_LEN(sizeof raw) + 1);
	if (n < 0 || !out || at >= (size_t)n) {
		free(out);
		return NULL;
	}
	raw[at] ^= x;
	b64url_encode(raw, (size_t)n, out);
	return out;
}

static void make_verify(struct links *l)
{
	char user[DIRECTORY_NAME_MAX + 1], err[300];
	uint64_t sub = 0;
	char *url = links_make(l, "unsubscribe", "alice", 42, 1000);
	char *tok = token_of(url, "unsubscribe");
	ok(tok && links_verify(l, "unsubscribe", tok, 1000, user, &sub) == 0 &&
		   !strcmp(user, "alice") && sub == 42,
	   "a fresh link verifies: alice, subscription 42");
	ok(links_verify(l, "unsubscribe", tok, 1000 + TTL - 1, user, &sub) == 0,
	   "one second before its expiry it still works");
	ok(links_verify(l, "unsubscribe", tok, 1000 + TTL, user, &sub) == -ETIME,
	   "at its expiry second it has expired");
	ok(links_verify(l, "mute", tok, 1000, user, &sub) == -EBADMSG,
	   "an unsubscribe token under /mute is refused");
	ok(links_verify(l, "delete", tok, 1000, user, &sub) == -EBADMSG, "an unknown action too");

	/* Every byte of the token, each field of the payload and the MAC. */
	const char *field[] = {"version", "action", "expiry", "expiry", "expiry", "expiry",
			       "expiry", "expiry", "expiry", "expiry", "subscription",
			       "subscription", "subscription", "subscription", "subscription",
			       "subscription", "subscription", "subscription", "name length"};
	unsigned char raw[256];
	long n = b64url_decode(tok, strlen(tok), raw, sizeof raw);
	int refused = 0, total = 0;
	for (long i = 0; i < n; i++) {
		for (unsigned bit = 1; bit < 256; bit <<= 1) {
			char *t = retoken(tok, (size_t)i, (unsigned char)bit);
			total++;
			refused += t && links_verify(l, "unsubscribe", t, 1000, user, &sub) == -EBADMSG;
			free(t);
		}
	}
	ok(n == 19 + 5 + 32 && refused == total,
	   "every bit of every field flipped (%s .. user name .. MAC): %d of %d refused",
	   field[0], refused, total);
	char *longer = malloc(strlen(tok) + 3), *shorter = strdup(tok);
	sprintf(longer, "%sAA", tok);
	shorter[strlen(shorter) - 2] = '\0';
	ok(links_verify(l, "unsubscribe", longer, 1000, user, &sub) == -EBADMSG &&
		   links_verify(l, "unsubscribe", shorter, 1000, user, &sub) == -EBADMSG &&
		   links_verify(l, "unsubscribe", "", 1000, user, &sub) == -EBADMSG &&
		   links_verify(l, "unsubscribe", "not base64!", 1000, user, &sub) == -EBADMSG &&
		   links_verify(l, "unsubscribe", NULL, 1000, user, &sub) == -EBADMSG,
	   "longer, shorter, empty, non-base64 and missing tokens are refused");
	free(longer);
	free(shorter);

	/* Another deployment's key: its links are forgeries here. */
	char other[] = "/tmp/herald-test-links2-XXXXXX", cmd[300];
	struct links *o = NULL;
	if (mkdtemp(other) && !links_open(other, BASE, TTL, &o, err, sizeof err)) {
		char *ou = links_make(o, "unsubscribe", "alice", 42, 1000);
		char *ot = token_of(ou, "unsubscribe");
		ok(ot && links_verify(l, "unsubscribe", ot, 1000, user, &sub) == -EBADMSG,
		   "a link signed with another key is refused");
		free(ou);
		free(ot);
		links_close(o);
	}
	snprintf(cmd, sizeof cmd, "rm -rf %s", other);
	if (system(cmd))
		diag("could not remove %s", other);

	char *mute = links_make(l, "mute", "bob", 1, 5000);
	char *mt = token_of(mute, "mute");
	ok(mt && links_verify(l, "mute", mt, 5000, user, &sub) == 0 && !strcmp(user, "bob") &&
		   sub == 1 && links_verify(l, "unsubscribe", mt, 5000, user, &sub) == -EBADMSG,
	   "a mute link is a mute link only");
	ok(!links_make(l, "unsubscribe", "Not A Name", 1, 0) && !links_make(l, "x", "alice", 1, 0),
	   "no link for an invalid user name or an unknown action");
	char *why = links_why(l, "0123456789abcdef0123456789abcdef");
	ok(why && !strcmp(why, BASE "/why.html?id=0123456789abcdef0123456789abcdef") &&
		   !links_why(l, "x\r\nInjected: 1"),
	   "the why link: %s; none for an id that is not 32 hex digits", why ? why : "(null)");
	free(why);
	free(mute);
	free(mt);
	free(url);
	free(tok);
}

/* ---- pages, on a real store ---- */

static json_t *J(const char *text)
{
	return json_loads(text, 0, NULL);
}

static uint64_t setup_sub(const char *user, const char *name)
{
	struct directory_error e = {0};
	char body[300];
	json_t *out = NULL, *in;
	snprintf(body, sizeof body, "{\"name\": \"%s\"}", user);
	in = J(body);
	directory_user_add(S, in, &out, &e);
	json_decref(in);
	json_decref(out);
	in = J("{\"sink\": \"file\", \"address\": \"x\"}");
	directory_dest_add(S, user, in, NULL, &out, &e);
	json_decref(in);
	uint64_t dest = (uint64_t)json_integer_value(json_object_get(out, "id"));
	json_decref(out);
	json_t *sub = json_pack("{s:s, s:[I], s:s}", "filter", "topic == \"x\"", "destinations",
				(json_int_t)dest, "name", name);
	if (directory_sub_add(S, user, sub, &out, &e))
		diag("sub add: %s", e.msg);
	json_decref(sub);
	uint64_t id = (uint64_t)json_integer_value(json_object_get(out, "id"));
	json_decref(out);
	return id;
}

static bool enabled(const char *user, uint64_t id)
{
	struct directory_error e = {0};
	json_t *doc = NULL;
	bool on = !directory_sub_get(S, user, id, &doc, &e) &&
		  json_is_true(json_object_get(doc, "enabled"));
	json_decref(doc);
	return on;
}

static unsigned call(struct links *l, const char *method, const char *action, const char *tok,
		     int64_t now, struct buf *out)
{
	struct links_request r = {method, action, tok, S, now};
	unsigned status = 0;
	buf_reset(out);
	if (links_page(l, &r, &status, out))
		return 0;
	return status;
}

static void pages(struct links *l)
{
	struct buf page = BUF_INIT;
	uint64_t id = setup_sub("carol", "<script>alert(1)</script> & <img src=x onerror=alert(2)>");
	uint64_t gen;
	char *url = links_make(l, "unsubscribe", "carol", id, 1000);
	char *tok = token_of(url, "unsubscribe");

	gen = store_doc_generation(S);
	ok(call(l, "GET", "unsubscribe", tok, 1000, &page) == 200 && enabled("carol", id) &&
		   store_doc_generation(S) == gen,
	   "GET shows a confirmation and changes nothing");
	ok(page.data && strstr(page.data, "<form method=\"post\">") &&
		   strstr(page.data, "name=\"List-Unsubscribe\" value=\"One-Click\"") &&
		   !strstr(page.data, "action="),
	   "the confirmation's form posts the one-click field back to the same URL");
	ok(page.data && !strstr(page.data, "<script") && !strstr(page.data, "<img") &&
		   strstr(page.data, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;img") &&
		   !strstr(page.data, "<style") && !strstr(page.data, "style=") &&
		   strstr(page.data, "<link rel=\"stylesheet\" href=\"../css/herald.css\">") &&
		   !strstr(page.data, "http://") &&
		   strstr(page.data, "<meta name=\"referrer\" content=\"no-referrer\">"),
	   "the subscription's name is escaped; no script, inline style or outside resource (the site's stylesheet only)");
	ok(call(l, "HEAD", "unsubscribe", tok, 1000, &page) == 200 && enabled("carol", id),
	   "HEAD changes nothing either");

	ok(call(l, "POST", "unsubscribe", tok, 1999, &page) == 410 && enabled("carol", id) &&
		   strstr(page.data, "expired"),
	   "an expired link: 410, nothing changed");
	char *forged = retoken(tok, 12, 1); /* another subscription id */
	ok(call(l, "POST", "unsubscribe", forged, 1000, &page) == 400 && enabled("carol", id) &&
		   strstr(page.data, "not valid"),
	   "a tampered link: 400, nothing changed");
	free(forged);
	ok(call(l, "POST", "mute", tok, 1000, &page) == 400 && enabled("carol", id),
	   "the unsubscribe token on /mute: 400, nothing changed");
	ok(call(l, "DELETE", "unsubscribe", tok, 1000, &page) == 405 && enabled("carol", id),
	   "other methods: 405");

	ok(call(l, "POST", "unsubscribe", tok, 1000, &page) == 200 && !enabled("carol", id) &&
		   strstr(page.data, "unsubscribed") && strstr(page.data, "href=\"" BASE "/\""),
	   "POST unsubscribes (the subscription is disabled) and links to the web app");
	ok(call(l, "POST", "unsubscribe", tok, 1000, &page) == 200 && !enabled("carol", id),
	   "a second POST (a retrying mail client) is harmless");

	uint64_t id2 = setup_sub("dave", "releases");
	char *murl = links_make(l, "mute", "dave", id2, 1000);
	char *mtok = token_of(murl, "mute");
	ok(call(l, "GET", "mute", mtok, 1000, &page) == 200 && enabled("dave", id2) &&
		   strstr(page.data, "Mute"),
	   "GET on a mute link: a confirmation, nothing changed");
	ok(call(l, "POST", "mute", mtok, 1000, &page) == 200 && !enabled("dave", id2) &&
		   strstr(page.data, "muted for 7 days") && strstr(page.data, "1970-01-08 00:16 UTC"),
	   "POST mutes it for 7 days (disabled, the page says until when)");
	json_t *doc = NULL;
	struct directory_error de = {0};
	ok(!directory_sub_get(S, "dave", id2, &doc, &de) &&
		   json_integer_value(json_object_get(doc, "muted_until")) == 1000 + LINKS_MUTE_S &&
		   !strcmp(json_string_value(json_object_get(doc, "state")), "muted"),
	   "the subscription shows muted_until and the state \"muted\"");
	json_decref(doc);
	ok(directory_unmute_due(S, 1000 + LINKS_MUTE_S - 1, 10) == 0 && !enabled("dave", id2),
	   "a second before the time it is still muted");
	ok(directory_unmute_due(S, 1000 + LINKS_MUTE_S, 10) == 1 && enabled("dave", id2),
	   "at the time it is back on by itself");
	ok(!directory_sub_get(S, "dave", id2, &doc, &de) &&
		   !json_object_get(doc, "muted_until") &&
		   !strcmp(json_string_value(json_object_get(doc, "state")), "active"),
	   "active again, without muted_until");
	json_decref(doc);
	ok(directory_unmute_due(S, 1000 + 2 * LINKS_MUTE_S, 10) == 0, "nothing is due twice");

	/* The owner's word ends a mute: muted, enabled, disabled by hand -> the
	 * mute's time passing does not turn it on. */
	char *m2 = links_make(l, "mute", "dave", id2, 2000);
	char *m2t = token_of(m2, "mute");
	json_t *o = NULL;
	call(l, "POST", "mute", m2t, 2000, &page);
	directory_sub_set_enabled(S, "dave", id2, true, &o, &de);
	json_decref(o);
	directory_sub_set_enabled(S, "dave", id2, false, &o, &de);
	json_decref(o);
	ok(directory_unmute_due(S, 2000 + LINKS_MUTE_S, 10) == 0 && !enabled("dave", id2) &&
		   directory_unmute_due(S, 3000 + LINKS_MUTE_S, 10) == 0,
	   "a mute ended by the owner: its entry goes, the subscription stays as the owner left it");
	free(m2);
	free(m2t);

	uint64_t id3 = setup_sub("erin", "gone soon");
	char *gurl = links_make(l, "unsubscribe", "erin", id3, 1000);
	char *gtok = token_of(gurl, "unsubscribe");
	struct directory_error e = {0};
	json_t *out = NULL;
	directory_sub_del(S, "erin", id3, &out, &e);
	json_decref(out);
	gen = store_doc_generation(S);
	ok(call(l, "POST", "unsubscribe", gtok, 1000, &page) == 410 &&
		   strstr(page.data, "no longer exists") && store_doc_generation(S) == gen,
	   "a deleted subscription: 410, nothing written");
	free(gurl);
	free(gtok);
	free(murl);
	free(mtok);
	free(url);
	free(tok);
	buf_release(&page);
}

int main(void)
{
	char err[300], cmd[300];
	struct links *l = NULL;
	if (!mkdtemp(dir) || store_open(dir, 1 << 26, 100, &S, err, sizeof err))
		return 1;
	key_file();
	if (links_open(dir, BASE, TTL, &l, err, sizeof err)) {
		diag("links_open: %s", err);
		return 1;
	}
	make_verify(l);
	pages(l);
	links_close(l);
	store_close(S);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		diag("could not remove %s", dir);
	return tap_done();
}
