/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_filter: `herald filter test 'EXPR' [--user NAME] < MESSAGE.json`, which
 * asks heraldd whether a message matches a filter, and why
 * (POST /v1/filter/test). The daemon compiles the filter and runs the same
 * schema rules it uses for real messages, so the answer is the one matching
 * would give. Exit status follows grep: 0 match, 1 no match, 2 trouble.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_http.h"

/* grep's convention, so that scripts can tell "no" from "cannot say". */
enum { TEST_MATCH = 0, TEST_NO_MATCH = 1, TEST_TROUBLE = 2 };

static const char help_text[] =
	"usage: herald filter test EXPR [--user NAME] < MESSAGE.json\n"
	"\n"
	"Does the message (a fedmsg envelope, or {\"topic\": ..., \"msg\": ...}) match the\n"
	"filter EXPR (see herald-filters(7))? Prints the verdict, each clause with the\n"
	"values it saw, and what the schema rules made of the message.\n"
	"\n"
	"  -u, --user NAME      evaluate as this user: `me` and @lists are theirs\n"
	CLI_CONN_HELP
	"  -h, --help           this text\n"
	"\n"
	"Exit status: 0 match, 1 no match, 2 error (bad filter, usage, daemon).\n";

static int user_opt(struct cli *cli, void *ctx, int c, const char *arg)
{
	*(const char **)ctx = arg;
	return CLI_OPT_DONE;
}

static void print_strv(const char *label, const json_t *arr)
{
	size_t i;
	json_t *v;
	if (!json_array_size(arr))
		return;
	printf("  %-10s", label);
	json_array_foreach(arr, i, v)
		printf("%s%s", i ? ", " : "", json_string_value(v));
	putchar('\n');
}

static void print_meta(const json_t *m)
{
	static const char *const keys[] = {"app", "title", "agent", "severity", "link"};
	printf("message:\n");
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const char *v = json_string_value(json_object_get(m, keys[i]));
		if (v)
			printf("  %-10s%s\n", keys[i], v);
	}
	print_strv("usernames", json_object_get(m, "usernames"));
	print_strv("packages", json_object_get(m, "packages"));
}

static void print_result(const json_t *res, bool matched)
{
	const char *why = json_string_value(json_object_get(res, "why"));
	printf("%s\n", matched ? "match" : "no match");
	if (why && *why)
		printf("%s%s", why, why[strlen(why) - 1] == '\n' ? "" : "\n");
	print_meta(json_object_get(res, "meta"));
}

static int test(struct cli *cli, const struct cli_conn *o, const char *expr, const char *user)
{
	json_t *msg = NULL, *body, *res;
	if (cli_read_message(cli, &msg) != CLI_OK)
		return TEST_TROUBLE;
	body = json_pack("{s:s, s:o}", "filter", expr, "message", msg);
	if (body && user)
		json_object_set_new(body, "user", json_string(user));
	if (!body) {
		cli_error(cli, "the filter is not valid UTF-8");
		return TEST_TROUBLE;
	}
	int r = cli_http_call(cli, o, "POST", "/v1/filter/test", body, &res);
	json_decref(body);
	if (r != CLI_OK)
		return TEST_TROUBLE;
	bool matched = json_is_true(json_object_get(res, "match"));
	if (o->json)
		cli_print_json(res);
	else
		print_result(res, matched);
	json_decref(res);
	return matched ? TEST_MATCH : TEST_NO_MATCH;
}

static int filter_test(struct cli *cli, int argc, char **argv)
{
	static const struct option own[] = {{"user", required_argument, NULL, 'u'},
					    {NULL, 0, NULL, 0}};
	struct cli_conn o = CLI_CONN_INIT;
	const char *user = NULL;
	int r = cli_action_opts(cli, argc, argv, help_text, &o, "u:", own, user_opt, &user, 1, 1);
	if (r != CLI_OPT_DONE)
		return r == CLI_OK ? CLI_OK : TEST_TROUBLE;
	return test(cli, &o, argv[optind], user);
}

int cli_filter(struct cli *cli, int argc, char **argv)
{
	static const struct cli_action actions[] = {{"test", filter_test}};
	return cli_dispatch(cli, argc, argv, actions, sizeof actions / sizeof actions[0],
			    help_text);
}
