/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_dest: `herald dest add|list|pause|resume|rm`, a client of heraldd's
 * /v1/users/USER/destinations resources (doc/herald-api.7). Builds request
 * bodies and prints answers; whether a sink or address is acceptable is the
 * daemon's decision (directory.c).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_http.h"

static const char help_text[] =
	"usage: herald dest add USER SINK ADDRESS\n"
	"       herald dest list USER\n"
	"       herald dest pause USER ID [--reason TEXT]\n"
	"       herald dest resume USER ID\n"
	"       herald dest rm USER ID\n"
	"       herald dest verify USER ID (CODE | --resend)\n"
	"\n"
	"Manage a user's destinations (where notifications go: a sink such as email,\n"
	"irc or webhook, and an address) through heraldd's API socket. A destination\n"
	"that a subscription sends to cannot be removed. On a sink with verify = yes,\n"
	"nothing is sent to a new destination until the code it received is confirmed\n"
	"with `dest verify`; --resend asks for a new code.\n"
	"\n"
	"  -r, --reason TEXT    why the destination is paused (pause only)\n"
	"      --resend         send a new verification code (verify only)\n"
	CLI_CONN_HELP
	"  -h, --help           this text\n"
	"\n"
	"Exit status: 0 success, 1 refused or daemon unreachable, 2 usage error.\n";

/* "/v1/users/USER/destinations[/ID[/action]]" */
static int dest_path(struct buf *p, const char *user, const char *id, const char *action)
{
	int rc = buf_puts(p, "/v1/users");
	if (!rc)
		rc = cli_path_add(p, user);
	if (!rc)
		rc = buf_puts(p, "/destinations");
	if (!rc && id)
		rc = cli_path_add(p, id);
	if (!rc && action)
		rc = cli_path_add(p, action);
	return rc;
}

static int call(struct cli *cli, const struct cli_conn *o, const char *method, const char *user,
		const char *id, const char *action, const json_t *body, json_t **res)
{
	struct buf path = BUF_INIT;
	int r;
	if (dest_path(&path, user, id, action)) {
		cli_error(cli, "out of memory");
		r = CLI_FAIL;
	} else {
		r = cli_http_call(cli, o, method, path.data, body, res);
	}
	buf_release(&path);
	return r;
}

static void print_dest(const json_t *d)
{
	const char *reason = json_string_value(json_object_get(d, "paused_reason"));
	printf("%lld\t%s\t%s\t%s%s%s%s\n", json_integer_value(json_object_get(d, "id")),
	       json_string_value(json_object_get(d, "sink")),
	       json_string_value(json_object_get(d, "address")),
	       json_is_true(json_object_get(d, "paused")) ? "paused" : "active",
	       reason ? " (" : "", reason ? reason : "", reason ? ")" : "");
}

/* Print the answer: JSON as received, or one line for the destination. */
static int answer(const struct cli_conn *o, json_t *res)
{
	const char *v = json_string_value(json_object_get(res, "verification"));
	if (o->json) {
		cli_print_json(res);
	} else {
		print_dest(res);
		if (v)
			printf("verification: %s\n", v);
	}
	json_decref(res);
	return CLI_OK;
}

static int dest_add(struct cli *cli, int argc, char **argv)
{
	struct cli_conn o = CLI_CONN_INIT;
	json_t *res;
	int r = cli_action_opts(cli, argc, argv, help_text, &o, NULL, NULL, NULL, NULL, 3, 3);
	if (r != CLI_OPT_DONE)
		return r;
	json_t *body = json_pack("{s:s, s:s}", "sink", argv[optind + 1], "address",
				 argv[optind + 2]);
	if (!body) {
		cli_error(cli, "'%s' is not valid UTF-8", argv[optind + 2]);
		return CLI_USAGE;
	}
	r = call(cli, &o, "POST", argv[optind], NULL, NULL, body, &res);
	json_decref(body);
	return r == CLI_OK ? answer(&o, res) : r;
}

static int dest_list(struct cli *cli, int argc, char **argv)
{
	struct cli_conn o = CLI_CONN_INIT;
	json_t *res, *d;
	size_t i;
	int r = cli_action_opts(cli, argc, argv, help_text, &o, NULL, NULL, NULL, NULL, 1, 1);
	if (r != CLI_OPT_DONE)
		return r;
	if ((r = call(cli, &o, "GET", argv[optind], NULL, NULL, NULL, &res)) != CLI_OK)
		return r;
	if (o.json)
		cli_print_json(res);
	else
		json_array_foreach(json_object_get(res, "destinations"), i, d)
			print_dest(d);
	json_decref(res);
	return CLI_OK;
}

static int reason_opt(struct cli *cli, void *ctx, int c, const char *arg)
{
	*(const char **)ctx = arg;
	return CLI_OPT_DONE;
}

static int dest_pause(struct cli *cli, int argc, char **argv)
{
	static const struct option own[] = {{"reason", required_argument, NULL, 'r'},
					    {NULL, 0, NULL, 0}};
	struct cli_conn o = CLI_CONN_INIT;
	const char *reason = NULL;
	json_t *res, *body = NULL;
	int r = cli_action_opts(cli, argc, argv, help_text, &o, "r:", own, reason_opt, &reason,
				2, 2);
	if (r != CLI_OPT_DONE)
		return r;
	if (reason && !(body = json_pack("{s:s}", "reason", reason))) {
		cli_error(cli, "--reason is not valid UTF-8");
		return CLI_USAGE;
	}
	r = call(cli, &o, "POST", argv[optind], argv[optind + 1], "pause", body, &res);
	json_decref(body);
	return r == CLI_OK ? answer(&o, res) : r;
}

/* resume and rm: USER ID, no body. */
static int simple(struct cli *cli, int argc, char **argv, const char *method, const char *action)
{
	struct cli_conn o = CLI_CONN_INIT;
	json_t *res;
	int r = cli_action_opts(cli, argc, argv, help_text, &o, NULL, NULL, NULL, NULL, 2, 2);
	if (r != CLI_OPT_DONE)
		return r;
	r = call(cli, &o, method, argv[optind], argv[optind + 1], action, NULL, &res);
	if (r != CLI_OK || action)
		return r == CLI_OK ? answer(&o, res) : r;
	if (o.json)
		cli_print_json(res);
	else
		printf("deleted destination %s of %s\n", argv[optind + 1], argv[optind]);
	json_decref(res);
	return CLI_OK;
}

static int dest_resume(struct cli *cli, int argc, char **argv)
{
	return simple(cli, argc, argv, "POST", "resume");
}

static int dest_rm(struct cli *cli, int argc, char **argv)
{
	return simple(cli, argc, argv, "DELETE", NULL);
}

static int resend_opt(struct cli *cli, void *ctx, int c, const char *arg)
{
	*(bool *)ctx = true;
	return CLI_OPT_DONE;
}

/* verify USER ID CODE, or verify USER ID --resend */
static int dest_verify(struct cli *cli, int argc, char **argv)
{
	static const struct option own[] = {{"resend", no_argument, NULL, 'R'},
					    {NULL, 0, NULL, 0}};
	struct cli_conn o = CLI_CONN_INIT;
	bool resend = false;
	json_t *res, *body;
	int r = cli_action_opts(cli, argc, argv, help_text, &o, "R", own, resend_opt, &resend, 2,
				3);
	if (r != CLI_OPT_DONE)
		return r;
	if (resend == (optind + 2 < argc)) {
		cli_error(cli, "give either a CODE or --resend");
		return CLI_USAGE;
	}
	body = resend ? json_pack("{s:b}", "resend", 1) : json_pack("{s:s}", "code", argv[optind + 2]);
	if (!body) {
		cli_error(cli, "the code is not valid UTF-8");
		return CLI_USAGE;
	}
	r = call(cli, &o, "POST", argv[optind], argv[optind + 1], "verify", body, &res);
	json_decref(body);
	if (r != CLI_OK)
		return r;
	if (o.json) {
		cli_print_json(res);
	} else if (resend) {
		const char *v = json_string_value(json_object_get(res, "verification"));
		printf("%s\n", v ? v : "a code was requested");
	} else {
		printf("destination %s of %s verified; %lld waiting notifications released\n",
		       argv[optind + 1], argv[optind],
		       json_integer_value(json_object_get(res, "released")));
	}
	json_decref(res);
	return CLI_OK;
}

int cli_dest(struct cli *cli, int argc, char **argv)
{
	static const struct cli_action actions[] = {
		{"add", dest_add},	 {"list", dest_list}, {"pause", dest_pause},
		{"resume", dest_resume}, {"rm", dest_rm},     {"verify", dest_verify}};
	return cli_dispatch(cli, argc, argv, actions, sizeof actions / sizeof actions[0],
			    help_text);
}
