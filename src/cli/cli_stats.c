/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_stats: `herald stats`, which asks a running heraldd for its counters
 * (GET /v1/stats on the API unix socket, through cli_http) and prints them.
 * Only a reader of the API: the counters are rendered by the daemon
 * (metrics_render_json), and nothing here knows what they mean.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cli_http.h"

static const char help_text[] =
	"usage: herald stats [-c CONFIG | --socket PATH] [--json]\n"
	"\n"
	"Print heraldd's counters, read from its API socket.\n"
	"\n"
	CLI_CONN_HELP
	"  -q, --quiet          print only the counters\n"
	"      --log-level L    error, warn, info or debug\n"
	"  -h, --help           this text\n"
	"\n"
	"Exit status: 0 success, 1 daemon not running or failing, 2 usage or config error.\n";

static int parse_opts(struct cli *cli, int argc, char **argv, struct cli_conn *o)
{
	static const struct option longopts[] = {CLI_COMMON_LONGOPTS, CLI_CONN_LONGOPTS,
						 {NULL, 0, NULL, 0}};
	int c;
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS CLI_CONN_SHORTOPTS, longopts,
				NULL)) != -1) {
		int r = cli_common_opt(cli, c, argv, help_text);
		if (r == CLI_OPT_NOT_MINE)
			r = cli_conn_opt(cli, o, c, optarg);
		if (r != CLI_OPT_DONE)
			return r == CLI_OPT_NOT_MINE ? CLI_USAGE : r;
	}
	if (cli_conn_check(cli, o) != CLI_OPT_DONE)
		return CLI_USAGE;
	return cli_no_operands(cli, argc, argv);
}

/* GET the stats into `body`; CLI_OK or CLI_FAIL after saying why. */
static int fetch(const struct cli *cli, const struct cli_conn *o, struct buf *body)
{
	long status = 0;
	int r = cli_http_request(cli, o, "GET", "/v1/stats", NULL, &status, body);
	if (r == CLI_OK && status != 200) {
		cli_error(cli, "heraldd answered HTTP %ld: %.200s", status,
			  body->data ? body->data : "");
		r = CLI_FAIL;
	}
	return r;
}

static int print_stats(const struct cli *cli, const struct buf *body, bool raw)
{
	if (raw) {
		fwrite(body->data, 1, body->len, stdout);
		if (body->len && body->data[body->len - 1] != '\n')
			putchar('\n');
		return CLI_OK;
	}
	json_error_t jerr;
	json_t *v = json_loadb(body->data, body->len, 0, &jerr);
	char *s = v ? json_dumps(v, JSON_INDENT(2)) : NULL;
	json_decref(v);
	if (!s) {
		cli_error(cli, "heraldd sent something that is not JSON (%s)", jerr.text);
		return CLI_FAIL;
	}
	puts(s);
	free(s);
	return CLI_OK;
}

int cli_stats(struct cli *cli, int argc, char **argv)
{
	struct cli_conn o = CLI_CONN_INIT;
	int r = parse_opts(cli, argc, argv, &o);
	if (r != CLI_OPT_DONE)
		return r;
	struct buf body = BUF_INIT;
	r = fetch(cli, &o, &body);
	if (r == CLI_OK)
		r = print_stats(cli, &body, o.json);
	buf_release(&body);
	return r;
}
