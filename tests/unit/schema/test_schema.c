/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for the schema engine: paths ([*], nested arrays, filters,
 * missing fields), templates (missing values, conditions, braces),
 * transforms, variables, rule order and defaults, the fallback for unknown
 * topics, the topic index, bad rule files (each with a clear error), and
 * concurrent use. Rule files are written to a temporary directory with
 * jansson, so templates need no C-and-JSON double escaping.
 */
#include "src/schema/schema.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/unit/tap.h"

static char tmpdir[] = "/tmp/herald-schema-XXXXXX";

static void write_file(const char *name, const char *text)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", tmpdir, name);
	char *slash = strrchr(path, '/');
	if (strchr(name, '/')) {
		*slash = '\0';
		mkdir(path, 0700);
		*slash = '/';
	}
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f)) {
		perror(path);
		exit(99);
	}
}

static void clear_dir(void)
{
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'/* '%s'/.[!.]*", tmpdir, tmpdir);
	if (system(cmd) != 0)
		exit(99);
}

/* Load the given rule files (name, text, name, text, ..., NULL). */
static struct schema *load_files(const char *identity, char *err, size_t errlen, ...)
{
	va_list ap;
	clear_dir();
	va_start(ap, errlen);
	for (const char *name; (name = va_arg(ap, const char *));)
		write_file(name, va_arg(ap, const char *));
	va_end(ap);
	char idpath[512];
	if (identity) {
		snprintf(idpath, sizeof idpath, "%s/identity.map", tmpdir);
		FILE *f = fopen(idpath, "w");
		if (!f || fputs(identity, f) < 0 || fclose(f))
			exit(99);
	}
	struct schema *s = NULL;
	err[0] = '\0';
	if (schema_load(tmpdir, identity ? idpath : NULL, &s, err, errlen))
		return NULL;
	return s;
}

/* One rule for topic "t.*" built from key/value pairs (value: string or JSON). */
static struct schema *one_rule(json_t *rule)
{
	char err[512];
	json_object_set_new(rule, "topic", json_string("t.*"));
	json_t *file = json_pack("{s:[o]}", "rules", rule);
	char *text = json_dumps(file, 0);
	struct schema *s = load_files("{\"al\": \"alice\", \"bob@example.com\": \"bob\"}", err,
				      sizeof err, "r.json", text, NULL);
	if (!s)
		diag("load failed: %s", err);
	free(text);
	json_decref(file);
	return s;
}

static const char *msg_text =
	"{\"a\": {\"b\": \"B\", \"n\": 42, \"r\": 1.5, \"t\": true, \"f\": false, \"z\": 0,"
	" \"nul\": null, \"e\": \"\", \"o\": {}, \"odd.key\": \"dotted\"},"
	" \"builds\": [{\"nvr\": \"foo-1.0-1.fc30\", \"arch\": \"x86_64\"},"
	"              {\"nvr\": \"bar-baz-2-3\", \"arch\": \"noarch\"}],"
	" \"nested\": [[1, 2], [3, [4, 5]]],"
	" \"obj\": {\"k1\": \"v1\", \"k2\": \"v2\"},"
	" \"map\": {\"ghlogin\": \"fasname\"}, \"login\": \"ghlogin\","
	" \"text\": \"thanks @alice and @bob-2, mail me at x@y.org\\nsecond line\","
	" \"list\": \"a, b c,,d\", \"people\": [\"al\", \"bob@example.com\","
	" \"carol@fedoraproject.org\", \"dave@elsewhere.org\","
	" \"http://erin.id.fedoraproject.org/\"],"
	" \"topic_like\": \"org.fedoraproject.prod.bodhi.update.comment\"}";

/* Render `tmpl` as the title of a t.* rule over msg_text; "<none>" if it fails. */
static char *render(const char *tmpl)
{
	struct schema *s = one_rule(json_pack("{s:[s,s]}", "title", tmpl, "<none>"));
	json_t *msg = json_loads(msg_text, 0, NULL);
	struct meta m;
	char *out = NULL;
	if (s && !schema_describe(s, "t.x", msg, &m)) {
		out = strdup(m.title);
		meta_release(&m);
	}
	json_decref(msg);
	schema_free(s);
	return out ? out : strdup("<load failed>");
}

static void expect_render(const char *tmpl, const char *want)
{
	char *got = render(tmpl);
	ok(!strcmp(got, want), "%s -> \"%s\" (got \"%s\")", tmpl, want, got);
	free(got);
}

/* The usernames an expression yields (sorted, unique), joined with ",". */
static void expect_names(const char *expr, const char *want)
{
	struct schema *s = one_rule(json_pack("{s:s}", "usernames", expr));
	json_t *msg = json_loads(msg_text, 0, NULL);
	struct meta m;
	char got[512] = "<load failed>";
	if (s && !schema_describe(s, "t.x", msg, &m)) {
		got[0] = '\0';
		for (size_t i = 0; i < m.n_usernames; i++)
			snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", i ? "," : "",
				 m.usernames[i]);
		meta_release(&m);
	}
	ok(!strcmp(got, want), "usernames %s -> [%s] (got [%s])", expr, want, got);
	json_decref(msg);
	schema_free(s);
}

static void paths(void)
{
	expect_render("{msg.a.b}", "B");
	expect_render("{msg.a.n} {msg.a.r} {msg.a.t} {msg.a.f} {msg.a.z}", "42 1.5 true false 0");
	expect_render("{msg.a[\"odd.key\"]}", "dotted");
	expect_render("{msg.builds[0].nvr}", "foo-1.0-1.fc30");
	expect_render("{msg.builds[-1].nvr}", "bar-baz-2-3");
	expect_render("{msg.builds[*].nvr}", "foo-1.0-1.fc30, bar-baz-2-3");
	expect_render("{msg.builds[arch=noarch].nvr}", "bar-baz-2-3");
	expect_render("{msg.builds[arch!=noarch].nvr}", "foo-1.0-1.fc30");
	expect_render("{msg.nested[*][*]}", "1, 2, 3, 4, 5"); /* a path ending on an array */
	expect_render("{msg.nested[1][1]}", "4, 5");
	expect_render("{msg.nested[*][*][*]}", "4, 5");
	expect_render("{msg.obj[*]}", "v1, v2");
	expect_render("{msg.builds[5].nvr}", "<none>");
	expect_render("{msg.nope.deeper}", "<none>");
	expect_render("{msg.a.b.c}", "<none>");
	expect_render("{msg.a.nul}", "<none>");
	expect_render("{msg.a.o}", "<none>");
	expect_render("[{msg.a.e}]", "[]");
	expect_render("{topic}", "t.x");
	expect_render("{\"lit\"} {\"q\\\"uote\"}", "lit q\"uote");
}

static void templates(void)
{
	expect_render("{msg.a.b} and {msg.missing}", "<none>");
	expect_render("x{?msg.a.t}y", "xy");
	expect_render("x{?msg.a.f}y", "<none>");
	expect_render("x{?msg.a.o}y", "<none>");
	expect_render("x{?msg.builds}y", "xy");
	expect_render("x{!msg.a.z}y", "xy");
	expect_render("x{!msg.a.n}y", "<none>");
	expect_render("{{literal}} {msg.a.b}", "{literal} B");
	expect_render("{msg.missing || msg.a.b}", "B");
	expect_render("{msg.a.e || msg.a.b}", "B");
	expect_render("{msg.a.z || \"zero\"}", "zero");
	expect_render("[{msg.missing || msg.a.e}]", "[]");
	expect_render("{ msg.a.b | lower }", "b");
}

static void transforms(void)
{
	expect_render("{msg.builds[*].nvr | nvr}", "foo, bar-baz");
	expect_render("{\"noversion\" | nvr}", "noversion");
	expect_render("{msg.a.b | lower}{\"x\" | upper}", "bX");
	expect_render("{msg.topic_like | strip_env}", "bodhi.update.comment");
	expect_render("{topic | strip_env}", "t.x");
	expect_render("{msg.topic_like | strip_prefix:org. | strip_suffix:.comment}",
		      "fedoraproject.prod.bodhi.update");
	expect_render("{msg.a.b | prepend:\"<\" | append:>}", "<B>");
	expect_render("[{msg.a.e | prepend:x}]", "[]");
	expect_render("{msg.topic_like | after:prod. | before:.}", "bodhi");
	expect_render("{msg.topic_like | before:zzz}",
		      "org.fedoraproject.prod.bodhi.update.comment");
	expect_render("{\"/a/b/c.git\" | basename}", "c.git");
	expect_render("{msg.list | split}", "a, b, c, d");
	expect_render("{msg.list | split:\", \"}", "a, b c,,d");
	expect_render("{msg.topic_like | split:. | nth:-2}", "update");
	expect_render("{msg.topic_like | split:. | nth:9}", "<none>");
	expect_render("{msg.text | mentions}", "alice, bob-2");
	expect_render("{msg.text | firstline}", "thanks @alice and @bob-2, mail me at x@y.org");
	expect_render("{msg.a.n | map:41=no,42=yes}", "yes");
	expect_render("{msg.a.n | map:1=one}", "<none>");
	expect_render("{msg.a.n | map:1=one,*=other}", "other");
	expect_render("{\"a,b\" | map:a\\,b=comma}", "comma");
	expect_render("{msg.topic_like | replace:.=/}",
		      "org/fedoraproject/prod/bodhi/update/comment");
	expect_render("{msg.builds[*].arch | keep:x86*}", "x86_64");
	expect_render("{msg.builds[*].arch | drop:x86*}", "noarch");
	expect_render("{msg.obj | keys}", "k1, k2");
	expect_render("{msg.a.b | keys}", "<none>");
	expect_render("{\"abcdef\" | truncate:3}", "abc...");
	expect_render("{\"abc\" | truncate:3}", "abc");
	expect_render("{\"h\xc3\xa9llo\" | head:2}", "h\xc3\xa9");
	expect_render("{msg.builds[*].arch | first}/{msg.builds[*].arch | last}", "x86_64/noarch");
	expect_render("{msg.builds | count} {msg.missing | count}", "2 0");
	expect_render("x{?msg.missing | count}", "<none>");
	expect_render("{msg.builds[*].arch | join:+}", "x86_64+noarch");
	expect_render("{msg.builds[*].arch | sort | join:\" \"}", "noarch x86_64");
	expect_render("{\"b a b\" | split | unique}", "b, a");
	expect_names("msg.people | user", "alice,bob,carol,erin");
	expect_names("msg.people", "al,bob@example.com,carol@fedoraproject.org,"
			       "dave@elsewhere.org,http://erin.id.fedoraproject.org/");
	expect_names("msg.text | mentions | user", "alice,bob-2");
}

static void variables(void)
{
	json_t *rule = json_pack(
		"{s:{s:s,s:s,s:[s,s],s:s},s:s,s:s}", "vars", "b", "{msg.a.b}", "p",
		"{msg.missing || msg.builds[0]}", "alt", "{msg.missing}", "fallback", "key",
		"{msg.login}", "title", "{$b}/{$p.nvr}/{$alt}/{msg.map[$key]}", "usernames",
		"$p.arch");
	struct schema *s = one_rule(rule);
	json_t *msg = json_loads(msg_text, 0, NULL);
	struct meta m;
	ok(s && !schema_describe(s, "t.x", msg, &m), "variables: describe");
	if (s && m.title) {
		ok(!strcmp(m.title, "B/foo-1.0-1.fc30/fallback/fasname"),
		   "variables hold objects, fall back, index objects (%s)", m.title);
		ok(m.n_usernames == 1 && !strcmp(m.usernames[0], "x86_64"), "path from a variable");
		meta_release(&m);
	}
	json_decref(msg);
	schema_free(s);

	char err[512];
	s = load_files(NULL, err, sizeof err, "a.json",
		       "{\"vars\": {\"v\": \"file\"}, \"rules\": [{\"topic\": \"t.*\","
		       " \"vars\": {\"v\": \"rule+{$v}\"}, \"title\": \"{$v}\"}]}",
		       NULL);
	msg = json_object();
	ok(s && !schema_describe(s, "t.x", msg, &m) && !strcmp(m.title, "rule+file"),
	   "a rule variable shadows and may use the file's");
	if (s)
		meta_release(&m);
	schema_free(s);
	json_decref(msg);
}

static void describe_text(struct schema *s, const char *topic, const char *msg, struct meta *m)
{
	json_t *j = json_loads(msg, 0, NULL);
	if (schema_describe(s, topic, j, m))
		memset(m, 0, sizeof *m);
	json_decref(j);
}

static void rule_order(void)
{
	char err[512];
	struct meta m;
	struct schema *s = load_files(
		NULL, err, sizeof err,
		"20-general.json",
		"{\"rules\": [{\"topic\": \"*.svc.*\", \"title\": \"general\"}]}",
		"10-specific.json",
		"{\"defaults\": {\"app\": \"svc\", \"severity\": \"notice\"},"
		" \"rules\": ["
		"  {\"topic\": \"*.svc.thing.*\", \"when\": \"{?msg.go}\", \"title\": \"when\"},"
		"  {\"topic\": [\"*.svc.thing.new\", \"x.y\"], \"title\": \"first\","
		"   \"severity\": \"{msg.level | map:bad=error}\"},"
		"  {\"topic\": \"*.svc.thing.new\", \"title\": \"second\"},"
		"  {\"topic\": \"*.svc.thing.other\", \"title\": \"other\"}]}",
		"sub/30-any.json",
		"{\"rules\": [{\"topic\": \"*stray*\", \"title\": \"anywhere\"}]}",
		".hidden.json", "{not json", "notes.txt", "not a rule file", NULL);
	ok(s != NULL, "rules in files and subdirectories load (%s)", err);
	if (!s)
		return;
	ok(schema_rule_count(s) == 6, "6 rules (hidden files and non-JSON skipped)");
	describe_text(s, "org.x.prod.svc.thing.new", "{}", &m);
	ok(m.title && !strcmp(m.title, "first"), "first matching rule wins (%s)", m.title);
	ok(!strcmp(m.app, "svc"), "file defaults apply");
	ok(m.severity == SEV_INFO, "a rule's own key beats the default; unrendered: built-in info");
	ok(m.summary && !strcmp(m.summary, "first"), "a rule without summary repeats its title");
	meta_release(&m);
	describe_text(s, "org.x.prod.svc.thing.new", "{\"go\": 1, \"level\": \"bad\"}", &m);
	ok(m.title && !strcmp(m.title, "when"), "a rule's when condition");
	meta_release(&m);
	describe_text(s, "org.x.prod.svc.thing.new", "{\"level\": \"bad\"}", &m);
	ok(m.severity == SEV_ERROR, "severity from a map");
	meta_release(&m);
	describe_text(s, "org.x.prod.svc.thing.other", "{}", &m);
	ok(m.severity == SEV_NOTICE && !strcmp(m.title, "other"), "file default severity");
	meta_release(&m);
	describe_text(s, "x.y", "{}", &m);
	ok(m.title && !strcmp(m.title, "first"), "exact glob in a list");
	meta_release(&m);
	describe_text(s, "org.x.prod.svc.other", "{}", &m);
	ok(m.title && !strcmp(m.title, "general"), "later file for other topics");
	meta_release(&m);
	describe_text(s, "a.strayed.b", "{}", &m);
	ok(m.title && !strcmp(m.title, "anywhere"), "a glob without whole words is always tried");
	meta_release(&m);
	const char *which = schema_match(s, "org.x.prod.svc.thing.new", NULL);
	ok(which && strstr(which, "10-specific.json: rule 2"), "schema_match names the rule (%s)",
	   which);
	ok(schema_match(s, "no.match.here", NULL) == NULL, "schema_match: NULL for the fallback");
	schema_free(s);
}

/* Join a meta list with ",", for comparisons. */
static const char *joined(char *const *v, size_t n)
{
	static char out[512];
	out[0] = '\0';
	for (size_t i = 0; i < n; i++)
		snprintf(out + strlen(out), sizeof out - strlen(out), "%s%s", i ? "," : "", v[i]);
	return out;
}

static void fallback(void)
{
	char err[512];
	struct meta m;
	struct schema *s = load_files("{\"threebean\": \"ralph\"}", err, sizeof err, "e.json",
				      "{\"rules\": []}", NULL);
	ok(s != NULL, "an empty rule file loads");
	if (!s)
		return;
	describe_text(s, "org.fedoraproject.stg.unknown.thing.happened",
		      "{\"agent\": \"threebean\", \"user\": {\"name\": \"bob\"},"
		      " \"owner\": \"carl\","
		      " \"submitter\": \"x@nowhere.org\"}",
		      &m);
	ok(m.app && !strcmp(m.app, "unknown"), "fallback app from the topic (%s)", m.app);
	ok(m.title && !strcmp(m.title, "unknown.thing.happened by ralph"), "fallback title (%s)",
	   m.title);
	ok(m.summary && !strcmp(m.summary, "unknown.thing.happened by ralph"),
	   "fallback summary (%s)", m.summary);
	ok(m.agent && !strcmp(m.agent, "ralph"), "fallback agent through the identity map");
	ok(m.n_usernames == 3 && !strcmp(m.usernames[0], "bob") &&
		   !strcmp(m.usernames[1], "carl") && !strcmp(m.usernames[2], "ralph"),
	   "fallback usernames: mapped, sorted, unknown e-mail dropped");
	ok(!m.link && m.n_packages == 0 && m.severity == SEV_INFO, "no link, no packages, info");
	meta_release(&m);
	describe_text(s, "org.fedoraproject.prod.x.y",
		      "{\"agent_name\": \"threebean\", \"subject\": \"Line one\\nline two\"}", &m);
	ok(m.title && !strcmp(m.title, "x.y by ralph: Line one") && !strcmp(m.agent, "ralph"),
	   "fallback: agent_name, and the subject's first line (%s)", m.title);
	meta_release(&m);
	describe_text(s, "x.y", "{\"actor\": {\"login\": \"dora\"}, \"zz\": 1, \"aa\": {}}", &m);
	ok(m.title && !strcmp(m.title, "x.y by dora") && !strcmp(m.agent, "dora") &&
		   !strcmp(joined(m.usernames, m.n_usernames), "dora"),
	   "fallback: an actor object's login (%s)", m.title);
	meta_release(&m);
	describe_text(s, "x.y", "{\"zz\": 1, \"aa\": {}}", &m);
	ok(m.title && !strcmp(m.title, "x.y (aa, zz)"),
	   "fallback: no telling field, the body's keys rather than the bare topic (%s)", m.title);
	meta_release(&m);
	describe_text(s, "bare", "[1, 2]", &m);
	ok(m.title && !strcmp(m.title, "bare") && !strcmp(m.app, "bare"),
	   "a topic without prefix and a non-object body");
	meta_release(&m);
	ok(!schema_describe(s, "t", NULL, &m) && !strcmp(m.title, "t"), "NULL body");
	meta_release(&m);
	schema_free(s);
}

static void describe_with(struct schema *s, const char *topic, const char *msg,
			  const char *headers, struct meta *m)
{
	json_t *j = json_loads(msg, 0, NULL), *h = headers ? json_loads(headers, 0, NULL) : NULL;
	if (schema_describe_headers(s, topic, j, h, m))
		memset(m, 0, sizeof *m);
	json_decref(j);
	json_decref(h);
}

/* fedora-messaging's AMQP headers: the `headers` source, the flags that join
 * the lists, the severity; and nothing of it for fedmsg (NULL) or junk. */
static void headers(void)
{
	char err[512];
	struct meta m;
	struct schema *s = load_files(
		NULL, err, sizeof err, "h.json",
		"{\"rules\": [{\"topic\": \"*.svc.*\","
		" \"title\": [\"by {headers.fedora_messaging_schema | after:.}\", \"no schema\"],"
		" \"usernames\": \"msg.who\", \"packages\": \"msg.pkg\","
		" \"containers\": \"msg.image\", \"modules\": \"msg.module\","
		" \"severity\": \"warning\"}]}", NULL);
	ok(s != NULL, "rules with headers and containers/modules load (%s)", err);
	if (!s)
		return;
	const char *flags =
		"{\"fedora_messaging_schema\": \"svc.thing\", \"fedora_messaging_severity\": 40,"
		" \"fedora_messaging_user_carol\": true, \"fedora_messaging_user_alice\": true,"
		" \"fedora_messaging_user_zed\": false, \"fedora_messaging_user_\": true,"
		" \"fedora_messaging_rpm_python-requests\": true,"
		" \"fedora_messaging_rpm_kernel\": true,"
		" \"fedora_messaging_container_rawhide:latest\": true,"
		" \"fedora_messaging_module_nodejs\": true,"
		" \"fedora_messaging_flatpak_firefox\": true,"
		" \"fedora_messaging_group_packager\": true,"
		" \"fedora_messaging_usr_bob\": true, \"x_fedora_messaging_user_eve\": true,"
		" \"sent-at\": \"2024-01-01T00:00:00+00:00\"}";
	const char *body = "{\"who\": \"bob\", \"pkg\": \"kernel\", \"image\": \"f39/x\","
			   " \"module\": \"nodejs\"}";
	describe_with(s, "org.fedoraproject.prod.svc.thing", body, flags, &m);
	ok(m.title && !strcmp(m.title, "by thing"), "the headers source (%s)", m.title);
	ok(!strcmp(joined(m.usernames, m.n_usernames), "alice,bob,carol"),
	   "user flags join the rule's usernames, sorted; false, empty and near-miss keys do "
	   "not (%s)", joined(m.usernames, m.n_usernames));
	ok(!strcmp(joined(m.packages, m.n_packages), "kernel,python-requests"),
	   "rpm flags join the packages, no duplicate (%s)", joined(m.packages, m.n_packages));
	ok(!strcmp(joined(m.containers, m.n_containers), "f39/x,rawhide:latest"),
	   "containers from the rule and the flags (%s)", joined(m.containers, m.n_containers));
	ok(!strcmp(joined(m.modules, m.n_modules), "nodejs"), "modules: one, not twice");
	ok(!strcmp(joined(m.flatpaks, m.n_flatpaks), "firefox") &&
		   !strcmp(joined(m.groups, m.n_groups), "packager"),
	   "flatpaks and groups from the flags");
	ok(m.severity == SEV_ERROR, "fedora_messaging_severity 40 beats the rule's warning");
	meta_release(&m);
	static const struct { const char *level; enum severity want; } levels[] = {
		{"10", SEV_DEBUG}, {"19", SEV_DEBUG}, {"20", SEV_INFO}, {"29", SEV_INFO},
		{"30", SEV_WARNING}, {"39", SEV_WARNING}, {"40", SEV_ERROR}, {"49", SEV_ERROR},
		{"50", SEV_CRITICAL}, {"0", SEV_DEBUG}, {"-5", SEV_WARNING}, {"\"40\"", SEV_WARNING},
		{"null", SEV_WARNING}, {"40.0", SEV_WARNING},
	};
	for (size_t i = 0; i < sizeof levels / sizeof levels[0]; i++) {
		char h[128];
		snprintf(h, sizeof h, "{\"fedora_messaging_severity\": %s}", levels[i].level);
		describe_with(s, "org.fedoraproject.prod.svc.thing", "{}", h, &m);
		ok(m.severity == levels[i].want, "severity header %s -> %s (got %s)",
		   levels[i].level, severity_name(levels[i].want), severity_name(m.severity));
		meta_release(&m);
	}
	describe_with(s, "org.fedoraproject.prod.svc.thing", body, NULL, &m);
	ok(!strcmp(m.title, "no schema") && !strcmp(joined(m.usernames, m.n_usernames), "bob") &&
		   m.n_groups == 0 && m.severity == SEV_WARNING,
	   "without headers (fedmsg): the rule alone");
	meta_release(&m);
	describe_with(s, "org.fedoraproject.prod.svc.thing", body, "[\"fedora_messaging_user_x\"]",
		      &m);
	ok(!strcmp(m.title, "no schema") && !strcmp(joined(m.usernames, m.n_usernames), "bob"),
	   "headers that are not an object count as none");
	meta_release(&m);
	describe_with(s, "org.fedoraproject.prod.other.thing", "{\"name\": \"x\"}", flags, &m);
	ok(!strcmp(joined(m.usernames, m.n_usernames), "alice,carol") &&
		   !strcmp(joined(m.packages, m.n_packages), "kernel,python-requests") &&
		   m.severity == SEV_ERROR && !strcmp(m.title, "other.thing: x"),
	   "the fallback: users, packages and severity from the headers (%s)", m.title);
	meta_release(&m);
	schema_free(s);
}

/* same:$v / differ:$v keep a value only when it equals (or not) $v's text. */
static void comparisons(void)
{
	static const struct { const char *title, *want; } cases[] = {
		{"{msg.a.b | same:$b}", "B"},
		{"{msg.a.b | differ:$b}", "<none>"},
		{"{msg.a.e | same:$b}", "<none>"},
		{"{msg.login | differ:$b}", "ghlogin"},
		{"{msg.builds[*].arch | same:$arch}", "noarch"},
		{"{msg.builds[*].arch | differ:$arch}", "x86_64"},
		{"{msg.a.b | same:$nothing}", "<none>"},
		{"{msg.a.b | differ:$nothing}", "B"},
		{"{msg.a.n | same:$n}", "42"},
	};
	json_t *msg = json_loads(msg_text, 0, NULL);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct schema *s = one_rule(json_pack(
			"{s:[s,s], s:{s:s, s:s, s:s, s:s}}", "title", cases[i].title, "<none>",
			"vars", "b", "{msg.a.b}", "arch", "{msg.builds[1].arch}", "nothing",
			"{msg.absent}", "n", "{msg.a.n}"));
		struct meta m;
		const char *got = "<load failed>";
		if (s && !schema_describe(s, "t.x", msg, &m))
			got = m.title;
		ok(!strcmp(got, cases[i].want), "%s -> %s (got %s)", cases[i].title, cases[i].want,
		   got);
		if (got != (const char *)"<load failed>")
			meta_release(&m);
		schema_free(s);
	}
	json_decref(msg);
	char err[512];
	static const char *const bad[][2] = {
		{"{msg.a | same:b}", "transform 'same' needs a variable ('same:$name')"},
		{"{msg.a | differ:$}", "expected a name after '$'"},
		{"{msg.a | same:$undeclared}", "unknown variable '$undeclared'"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		json_t *file = json_pack("{s:[{s:s, s:s}]}", "rules", "topic", "t.*", "title",
					 bad[i][0]);
		char *text = json_dumps(file, 0);
		struct schema *s = load_files(NULL, err, sizeof err, "r.json", text, NULL);
		ok(!s && strstr(err, bad[i][1]), "%s: %s (%s)", bad[i][0], bad[i][1], err);
		schema_free(s);
		free(text);
		json_decref(file);
	}
}

static void lines_and_sets(void)
{
	struct schema *s = one_rule(json_pack(
		"{s:s,s:s,s:[s,s,s],s:s}", "title", "one\n\ttwo  three\r\nfour", "summary",
		"{msg.text}", "usernames", "\"b\"", "\"a\"", "\"b\"", "packages", "\"\""));
	json_t *msg = json_loads(msg_text, 0, NULL);
	struct meta m;
	ok(s && !schema_describe(s, "t.x", msg, &m), "describe");
	if (s) {
		ok(!strcmp(m.title, "one two  three four"), "titles are one line (%s)", m.title);
		ok(!strchr(m.summary, '\n'), "summaries are one line");
		ok(m.n_usernames == 2 && !strcmp(m.usernames[0], "a") &&
			   !strcmp(m.usernames[1], "b"),
		   "usernames sorted and unique");
		ok(m.n_packages == 0, "empty values dropped");
		meta_release(&m);
	}
	json_decref(msg);
	schema_free(s);
}

/* A bad rule file: the load fails and the error contains every `want`. */
static void expect_error(const char *what, const char *file, const char *text, const char *w1,
			 const char *w2)
{
	char err[512];
	struct schema *s = load_files(NULL, err, sizeof err, file, text, NULL);
	ok(!s && strstr(err, w1) && (!w2 || strstr(err, w2)), "%s: \"%s\"", what, err);
	schema_free(s);
}

static void bad_files(void)
{
	expect_error("invalid JSON", "x.json", "{\"rules\": [}", "x.json:1:", NULL);
	expect_error("duplicate key", "x.json", "{\"rules\": [], \"rules\": []}", "x.json",
		     "duplicate");
	expect_error("not an object", "x.json", "[]", "x.json", "object");
	expect_error("unknown top-level key", "x.json", "{\"rule\": []}", "x.json",
		     "unknown top-level key 'rule'");
	expect_error("missing rules", "x.json", "{}", "x.json", "missing key 'rules'");
	expect_error("rule not an object", "x.json", "{\"rules\": [42]}", "x.json: rule 1",
		     "expected an object");
	expect_error("missing topic", "x.json", "{\"rules\": [{\"title\": \"x\"}]}",
		     "x.json: rule 1", "missing key 'topic'");
	expect_error("empty topic list", "x.json", "{\"rules\": [{\"topic\": []}]}", "rule 1",
		     "'topic'");
	expect_error("unknown rule key", "x.json",
		     "{\"rules\": [{\"topic\": \"a.*\"}, {\"topic\": \"b.*\", \"titel\": \"x\"}]}",
		     "x.json: rule 2 (topic \"b.*\")", "unknown key 'titel'");
	expect_error("wrong type", "x.json", "{\"rules\": [{\"topic\": \"a\", \"title\": 5}]}",
		     "key 'title'", "string");
	expect_error("unclosed placeholder", "x.json",
		     "{\"rules\": [{\"topic\": \"a\", \"title\": \"x {msg.a\"}]}", "key 'title'",
		     "not closed");
	expect_error("stray brace", "x.json",
		     "{\"rules\": [{\"topic\": \"a\", \"title\": \"x}\"}]}", "key 'title'",
		     "unmatched '}'");
	expect_error("unknown transform", "x.json",
		     "{\"rules\": [{\"topic\": \"a\", \"link\": \"{msg.a | lowr}\"}]}",
		     "key 'link'", "unknown transform 'lowr'");
	expect_error("missing argument", "x.json",
		     "{\"rules\": [{\"topic\": \"a\", \"usernames\": \"msg.a | keep\"}]}",
		     "key 'usernames'", "needs an argument");
	expect_error("bad number", "x.json",
		     "{\"rules\": [{\"topic\": \"a\", \"title\": \"{msg.a | truncate:x}\"}]}",
		     "key 'title'", "number");
	expect_error("bad source", "x.json",
		     "{\"rules\": [{\"topic\": \"a\", \"agent\": \"message.agent\"}]}",
		     "key 'agent'", "expected msg");
	expect_error("trailing junk", "x.json",
		     "{\"rules\": [{\"topic\": \"a\", \"agent\": \"msg.a msg.b\"}]}", "key 'agent'",
		     "unexpected 'm'");
	expect_error("unknown variable", "x.json",
		     "{\"vars\": {\"a\": \"{$b}\", \"b\": \"x\"}, \"rules\": []}", "x.json",
		     "unknown variable '$b'");
	expect_error("bad variable name", "x.json", "{\"vars\": {\"a-b\": \"x\"}, \"rules\": []}",
		     "x.json", "not a valid name");
	expect_error("bad severity", "x.json",
		     "{\"rules\": [{\"topic\": \"a\", \"severity\": \"loud\"}]}", "key 'severity'",
		     "unknown severity 'loud'");
	expect_error("topic default", "x.json", "{\"defaults\": {\"topic\": \"a\"}, \"rules\": []}",
		     "x.json: defaults", "cannot have a default");
	expect_error("agent list", "x.json",
		     "{\"rules\": [{\"topic\": \"a\", \"agent\": [\"msg.a\"]}]}", "key 'agent'",
		     "one expression");
	expect_error("map without =", "x.json",
		     "{\"rules\": [{\"topic\": \"a\", \"title\": \"{msg.a | map:x}\"}]}",
		     "key 'title'", "no '='");
	expect_error("bad escape", "x.json",
		     "{\"rules\": [{\"topic\": \"a\", \"title\": \"{\\\"\\\\q\\\"}\"}]}",
		     "key 'title'", "unknown escape");

	char err[512];
	struct schema *s = load_files(NULL, err, sizeof err, "notes.txt", "x", NULL);
	ok(!s && strstr(err, "no *.json rule files"), "no rule files: \"%s\"", err);
	ok(schema_load("/nonexistent/rules", NULL, &s, err, sizeof err) == -ENOENT &&
		   strstr(err, "/nonexistent/rules"),
	   "missing directory: \"%s\"", err);
	s = load_files("{\"a\": 1}", err, sizeof err, "x.json", "{\"rules\": []}", NULL);
	ok(!s && strstr(err, "identity.map") && strstr(err, "key 'a'"), "bad identity map: \"%s\"",
	   err);
	s = load_files("[\"a\"]", err, sizeof err, "x.json", "{\"rules\": []}", NULL);
	ok(!s && strstr(err, "must be a JSON object"), "identity map not an object: \"%s\"", err);
}

/* Topics that repeat a segment many times must not overflow the index scratch. */
static void index_stress(void)
{
	char err[512];
	struct schema *s = load_files(
		NULL, err, sizeof err, "x.json",
		"{\"rules\": [{\"topic\": \"*.a.b\", \"title\": \"ab\"}, {\"topic\": \"*.a.*\","
		" \"title\": \"a\"}, {\"topic\": [\"a.*\", \"*.a\"], \"title\": \"a2\"}]}",
		NULL);
	ok(s != NULL, "index rules load");
	if (!s)
		return;
	char topic[4096] = "x";
	for (int i = 0; i < 1000; i++)
		strcat(topic, ".a");
	struct meta m;
	ok(!schema_describe(s, topic, NULL, &m) && !strcmp(m.title, "a"),
	   "1000 repeated segments: the right rule");
	meta_release(&m);
	strcat(topic, ".b");
	ok(!schema_describe(s, topic, NULL, &m) && !strcmp(m.title, "ab"), "and in order");
	meta_release(&m);
	ok(!schema_describe(s, "a", NULL, &m) && !strcmp(m.title, "a"), "short topic");
	meta_release(&m);
	ok(!schema_describe(s, "", NULL, &m) && !strcmp(m.title, ""), "empty topic");
	meta_release(&m);
	schema_free(s);
}

struct worker {
	struct schema *s;
	int failures;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	json_t *msg = json_loads(msg_text, 0, NULL);
	for (int i = 0; i < 2000; i++) {
		struct meta m;
		if (schema_describe(w->s, "t.x", msg, &m) || strcmp(m.title, "B x86_64, noarch"))
			w->failures++;
		else
			meta_release(&m);
	}
	json_decref(msg);
	return NULL;
}

static void threads(void)
{
	char err[512];
	struct schema *s = load_files(NULL, err, sizeof err, "x.json",
		       "{\"vars\": {\"b\": \"{msg.a.b}\"}, \"rules\": [{\"topic\": \"t.*\","
		       " \"title\": \"{$b} {msg.builds[*].arch}\"}]}",
		       NULL);
	struct worker w[4] = {{s, 0}, {s, 0}, {s, 0}, {s, 0}};
	pthread_t t[4];
	int started = 0;
	for (int i = 0; s && i < 4; i++)
		started += !pthread_create(&t[i], NULL, work, &w[i]);
	for (int i = 0; i < started; i++)
		pthread_join(t[i], NULL);
	ok(s && started == 4 && !w[0].failures && !w[1].failures && !w[2].failures &&
		   !w[3].failures,
	   "4 threads describe concurrently with one schema");
	schema_free(s);
}

int main(void)
{
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 99;
	}
	ok(!strcmp(severity_name(SEV_WARNING), "warning"), "severity_name");
	enum severity sev;
	ok(!severity_parse("critical", &sev) && sev == SEV_CRITICAL &&
		   severity_parse("loud", &sev) == -EINVAL,
	   "severity_parse");
	paths();
	templates();
	transforms();
	variables();
	rule_order();
	fallback();
	headers();
	comparisons();
	lines_and_sets();
	bad_files();
	index_stress();
	threads();
	clear_dir();
	rmdir(tmpdir);
	return tap_done();
}
