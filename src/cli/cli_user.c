/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_user: `herald user add|list|show|rm`, a client of heraldd's
 * /v1/users resources (doc/herald-api.7). It builds request bodies from
 * options and prints answers for people (or as JSON with --json); every rule
 * about what a user may look like is the daemon's (directory.c).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_http.h"

static const char help_text[] =
	"usage: herald user add NAME [--list LIST=ITEM,ITEM...]... [--timezone TZ]\n"
	"                          [--quiet-hours HH:MM-HH:MM]\n"
	"       herald user list\n"
	"       herald user show NAME\n"
	"       herald user rm NAME\n"
	"\n"
	"Manage heraldd's users through its API socket. `rm` also removes the user's\n"
	"destinations and subscriptions.\n"
	"\n"
	"  -l, --list LIST=ITEMS   a named list for filters (@LIST), comma-separated; repeatable\n"
	"  -z, --timezone TZ       an IANA time zone such as Europe/Prague (default UTC)\n"
	"  -Q, --quiet-hours H-H   no instant notifications between, e.g. 22:00-07:00\n"
	CLI_CONN_HELP
	"  -h, --help              this text\n"
	"\n"
	"Exit status: 0 success, 1 refused or daemon unreachable, 2 usage error.\n";

/* ---- add ---- */

struct add_opts {
	json_t *lists;
	const char *timezone;
	const char *quiet;
};

/* "mine=kernel,glibc": items split on commas; empty items are dropped. */
static int add_list(struct cli *cli, json_t *lists, const char *arg)
{
	const char *eq = strchr(arg, '=');
	if (!eq || eq == arg)
		return cli_usage_error(cli, "--list: expected LIST=ITEM,ITEM..., got '%s'", arg);
	char *name = strndup(arg, (size_t)(eq - arg)), *items = strdup(eq + 1), *save = NULL;
	json_t *arr = name ? json_object_get(lists, name) : NULL;
	if (!arr && name && !json_object_set_new(lists, name, json_array()))
		arr = json_object_get(lists, name);
	for (char *t = items ? strtok_r(items, ",", &save) : NULL; t && arr;
	     t = strtok_r(NULL, ",", &save))
		json_array_append_new(arr, json_string(t));
	int r = arr && items ? CLI_OPT_DONE : CLI_FAIL;
	if (r != CLI_OPT_DONE)
		cli_error(cli, "out of memory");
	free(name);
	free(items);
	return r;
}

static int add_opt(struct cli *cli, void *ctx, int c, const char *arg)
{
	struct add_opts *a = ctx;
	if (c == 'l')
		return add_list(cli, a->lists, arg);
	if (c == 'z')
		a->timezone = arg;
	else if (c == 'Q')
		a->quiet = arg;
	else
		return CLI_USAGE;
	return CLI_OPT_DONE;
}

/* "22:00-07:00" -> {"start": "22:00", "end": "07:00"}; the daemon checks
 * the times. "none" -> null. */
static int quiet_hours(struct cli *cli, const char *arg, json_t **out)
{
	const char *dash = strchr(arg, '-');
	if (!strcmp(arg, "none")) {
		*out = json_null();
		return CLI_OK;
	}
	if (!dash)
		return cli_usage_error(cli, "--quiet-hours: expected START-END such as "
					    "22:00-07:00, got '%s'", arg);
	*out = json_pack("{s:s%, s:s}", "start", arg, (size_t)(dash - arg), "end", dash + 1);
	return *out ? CLI_OK : CLI_FAIL;
}

static void print_user(const json_t *u)
{
	const json_t *q = json_object_get(u, "quiet_hours"), *items;
	const char *k;
	printf("user:        %s\n", json_string_value(json_object_get(u, "name")));
	printf("timezone:    %s\n", json_string_value(json_object_get(u, "timezone")));
	if (json_is_object(q))
		printf("quiet hours: %s-%s\n", json_string_value(json_object_get(q, "start")),
		       json_string_value(json_object_get(q, "end")));
	else
		printf("quiet hours: none\n");
	json_object_foreach((json_t *)json_object_get(u, "lists"), k, items) {
		size_t i;
		json_t *it;
		printf("list @%s:", k);
		json_array_foreach(items, i, it)
			printf("%s %s", i ? "," : "", json_string_value(it));
		putchar('\n');
	}
}

static int run_add(struct cli *cli, const struct cli_conn *o, const char *name,
		   struct add_opts *a)
{
	json_t *body = json_pack("{s:s, s:O}", "name", name, "lists", a->lists), *q = NULL, *res;
	int r = body ? CLI_OK : CLI_FAIL;
	if (r == CLI_OK && a->timezone)
		json_object_set_new(body, "timezone", json_string(a->timezone));
	if (r == CLI_OK && a->quiet && (r = quiet_hours(cli, a->quiet, &q)) == CLI_OK)
		json_object_set_new(body, "quiet_hours", q);
	if (r == CLI_OK && (r = cli_http_call(cli, o, "POST", "/v1/users", body, &res)) == CLI_OK) {
		if (o->json)
			cli_print_json(res);
		else
			print_user(res);
		json_decref(res);
	}
	json_decref(body);
	return r;
}

static int user_add(struct cli *cli, int argc, char **argv)
{
	static const struct option own[] = {{"list", required_argument, NULL, 'l'},
					    {"timezone", required_argument, NULL, 'z'},
					    {"quiet-hours", required_argument, NULL, 'Q'},
					    {NULL, 0, NULL, 0}};
	struct cli_conn o = CLI_CONN_INIT;
	struct add_opts a = {.lists = json_object()};
	int r = a.lists ? cli_action_opts(cli, argc, argv, help_text, &o, "l:z:Q:", own, add_opt,
					  &a, 1, 1)
			: CLI_FAIL;
	if (r == CLI_OPT_DONE)
		r = run_add(cli, &o, argv[optind], &a);
	json_decref(a.lists);
	return r;
}

/* ---- list, show, rm ---- */

#define PAGE 1000 /* users per request: the daemon's most */

static void print_users(const json_t *users)
{
	const json_t *u;
	size_t i;
	json_array_foreach(users, i, u)
		printf("%s\t%s\t%zu lists\n", json_string_value(json_object_get(u, "name")),
		       json_string_value(json_object_get(u, "timezone")),
		       json_object_size(json_object_get(u, "lists")));
}

/* One page of users after `after` (NULL: the first). User names need no
 * escaping in a query (directory_valid_user_name). */
static int fetch_page(struct cli *cli, const struct cli_conn *o, const char *after,
		      json_t **res)
{
	struct buf path = BUF_INIT;
	int r = CLI_FAIL;
	if (buf_printf(&path, "/v1/users?limit=%d%s%s", PAGE, after ? "&after=" : "",
		       after ? after : ""))
		cli_error(cli, "out of memory");
	else
		r = cli_http_call(cli, o, "GET", path.data, NULL, res);
	buf_release(&path);
	return r;
}

/* Every user, a page at a time (a server with 100k users answers in
 * bounded pieces); lines are printed as pages come, --json gathers them. */
static int user_list(struct cli *cli, int argc, char **argv)
{
	struct cli_conn o = CLI_CONN_INIT;
	json_t *all = json_array(), *res = NULL;
	char *after = NULL;
	int r = cli_action_opts(cli, argc, argv, help_text, &o, NULL, NULL, NULL, NULL, 0, 0);
	while (r == CLI_OPT_DONE && all && (r = fetch_page(cli, &o, after, &res)) == CLI_OK) {
		const json_t *next = json_object_get(res, "next");
		if (o.json)
			json_array_extend(all, json_object_get(res, "users"));
		else
			print_users(json_object_get(res, "users"));
		free(after);
		after = json_is_string(next) ? strdup(json_string_value(next)) : NULL;
		json_decref(res);
		if (!after)
			break;
		r = CLI_OPT_DONE;
	}
	if (r == CLI_OK && o.json) {
		json_t *wrapped = json_pack("{s:O}", "users", all);
		cli_print_json(wrapped);
		json_decref(wrapped);
	}
	if (!all) {
		cli_error(cli, "out of memory");
		r = CLI_FAIL;
	}
	free(after);
	json_decref(all);
	return r;
}

/* GET or DELETE /v1/users/NAME[/what]; *res is the answer. */
static int user_call(struct cli *cli, const struct cli_conn *o, const char *method,
		     const char *name, const char *what, json_t **res)
{
	struct buf path = BUF_INIT;
	int r = CLI_FAIL;
	if (!buf_puts(&path, "/v1/users") && !cli_path_add(&path, name) &&
	    (!what || !cli_path_add(&path, what)))
		r = cli_http_call(cli, o, method, path.data, NULL, res);
	else
		cli_error(cli, "out of memory");
	buf_release(&path);
	return r;
}

static void print_counts(const json_t *dests, const json_t *subs)
{
	size_t i, paused = 0, enabled = 0;
	json_t *v;
	json_array_foreach(json_object_get(dests, "destinations"), i, v)
		paused += json_is_true(json_object_get(v, "paused"));
	json_array_foreach(json_object_get(subs, "subscriptions"), i, v)
		enabled += json_is_true(json_object_get(v, "enabled"));
	printf("destinations: %zu (%zu paused)\n",
	       json_array_size(json_object_get(dests, "destinations")), paused);
	printf("subscriptions: %zu (%zu enabled)\n",
	       json_array_size(json_object_get(subs, "subscriptions")), enabled);
}

static int user_show(struct cli *cli, int argc, char **argv)
{
	struct cli_conn o = CLI_CONN_INIT;
	json_t *u = NULL, *d = NULL, *s = NULL;
	int r = cli_action_opts(cli, argc, argv, help_text, &o, NULL, NULL, NULL, NULL, 1, 1);
	if (r != CLI_OPT_DONE)
		return r;
	const char *name = argv[optind];
	if ((r = user_call(cli, &o, "GET", name, NULL, &u)) != CLI_OK)
		return r;
	if (o.json) {
		cli_print_json(u);
	} else if ((r = user_call(cli, &o, "GET", name, "destinations", &d)) == CLI_OK &&
		   (r = user_call(cli, &o, "GET", name, "subscriptions", &s)) == CLI_OK) {
		print_user(u);
		print_counts(d, s);
	}
	json_decref(u);
	json_decref(d);
	json_decref(s);
	return r;
}

static int user_rm(struct cli *cli, int argc, char **argv)
{
	struct cli_conn o = CLI_CONN_INIT;
	json_t *res;
	int r = cli_action_opts(cli, argc, argv, help_text, &o, NULL, NULL, NULL, NULL, 1, 1);
	if (r != CLI_OPT_DONE)
		return r;
	if ((r = user_call(cli, &o, "DELETE", argv[optind], NULL, &res)) != CLI_OK)
		return r;
	if (o.json)
		cli_print_json(res);
	else
		printf("deleted user %s with %lld destinations and %lld subscriptions\n",
		       argv[optind], json_integer_value(json_object_get(res, "destinations")),
		       json_integer_value(json_object_get(res, "subscriptions")));
	json_decref(res);
	return CLI_OK;
}

int cli_user(struct cli *cli, int argc, char **argv)
{
	static const struct cli_action actions[] = {
		{"add", user_add}, {"list", user_list}, {"show", user_show}, {"rm", user_rm}};
	return cli_dispatch(cli, argc, argv, actions, sizeof actions / sizeof actions[0],
			    help_text);
}
