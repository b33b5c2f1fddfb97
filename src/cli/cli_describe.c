/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_describe: `herald describe`, which prints what the schema rules make
 * of messages (app, title, summary, link, usernames, packages, agent,
 * severity), one JSON object per message, with the daemon's own code
 * (envelope_parse, schema_load, schema_describe). For writing and checking
 * rules. Not for signatures (`verify`) nor for filters.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "src/common/strv.h"
#include "src/schema/schema.h"

#ifndef HERALD_RULES_DIR
#define HERALD_RULES_DIR "/usr/share/herald/rules"
#endif

static const char help_text[] =
	"usage: herald describe [-r RULES_DIR] [-i IDENTITY_MAP] [--lines] [MESSAGE.json]\n"
	"\n"
	"Print what the schema rules make of a message envelope (from the file, or\n"
	"stdin): one JSON object per message with topic, app, title, summary, link,\n"
	"usernames, packages, agent and severity (and containers, modules, flatpaks\n"
	"and groups when there are any). An envelope may carry a \"headers\" object,\n"
	"the AMQP headers fedora-messaging sent with the message; the rules read it\n"
	"as `headers...` and its fedora_messaging_user_/_rpm_/... flags join the lists.\n"
	"\n"
	"  -r, --rules DIR        rule files (default: " HERALD_RULES_DIR ")\n"
	"  -i, --identity FILE    JSON map of alias or e-mail to account name\n"
	"  -l, --lines            the input holds one envelope per line (JSON lines)\n"
	"      --rule             also print which rule matched (\"rule\": null for none)\n"
	"  -q, --quiet            print only results and errors\n"
	"      --log-level L      error, warn, info or debug\n"
	"  -h, --help             this text\n"
	"\n"
	"Exit status: 0 success, 1 an unreadable input or message, 2 usage or rules error.\n"
	"See herald-schema(5) for the rule format.\n";

struct describe_opts {
	const char *rules;
	const char *identity;
	const char *file;
	bool lines;
	bool rule;
};

enum { OPT_RULE = CLI_OPT_FIRST_OWN };

static int parse_opts(struct cli *cli, int argc, char **argv, struct describe_opts *o)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{"rules", required_argument, NULL, 'r'},
		{"identity", required_argument, NULL, 'i'},
		{"lines", no_argument, NULL, 'l'},
		{"rule", no_argument, NULL, OPT_RULE},
		{NULL, 0, NULL, 0}};
	int c;
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "r:i:l", longopts, NULL)) != -1) {
		int r = cli_common_opt(cli, c, argv, help_text);
		if (r == CLI_OPT_DONE)
			continue;
		if (r != CLI_OPT_NOT_MINE)
			return r;
		if (c == 'r')
			o->rules = optarg;
		else if (c == 'i')
			o->identity = optarg;
		else if (c == 'l')
			o->lines = true;
		else if (c == OPT_RULE)
			o->rule = true;
	}
	if (optind < argc)
		o->file = argv[optind++];
	return cli_no_operands(cli, argc, argv);
}

/* One line of output; `rule` is NULL unless --rule. 0, -ENOMEM or -EIO. */
static int print_meta(const char *topic, const struct meta *m, bool with_rule, const char *rule)
{
	json_t *o =
	    json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:o?, s:o?, s:s?, s:s}", "topic", topic, "app",
		      m->app, "title", m->title, "summary", m->summary, "link", m->link,
		      "usernames", strv_to_json(m->usernames, m->n_usernames), "packages",
		      strv_to_json(m->packages, m->n_packages), "agent", m->agent, "severity",
		      severity_name(m->severity));
	if (!o || meta_flags_to_json(m, o) ||
	    (with_rule && json_object_set_new(o, "rule", rule ? json_string(rule) : json_null()))) {
		json_decref(o);
		return -ENOMEM;
	}
	int rc = json_dumpf(o, stdout, JSON_COMPACT) ? -EIO : 0;
	json_decref(o);
	if (!rc && putchar('\n') == EOF)
		rc = -EIO;
	return rc;
}

/*
 * The envelope's optional "headers" member: what fedora-messaging sent with
 * the message as AMQP headers (herald-schema(5)'s `headers` source). 0 with
 * *out a new reference or NULL when absent or null, -EINVAL when it is not
 * an object, -ENOMEM. The envelope parser has checked the JSON already.
 */
static int read_headers(const char *data, size_t len, json_t **out)
{
	*out = NULL;
	json_t *root = json_loadb(data, len, 0, NULL);
	if (!root)
		return -ENOMEM;
	json_t *h = json_object_get(root, "headers");
	int rc = 0;
	if (json_is_object(h))
		*out = json_incref(h);
	else if (h && !json_is_null(h))
		rc = -EINVAL;
	json_decref(root);
	return rc;
}

/* Describe one envelope; `where` names it in messages ("stdin", "line 3"). */
static int describe_one(const struct cli *cli, const struct schema *s, bool with_rule,
			const char *data, size_t len, const char *where)
{
	struct envelope env;
	const char *detail = NULL;
	enum envelope_error ee = envelope_parse(&env, data, len, &detail);
	if (ee != ENVELOPE_OK) {
		cli_error(cli, "%s: %s%s%s%s", where, cli_envelope_error_name(ee),
			  detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
		return CLI_FAIL;
	}
	struct meta m;
	const json_t *body = envelope_msg(&env);
	json_t *headers = NULL;
	int rc = read_headers(data, len, &headers);
	if (rc == -EINVAL) {
		cli_error(cli, "%s: \"headers\" must be a JSON object (fedora-messaging's AMQP "
			  "headers)", where);
		envelope_release(&env);
		return CLI_FAIL;
	}
	if (!rc)
		rc = schema_describe_headers(s, env.topic, body, headers, &m);
	json_decref(headers);
	if (!rc) {
		rc = print_meta(env.topic, &m, with_rule,
				with_rule ? schema_match(s, env.topic, body) : NULL);
		meta_release(&m);
	}
	envelope_release(&env);
	if (rc) {
		cli_error(cli, "%s: %s", where, strerror(-rc));
		return CLI_FAIL;
	}
	return CLI_OK;
}

static bool blank(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strchr(" \t\r\n", s[i]))
			return false;
	return true;
}

static int describe_lines(const struct cli *cli, const struct schema *s, bool with_rule,
			  const char *file)
{
	FILE *f = file && strcmp(file, "-") ? fopen(file, "r") : stdin;
	if (!f) {
		cli_error(cli, "%s: %s", file, strerror(errno));
		return CLI_FAIL;
	}
	char *line = NULL, where[64];
	size_t cap = 0, lineno = 0;
	ssize_t n;
	int r = CLI_OK;
	while ((n = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (blank(line, (size_t)n))
			continue;
		snprintf(where, sizeof where, "line %zu", lineno);
		if (describe_one(cli, s, with_rule, line, (size_t)n, where) != CLI_OK)
			r = CLI_FAIL;
	}
	if (ferror(f)) {
		cli_error(cli, "%s: %s", file ? file : "stdin", strerror(errno));
		r = CLI_FAIL;
	}
	free(line);
	if (f != stdin)
		fclose(f);
	return r;
}

static int describe_file(const struct cli *cli, const struct schema *s, bool with_rule,
			 const char *file)
{
	struct buf in = BUF_INIT;
	int rc = cli_read_file(file, &in), r;
	if (rc < 0) {
		cli_error(cli, "%s: %s", file ? file : "stdin", strerror(-rc));
		r = CLI_FAIL;
	} else {
		r = describe_one(cli, s, with_rule, in.data ? in.data : "", in.len,
				 file ? file : "stdin");
	}
	buf_release(&in);
	return r;
}

int cli_describe(struct cli *cli, int argc, char **argv)
{
	struct describe_opts o = {.rules = HERALD_RULES_DIR};
	int r = parse_opts(cli, argc, argv, &o);
	if (r != CLI_OPT_DONE)
		return r;
	struct schema *s;
	char err[1024];
	if (schema_load(o.rules, o.identity, &s, err, sizeof err)) {
		cli_error(cli, "%s", err);
		return CLI_USAGE;
	}
	if (o.lines)
		r = describe_lines(cli, s, o.rule, o.file);
	else
		r = describe_file(cli, s, o.rule, o.file);
	schema_free(s);
	return r;
}
