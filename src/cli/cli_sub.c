/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_sub: `herald sub add|list|show|enable|disable|rm|explain`, a client of
 * heraldd's /v1/users/USER/subscriptions and /v1/users/USER/explain
 * resources (doc/herald-api.7). Builds request bodies and prints answers;
 * filters are compiled and checked by the daemon, not here.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_http.h"

static const char help_text[] =
	"usage: herald sub add USER --filter EXPR --dest ID [--dest ID]... [--digest SECONDS]\n"
	"                         [--name TEXT]\n"
	"       herald sub list USER\n"
	"       herald sub show USER ID\n"
	"       herald sub enable USER ID\n"
	"       herald sub disable USER ID\n"
	"       herald sub rm USER ID\n"
	"       herald sub explain USER < MESSAGE.json\n"
	"\n"
	"Manage a user's subscriptions (a filter, see herald-filters(7), and the\n"
	"destinations it notifies) through heraldd's API socket. `explain` says which\n"
	"of the user's subscriptions a message matches, and why.\n"
	"\n"
	"  -f, --filter EXPR    the filter expression (add)\n"
	"  -d, --dest ID        a destination id of the same user; repeatable (add)\n"
	"  -D, --digest S       collect notifications and send one every S seconds,\n"
	"                       60 to 604800 (add; default: instant)\n"
	"  -n, --name TEXT      a label for the subscription (add)\n"
	CLI_CONN_HELP
	"  -h, --help           this text\n"
	"\n"
	"Exit status: 0 success, 1 refused or daemon unreachable, 2 usage error.\n";

/* "/v1/users/USER/WHAT[/ID[/ACTION]]" */
static int sub_path(struct buf *p, const char *user, const char *what, const char *id,
		    const char *action)
{
	int rc = buf_puts(p, "/v1/users");
	if (!rc)
		rc = cli_path_add(p, user);
	if (!rc)
		rc = cli_path_add(p, what);
	if (!rc && id)
		rc = cli_path_add(p, id);
	if (!rc && action)
		rc = cli_path_add(p, action);
	return rc;
}

static int call(struct cli *cli, const struct cli_conn *o, const char *method, const char *user,
		const char *what, const char *id, const char *action, const json_t *body,
		json_t **res)
{
	struct buf path = BUF_INIT;
	int r;
	if (sub_path(&path, user, what, id, action)) {
		cli_error(cli, "out of memory");
		r = CLI_FAIL;
	} else {
		r = cli_http_call(cli, o, method, path.data, body, res);
	}
	buf_release(&path);
	return r;
}

static void print_ids(const json_t *ids)
{
	size_t i;
	json_t *v;
	json_array_foreach(ids, i, v)
		printf("%s%lld", i ? "," : "", json_integer_value(v));
}

/* "enabled", "disabled", or what else the daemon says ("invalid",
 * "quarantined": the subscription matches nothing, and "reason" says why). */
static const char *state_of(const json_t *s)
{
	const char *state = json_string_value(json_object_get(s, "state"));
	if (!state || !strcmp(state, "active") || !strcmp(state, "disabled"))
		return json_is_true(json_object_get(s, "enabled")) ? "enabled" : "disabled";
	return state;
}

/* One line: ID MODE STATE DESTS NAME FILTER; then the reason, indented,
 * for a subscription that is invalid or quarantined. */
static void print_line(const json_t *s)
{
	const json_t *iv = json_object_get(s, "digest_interval");
	const char *name = json_string_value(json_object_get(s, "name"));
	const char *reason = json_string_value(json_object_get(s, "reason"));
	printf("%lld\t", json_integer_value(json_object_get(s, "id")));
	if (iv)
		printf("digest/%llds", json_integer_value(iv));
	else
		printf("instant");
	printf("\t%s\t", state_of(s));
	print_ids(json_object_get(s, "destinations"));
	printf("\t%s\t%s\n", name ? name : "-", json_string_value(json_object_get(s, "filter")));
	if (reason)
		printf("\t%s: %s\n", state_of(s), reason);
}

static void print_sub(const json_t *s)
{
	const json_t *iv = json_object_get(s, "digest_interval");
	const json_t *slow = json_object_get(s, "slow");
	const char *name = json_string_value(json_object_get(s, "name"));
	printf("subscription: %lld\n", json_integer_value(json_object_get(s, "id")));
	printf("user:         %s\n", json_string_value(json_object_get(s, "user")));
	if (name)
		printf("name:         %s\n", name);
	printf("filter:       %s\n", json_string_value(json_object_get(s, "filter")));
	printf("destinations: ");
	print_ids(json_object_get(s, "destinations"));
	if (iv)
		printf("\nmode:         digest every %lld seconds\n", json_integer_value(iv));
	else
		printf("\nmode:         instant\n");
	printf("enabled:      %s\n", json_is_true(json_object_get(s, "enabled")) ? "yes" : "no");
	if (json_object_get(s, "state"))
		printf("state:        %s\n", json_string_value(json_object_get(s, "state")));
	if (json_object_get(s, "reason"))
		printf("reason:       %s\n", json_string_value(json_object_get(s, "reason")));
	if (slow)
		printf("slow:         %s\n", json_is_true(slow) ? "yes (nothing indexable: the "
								"filter runs on every message)"
							      : "no");
	if (json_is_true(json_object_get(s, "never")))
		printf("note:         cannot match as things stand (an empty or missing list?)\n");
}

static int answer(const struct cli_conn *o, json_t *res, bool full)
{
	if (o->json)
		cli_print_json(res);
	else if (full)
		print_sub(res);
	else
		print_line(res);
	json_decref(res);
	return CLI_OK;
}

/* ---- add ---- */

struct add_opts {
	const char *filter, *name, *digest;
	json_t *dests;
};

static int add_opt(struct cli *cli, void *ctx, int c, const char *arg)
{
	struct add_opts *a = ctx;
	unsigned long id;
	switch (c) {
	case 'f':
		a->filter = arg;
		break;
	case 'n':
		a->name = arg;
		break;
	case 'D':
		a->digest = arg;
		break;
	case 'd':
		if (cli_parse_ulong(arg, 1, (1UL << 62), &id))
			return cli_usage_error(cli, "--dest: expected a destination id, got '%s'", arg);
		json_array_append_new(a->dests, json_integer((json_int_t)id));
		break;
	default:
		return CLI_USAGE;
	}
	return CLI_OPT_DONE;
}

/* The request body; range checks on the interval are the daemon's. */
static int add_body(struct cli *cli, const struct add_opts *a, json_t **out)
{
	unsigned long secs;
	if (!a->filter)
		return cli_usage_error(cli, "--filter is required");
	if (!json_array_size(a->dests))
		return cli_usage_error(cli, "at least one --dest is required");
	if (a->digest && cli_parse_ulong(a->digest, 0, (1UL << 31), &secs))
		return cli_usage_error(cli, "--digest: expected seconds, got '%s'", a->digest);
	*out = json_pack("{s:s, s:O, s:s}", "filter", a->filter, "destinations", a->dests, "mode",
			 a->digest ? "digest" : "instant");
	if (!*out) {
		cli_error(cli, "--filter is not valid UTF-8");
		return CLI_USAGE;
	}
	if (a->digest)
		json_object_set_new(*out, "digest_interval", json_integer((json_int_t)secs));
	if (a->name)
		json_object_set_new(*out, "name", json_string(a->name));
	return CLI_OK;
}

static int sub_add(struct cli *cli, int argc, char **argv)
{
	static const struct option own[] = {
		{"filter", required_argument, NULL, 'f'}, {"dest", required_argument, NULL, 'd'},
		{"digest", required_argument, NULL, 'D'}, {"name", required_argument, NULL, 'n'},
		{NULL, 0, NULL, 0}};
	struct cli_conn o = CLI_CONN_INIT;
	struct add_opts a = {.dests = json_array()};
	json_t *body = NULL, *res;
	int r = cli_action_opts(cli, argc, argv, help_text, &o, "f:d:D:n:", own, add_opt, &a, 1, 1);
	if (r == CLI_OPT_DONE && (r = add_body(cli, &a, &body)) == CLI_OK &&
	    (r = call(cli, &o, "POST", argv[optind], "subscriptions", NULL, NULL, body, &res)) ==
		    CLI_OK)
		r = answer(&o, res, true);
	json_decref(body);
	json_decref(a.dests);
	return r;
}

/* ---- the others ---- */

static int sub_list(struct cli *cli, int argc, char **argv)
{
	struct cli_conn o = CLI_CONN_INIT;
	json_t *res, *s;
	size_t i;
	int r = cli_action_opts(cli, argc, argv, help_text, &o, NULL, NULL, NULL, NULL, 1, 1);
	if (r != CLI_OPT_DONE)
		return r;
	if ((r = call(cli, &o, "GET", argv[optind], "subscriptions", NULL, NULL, NULL, &res)) !=
	    CLI_OK)
		return r;
	if (o.json)
		cli_print_json(res);
	else
		json_array_foreach(json_object_get(res, "subscriptions"), i, s)
			print_line(s);
	json_decref(res);
	return CLI_OK;
}

/* USER ID with no body: show, enable, disable, rm. */
static int by_id(struct cli *cli, int argc, char **argv, const char *method, const char *action)
{
	struct cli_conn o = CLI_CONN_INIT;
	json_t *res;
	int r = cli_action_opts(cli, argc, argv, help_text, &o, NULL, NULL, NULL, NULL, 2, 2);
	if (r != CLI_OPT_DONE)
		return r;
	r = call(cli, &o, method, argv[optind], "subscriptions", argv[optind + 1], action, NULL,
		 &res);
	if (r != CLI_OK)
		return r;
	if (strcmp(method, "DELETE"))
		return answer(&o, res, !strcmp(method, "GET"));
	if (o.json)
		cli_print_json(res);
	else
		printf("deleted subscription %s of %s\n", argv[optind + 1], argv[optind]);
	json_decref(res);
	return CLI_OK;
}

static int sub_show(struct cli *cli, int argc, char **argv)
{
	return by_id(cli, argc, argv, "GET", NULL);
}

static int sub_enable(struct cli *cli, int argc, char **argv)
{
	return by_id(cli, argc, argv, "POST", "enable");
}

static int sub_disable(struct cli *cli, int argc, char **argv)
{
	return by_id(cli, argc, argv, "POST", "disable");
}

static int sub_rm(struct cli *cli, int argc, char **argv)
{
	return by_id(cli, argc, argv, "DELETE", NULL);
}

/* Indent every line of the filter's explanation under its subscription. */
static void print_indented(const char *text)
{
	while (text && *text) {
		size_t n = strcspn(text, "\n");
		printf("    %.*s\n", (int)n, text);
		text += n + (text[n] == '\n');
	}
}

static void print_explained(const json_t *res)
{
	size_t i, matched = 0;
	json_t *s;
	json_array_foreach(json_object_get(res, "subscriptions"), i, s) {
		const char *name = json_string_value(json_object_get(s, "name"));
		bool m = json_is_true(json_object_get(s, "match"));
		matched += m;
		printf("%lld%s%s%s: %s%s\n", json_integer_value(json_object_get(s, "id")),
		       name ? " (" : "", name ? name : "", name ? ")" : "",
		       m ? "match" : "no match",
		       json_is_false(json_object_get(s, "enabled")) ? " [disabled]" : "");
		print_indented(json_string_value(json_object_get(s, "why")));
	}
	printf("%zu of %zu subscriptions match\n", matched,
	       json_array_size(json_object_get(res, "subscriptions")));
}

static int sub_explain(struct cli *cli, int argc, char **argv)
{
	struct cli_conn o = CLI_CONN_INIT;
	json_t *msg = NULL, *body = NULL, *res;
	int r = cli_action_opts(cli, argc, argv, help_text, &o, NULL, NULL, NULL, NULL, 1, 1);
	if (r != CLI_OPT_DONE)
		return r;
	if ((r = cli_read_message(cli, &msg)) != CLI_OK)
		return r;
	if (!(body = json_pack("{s:o}", "message", msg))) {
		cli_error(cli, "out of memory");
		return CLI_FAIL;
	}
	r = call(cli, &o, "POST", argv[optind], "explain", NULL, NULL, body, &res);
	json_decref(body);
	if (r != CLI_OK)
		return r;
	if (o.json)
		cli_print_json(res);
	else
		print_explained(res);
	json_decref(res);
	return CLI_OK;
}

int cli_sub(struct cli *cli, int argc, char **argv)
{
	static const struct cli_action actions[] = {
		{"add", sub_add},	  {"list", sub_list}, {"show", sub_show},
		{"enable", sub_enable},	  {"disable", sub_disable}, {"rm", sub_rm},
		{"explain", sub_explain}};
	return cli_dispatch(cli, argc, argv, actions, sizeof actions / sizeof actions[0],
			    help_text);
}
