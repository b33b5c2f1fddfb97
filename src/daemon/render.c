/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * render: notification templates (see render.h for the language).
 *
 * A template is compiled once into a short program of four operations:
 * literal text, a field, the start of a {?field} section (with the index of
 * its end, to skip it) and the end of one. Rendering walks the program and
 * appends to the caller's buffer; the compiled program is never written
 * again, so threads may share it.
 *
 * What a field's value can do is limited here, not by the sinks: every
 * value is made valid UTF-8 (U+FFFD for bad bytes) and every control or
 * line-breaking character becomes a space, so the template alone decides
 * where lines break. In a Markdown template a value is also escaped, so it
 * cannot start a heading, a list, a link or emphasis. Not for deciding who
 * gets what (match.c) or how a sink sends it (plugins/).
 */
#include "render.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SRC_MAX 4096

/* The defaults end with the web app's footer lines, which are empty (and
 * so absent) when no web app makes links. */
#define WHY_LINE	 "{?why_url}\\nWhy: {why_url}{/why_url}"
#define UNSUB_LINE	 "{?unsubscribe_url}\\nUnsubscribe: {unsubscribe_url}{/unsubscribe_url}"
#define DEFAULT_TEXT	 "{title}{?summary}\\n{summary}{/summary}{?link}\\n{link}{/link}" WHY_LINE
#define DEFAULT_MARKDOWN "**{title}**{?summary}\\n{summary}{/summary}{?link}\\n{link}{/link}" WHY_LINE

/* ASCII punctuation that means something to Markdown (CommonMark, GFM and
 * Telegram's MarkdownV2 between them); each may be backslash-escaped. */
#define MD_SPECIAL "\\`*_{}[]()#+-.!|<>~=&"

#define REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */
#define BAD_CP	    UINT32_MAX

enum field {
	F_ID,
	F_USER,
	F_DESTINATION,
	F_TOPIC,
	F_TITLE,
	F_SUMMARY,
	F_LINK,
	F_AGENT,
	F_SEVERITY,
	F_PACKAGES,
	F_USERNAMES,
	F_SUBSCRIPTIONS,
	F_MSG_ID,
	F_TIME,
	F_WHY_URL,
	F_UNSUBSCRIBE_URL,
	N_FIELDS
};

static const char *const field_names[N_FIELDS] = {
    [F_ID] = "id",
    [F_USER] = "user",
    [F_DESTINATION] = "destination",
    [F_TOPIC] = "topic",
    [F_TITLE] = "title",
    [F_SUMMARY] = "summary",
    [F_LINK] = "link",
    [F_AGENT] = "agent",
    [F_SEVERITY] = "severity",
    [F_PACKAGES] = "packages",
    [F_USERNAMES] = "usernames",
    [F_SUBSCRIPTIONS] = "subscriptions",
    [F_MSG_ID] = "msg_id",
    [F_TIME] = "time",
    [F_WHY_URL] = "why_url",
    [F_UNSUBSCRIBE_URL] = "unsubscribe_url",
};

enum op_kind { OP_TEXT, OP_FIELD, OP_IF, OP_END };

struct op {
	enum op_kind kind;
	enum field field; /* OP_FIELD, OP_IF, OP_END */
	size_t off, len;  /* OP_TEXT: bytes of render.text */
	size_t end;	  /* OP_IF: index of the matching OP_END */
};

struct render {
	enum render_flavour flavour;
	bool footer;
	struct op *ops;
	size_t n_ops;
	char *text; /* every literal, escapes resolved */
	size_t text_len;
};

/* ---- UTF-8 ---- */

/*
 * Decode one character of s[0..n), n >= 1. Returns its length; for an
 * invalid sequence *cp is BAD_CP and the length is that of the longest
 * valid prefix (at least 1), so each bad stretch becomes one U+FFFD as the
 * Unicode standard recommends. Overlongs, surrogates and values past
 * U+10FFFF are invalid (the ranges of Unicode's table 3-7).
 */
static size_t utf8_next(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need;
	uint32_t v;

	*cp = BAD_CP;
	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		need = 1;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 2;
		v = c & 0x0f;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 3;
		v = c & 0x07;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 1;
	}
	for (size_t i = 1; i <= need; i++) {
		if (i >= n || s[i] < lo || s[i] > hi)
			return i;
		v = v << 6 | (s[i] & 0x3f);
		lo = 0x80;
		hi = 0xbf;
	}
	*cp = v;
	return need + 1;
}

/* C0, DEL, C1 (NEL among them) and the Unicode line and paragraph
 * separators: anything a terminal, a mail reader or a chat might turn into
 * a new line or a cursor movement. */
static bool is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x2028 || cp == 0x2029;
}

/* 1-based column of byte `at`, in characters, for error messages. */
static size_t column(const char *src, size_t at)
{
	size_t col = 1;
	for (size_t i = 0; i < at; i++)
		if (((unsigned char)src[i] & 0xc0) != 0x80)
			col++;
	return col;
}

/* ---- compiling ---- */

struct compiler {
	const char *src;
	size_t len, pos;
	struct render *r;
	size_t open[N_FIELDS]; /* OP_IF indices of open sections, innermost last */
	size_t open_at[N_FIELDS];
	size_t n_open;
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 3, 4))) static int fail(struct compiler *c, size_t at,
						      const char *fmt, ...)
{
	va_list ap;
	if (!c->err || !c->errlen)
		return -EINVAL;
	int n = snprintf(c->err, c->errlen, "template column %zu: ", column(c->src, at));
	if (n >= 0 && (size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static size_t emit(struct compiler *c, enum op_kind kind, enum field f)
{
	struct op *op = &c->r->ops[c->r->n_ops];
	memset(op, 0, sizeof *op);
	op->kind = kind;
	op->field = f;
	return c->r->n_ops++;
}

/* Literal bytes; joins the previous literal when there is one. */
static void emit_text(struct compiler *c, const char *p, size_t n)
{
	struct render *r = c->r;
	struct op *last = r->n_ops ? &r->ops[r->n_ops - 1] : NULL;
	if (!last || last->kind != OP_TEXT) {
		last = &r->ops[emit(c, OP_TEXT, 0)];
		last->off = r->text_len;
	}
	memcpy(r->text + r->text_len, p, n);
	r->text_len += n;
	last->len += n;
}

/*
 * Raw template bytes must be valid UTF-8 without control characters (a tab
 * is allowed): a config value is one line, and "\n" is the one way to ask
 * for a line break.
 */
static int check_bytes(struct compiler *c)
{
	const unsigned char *s = (const unsigned char *)c->src;
	for (size_t i = 0; i < c->len;) {
		uint32_t cp;
		size_t k = utf8_next(s + i, c->len - i, &cp);
		if (cp == BAD_CP)
			return fail(c, i, "invalid UTF-8");
		if (is_control(cp) && cp != '\t')
			return fail(c, i, "control character (write \\n for a new line)");
		i += k;
	}
	return 0;
}

static int field_lookup(const char *name, size_t n)
{
	for (int f = 0; f < N_FIELDS; f++)
		if (strlen(field_names[f]) == n && !memcmp(field_names[f], name, n))
			return f;
	return -1;
}

static int open_section(struct compiler *c, size_t at, enum field f)
{
	for (size_t i = 0; i < c->n_open; i++)
		if (c->r->ops[c->open[i]].field == f)
			return fail(c, at, "section '%s' inside itself", field_names[f]);
	c->open_at[c->n_open] = at;
	c->open[c->n_open++] = emit(c, OP_IF, f);
	return 0;
}

static int close_section(struct compiler *c, size_t at, enum field f)
{
	const char *name = field_names[f];
	bool is_open = false;
	for (size_t i = 0; i < c->n_open; i++)
		is_open |= c->r->ops[c->open[i]].field == f;
	if (!is_open)
		return fail(c, at, "'{/%s}' without '{?%s}'", name, name);
	size_t top = c->open[c->n_open - 1];
	if (c->r->ops[top].field != f)
		return fail(c, at, "'{/%s}' before '{/%s}'", name,
			    field_names[c->r->ops[top].field]);
	c->n_open--;
	c->r->ops[top].end = emit(c, OP_END, f);
	return 0;
}

/* {field}, {?field} or {/field}, at c->pos. */
static int compile_tag(struct compiler *c)
{
	size_t at = c->pos, n;
	const char *name = c->src + at + 1, *close = name;
	while (close < c->src + c->len && *close != '}' && *close != '{')
		close++;
	if (close == c->src + c->len || *close != '}')
		return fail(c, at, "'{' without '}'");
	char kind = *name == '?' || *name == '/' ? *name++ : 0;
	n = (size_t)(close - name);
	c->pos = (size_t)(close - c->src) + 1;
	if (!n)
		return fail(c, at, "empty field name");
	int f = field_lookup(name, n);
	if (f < 0)
		return fail(c, at, "unknown field '%.*s'", (int)n, name);
	if (kind == '?')
		return open_section(c, at, (enum field)f);
	if (kind == '/')
		return close_section(c, at, (enum field)f);
	emit(c, OP_FIELD, (enum field)f);
	return 0;
}

/* \n, \t or \\, at c->pos. */
static int compile_escape(struct compiler *c)
{
	size_t at = c->pos;
	if (at + 1 == c->len)
		return fail(c, at, "'\\' at the end (write \\\\ for a backslash)");
	char e = c->src[at + 1];
	const char *lit = e == 'n' ? "\n" : e == 't' ? "\t" : e == '\\' ? "\\" : NULL;
	if (!lit) {
		uint32_t cp;
		size_t k = utf8_next((const unsigned char *)c->src + at + 1, c->len - at - 1, &cp);
		return fail(c, at, "unknown escape '\\%.*s'", (int)k, c->src + at + 1);
	}
	emit_text(c, lit, 1);
	c->pos += 2;
	return 0;
}

static int compile_one(struct compiler *c)
{
	const char *p = c->src + c->pos;
	size_t left = c->len - c->pos;
	if ((*p == '{' || *p == '}') && left > 1 && p[1] == *p) {
		emit_text(c, p, 1);
		c->pos += 2;
		return 0;
	}
	if (*p == '{')
		return compile_tag(c);
	if (*p == '}')
		return fail(c, c->pos, "'}' without '{' (write }} for a brace)");
	if (*p == '\\')
		return compile_escape(c);
	size_t n = strcspn(p, "{}\\");
	emit_text(c, p, n);
	c->pos += n;
	return 0;
}

static int compile(struct compiler *c)
{
	int rc = check_bytes(c);
	while (!rc && c->pos < c->len)
		rc = compile_one(c);
	if (rc)
		return rc;
	if (c->n_open) {
		const char *name = field_names[c->r->ops[c->open[c->n_open - 1]].field];
		return fail(c, c->open_at[c->n_open - 1], "'{?%s}' without '{/%s}'", name, name);
	}
	return 0;
}

const char *render_default_source(enum render_flavour flavour, bool unsubscribe)
{
	if (flavour == RENDER_MARKDOWN)
		return unsubscribe ? DEFAULT_MARKDOWN UNSUB_LINE : DEFAULT_MARKDOWN;
	return unsubscribe ? DEFAULT_TEXT UNSUB_LINE : DEFAULT_TEXT;
}

int render_compile(const char *src, enum render_flavour flavour, bool footer, struct render **out,
		   char *err, size_t errlen)
{
	struct compiler c = {.err = err, .errlen = errlen};
	int rc = -ENOMEM;
	if (!src)
		src = render_default_source(flavour, false);
	c.src = src;
	c.len = strlen(src);
	if (c.len > SRC_MAX)
		return fail(&c, SRC_MAX, "longer than %d bytes", SRC_MAX);
	struct render *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->flavour = flavour;
	r->footer = footer;
	/* Every op takes at least one source byte, every literal byte at most one. */
	r->ops = calloc(c.len + 1, sizeof *r->ops);
	r->text = malloc(c.len + 1);
	if (!r->ops || !r->text)
		goto out;
	c.r = r;
	if ((rc = compile(&c)))
		goto out;
	*out = r;
	return 0;
out:
	render_free(r);
	return rc;
}

void render_free(struct render *r)
{
	if (!r)
		return;
	free(r->ops);
	free(r->text);
	free(r);
}

/* ---- rendering ---- */

struct emitter {
	struct buf *out;
	size_t base; /* where this note began in out */
	bool markdown;
	const struct render_links *lk; /* NULL: no links */
};

static bool at_line_start(const struct emitter *e)
{
	return e->out->len == e->base || e->out->data[e->out->len - 1] == '\n';
}

/* One character of a value, cleaned, escaped for Markdown if need be. */
static int put_char(struct emitter *e, const char *s, size_t k, uint32_t cp)
{
	if (cp == BAD_CP)
		return buf_puts(e->out, REPLACEMENT);
	if (is_control(cp))
		return buf_putc(e->out, ' ');
	if (e->markdown && cp < 0x80 && strchr(MD_SPECIAL, (int)cp)) {
		char esc[2] = {'\\', (char)cp};
		return buf_append(e->out, esc, 2);
	}
	return buf_append(e->out, s, k);
}

/*
 * A value. In Markdown, spaces that would begin a line are dropped: four of
 * them make an indented code block, and a value cannot hold a line break,
 * so this only happens where the template starts a line with the field.
 */
static int put_value(struct emitter *e, const char *s)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = s ? strlen(s) : 0;
	bool lead = e->markdown && at_line_start(e);
	int rc = 0;
	for (size_t i = 0; i < n && !rc;) {
		uint32_t cp;
		size_t k = utf8_next(u + i, n - i, &cp);
		bool space = cp == ' ' || is_control(cp);
		if (!(lead && space)) {
			lead = false;
			rc = put_char(e, s + i, k, cp);
		}
		i += k;
	}
	return rc;
}

static int put_list(struct emitter *e, const char *const *v, size_t n)
{
	int rc = 0;
	for (size_t i = 0; v && i < n && !rc; i++) {
		if (i)
			rc = buf_puts(e->out, ", ");
		if (!rc)
			rc = put_value(e, v[i]);
	}
	return rc;
}

static int put_ids(struct buf *out, const uint64_t *ids, size_t n)
{
	int rc = 0;
	for (size_t i = 0; ids && i < n && !rc; i++)
		rc = buf_printf(out, "%s%" PRIu64, i ? ", " : "", ids[i]);
	return rc;
}

/* "2026-11-22 10:03 UTC"; false when the time is unknown (0), before 1970
 * or past 9999, which no bus message has. */
static bool format_time(double ts, char *out, size_t size)
{
	struct tm tm;
	if (!(ts > 0 && ts < 253402300800.0))
		return false;
	time_t t = (time_t)ts;
	return gmtime_r(&t, &tm) && strftime(out, size, "%Y-%m-%d %H:%M UTC", &tm);
}

static const char *str_field(const struct herald_notification *n,
			     const struct render_links *lk, enum field f)
{
	switch (f) {
	case F_WHY_URL: return lk ? lk->why_url : NULL;
	case F_UNSUBSCRIBE_URL: return lk ? lk->unsubscribe_url : NULL;
	case F_ID: return n->id;
	case F_USER: return n->user;
	case F_TOPIC: return n->topic;
	case F_TITLE: return n->title;
	case F_SUMMARY: return n->summary;
	case F_LINK: return n->link;
	case F_AGENT: return n->agent;
	case F_SEVERITY: return n->severity;
	case F_MSG_ID: return n->msg_id;
	default: return NULL;
	}
}

static bool field_empty(const struct herald_notification *n, const struct render_links *lk,
			enum field f)
{
	char t[32];
	const char *s;
	switch (f) {
	case F_DESTINATION: return false;
	case F_PACKAGES: return !n->packages || !n->n_packages;
	case F_USERNAMES: return !n->usernames || !n->n_usernames;
	case F_SUBSCRIPTIONS: return !n->subscriptions || !n->n_subscriptions;
	case F_TIME: return !format_time(n->timestamp, t, sizeof t);
	default: s = str_field(n, lk, f); return !s || !*s;
	}
}

static int put_field(struct emitter *e, const struct herald_notification *n, enum field f)
{
	char t[32];
	switch (f) {
	case F_DESTINATION: return buf_printf(e->out, "%" PRIu64, n->destination);
	case F_PACKAGES: return put_list(e, n->packages, n->n_packages);
	case F_USERNAMES: return put_list(e, n->usernames, n->n_usernames);
	case F_SUBSCRIPTIONS: return put_ids(e->out, n->subscriptions, n->n_subscriptions);
	case F_TIME: return format_time(n->timestamp, t, sizeof t) ? put_value(e, t) : 0;
	default: return put_value(e, str_field(n, e->lk, f));
	}
}

/*
 * "\n-- \nYou get this because subscription 12 of alice matched.\n
 * Change it: herald sub show alice 12". In Markdown the dashes are escaped:
 * "-- " under a line of text would make that line a heading.
 */
static int put_footer(struct emitter *e, const struct herald_notification *n)
{
	size_t k = n->subscriptions ? n->n_subscriptions : 0;
	int rc;
	if (!k)
		return 0;
	rc = buf_puts(e->out, e->markdown ? "\n\\-\\- \n" : "\n-- \n");
	if (!rc)
		rc = buf_printf(e->out, "You get this because subscription%s ", k > 1 ? "s" : "");
	if (!rc)
		rc = put_ids(e->out, n->subscriptions, k);
	if (!rc)
		rc = buf_puts(e->out, " of ");
	if (!rc)
		rc = put_value(e, n->user);
	if (!rc)
		rc = buf_puts(e->out, " matched.\nChange it: herald sub show ");
	if (!rc)
		rc = put_value(e, n->user);
	if (!rc)
		rc = buf_printf(e->out, " %" PRIu64, n->subscriptions[0]);
	return rc;
}

/* Undo a failed append, so the caller never sees half a note. */
static void truncate_to(struct buf *b, size_t len)
{
	b->len = len;
	if (b->data)
		b->data[len] = '\0';
}

int render_note(const struct render *r, const struct herald_notification *n, struct buf *out)
{
	return render_note_links(r, n, NULL, out);
}

int render_note_links(const struct render *r, const struct herald_notification *n,
		      const struct render_links *lk, struct buf *out)
{
	struct emitter e = {out, out->len, r->flavour == RENDER_MARKDOWN, lk};
	int rc = 0;
	for (size_t i = 0; i < r->n_ops && !rc; i++) {
		const struct op *op = &r->ops[i];
		switch (op->kind) {
		case OP_TEXT: rc = buf_append(out, r->text + op->off, op->len); break;
		case OP_FIELD: rc = put_field(&e, n, op->field); break;
		case OP_IF: i = field_empty(n, lk, op->field) ? op->end : i; break;
		case OP_END: break;
		}
	}
	if (!rc && r->footer)
		rc = put_footer(&e, n);
	if (rc)
		truncate_to(out, e.base);
	return rc;
}

/* ---- digests ---- */

/* "[herald] N notifications for USER", or the one note's title. */
static int put_subject(struct buf *subject, const char *user,
		       const struct herald_notification *const *notes, size_t n)
{
	struct emitter e = {subject, subject->len, false, NULL};
	if (n == 1)
		return put_value(&e, notes[0]->title);
	int rc = buf_printf(subject, "[herald] %zu notifications for ", n);
	return rc ? rc : put_value(&e, user);
}

/* Bytes of "\n\n... and K more", 0 when nothing is left out. */
static size_t more_len(size_t k)
{
	return k ? (size_t)snprintf(NULL, 0, "\n\n... and %zu more", k) : 0;
}

/*
 * The longest prefix of s[0..len) that fits in max bytes and ends on a
 * character boundary. In Markdown it does not end in the middle of an
 * escape either, or the backslash would escape whatever follows the cut.
 */
static size_t cut_at(const char *s, size_t len, size_t max, bool markdown)
{
	size_t k = len < max ? len : max;
	while (k && k < len && ((unsigned char)s[k] & 0xc0) == 0x80)
		k--;
	size_t bs = 0;
	while (markdown && bs < k && s[k - 1 - bs] == '\\')
		bs++;
	return bs % 2 ? k - 1 : k;
}

/*
 * Not even the first note fits: keep its beginning (the first `len` bytes
 * after base), cut where it must be, then "..." and the count of the rest.
 * If not even that fits, the body stays empty rather than going over max.
 */
static int put_cut(struct buf *body, size_t base, size_t len, size_t rest, size_t max, bool md)
{
	size_t tail = 3 + more_len(rest);
	size_t k = tail < max && len ? cut_at(body->data + base, len, max - tail, md) : 0;
	truncate_to(body, base + k);
	if (!k)
		return 0;
	int rc = buf_puts(body, "...");
	if (!rc && rest)
		rc = buf_printf(body, "\n\n... and %zu more", rest);
	return rc;
}

/*
 * Notes are appended one by one while they fit. The longest run of whole
 * notes that still leaves room for "... and K more" is remembered, and if
 * the notes do not all fit, the body is cut back to it. Looking ahead this
 * way lets the last notes fill the room the count line would have needed.
 */
static int put_body(const struct render *r, const struct herald_notification *const *notes,
		    const struct render_links *lk, size_t n, size_t max, struct buf *body)
{
	size_t base = body->len, first = 0, keep = 0, kept = 0;
	int rc = 0;
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (i && (rc = buf_puts(body, "\n\n")))
			return rc;
		if ((rc = render_note_links(r, notes[i], lk ? &lk[i] : NULL, body)))
			return rc;
		size_t used = body->len - base;
		if (!i)
			first = used;
		if (used > max)
			break;
		if (i + 1 == n)
			return 0;
		if (used + more_len(n - i - 1) <= max) {
			keep = used;
			kept = i + 1;
		}
	}
	if (!kept)
		return put_cut(body, base, first, n - 1, max, r->flavour == RENDER_MARKDOWN);
	truncate_to(body, base + keep);
	return buf_printf(body, "\n\n... and %zu more", n - kept);
}

int render_digest(const struct render *r, const char *user,
		  const struct herald_notification *const *notes, size_t n, size_t max_bytes,
		  struct buf *subject, struct buf *body)
{
	return render_digest_links(r, user, notes, NULL, n, max_bytes, subject, body);
}

int render_digest_links(const struct render *r, const char *user,
			const struct herald_notification *const *notes,
			const struct render_links *lk, size_t n, size_t max_bytes,
			struct buf *subject, struct buf *body)
{
	size_t subject_len = subject->len, body_len = body->len;
	int rc = put_subject(subject, user, notes, n);
	if (!rc)
		rc = put_body(r, notes, lk, n, max_bytes, body);
	if (rc) {
		truncate_to(subject, subject_len);
		truncate_to(body, body_len);
	}
	return rc;
}
