/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_token: `herald token add|list|rm`, a client of heraldd's
 * /v1/users/NAME/tokens resources (personal API tokens, doc/herald-api.7).
 * An administrator makes a user's first token on the socket, or the user in
 * the web app; with a token the user manages their own over TCP (--url,
 * --token-file). The token is printed once, by add, and nowhere else.
 * Every rule about tokens is the daemon's (usertoken.c).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_http.h"

static const char help_text[] =
	"usage: herald token add USER --name TEXT\n"
	"       herald token list USER\n"
	"       herald token rm USER ID\n"
	"\n"
	"Manage a user's personal API tokens (scope user:USER, for the API over TCP and\n"
	"`herald --url ... --token-file FILE`) through heraldd's API. `add` prints the\n"
	"new token on standard output: it is shown this once (heraldd keeps only its\n"
	"hash); put it in a file only you can read. `list` shows names and prefixes.\n"
	"A revoked token is refused at once.\n"
	"\n"
	"  -n, --name TEXT      what the token is for, 1 to 64 bytes (add)\n"
	CLI_CONN_HELP
	"  -h, --help           this text\n"
	"\n"
	"Exit status: 0 success, 1 refused or daemon unreachable, 2 usage error.\n";

/* "/v1/users/USER/tokens[/ID]" */
static int call(struct cli *cli, const struct cli_conn *o, const char *method, const char *user,
		const char *id, const json_t *body, json_t **res)
{
	struct buf path = BUF_INIT;
	int r = CLI_FAIL;
	if (!buf_puts(&path, "/v1/users") && !cli_path_add(&path, user) &&
	    !buf_puts(&path, "/tokens") && (!id || !cli_path_add(&path, id)))
		r = cli_http_call(cli, o, method, path.data, body, res);
	else
		cli_error(cli, "out of memory");
	buf_release(&path);
	return r;
}

static int add_opt(struct cli *cli, void *ctx, int c, const char *arg)
{
	if (c != 'n')
		return CLI_USAGE;
	*(const char **)ctx = arg;
	return CLI_OPT_DONE;
}

static int token_add(struct cli *cli, int argc, char **argv)
{
	static const struct option own[] = {{"name", required_argument, NULL, 'n'},
					    {NULL, 0, NULL, 0}};
	struct cli_conn o = CLI_CONN_INIT;
	const char *name = NULL;
	json_t *res = NULL;
	int r = cli_action_opts(cli, argc, argv, help_text, &o, "n:", own, add_opt, &name, 1, 1);
	if (r != CLI_OPT_DONE)
		return r;
	if (!name)
		return cli_usage_error(cli, "--name is required (what the token is for)");
	json_t *body = json_pack("{s:s}", "name", name);
	if (!body)
		return cli_usage_error(cli, "--name: not valid UTF-8");
	r = call(cli, &o, "POST", argv[optind], NULL, body, &res);
	json_decref(body);
	if (r != CLI_OK)
		return r;
	if (o.json)
		cli_print_json(res);
	else
		printf("%s\n", json_string_value(json_object_get(res, "token")));
	cli_note(cli, "token %lld of %s made; it is shown this once",
		 json_integer_value(json_object_get(res, "id")), argv[optind]);
	json_decref(res);
	return CLI_OK;
}

static int token_list(struct cli *cli, int argc, char **argv)
{
	struct cli_conn o = CLI_CONN_INIT;
	json_t *res = NULL, *t;
	size_t i;
	int r = cli_action_opts(cli, argc, argv, help_text, &o, NULL, NULL, NULL, NULL, 1, 1);
	if (r != CLI_OPT_DONE || (r = call(cli, &o, "GET", argv[optind], NULL, NULL, &res)) != CLI_OK)
		return r;
	if (o.json)
		cli_print_json(res);
	else
		json_array_foreach(json_object_get(res, "tokens"), i, t) {
			json_t *used = json_object_get(t, "last_used");
			printf("%lld\t%s...\t%s\tcreated %lld\tlast used %s%lld\n",
			       json_integer_value(json_object_get(t, "id")),
			       json_string_value(json_object_get(t, "prefix")),
			       json_string_value(json_object_get(t, "name")),
			       json_integer_value(json_object_get(t, "created")),
			       used ? "" : "never ", used ? json_integer_value(used) : 0LL);
		}
	json_decref(res);
	return CLI_OK;
}

static int token_rm(struct cli *cli, int argc, char **argv)
{
	struct cli_conn o = CLI_CONN_INIT;
	json_t *res = NULL;
	int r = cli_action_opts(cli, argc, argv, help_text, &o, NULL, NULL, NULL, NULL, 2, 2);
	if (r != CLI_OPT_DONE ||
	    (r = call(cli, &o, "DELETE", argv[optind], argv[optind + 1], NULL, &res)) != CLI_OK)
		return r;
	if (o.json)
		cli_print_json(res);
	else
		printf("token %s of %s revoked\n", argv[optind + 1], argv[optind]);
	json_decref(res);
	return CLI_OK;
}

int cli_token(struct cli *cli, int argc, char **argv)
{
	static const struct cli_action actions[] = {
		{"add", token_add}, {"list", token_list}, {"rm", token_rm}};
	return cli_dispatch(cli, argc, argv, actions, sizeof actions / sizeof actions[0],
			    help_text);
}
