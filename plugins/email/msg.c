/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * msg: the email sink's message text (RFC 5322 headers, RFC 2047 encoded
 * words, MIME multipart/alternative with quoted-printable parts) and the
 * address syntax check. See msg.h for the contract; the header list and
 * the threading scheme are documented in herald-email(7).
 *
 * Not for SMTP: email.c hands the finished text to libesmtp.
 */
#define _GNU_SOURCE
#include "msg.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_MAX_COLS 78 /* RFC 5322 "should" */
#define EW_OVERHEAD   12 /* "=?utf-8?B?" + "?=" */
#define QP_COLS	      75 /* plus the soft break's '=' */
#define MAX_LABEL     40 /* of the user in List-Id */
#define MAX_HEADER_URL 900 /* a signed link is ~150; RFC 5322's line limit is 998 */

#define FIELD(p, type, f) (HERALD_SINK_HAS(p, type, f) && (p)->f ? (p)->f : "")
#define NOTE(n, f)	  FIELD(n, struct herald_notification, f)
#define ITEM(it, f)	  FIELD(it, struct herald_sink_item, f)

__attribute__((format(printf, 2, 3))) static void sb_fmt(struct sbuf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n < sizeof small) {
		sb_add(b, small, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1);
	if (!big) {
		b->failed = true;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb_add(b, big, (size_t)n);
	free(big);
}

/* ---- addresses ---- */

static bool atext(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-/=?^_`{|}~", c));
}

static int bad(char *err, size_t errlen, const char *why)
{
	snprintf(err, errlen, "not a plain email address (local@domain): %s", why);
	return -1;
}

/* A DNS host name: labels of letters, digits and inner '-', at least two. */
static int check_domain(const char *d, char *err, size_t errlen)
{
	size_t label = 0, labels = 1;

	if (!*d)
		return bad(err, errlen, "empty domain");
	for (const char *p = d; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '.') {
			if (label == 0 || p[-1] == '-')
				return bad(err, errlen, "empty or malformed domain label");
			label = 0;
			labels++;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      (c == '-' && label > 0)))
			return bad(err, errlen,
				   "domain has a character other than a-z, 0-9, '-', '.'");
		if (++label > 63)
			return bad(err, errlen, "domain label longer than 63");
	}
	if (label == 0 || labels < 2)
		return bad(err, errlen, "domain needs at least two labels");
	return 0;
}

int msg_check_address(const char *a, char *err, size_t errlen)
{
	const char *at = strrchr(a, '@');
	size_t n = strlen(a);

	if (n > MSG_MAX_ADDRESS)
		return bad(err, errlen, "longer than 254 bytes");
	if (!at || at == a)
		return bad(err, errlen, "no local part or no '@'");
	if ((size_t)(at - a) > MSG_MAX_LOCAL)
		return bad(err, errlen, "local part longer than 64 bytes");
	for (const char *p = a; p < at; p++) {
		if (*p == '.') {
			if (p == a || p + 1 == at || p[1] == '.')
				return bad(err, errlen, "misplaced '.' in the local part");
		} else if (!atext((unsigned char)*p)) {
			return bad(err, errlen,
				   "the local part has a character outside RFC 5322 atext");
		}
	}
	return check_domain(at + 1, err, errlen);
}

/* ---- header values ---- */

/* s made safe for a header, in out (NUL-terminated): controls -> ' ',
 * invalid UTF-8 -> U+FFFD, leading and trailing spaces trimmed. */
static void clean(const char *s, struct sbuf *out)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t start = out->len;

	sb_add(out, "", 0);
	while (*p) {
		size_t n = sinkutil_utf8_len(p);
		if (n == 0) {
			sb_str(out, "\xef\xbf\xbd");
			p++;
		} else if ((n == 1 && (*p < 0x20 || *p == 0x7f)) ||
			   (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)) {
			sb_add(out, " ", 1); /* C0, DEL, C1 */
			p += n;
		} else {
			sb_add(out, (const char *)p, n);
			p += n;
		}
	}
	if (out->failed)
		return;
	while (out->len > start && out->p[out->len - 1] == ' ')
		out->p[--out->len] = '\0';
	size_t lead = start;
	while (lead < out->len && out->p[lead] == ' ')
		lead++;
	memmove(out->p + start, out->p + lead, out->len - lead + 1);
	out->len -= lead - start;
}

/* Plain printable ASCII that a decoder will not take for encoded words and
 * that folds at spaces within LINE_MAX_COLS? */
static bool plain_ascii(const char *s)
{
	size_t word = 0;

	if (strstr(s, "=?"))
		return false;
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return false;
		word = *s == ' ' ? 0 : word + 1;
		if (word > LINE_MAX_COLS - 12)
			return false;
	}
	return true;
}

static void base64(struct sbuf *b, const unsigned char *p, size_t n)
{
	static const char tab[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	char q[4];

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		q[0] = tab[(v >> 18) & 63];
		q[1] = tab[(v >> 12) & 63];
		q[2] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
		q[3] = i + 2 < n ? tab[v & 63] : '=';
		sb_add(b, q, 4);
	}
}

/* Fold at spaces: the space before a word that would pass the margin
 * becomes the folding whitespace (unfolding gives the value back). */
static void put_folded(struct sbuf *b, const char *v, size_t col)
{
	const char *p = v;

	while (*p) {
		const char *q = p;
		while (*q == ' ')
			q++;
		while (*q && *q != ' ')
			q++;
		if (p != v && *p == ' ' && col + (size_t)(q - p) > LINE_MAX_COLS) {
			sb_add(b, "\r\n", 2);
			col = 0;
		}
		sb_add(b, p, (size_t)(q - p));
		col += (size_t)(q - p);
		p = q;
	}
}

/* RFC 2047 B encoded words, each within the margin, cut between characters
 * (v is valid UTF-8 after clean()). */
static void put_encoded(struct sbuf *b, const char *v, size_t col)
{
	const unsigned char *p = (const unsigned char *)v;

	while (*p) {
		size_t room =
		    col + EW_OVERHEAD + 4 < LINE_MAX_COLS ? LINE_MAX_COLS - col - EW_OVERHEAD : 4;
		size_t max = room / 4 * 3, n = 0;
		while (p[n]) {
			size_t k = sinkutil_utf8_len(p + n);
			if (n + k > max && n > 0)
				break;
			n += k;
		}
		sb_str(b, "=?utf-8?B?");
		base64(b, p, n);
		sb_str(b, "?=");
		p += n;
		if (*p) {
			sb_add(b, "\r\n ", 3);
			col = 1;
		}
	}
}

/* "Name: value\r\n" for an unstructured value from the item. */
static void hdr_text(struct sbuf *b, const char *name, const char *value)
{
	struct sbuf v = {0};

	clean(value, &v);
	if (v.failed) {
		b->failed = true;
		return;
	}
	sb_str(b, name);
	sb_add(b, ": ", 2);
	if (plain_ascii(v.p))
		put_folded(b, v.p, strlen(name) + 2);
	else
		put_encoded(b, v.p, strlen(name) + 2);
	sb_add(b, "\r\n", 2);
	sb_free(&v);
}

/* ---- identifiers ---- */

static uint64_t fnv1a(uint64_t h, const char *s)
{
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

bool msg_thread_key(const struct herald_notification *n, char key[17])
{
	const char *link = NOTE(n, link), *topic = NOTE(n, topic);
	const char *pkg = n->n_packages && n->packages && n->packages[0] ? n->packages[0] : "";
	uint64_t h = 0xcbf29ce484222325ull;

	if (*link) {
		h = fnv1a(fnv1a(h, "link\n"), link);
	} else if (*pkg) {
		h = fnv1a(fnv1a(fnv1a(fnv1a(h, "pkg\n"), topic), "\n"), pkg);
	} else {
		key[0] = '\0';
		return false;
	}
	snprintf(key, 17, "%016" PRIx64, h);
	return true;
}

/* Letters and digits of s (lowercased), others as '-', at most max bytes. */
static void put_label(struct sbuf *b, const char *s, size_t max)
{
	size_t n = 0;

	for (; *s && n < max; s++, n++) {
		char c = *s;
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
			c = '-';
		sb_add(b, &c, 1);
	}
	if (n == 0)
		sb_str(b, "x");
}

static void put_rfc5322_date(struct sbuf *b, time_t now)
{
	static const char *const day[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	struct tm tm;

	gmtime_r(&now, &tm);
	sb_fmt(b, "Date: %s, %02d %s %04d %02d:%02d:%02d +0000\r\n", day[tm.tm_wday], tm.tm_mday,
	       mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* {user} and {subscription} in the URL, percent-encoded (RFC 3986 unreserved
 * characters stay). */
static void put_url(struct sbuf *b, const char *url, const char *user, const char *sub)
{
	for (const char *p = url; *p; p++) {
		const char *v = NULL;
		if (!strncmp(p, "{user}", 6)) {
			v = user;
			p += 5;
		} else if (!strncmp(p, "{subscription}", 14)) {
			v = sub;
			p += 13;
		} else {
			sb_add(b, p, 1);
			continue;
		}
		for (; *v; v++) {
			unsigned char c = (unsigned char)*v;
			if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9') || strchr("-._~", c))
				sb_add(b, v, 1);
			else
				sb_fmt(b, "%%%02X", c);
		}
	}
}

/* ---- bodies ---- */

/* Quoted-printable (RFC 2045 6.7): "\n" and "\r\n" are line breaks, every
 * other control, '=' and non-ASCII are =XX, trailing space is encoded,
 * soft breaks keep lines within 76 columns. */
static void put_qp(struct sbuf *b, const char *s)
{
	size_t col = 0;

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		char enc[4];
		size_t n;
		bool eol = p[1] == '\n' || (p[1] == '\r' && p[2] == '\n') || !p[1];

		if (*p == '\n' || (*p == '\r' && p[1] == '\n')) {
			p += *p == '\r';
			sb_add(b, "\r\n", 2);
			col = 0;
			continue;
		}
		if ((*p >= 33 && *p <= 126 && *p != '=') || ((*p == ' ' || *p == '\t') && !eol)) {
			enc[0] = (char)*p;
			n = 1;
		} else {
			n = (size_t)snprintf(enc, sizeof enc, "=%02X", *p);
		}
		if (col + n > QP_COLS) {
			sb_add(b, "=\r\n", 3);
			col = 0;
		}
		sb_add(b, enc, n);
		col += n;
	}
	(void)col; /* no final line break: the caller ends the part */
}

/* The text as HTML: everything escaped, layout kept by <pre>. */
static void put_html(struct sbuf *b, const char *text)
{
	struct sbuf h = {0};

	sb_str(&h, "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body>\n"
		   "<pre style=\"white-space: pre-wrap; font-family: sans-serif\">");
	for (const char *p = text; *p; p++) {
		switch (*p) {
		case '&': sb_str(&h, "&amp;"); break;
		case '<': sb_str(&h, "&lt;"); break;
		case '>': sb_str(&h, "&gt;"); break;
		case '"': sb_str(&h, "&quot;"); break;
		case '\'': sb_str(&h, "&#39;"); break;
		default: sb_add(&h, p, 1);
		}
	}
	sb_str(&h, "</pre>\n</body></html>\n");
	if (h.failed)
		b->failed = true;
	else
		put_qp(b, h.p);
	sb_free(&h);
}

static void put_part(struct sbuf *b, const char *type)
{
	sb_fmt(b,
	       "Content-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: "
	       "quoted-printable\r\n\r\n",
	       type);
}

/* ---- the message ---- */

/* Message-ID's left part: the item id's letters and digits, at most max. */
static void put_id_max(struct sbuf *b, const char *id, size_t max)
{
	size_t n = 0;

	for (; *id && n < max; id++)
		if ((*id >= '0' && *id <= '9') || (*id >= 'a' && *id <= 'z') ||
		    (*id >= 'A' && *id <= 'Z')) {
			sb_add(b, id, 1);
			n++;
		}
	if (n == 0)
		sb_str(b, "none");
}

static void put_id(struct sbuf *b, const char *id)
{
	put_id_max(b, id, 64);
}

/* The MIME boundary: at most 70 characters (RFC 2046). */
static void put_boundary(struct sbuf *b, const struct herald_sink_item *it, bool close)
{
	sb_str(b, "\r\n--=_herald_");
	put_id_max(b, ITEM(it, id), 32);
	sb_str(b, close ? "--\r\n" : "\r\n");
}

/* A URL the host made (ABI 1.2) goes into a header only when it is an
 * http(s) URL of printable ASCII without spaces, '<', '>' or '"', and not
 * too long: the host is trusted, but a header is no place to find out it
 * erred (CR or LF would start a header of its own). */
static bool header_url(const char *u)
{
	if (!u || (strncmp(u, "https://", 8) && strncmp(u, "http://", 7)) ||
	    strlen(u) > MAX_HEADER_URL)
		return false;
	for (; *u; u++)
		if ((unsigned char)*u <= 0x20 || (unsigned char)*u >= 0x7f || strchr("<>\"", *u))
			return false;
	return true;
}

static void put_list_headers(const struct msg_conf *c, const struct herald_sink_item *it,
			     const struct herald_notification *n, struct sbuf *b)
{
	const char *signed_url = ITEM(it, unsubscribe_url);
	char sub[24] = "";

	if (n->n_subscriptions && n->subscriptions)
		snprintf(sub, sizeof sub, "%" PRIu64, n->subscriptions[0]);
	if (*sub) {
		sb_fmt(b, "List-Id: <sub-%s.", sub);
		put_label(b, ITEM(it, user), MAX_LABEL);
		sb_fmt(b, ".%s>\r\n", c->domain);
	}
	/* The web app's signed link wins over the configured URL: it works. */
	if (header_url(signed_url)) {
		sb_fmt(b, "List-Unsubscribe: <%s>\r\n", signed_url);
		sb_str(b, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
	} else if (c->unsubscribe_url) {
		sb_str(b, "List-Unsubscribe: <");
		put_url(b, c->unsubscribe_url, ITEM(it, user), sub);
		sb_str(b, ">\r\n");
		if (c->unsubscribe_post)
			sb_str(b, "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n");
	}
}

static void put_herald_headers(const struct msg_conf *c, const struct herald_sink_item *it,
			       const struct herald_notification *n, struct sbuf *b)
{
	hdr_text(b, "X-Herald-Topic", NOTE(n, topic));
	for (size_t i = 0; n->packages && i < n->n_packages && i < c->max_packages; i++)
		hdr_text(b, "X-Herald-Package", n->packages[i] ? n->packages[i] : "");
	hdr_text(b, "X-Herald-User", ITEM(it, user));
	if (n->n_subscriptions && n->subscriptions) {
		sb_str(b, "X-Herald-Subscription: ");
		for (size_t i = 0; i < n->n_subscriptions && i < 32; i++)
			sb_fmt(b, "%s%" PRIu64, i ? ", " : "", n->subscriptions[i]);
		sb_str(b, "\r\n");
	}
	if (it->digest || it->n_notes > 1)
		sb_fmt(b, "X-Herald-Digest: %zu\r\n", it->n_notes);
	if (header_url(ITEM(it, why_url)))
		sb_fmt(b, "X-Herald-Why: <%s>\r\n", ITEM(it, why_url));
}

void msg_build(const struct msg_conf *c, const struct herald_sink_item *it, time_t now,
	       struct sbuf *b)
{
	const struct herald_notification *n = it->notes[0];
	bool digest = it->digest || it->n_notes > 1;
	char key[17];

	sb_fmt(b, "From: %s\r\nTo: %s\r\n", c->from, ITEM(it, address));
	hdr_text(b, "Subject", ITEM(it, subject));
	put_rfc5322_date(b, now);
	sb_str(b, "Message-ID: <");
	put_id(b, ITEM(it, id));
	sb_fmt(b, "@%s>\r\n", c->domain);
	if (!digest && msg_thread_key(n, key))
		sb_fmt(b, "In-Reply-To: <thread-%s@%s>\r\nReferences: <thread-%s@%s>\r\n", key,
		       c->domain, key, c->domain);
	sb_str(b, "Auto-Submitted: auto-generated\r\nPrecedence: bulk\r\n");
	put_list_headers(c, it, n, b);
	put_herald_headers(c, it, n, b);
	sb_str(b, "MIME-Version: 1.0\r\n");
	if (!c->html) {
		put_part(b, "text/plain");
		put_qp(b, ITEM(it, text));
		if (!b->failed && (b->len < 2 || memcmp(b->p + b->len - 2, "\r\n", 2)))
			sb_str(b, "\r\n");
		return;
	}
	/* "=_" cannot occur in quoted-printable text: a safe boundary. */
	sb_str(b, "Content-Type: multipart/alternative;\r\n boundary=\"=_herald_");
	put_id_max(b, ITEM(it, id), 32);
	sb_str(b, "\"\r\n\r\nThis is a MIME message.\r\n");
	put_boundary(b, it, false);
	put_part(b, "text/plain");
	put_qp(b, ITEM(it, text));
	put_boundary(b, it, false);
	put_part(b, "text/html");
	put_html(b, ITEM(it, text));
	put_boundary(b, it, true);
}
