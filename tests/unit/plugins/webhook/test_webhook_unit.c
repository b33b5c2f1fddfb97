/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The webhook sink's pure modules, without libcurl or a daemon: Standard
 * Webhooks signatures against the published vector, several secrets and
 * whsec_ errors, the GitHub signature (expected value from `openssl dgst
 * -sha256 -hmac`), every payload shape parsed back, custom templates, the
 * CIDR matcher and the private-range classifier (IPv4, IPv6, mapped),
 * address syntax, URL redaction, Retry-After and HTTP status outcomes.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "netguard.h"
#include "outcome.h"
#include "payload.h"
#include "secrets.h"
#include "sign.h"
#include "tap.h"

/* ---- signatures ---- */

static const char vector_secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static const char vector_id[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
static const char vector_body[] = "{\"test\": 2432232314}";
static const char vector_sig[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
/* whsec_ of "second-key-0123456789abcdef"; its signature of the vector from
 * printf 'ID.TS.BODY' | openssl dgst -sha256 -hmac second-key-... -binary | base64 */
static const char second_secret[] = "whsec_c2Vjb25kLWtleS0wMTIzNDU2Nzg5YWJjZGVm";
static const char second_sig[] = "v1,Cjl2ByjJxDZo0kHk+QPbVQigkC/sFQBtQgzueid0PuI=";

static void test_sign(void)
{
	struct sign_key k;
	char err[200], sig[SIGN_V1_LEN], gh[SIGN_GITHUB_LEN];

	ok(!sign_parse_whsec(vector_secret, strlen(vector_secret), &k, err, sizeof err) &&
	       k.len == 24,
	   "the published whsec_ secret parses to a 24-byte key");
	ok(!sign_v1(&k, vector_id, 1614265330, vector_body, strlen(vector_body), sig) &&
	       !strcmp(sig, vector_sig),
	   "Standard Webhooks vector: %s", sig);
	ok(!sign_v1(&k, vector_id, 1614265331, vector_body, strlen(vector_body), sig) &&
	       strcmp(sig, vector_sig),
	   "another timestamp, another signature");

	struct secrets s = {0};
	char text[300];
	snprintf(text, sizeof text, "# current\n%s\r\n\n  # next, during rotation\n  %s  \n",
		 vector_secret, second_secret);
	ok(!secrets_parse_whsec_text(text, &s, err, sizeof err) && s.n_whsec == 2,
	   "a secret file with two secrets, comments and blank lines: %zu", s.n_whsec);
	if (s.n_whsec == 2) {
		sign_v1(&s.whsec[0], vector_id, 1614265330, vector_body, strlen(vector_body), sig);
		ok(!strcmp(sig, vector_sig), "first secret signs as the vector");
		sign_v1(&s.whsec[1], vector_id, 1614265330, vector_body, strlen(vector_body), sig);
		ok(!strcmp(sig, second_sig), "second secret: %s", sig);
	}
	secrets_release(&s);
	ok(secrets_parse_whsec_text("# only a comment\n\n", &s, err, sizeof err) &&
	       strstr(err, "no secret"),
	   "a file without secrets is refused (%s)", err);
	ok(secrets_parse_whsec_text("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\nwhsec_QUJD!\n", &s, err,
				    sizeof err) &&
	       strstr(err, "line 2") && !strstr(err, "QUJD"),
	   "a bad second line names the line, not the secret (%s)", err);

	static const char *const bad[] = {"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_",
					  "whsec_abc", "whsec_ab$d", "whsec_====",
					  "whsec_QQ=A", "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int rc = sign_parse_whsec(bad[i], strlen(bad[i]), &k, err, sizeof err);
		ok(rc == -1 && (strlen(bad[i]) <= 6 || !strstr(err, bad[i] + 6)),
		   "'%s' is refused (%s)", bad[i], err);
	}
	ok(!sign_parse_whsec("whsec_QQ==", 10, &k, err, sizeof err) && k.len == 1 && k.k[0] == 'A',
	   "padding is not part of the key");

	/* GitHub's own documented example; checked with
	 * printf 'Hello, World!' | openssl dgst -sha256 -hmac "It's a Secret to Everybody" */
	memset(&k, 0, sizeof k);
	memcpy(k.k, "It's a Secret to Everybody", 26);
	k.len = 26;
	ok(!sign_github(&k, "Hello, World!", 13, gh) &&
	       !strcmp(gh, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"),
	   "GitHub X-Hub-Signature-256: %s", gh);
}

/* ---- payloads ---- */

static struct herald_notification note(const char *id, const char *title, const char *link)
{
	static char json[8][300];
	static int k;
	char *j = json[k++ % 8];

	json_t *o = json_pack("{s:s, s:s, s:i}", "id", id, "title", title, "n", k);
	char *d = json_dumps(o, JSON_COMPACT);
	snprintf(j, 300, "%s", d);
	free(d);
	json_decref(o);
	return (struct herald_notification){.size = sizeof(struct herald_notification),
					     .id = id,
					     .user = "alice",
					     .topic = "org.test.topic",
					     .title = title,
					     .summary = "a summary",
					     .link = link,
					     .agent = "ralph",
					     .severity = "info",
					     .json = j,
					     .text = "note text",
					     .markdown = "note *md*"};
}

static json_t *build(enum payload_format f, const json_t *tmpl, const struct herald_sink_item *it)
{
	char err[200];
	size_t len = 0;
	char *s = payload_build(f, tmpl, it, &len, err, sizeof err);
	json_t *j = s ? json_loads(s, 0, NULL) : NULL;

	if (!s)
		diag("payload_build(%s): %s", payload_format_name(f), err);
	else if (strlen(s) != len)
		diag("length mismatch");
	free(s);
	return j;
}

static const char *jget(const json_t *j, const char *path)
{
	/* "a.b.0.c": objects by key, arrays by index */
	char buf[200], *save = NULL;
	snprintf(buf, sizeof buf, "%s", path);
	for (char *t = strtok_r(buf, ".", &save); t && j; t = strtok_r(NULL, ".", &save))
		j = json_is_array(j) ? json_array_get(j, (size_t)atoi(t)) : json_object_get(j, t);
	return json_string_value(j);
}

static void test_payloads(void)
{
	struct herald_notification n1 = note("0123456789abcdef0123456789abcdef", "Title \"one\"",
					     "https://example.org/p/1");
	const struct herald_notification *one[] = {&n1};
	struct herald_sink_item it = {.size = sizeof it,
				      .user = "alice",
				      .address = "https://example.org/hook",
				      .notes = one,
				      .n_notes = 1,
				      .id = n1.id,
				      .subject = "Title \"one\"",
				      .text = "ralph <did> this & that @everyone",
				      .markdown = "**ralph** did [this](https://example.org/p/1)"};
	json_t *j;

	j = build(PAYLOAD_GENERIC, NULL, &it);
	ok(j && !strcmp(jget(j, "id"), n1.id) && !strcmp(jget(j, "type"), "notification") &&
	       !strcmp(jget(j, "user"), "alice") && !strcmp(jget(j, "subject"), it.subject) &&
	       !strcmp(jget(j, "text"), it.text) && !strcmp(jget(j, "markdown"), it.markdown) &&
	       json_array_size(json_object_get(j, "notifications")) == 1 &&
	       !strcmp(jget(j, "notifications.0.title"), "Title \"one\""),
	   "generic: id, type, user, subject, text, markdown, notifications[]");
	ok(j && !json_object_get(j, "unsubscribe_url") && !json_object_get(j, "why_url"),
	   "generic without a web app: no link keys");
	json_decref(j);
	struct herald_sink_item lit = it;
	lit.unsubscribe_url = "https://h.example/unsubscribe/AQ";
	lit.why_url = "https://h.example/why.html?id=ab";
	j = build(PAYLOAD_GENERIC, NULL, &lit);
	ok(j && !strcmp(jget(j, "unsubscribe_url"), lit.unsubscribe_url) &&
		   !strcmp(jget(j, "why_url"), lit.why_url) &&
		   json_array_size(json_object_get(j, "notifications")) == 1,
	   "generic with the web app's links (ABI 1.2): unsubscribe_url and why_url");
	json_decref(j);
	lit.size = offsetof(struct herald_sink_item, unsubscribe_url); /* a 1.1 host's item */
	j = build(PAYLOAD_GENERIC, NULL, &lit);
	ok(j && !json_object_get(j, "unsubscribe_url") && !json_object_get(j, "why_url"),
	   "an older host's shorter item: the fields are not read");
	json_decref(j);

	j = build(PAYLOAD_SLACK, NULL, &it);
	ok(j && !strcmp(jget(j, "text"), "ralph &lt;did&gt; this &amp; that @everyone") &&
	       json_object_size(j) == 1,
	   "slack: text, with & < > escaped: %s", j ? jget(j, "text") : "?");
	json_decref(j);
	j = build(PAYLOAD_MATTERMOST, NULL, &it);
	ok(j && !strcmp(jget(j, "text"), it.markdown), "mattermost: text is the Markdown");
	json_decref(j);
	j = build(PAYLOAD_MATRIX, NULL, &it);
	ok(j && !strcmp(jget(j, "text"), it.markdown), "matrix (hookshot): text is the Markdown");
	json_decref(j);
	j = build(PAYLOAD_ZULIP, NULL, &it);
	ok(j && !strcmp(jget(j, "text"), it.text), "zulip (slack_incoming): text");
	json_decref(j);

	j = build(PAYLOAD_DISCORD, NULL, &it);
	ok(j && !strcmp(jget(j, "content"), it.markdown) &&
	       json_is_array(json_object_get(json_object_get(j, "allowed_mentions"), "parse")) &&
	       json_array_size(json_object_get(json_object_get(j, "allowed_mentions"), "parse")) == 0,
	   "discord: content, and no mentions parsed");
	json_decref(j);
	{
		/* 3000 two-byte characters: cut to 2000 characters, "…" last */
		char *big = malloc(6001);
		for (int i = 0; i < 3000; i++)
			memcpy(big + 2 * i, "\xc3\xa9", 2);
		big[6000] = '\0';
		const char *md = it.markdown;
		it.markdown = big;
		j = build(PAYLOAD_DISCORD, NULL, &it);
		const char *c = j ? jget(j, "content") : NULL;
		size_t chars = 0;
		for (const char *p = c; p && *p; p++)
			chars += ((unsigned char)*p & 0xc0) != 0x80;
		ok(c && chars == PAYLOAD_DISCORD_MAX && !strcmp(c + strlen(c) - 3, "\xe2\x80\xa6"),
		   "discord: content cut to %d characters (%zu), ending in an ellipsis",
		   PAYLOAD_DISCORD_MAX, chars);
		json_decref(j);
		it.markdown = md;
		free(big);
		char *s = payload_cut_chars("short", 2000);
		ok(s && !strcmp(s, "short"), "a short text is not cut");
		free(s);
	}

	j = build(PAYLOAD_TEAMS, NULL, &it);
	ok(j && !strcmp(jget(j, "type"), "message") &&
	       !strcmp(jget(j, "attachments.0.contentType"),
		       "application/vnd.microsoft.card.adaptive") &&
	       !strcmp(jget(j, "attachments.0.content.type"), "AdaptiveCard") &&
	       jget(j, "attachments.0.content.version") &&
	       !strcmp(jget(j, "attachments.0.content.body.0.text"), it.subject) &&
	       !strcmp(jget(j, "attachments.0.content.body.1.text"), it.markdown) &&
	       !strcmp(jget(j, "attachments.0.content.actions.0.url"), n1.link) &&
	       !strcmp(jget(j, "attachments.0.content.actions.0.type"), "Action.OpenUrl"),
	   "teams: a message with one Adaptive Card (title, body, link action)");
	json_decref(j);

	/* a digest of three */
	struct herald_notification n2 = note("11111111111111111111111111111111", "two", "");
	struct herald_notification n3 = note("22222222222222222222222222222222", "three", "");
	const struct herald_notification *three[] = {&n1, &n2, &n3};
	struct herald_sink_item dg = it;
	dg.notes = three;
	dg.n_notes = 3;
	dg.digest = 1;
	dg.id = "dddddddddddddddddddddddddddddddd";
	dg.subject = "3 notifications for alice";
	j = build(PAYLOAD_GENERIC, NULL, &dg);
	ok(j && !strcmp(jget(j, "type"), "digest") && !strcmp(jget(j, "id"), dg.id) &&
	       json_array_size(json_object_get(j, "notifications")) == 3 &&
	       !strcmp(jget(j, "notifications.2.title"), "three"),
	   "generic digest: type digest, three notifications in order");
	json_decref(j);
	j = build(PAYLOAD_TEAMS, NULL, &dg);
	ok(j && !json_object_get(json_object_get(json_array_get(json_object_get(j, "attachments"), 0),
						 "content"),
				 "actions"),
	   "teams digest: no single link action");
	json_decref(j);

	/* custom templates */
	json_t *t = NULL;
	char err[200];
	ok(!payload_template_parse("{\"msg\": \"{title} by {agent}: {link}\", \"n\": \"{count}\", "
				   "\"a\": [\"{id}\", {\"t\": \"{topic}\"}], \"k\": 1, "
				   "\"lit\": \"{not a placeholder} {}\"}",
				   &t, err, sizeof err),
	   "a custom template parses");
	j = t ? build(PAYLOAD_CUSTOM, t, &it) : NULL;
	ok(j && !strcmp(jget(j, "msg"), "Title \"one\" by ralph: https://example.org/p/1") &&
	       !strcmp(jget(j, "n"), "1") && !strcmp(jget(j, "a.0"), n1.id) &&
	       !strcmp(jget(j, "a.1.t"), "org.test.topic") &&
	       json_integer_value(json_object_get(j, "k")) == 1 &&
	       !strcmp(jget(j, "lit"), "{not a placeholder} {}"),
	   "custom: placeholders substituted and JSON-escaped, other values kept");
	json_decref(j);
	j = t ? build(PAYLOAD_CUSTOM, t, &dg) : NULL;
	ok(j && !strcmp(jget(j, "msg"), "3 notifications for alice by ralph: ") &&
	       !strcmp(jget(j, "n"), "3"),
	   "custom digest: {title} is the digest subject, {count} 3, no {link}");
	json_decref(j);
	json_decref(t);
	ok(payload_template_parse("{\"x\": \"{titel}\"}", &t, err, sizeof err) &&
	       strstr(err, "{titel}"),
	   "an unknown placeholder is refused (%s)", err);
	ok(payload_template_parse("{\"x\": ", &t, err, sizeof err) && strstr(err, "not JSON"),
	   "a template that is not JSON is refused (%s)", err);
	size_t len;
	ok(!payload_build(PAYLOAD_CUSTOM, NULL, &it, &len, err, sizeof err),
	   "custom without a template: no body (%s)", err);

	/* empty Markdown: the text instead (services refuse an empty message) */
	struct herald_sink_item empty = it;
	empty.markdown = "";
	j = build(PAYLOAD_DISCORD, NULL, &empty);
	ok(j && !strcmp(jget(j, "content"), it.text), "discord with empty Markdown: the text");
	json_decref(j);
	empty.text = NULL;
	j = build(PAYLOAD_SLACK, NULL, &empty);
	ok(j && !strcmp(jget(j, "text"), "Title \"one\""), "slack with neither: the subject");
	json_decref(j);

	/* hostile input */
	struct herald_sink_item bad = it;
	bad.text = "bad \xff\xfe utf-8 \xc3";
	j = build(PAYLOAD_SLACK, NULL, &bad);
	ok(j && strstr(jget(j, "text"), "\xef\xbf\xbd"), "invalid UTF-8 becomes U+FFFD, valid JSON");
	json_decref(j);
	struct herald_notification nb = n1;
	nb.json = "{not json";
	const struct herald_notification *badnote[] = {&nb};
	bad = it;
	bad.notes = badnote;
	ok(!payload_build(PAYLOAD_GENERIC, NULL, &bad, &len, err, sizeof err) &&
	       strstr(err, "does not parse"),
	   "generic: a notification whose JSON does not parse is an error (%s)", err);
}

/* ---- the SSRF guard ---- */

static const char *classify(const char *text)
{
	unsigned char a[16];
	int fam = strchr(text, ':') ? AF_INET6 : AF_INET;

	if (inet_pton(fam, text, a) != 1)
		return "UNPARSABLE";
	return netguard_classify(fam, a);
}

static int check(const struct netguard_list *allow, const char *text, char *why, size_t len)
{
	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6};
	struct sockaddr_in s4 = {.sin_family = AF_INET};

	if (strchr(text, ':')) {
		inet_pton(AF_INET6, text, &s6.sin6_addr);
		return netguard_check(allow, (struct sockaddr *)&s6, sizeof s6, why, len);
	}
	inet_pton(AF_INET, text, &s4.sin_addr);
	return netguard_check(allow, (struct sockaddr *)&s4, sizeof s4, why, len);
}

static void test_netguard(void)
{
	static const struct {
		const char *addr;
		const char *range; /* a substring of the class, or NULL: public */
	} cases[] = {
	    {"127.0.0.1", "loopback"},	      {"127.255.1.2", "loopback"},
	    {"10.1.2.3", "private 10."},      {"172.16.0.1", "private 172.16"},
	    {"172.31.255.255", "private"},    {"172.32.0.0", NULL},
	    {"192.168.1.1", "private 192.168"}, {"169.254.169.254", "link-local"},
	    {"100.64.0.1", "CGNAT"},	      {"100.127.255.255", "CGNAT"},
	    {"100.128.0.1", NULL},	      {"0.0.0.0", "unspecified"},
	    {"224.0.0.1", "multicast"},	      {"255.255.255.255", "reserved"},
	    {"198.18.0.1", "benchmarking"},   {"8.8.8.8", NULL},
	    {"93.184.216.34", NULL},	      {"::1", "loopback"},
	    {"::", "unspecified"},	      {"fc00::1", "unique local"},
	    {"fd12:3456::1", "unique local"}, {"fe80::1", "link-local"},
	    {"febf::1", "link-local"},	      {"ff02::1", "multicast"},
	    {"2606:4700::1111", NULL},	      {"::ffff:127.0.0.1", "loopback"},
	    {"::ffff:10.0.0.1", "private"},   {"::ffff:169.254.169.254", "link-local"},
	    {"::ffff:8.8.8.8", NULL},	      {"::127.0.0.1", "loopback"},
	    {"64:ff9b::10.0.0.1", "private"}, {"64:ff9b::8.8.8.8", NULL},
	    {"2002:a00:1::1", "private"},     {"2002:808:808::1", NULL},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *c = classify(cases[i].addr);
		ok(cases[i].range ? c && strstr(c, cases[i].range) != NULL : c == NULL,
		   "%s is %s", cases[i].addr, c ? c : "public");
	}

	struct netguard_cidr c;
	char err[200], why[200];
	unsigned char a[16];
	ok(!netguard_parse_cidr("10.0.0.0/8", &c, err, sizeof err) && c.family == AF_INET &&
	       c.prefix == 8,
	   "10.0.0.0/8 parses");
	inet_pton(AF_INET, "10.200.3.4", a);
	ok(netguard_cidr_match(&c, AF_INET, a), "10.200.3.4 is in 10.0.0.0/8");
	inet_pton(AF_INET, "11.0.0.1", a);
	ok(!netguard_cidr_match(&c, AF_INET, a), "11.0.0.1 is not");
	ok(!netguard_parse_cidr("172.16.0.0/12", &c, err, sizeof err), "172.16.0.0/12 parses");
	inet_pton(AF_INET, "172.31.0.1", a);
	ok(netguard_cidr_match(&c, AF_INET, a), "a /12 matches across the partial byte");
	inet_pton(AF_INET, "172.32.0.1", a);
	ok(!netguard_cidr_match(&c, AF_INET, a), "and stops at its end");
	ok(!netguard_parse_cidr("fd00::/8", &c, err, sizeof err) && c.family == AF_INET6,
	   "fd00::/8 parses");
	inet_pton(AF_INET6, "fd12::1", a);
	ok(netguard_cidr_match(&c, AF_INET6, a) && !netguard_cidr_match(&c, AF_INET, a),
	   "fd12::1 is in it; families never mix");
	ok(!netguard_parse_cidr("192.0.2.7", &c, err, sizeof err) && c.prefix == 32,
	   "a bare address is a /32");
	ok(!netguard_parse_cidr("0.0.0.0/0", &c, err, sizeof err) && c.prefix == 0,
	   "0.0.0.0/0 parses");
	static const char *const bad[] = {"10.0.0.1/8", "10.0.0.0/33", "::/129", "10.0.0.0/",
					  "10.0.0/8",	"host/8",      "10.0.0.0/-1", "/8",
					  "10.0.0.0/8x"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ok(netguard_parse_cidr(bad[i], &c, err, sizeof err) == -1, "'%s' is refused (%s)",
		   bad[i], err);

	struct netguard_list l = {0};
	ok(!netguard_parse_list("127.0.0.0/8 ::1/128,10.0.0.0/8", &l, err, sizeof err) && l.n == 3,
	   "a list of three, space and comma separated");
	ok(netguard_parse_list("127.0.0.0/8 nope", &l, err, sizeof err) == -1 && l.n == 3,
	   "a bad list leaves the old one (%s)", err);
	ok(check(&l, "127.0.0.1", why, sizeof why) == 0, "allowed: 127.0.0.1");
	ok(check(&l, "::1", why, sizeof why) == 0, "allowed: ::1");
	ok(check(&l, "::ffff:127.0.0.1", why, sizeof why) == 0,
	   "allowed: ::ffff:127.0.0.1 (the IPv4 network covers the mapped form)");
	ok(check(&l, "192.168.0.1", why, sizeof why) == -1 && strstr(why, "192.168.0.1") &&
	       strstr(why, "private range") && strstr(why, "allow_networks"),
	   "not allowed: %s", why);
	ok(check(&l, "8.8.8.8", why, sizeof why) == 0, "public addresses need no allowing");
	netguard_list_release(&l);
	ok(check(&l, "127.0.0.1", why, sizeof why) == -1 &&
	       !strcmp(why, "address 127.0.0.1 is in a private range (loopback 127.0.0.0/8; allow "
			    "it with allow_networks)"),
	   "the empty list allows nothing special: %s", why);
	ok(check(&l, "::ffff:169.254.169.254", why, sizeof why) == -1 &&
	       strstr(why, "::ffff:169.254.169.254") && strstr(why, "link-local"),
	   "the metadata address, IPv4-mapped, is refused: %s", why);
	struct sockaddr un = {.sa_family = AF_UNIX};
	ok(netguard_check(&l, &un, sizeof un, why, sizeof why) == -1, "not IP: refused (%s)", why);
}

/* ---- addresses and redaction ---- */

static void test_addr(void)
{
	enum payload_format f;
	const char *url;
	char err[200], out[200];

	ok(!addr_parse("https://hooks.example.org/x", PAYLOAD_MATRIX, &f, &url, err, sizeof err) &&
	       f == PAYLOAD_MATRIX && !strcmp(url, "https://hooks.example.org/x"),
	   "a bare URL has the instance's format");
	ok(!addr_parse("slack+https://hooks.slack.com/services/T/B/X", PAYLOAD_GENERIC, &f, &url,
		       err, sizeof err) &&
	       f == PAYLOAD_SLACK && !strcmp(url, "https://hooks.slack.com/services/T/B/X"),
	   "slack+https://...");
	ok(!addr_parse("teams+HTTP://[::1]:8080/p?q=1", PAYLOAD_GENERIC, &f, &url, err, sizeof err) &&
	       f == PAYLOAD_TEAMS,
	   "teams+HTTP://[::1]:8080/...");
	ok(!addr_parse("http://u:p@h_1.example:1/p+q://x", PAYLOAD_GENERIC, &f, &url, err,
		       sizeof err) &&
	       f == PAYLOAD_GENERIC,
	   "userinfo, '_' in a host, '+' after the scheme");
	static const char *const bad[] = {
	    "ftp://example.org/",    "https:/example.org",     "https://",
	    "https:///x",	     "https://exa mple.org/",  "https://example.org/\x01",
	    "foo+https://x.org/",    "file:///etc/passwd",     "https://example.org:0/",
	    "https://example.org:70000/", "https://example.org:/", "https://[::1/",
	    "https://ex\xc3\xa9.org/", "gopher+https://x.org/", "https://x.org/{id}",
	    "javascript:alert(1)",   "https://a@/x",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ok(addr_parse(bad[i], PAYLOAD_GENERIC, &f, &url, err, sizeof err) == -1,
		   "refused: %s (%s)", bad[i], err);
	char *big = malloc(ADDR_MAX + 40);
	memcpy(big, "https://example.org/", 20);
	memset(big + 20, 'a', ADDR_MAX);
	big[ADDR_MAX + 20] = '\0';
	ok(addr_parse(big, PAYLOAD_GENERIC, &f, &url, err, sizeof err) == -1 && strstr(err, "longer"),
	   "longer than %d bytes: refused", ADDR_MAX);
	free(big);
	ok(addr_parse("https://x.org/secret-path?token=hunter2", PAYLOAD_GENERIC, &f, &url, err,
		      sizeof err) == 0,
	   "a token in the query is fine");
	addr_parse("ftp://user:hunter2@x.org/secret", PAYLOAD_GENERIC, &f, &url, err, sizeof err);
	ok(!strstr(err, "hunter2") && !strstr(err, "secret"), "errors hold no userinfo or path (%s)",
	   err);

	const char *slack = "https://hooks.slack.com/services/T0001/B0002/XXXXXXXXXXXXXXXX";
	ok(addr_leaks(slack, "invalid token XXXXXXXXXXXXXXXX"), "a token echoed alone leaks");
	ok(addr_leaks("https://x.org/p?token=abcdef12", "{\"path\":\"/p?token=abcdef12\"}"),
	   "a query value echoed leaks");
	ok(addr_leaks("https://user:hunter2pw@x.org/", "auth hunter2pw refused"),
	   "a password echoed leaks");
	ok(!addr_leaks(slack, "no_service") && !addr_leaks(slack, "invalid_payload") &&
	       !addr_leaks(slack, "team T0001"),
	   "Slack's error words and short pieces do not");
	ok(!addr_leaks(slack, ""), "nothing does not");

	static const struct {
		const char *in, *out;
	} red[] = {
	    {"https://hooks.slack.com/services/T00/B00/XXXX", "https://hooks.slack.com/..."},
	    {"http://127.0.0.1:8080/hook?token=abc", "http://127.0.0.1:8080/..."},
	    {"https://user:pw@example.org", "https://example.org/"},
	    {"https://user:pw@example.org/", "https://example.org/"},
	    {"https://example.org?k=v", "https://example.org/..."},
	    {"https://example.org#frag", "https://example.org/..."},
	    {"https://[2001:db8::1]:443/x", "https://[2001:db8::1]:443/..."},
	    {"https://a@b@example.org/x", "https://example.org/..."},
	    {"not a url", "(unparsable URL)"},
	};
	for (size_t i = 0; i < sizeof red / sizeof red[0]; i++) {
		addr_redact(red[i].in, out, sizeof out);
		ok(!strcmp(out, red[i].out), "redacted: %s -> %s", red[i].in, out);
	}
}

/* ---- Retry-After and statuses ---- */

static void test_outcome(void)
{
	const time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
	uint32_t s = 99;
	struct herald_sink_result r = {.size = sizeof r};

	ok(!outcome_retry_after("2", now, &s) && s == 2, "Retry-After: 2");
	ok(!outcome_retry_after(" 120 \r\n", now, &s) && s == 120, "Retry-After with blanks");
	ok(!outcome_retry_after("99999999999999", now, &s) && s == OUTCOME_RETRY_AFTER_MAX,
	   "a huge delay is capped at %u", OUTCOME_RETRY_AFTER_MAX);
	ok(!outcome_retry_after("Sun, 06 Nov 1994 08:50:07 GMT", now, &s) && s == 30,
	   "IMF-fixdate 30 s ahead: %u", s);
	ok(!outcome_retry_after("Sunday, 06-Nov-94 08:51:37 GMT", now, &s) && s == 120,
	   "RFC 850 date: %u", s);
	ok(!outcome_retry_after("Sun Nov  6 08:49:47 1994", now, &s) && s == 10,
	   "asctime date: %u", s);
	ok(!outcome_retry_after("Sun, 06 Nov 1994 08:00:00 GMT", now, &s) && s == 0,
	   "a date in the past: 0");
	static const char *const bad[] = {"", "soon", "-5", "1.5", "Sun, 06 Nov 1994 08:49:37 PST",
					  "Sun, 06 Foo 1994 08:49:37 GMT", "2 s"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		ok(outcome_retry_after(bad[i], now, &s) == -1, "not a Retry-After: '%s'", bad[i]);

	outcome_from_status(204, "No Content", NULL, NULL, now, true, &r);
	ok(r.outcome == HERALD_SINK_DELIVERED, "204: delivered");
	outcome_from_status(200, "", NULL, "5", now, true, &r);
	ok(r.outcome == HERALD_SINK_DELIVERED && r.retry_after == 0, "200: delivered");
	outcome_from_status(503, "Service Unavailable", NULL, "7", now, true, &r);
	ok(r.outcome == HERALD_SINK_RETRY && r.retry_after == 7 && strstr(r.reason, "HTTP 503"),
	   "503 + Retry-After 7: retry in 7 s (%s)", r.reason);
	outcome_from_status(429, NULL, NULL, "Sun, 06 Nov 1994 08:49:39 GMT", now, true, &r);
	ok(r.outcome == HERALD_SINK_RETRY && r.retry_after == 2 &&
	       !strcmp(r.reason, "HTTP 429: Too Many Requests; retry after 2 s"),
	   "429 under HTTP/2 (no phrase), date Retry-After: %s", r.reason);
	outcome_from_status(408, "Request Timeout", NULL, "junk", now, true, &r);
	ok(r.outcome == HERALD_SINK_RETRY && r.retry_after == 0, "408: retry, junk Retry-After ignored");
	outcome_from_status(410, "Gone", NULL, NULL, now, true, &r);
	ok(r.outcome == HERALD_SINK_GONE && !strcmp(r.reason, "HTTP 410: Gone"),
	   "410 to a 1.1 host: gone (%s)", r.reason);
	outcome_from_status(410, "Gone", NULL, NULL, now, false, &r);
	ok(r.outcome == HERALD_SINK_REJECTED, "410 to a 1.0 host: rejected");
	outcome_from_status(301, "Moved Permanently", NULL, NULL, now, true, &r);
	ok(r.outcome == HERALD_SINK_REJECTED && strstr(r.reason, "301") &&
	       strstr(r.reason, "redirects are not followed"),
	   "301: rejected (%s)", r.reason);
	outcome_from_status(404, "Not Found", "no_such_hook\r\n\tplease\n", NULL, now, true, &r);
	ok(r.outcome == HERALD_SINK_REJECTED &&
	       !strcmp(r.reason, "HTTP 404: Not Found (no_such_hook please)"),
	   "404 with a short body: %s", r.reason);
	outcome_from_status(400, "Bad\x1b[31m Request", NULL, NULL, now, true, &r);
	ok(r.outcome == HERALD_SINK_REJECTED && !strchr(r.reason, '\x1b'),
	   "controls in the phrase are cleaned: %s", r.reason);
	outcome_from_status(599, "", NULL, NULL, now, true, &r);
	ok(r.outcome == HERALD_SINK_RETRY && !strcmp(r.reason, "HTTP 599"), "599: retry (%s)",
	   r.reason);
	outcome_from_status(102, "", NULL, NULL, now, true, &r);
	ok(r.outcome == HERALD_SINK_REJECTED, "a final 1xx makes no sense: rejected");
}

int main(void)
{
	test_sign();
	test_payloads();
	test_netguard();
	test_addr();
	test_outcome();
	return tap_done();
}
