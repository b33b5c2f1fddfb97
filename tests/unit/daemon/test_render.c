/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for render: default templates, every field, sections, escapes,
 * Markdown escaping, hostile and invalid values, compile errors, footers
 * and digests. Every check compares the whole output with an exact string.
 */
#include "src/daemon/render.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/tap.h"

/* render.h's limit on template source. */
#define SRC_MAX_TEST 4096

static const char *const packages[] = {"kernel", "kernel-core"};
static const char *const usernames[] = {"alice", "bob_b"};
static const uint64_t one_sub[] = {12};
static const uint64_t two_subs[] = {12, 13};

/* A notification with every field set. */
static struct herald_notification sample(void)
{
	struct herald_notification n = {
	    .size = sizeof n,
	    .id = "0123456789abcdef0123456789abcdef",
	    .user = "alice",
	    .destination = 7,
	    .address = "mailto:secret@example.org",
	    .topic = "org.fedoraproject.prod.bodhi.update.comment",
	    .title = "bodhi: kernel-6.1 pushed to stable",
	    .summary = "2 packages updated",
	    .link = "https://bodhi.example.org/updates/F-1",
	    .agent = "bob_b",
	    .severity = "info",
	    .usernames = usernames,
	    .n_usernames = 2,
	    .packages = packages,
	    .n_packages = 2,
	    .subscriptions = one_sub,
	    .n_subscriptions = 1,
	    .msg_id = "2026-a1",
	    /* 2026-11-22 10:03:59.75 UTC: minutes are cut, not rounded */
	    .timestamp = 1795341839.75,
	    .text = "NOT READ",
	    .markdown = "NOT READ",
	};
	return n;
}

/* The same with every optional field empty. */
static struct herald_notification bare(void)
{
	struct herald_notification n = sample();
	n.summary = "";
	n.link = "";
	n.agent = "";
	n.msg_id = NULL;
	n.packages = NULL;
	n.n_packages = 0;
	n.usernames = NULL;
	n.n_usernames = 0;
	n.subscriptions = NULL;
	n.n_subscriptions = 0;
	n.timestamp = 0;
	return n;
}

static void same(int rc, const struct buf *got, const char *want, const char *what)
{
	const char *s = got->data ? got->data : "";
	if (!ok(rc == 0 && !strcmp(s, want) && strlen(s) == got->len, "%s", what))
		diag("rc %d, got '%s', want '%s'", rc, s, want);
}

/* Compile `tmpl`, render n, compare. */
static void renders(const char *tmpl, enum render_flavour fl, bool footer,
		    const struct herald_notification *n, const char *want, const char *what)
{
	struct render *r = NULL;
	struct buf out = BUF_INIT;
	char err[128] = "";
	int rc = render_compile(tmpl, fl, footer, &r, err, sizeof err);
	if (rc)
		diag("compile: %s", err);
	else
		rc = render_note(r, n, &out);
	same(rc, &out, want, what);
	buf_release(&out);
	render_free(r);
}

static void refuses(const char *tmpl, const char *want)
{
	struct render *r = NULL;
	char err[128] = "";
	int rc = render_compile(tmpl, RENDER_TEXT, false, &r, err, sizeof err);
	if (!ok(rc == -EINVAL && !r && !strcmp(err, want), "refused: %s", want))
		diag("rc %d, err '%s'", rc, err);
	render_free(r);
}

static void defaults(void)
{
	struct herald_notification n = sample(), b = bare();
	renders(NULL, RENDER_TEXT, false, &n,
		"bodhi: kernel-6.1 pushed to stable\n2 packages updated\n"
		"https://bodhi.example.org/updates/F-1",
		"default text: title, summary, link on three lines");
	renders(NULL, RENDER_MARKDOWN, false, &n,
		"**bodhi: kernel\\-6\\.1 pushed to stable**\n2 packages updated\n"
		"https://bodhi\\.example\\.org/updates/F\\-1",
		"default markdown: bold title, escaped values, link as plain text");
	renders(NULL, RENDER_TEXT, false, &b, "bodhi: kernel-6.1 pushed to stable",
		"default text without summary and link: the title alone");
	renders(NULL, RENDER_MARKDOWN, false, &b, "**bodhi: kernel\\-6\\.1 pushed to stable**",
		"default markdown without summary and link");
}

static void fields(void)
{
	struct herald_notification n = sample(), b = bare();
	const char *all = "{id}|{user}|{destination}|{topic}|{title}|{summary}|{link}|{agent}|"
			  "{severity}|{packages}|{usernames}|{subscriptions}|{msg_id}|{time}";
	renders(all, RENDER_TEXT, false, &n,
		"0123456789abcdef0123456789abcdef|alice|7|"
		"org.fedoraproject.prod.bodhi.update.comment|bodhi: kernel-6.1 pushed to stable|"
		"2 packages updated|https://bodhi.example.org/updates/F-1|bob_b|info|"
		"kernel, kernel-core|alice, bob_b|12|2026-a1|2026-11-22 10:03 UTC",
		"every field, text");
	renders(all, RENDER_MARKDOWN, false, &n,
		"0123456789abcdef0123456789abcdef|alice|7|"
		"org\\.fedoraproject\\.prod\\.bodhi\\.update\\.comment|"
		"bodhi: kernel\\-6\\.1 pushed to stable|"
		"2 packages updated|https://bodhi\\.example\\.org/updates/F\\-1|bob\\_b|info|"
		"kernel, kernel\\-core|alice, bob\\_b|12|2026\\-a1|2026\\-11\\-22 10:03 UTC",
		"every field, markdown");
	renders(all, RENDER_TEXT, false, &b,
		"0123456789abcdef0123456789abcdef|alice|7|"
		"org.fedoraproject.prod.bodhi.update.comment|bodhi: kernel-6.1 pushed to stable|"
		"|||info|||||",
		"empty fields render as nothing; time 0 is empty");
	n.subscriptions = two_subs;
	n.n_subscriptions = 2;
	n.destination = UINT64_MAX;
	renders("{subscriptions} {destination}", RENDER_TEXT, false, &n,
		"12, 13 18446744073709551615",
		"subscriptions comma-separated, destination in full");
}

static void sections(void)
{
	struct herald_notification n = sample(), b = bare();
	const char *t =
	    "[{?summary}s={summary}{/summary}{?time} at {time}{/time}"
	    "{?packages} p={packages}{/packages}{?destination} d={destination}{/destination}]";
	renders(t, RENDER_TEXT, false, &n,
		"[s=2 packages updated at 2026-11-22 10:03 UTC p=kernel, kernel-core d=7]",
		"sections with values are shown");
	renders(t, RENDER_TEXT, false, &b, "[ d=7]",
		"empty sections are skipped; destination is never empty");
	t = "<{?link}L{?summary}S{/summary}{?agent}A{/agent}l{/link}>";
	renders(t, RENDER_TEXT, false, &n, "<LSAl>", "nested sections, all present");
	n.summary = "";
	renders(t, RENDER_TEXT, false, &n, "<LAl>", "nested: inner section absent");
	n.link = NULL;
	renders(t, RENDER_TEXT, false, &n, "<>", "nested: outer absent skips everything inside");
	renders("{?msg_id}{msg_id}{/msg_id}{?usernames}{usernames}{/usernames}", RENDER_TEXT, false,
		&b, "", "a template can render to nothing");
}

static void escapes(void)
{
	struct herald_notification n = sample();
	renders("{{title}} }}{{ a\\nb\\tc\\\\d", RENDER_TEXT, false, &n, "{title} }{ a\nb\tc\\d",
		"{{ }} \\n \\t \\\\ are literals");
	renders("{{{title}}}", RENDER_TEXT, false, &n, "{bodhi: kernel-6.1 pushed to stable}",
		"a field in literal braces");
	renders("**{{x}}** _lit_", RENDER_MARKDOWN, false, &n, "**{x}** _lit_",
		"markdown: the template's own text is not escaped");
	renders("", RENDER_TEXT, false, &n, "", "an empty template is allowed");
	renders("café €\t{severity}", RENDER_TEXT, false, &n, "café €\tinfo",
		"UTF-8 and a raw tab in the template are kept");
}

static void markdown(void)
{
	struct herald_notification n = sample();
	n.title = "*bold* [x](y)";
	renders("{title}", RENDER_MARKDOWN, false, &n, "\\*bold\\* \\[x\\]\\(y\\)",
		"markdown: emphasis and link syntax escaped");
	renders("{title}", RENDER_TEXT, false, &n, "*bold* [x](y)", "text: nothing escaped");
	n.title = "\\`*_{}[]()#+-.!|<>~=&";
	renders("{title}", RENDER_MARKDOWN, false, &n,
		"\\\\\\`\\*\\_\\{\\}\\[\\]\\(\\)\\#\\+\\-\\.\\!\\|\\<\\>\\~\\=\\&",
		"markdown: every special character escaped");
	n.title = "# 1. - > heading";
	renders("{title}", RENDER_MARKDOWN, false, &n, "\\# 1\\. \\- \\> heading",
		"markdown: heading, list and quote markers escaped");
	n.summary = "    code? no";
	renders("x\\n{summary}", RENDER_MARKDOWN, false, &n, "x\ncode? no",
		"markdown: leading spaces at a line start dropped (no code block)");
	renders("x: {summary}", RENDER_MARKDOWN, false, &n, "x:     code? no",
		"markdown: spaces inside a line kept");
	renders("x\\n{summary}", RENDER_TEXT, false, &n, "x\n    code? no",
		"text: leading spaces kept");
	n.summary = "\t\r\n2. item";
	renders("{title}\\n{summary}", RENDER_MARKDOWN, false, &n,
		"\\# 1\\. \\- \\> heading\n2\\. item",
		"markdown: controls at a line start dropped with the spaces");
}

static void hostile(void)
{
	struct herald_notification n = sample();
	n.title = "a\r\nQUIT\r\n";
	renders("{title}", RENDER_TEXT, false, &n, "a  QUIT  ", "CR LF become spaces: one line");
	renders("PRIVMSG #c :{title}", RENDER_MARKDOWN, false, &n, "PRIVMSG #c :a  QUIT  ",
		"CR LF become spaces in markdown too");
	n.title = "t\tab\x01\x1b[2J\x7f"
		  "del\xc2\x85nel\xe2\x80\xa8ls\xe2\x80\xa9ps";
	renders("{title}", RENDER_TEXT, false, &n, "t ab  [2J del nel ls ps",
		"TAB, C0, ESC, DEL, NEL, U+2028, U+2029 become spaces");
	n.title = "ok é€😀 x\xa0\xc2\xa0";
	renders("{title}", RENDER_TEXT, false, &n,
		"ok é€😀 x"
		"\xef\xbf\xbd\xc2\xa0",
		"valid multibyte kept, stray continuation replaced");
}

static void invalid_utf8(void)
{
	struct herald_notification n = sample();
	static const struct {
		const char *in, *out, *what;
	} cases[] = {
	    {"a\xff"
	     "b",
	     "a\xef\xbf\xbd"
	     "b",
	     "0xff is replaced"},
	    {"a\xe2\x82", "a\xef\xbf\xbd", "a cut 3-byte sequence is one U+FFFD"},
	    {"\xe2\x82z", "\xef\xbf\xbdz", "a cut sequence before ASCII"},
	    {"\xc0\xaf", "\xef\xbf\xbd\xef\xbf\xbd", "overlong '/' is two U+FFFD"},
	    {"\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", "a surrogate is invalid"},
	    {"\xf4\x90\x80\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd",
	     "past U+10FFFF is invalid"},
	    {"\xf0\x9f\x98", "\xef\xbf\xbd", "a cut 4-byte sequence is one U+FFFD"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		n.title = cases[i].in;
		renders("{title}", RENDER_TEXT, false, &n, cases[i].out, cases[i].what);
	}
	n.summary = "x\xff*";
	renders("{summary}", RENDER_MARKDOWN, false, &n, "x\xef\xbf\xbd\\*",
		"markdown: replaced and escaped");
}

static void compile_errors(void)
{
	char big[SRC_MAX_TEST + 2];
	refuses("{nope}", "template column 1: unknown field 'nope'");
	refuses("{title", "template column 1: '{' without '}'");
	refuses("ab{title {summary}", "template column 3: '{' without '}'");
	refuses("x{", "template column 2: '{' without '}'");
	refuses("x}y", "template column 2: '}' without '{' (write }} for a brace)");
	refuses("{}", "template column 1: empty field name");
	refuses("{?}", "template column 1: empty field name");
	refuses("{?summary}x", "template column 1: '{?summary}' without '{/summary}'");
	refuses("{?link}{?summary}x{/summary}", "template column 1: '{?link}' without '{/link}'");
	refuses("a{/link}", "template column 2: '{/link}' without '{?link}'");
	refuses("{?link}{/link}{/link}", "template column 15: '{/link}' without '{?link}'");
	refuses("{?link}{?summary}{/link}{/summary}",
		"template column 18: '{/link}' before '{/summary}'");
	refuses("{?link}{?link}{/link}{/link}", "template column 8: section 'link' inside itself");
	refuses("{?title}{?link}{?title}", "template column 16: section 'title' inside itself");
	refuses("{?nope}{/nope}", "template column 1: unknown field 'nope'");
	refuses("\\q", "template column 1: unknown escape '\\q'");
	refuses("ab\\é", "template column 3: unknown escape '\\é'");
	refuses("ab\\", "template column 3: '\\' at the end (write \\\\ for a backslash)");
	refuses("éé{nope}", "template column 3: unknown field 'nope'");
	refuses("a\xff", "template column 2: invalid UTF-8");
	refuses("a\nb", "template column 2: control character (write \\n for a new line)");
	refuses("{Title}", "template column 1: unknown field 'Title'");
	refuses("{ title }", "template column 1: unknown field ' title '");

	memset(big, 'a', sizeof big);
	big[SRC_MAX_TEST + 1] = '\0';
	refuses(big, "template column 4097: longer than 4096 bytes");
	big[SRC_MAX_TEST] = '\0';
	struct render *r = NULL;
	char err[64] = "";
	ok(render_compile(big, RENDER_TEXT, false, &r, err, sizeof err) == 0 && r,
	   "exactly 4096 bytes compile");
	render_free(r);
	r = NULL;

	char tiny[10] = "zzzzzzzzz";
	ok(render_compile("{nope}", RENDER_TEXT, false, &r, tiny, sizeof tiny) == -EINVAL &&
	       !strcmp(tiny, "template "),
	   "a short error buffer is truncated, terminated");
	ok(render_compile("{nope}", RENDER_TEXT, false, &r, NULL, 0) == -EINVAL && !r,
	   "no error buffer at all");
	render_free(NULL);
	ok(1, "render_free(NULL) is a no-op");
}

static const char *const text_footer_1 =
    "\n-- \nYou get this because subscription 12 of alice matched.\n"
    "Change it: herald sub show alice 12";

static void footers(void)
{
	struct herald_notification n = sample(), b = bare();
	char want[512];
	snprintf(want, sizeof want, "%s%s", "bodhi: kernel-6.1 pushed to stable", text_footer_1);
	renders("{title}", RENDER_TEXT, true, &n, want, "footer, one subscription");
	n.subscriptions = two_subs;
	n.n_subscriptions = 2;
	renders("{title}", RENDER_TEXT, true, &n,
		"bodhi: kernel-6.1 pushed to stable"
		"\n-- \nYou get this because subscriptions 12, 13 of alice matched.\n"
		"Change it: herald sub show alice 12",
		"footer, two subscriptions; 'Change it' names the first");
	n.user = "a_b\r\n";
	renders("x", RENDER_MARKDOWN, true, &n,
		"x\n\\-\\- \nYou get this because subscriptions 12, 13 of a\\_b   matched.\n"
		"Change it: herald sub show a\\_b   12",
		"markdown footer: dashes and user escaped, user kept on its line");
	renders("{title}", RENDER_TEXT, true, &b, "bodhi: kernel-6.1 pushed to stable",
		"no subscriptions: no footer");
	renders("{title}", RENDER_TEXT, false, &n, "bodhi: kernel-6.1 pushed to stable",
		"footer off");
}

/* Appending: render_note keeps what is in the buffer; a compiled template
 * gives the same output every time. */
static void appends(void)
{
	struct herald_notification n = sample();
	struct render *r = NULL;
	struct buf out = BUF_INIT;
	int rc = render_compile("{severity};", RENDER_TEXT, false, &r, NULL, 0);
	if (!rc)
		rc = buf_puts(&out, ">");
	for (int i = 0; i < 3 && !rc; i++)
		rc = render_note(r, &n, &out);
	same(rc, &out, ">info;info;info;", "render_note appends, the same every time");
	buf_release(&out);
	render_free(r);
}

/* ---- digests ---- */

struct digest {
	int rc;
	struct buf subject, body;
};

static struct digest digest(const char *tmpl, enum render_flavour fl, bool footer,
			    const struct herald_notification *const *notes, size_t n, size_t max)
{
	struct digest d = {0, BUF_INIT, BUF_INIT};
	struct render *r = NULL;
	d.rc = render_compile(tmpl, fl, footer, &r, NULL, 0);
	if (!d.rc)
		d.rc = render_digest(r, "alice", notes, n, max, &d.subject, &d.body);
	render_free(r);
	return d;
}

static void digest_is(struct digest d, const char *subject, const char *body, size_t max,
		      const char *what)
{
	const char *s = d.subject.data ? d.subject.data : "";
	const char *b = d.body.data ? d.body.data : "";
	if (!ok(d.rc == 0 && !strcmp(s, subject) && !strcmp(b, body) && d.body.len <= max, "%s",
		what))
		diag("rc %d, subject '%s', body '%s' (%zu bytes)", d.rc, s, b, d.body.len);
	buf_release(&d.subject);
	buf_release(&d.body);
}

static void digests(void)
{
	struct herald_notification v[5];
	const struct herald_notification *p[5];
	static const char *const titles[5] = {
	    "αβγ1", "αβγ2", "αβγ3", "αβγ4", "αβγ5",
	};
	for (int i = 0; i < 5; i++) {
		v[i] = sample();
		v[i].title = titles[i]; /* "αβγN": 7 bytes */
		p[i] = &v[i];
	}

	digest_is(digest(NULL, RENDER_TEXT, false, p, 1, 1000), "αβγ1",
		  "αβγ1\n2 packages updated\nhttps://bodhi.example.org/updates/F-1", 1000,
		  "one note: the subject is its title");
	digest_is(digest("{title}", RENDER_TEXT, false, p, 3, 1000),
		  "[herald] 3 notifications for alice",
		  "αβγ1\n\nαβγ2\n\n"
		  "αβγ3",
		  1000, "three notes: count in the subject, blank line between notes");
	digest_is(digest("{title}", RENDER_TEXT, false, p, 5, 43),
		  "[herald] 5 notifications for alice",
		  "αβγ1\n\nαβγ2\n\n"
		  "αβγ3\n\nαβγ4\n\n"
		  "αβγ5",
		  43, "all five fit in exactly 43 bytes");
	digest_is(digest("{title}", RENDER_TEXT, false, p, 5, 42),
		  "[herald] 5 notifications for alice",
		  "αβγ1\n\nαβγ2\n\n"
		  "αβγ3\n\n... and 2 more",
		  42, "one byte short: cut between notes with room for the count");
	digest_is(digest("{title}", RENDER_TEXT, false, p, 5, 32),
		  "[herald] 5 notifications for alice", "αβγ1\n\nαβγ2\n\n... and 3 more", 32,
		  "two notes and the count in exactly 32 bytes");
	digest_is(digest("{title}", RENDER_TEXT, false, p, 5, 31),
		  "[herald] 5 notifications for alice", "αβγ1\n\n... and 4 more", 31,
		  "31 bytes: one note");

	/* Twelve one-byte notes: the count line grows to two digits. */
	const struct herald_notification *same12[12];
	for (int i = 0; i < 12; i++)
		same12[i] = &v[0];
	digest_is(digest("{destination}", RENDER_TEXT, false, same12, 12, 20),
		  "[herald] 12 notifications for alice", "7\n\n... and 11 more", 20,
		  "twelve notes in 20 bytes: one and the count");
	digest_is(digest("{destination}", RENDER_TEXT, false, same12, 12, 21),
		  "[herald] 12 notifications for alice", "7\n\n7\n\n... and 10 more", 21,
		  "21 bytes: two and the count");
	digest_is(digest("{destination}", RENDER_TEXT, false, same12, 11, 20),
		  "[herald] 11 notifications for alice", "7\n\n7\n\n... and 9 more", 20,
		  "eleven notes in 20 bytes: the count shrinks to one digit");

	/* A first note too long for the cap is cut on a character boundary. */
	v[0].title = "ααααα"; /* "ααααα": 10 bytes */
	digest_is(digest("{title}", RENDER_TEXT, false, p, 3, 25),
		  "[herald] 3 notifications for alice", "ααα...\n\n... and 2 more", 25,
		  "first note cut after 3 characters (6 bytes)");
	digest_is(digest("{title}", RENDER_TEXT, false, p, 3, 24),
		  "[herald] 3 notifications for alice", "αα...\n\n... and 2 more", 24,
		  "one byte less: the cut backs off to a whole character");
	digest_is(digest("{title}", RENDER_TEXT, false, p, 1, 8), "ααααα", "αα...", 8,
		  "a single note cut, no count");
	digest_is(digest("{title}", RENDER_TEXT, false, p, 1, 3), "ααααα", "", 3,
		  "no room for anything: empty body, never over the cap");

	v[0].title = "a*b*c";
	digest_is(digest("{title}", RENDER_MARKDOWN, false, p, 1, 6), "a*b*c", "a\\*...", 6,
		  "markdown: cut after a whole escape");
	digest_is(digest("{title}", RENDER_MARKDOWN, false, p, 1, 5), "a*b*c", "a...", 5,
		  "markdown: never cut between a backslash and its character");

	v[0].title = "bad\r\ntitle\xff";
	digest_is(digest("{title}", RENDER_MARKDOWN, false, p, 1, 100), "bad  title\xef\xbf\xbd",
		  "bad  title\xef\xbf\xbd", 100,
		  "the one-note subject is a clean line, not escaped");
	digest_is(digest("{title}", RENDER_TEXT, false, p, 0, 100),
		  "[herald] 0 notifications for alice", "", 100, "no notes: empty body");

	v[1].n_subscriptions = 1;
	v[1].subscriptions = two_subs + 1;
	digest_is(digest("{title}", RENDER_TEXT, true, p + 1, 2, 1000),
		  "[herald] 2 notifications for alice",
		  "αβγ2\n-- \nYou get this because subscription 13 of alice matched.\n"
		  "Change it: herald sub show alice 13\n\n"
		  "αβγ3\n-- \nYou get this because subscription 12 of alice matched.\n"
		  "Change it: herald sub show alice 12",
		  1000, "each note keeps its own footer");

	struct digest d = {0, BUF_INIT, BUF_INIT};
	struct render *r = NULL;
	d.rc = render_compile("{title}", RENDER_TEXT, false, &r, NULL, 0);
	if (!d.rc)
		d.rc = buf_puts(&d.subject, "S:");
	if (!d.rc)
		d.rc = buf_puts(&d.body, "B:");
	if (!d.rc)
		d.rc = render_digest(r, "alice", p + 1, 2, 100, &d.subject, &d.body);
	render_free(r);
	digest_is(d, "S:[herald] 2 notifications for alice", "B:αβγ2\n\nαβγ3", 100,
		  "render_digest appends to both buffers");
}

/* The web app's links (render_links): the default templates end with the
 * Why line, the email's also with Unsubscribe; without links the defaults
 * render exactly as before; the fields work in any template, and a
 * Markdown template escapes them like any value. */
static void web_links(void)
{
	struct herald_notification n = sample();
	struct render_links lk = {"https://h.example/why.html?id=ab",
				  "https://h.example/unsubscribe/AQ-_x"};
	struct render *r = NULL;
	struct buf out = BUF_INIT;
	char err[128] = "";
	const char *base = "bodhi: kernel-6.1 pushed to stable\n2 packages updated\n"
			   "https://bodhi.example.org/updates/F-1";
	char want[512];
	int rc = render_compile(NULL, RENDER_TEXT, false, &r, err, sizeof err);
	if (!rc)
		rc = render_note_links(r, &n, &lk, &out);
	snprintf(want, sizeof want, "%s\nWhy: https://h.example/why.html?id=ab", base);
	same(rc, &out, want, "the default text template ends with the Why line");
	buf_reset(&out);
	rc = render_note_links(r, &n, NULL, &out);
	same(rc, &out, base, "without links it renders as before");
	render_free(r);
	buf_release(&out);
	r = NULL;
	rc = render_compile(render_default_source(RENDER_TEXT, true), RENDER_TEXT, false, &r, err,
			    sizeof err);
	if (!rc)
		rc = render_note_links(r, &n, &lk, &out);
	snprintf(want, sizeof want,
		 "%s\nWhy: https://h.example/why.html?id=ab\n"
		 "Unsubscribe: https://h.example/unsubscribe/AQ-_x",
		 base);
	same(rc, &out, want, "the email's default adds the Unsubscribe line");
	buf_reset(&out);
	struct render_links half = {"https://h.example/why.html?id=ab", NULL};
	rc = render_note_links(r, &n, &half, &out);
	snprintf(want, sizeof want, "%s\nWhy: https://h.example/why.html?id=ab", base);
	same(rc, &out, want, "no unsubscribe link (a note without subscription): no line");
	render_free(r);
	buf_release(&out);
	r = NULL;
	rc = render_compile("[{why_url}]", RENDER_MARKDOWN, false, &r, err, sizeof err);
	if (!rc)
		rc = render_note_links(r, &n, &lk, &out);
	same(rc, &out, "[https://h\\.example/why\\.html?id\\=ab]",
	     "a Markdown template escapes a link like any value");
	render_free(r);
	buf_release(&out);
}

int main(void)
{
	defaults();
	fields();
	sections();
	escapes();
	markdown();
	hostile();
	invalid_utf8();
	compile_errors();
	footers();
	appends();
	digests();
	web_links();
	return tap_done();
}
