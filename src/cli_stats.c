/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_stats: `herald stats`, which asks a running heraldd for its counters
 * (GET /v1/stats on the API unix socket, with libcurl) and prints them.
 * Only a reader of the API: the counters are rendered by the daemon
 * (metrics_render_json), and nothing here knows what they mean.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"

#define STATS_URL "http://localhost/v1/stats"
#define STATS_MAX_BODY (16u << 20) /* a counter dump is small; refuse a flood */

static const char help_text[] =
	"usage: herald stats [-c CONFIG | --socket PATH] [--json]\n"
	"\n"
	"Print heraldd's counters, read from its API socket.\n"
	"\n"
	"  -c, --config FILE    heraldd config naming api_socket (default: "
	HERALD_DEFAULT_CONFIG ")\n"
	"  -S, --socket PATH    the API socket itself (the config is not read)\n"
	"  -j, --json           print the daemon's JSON as received\n"
	"  -T, --timeout S      give up after S seconds (default 10)\n"
	"  -q, --quiet          print only the counters\n"
	"      --log-level L    error, warn, info or debug\n"
	"  -h, --help           this text\n"
	"\n"
	"Exit status: 0 success, 1 daemon not running or failing, 2 usage or config error.\n";

struct stats_opts {
	const char *config;
	const char *socket;
	bool raw;
	double timeout;
};

static int parse_opts(struct cli *cli, int argc, char **argv, struct stats_opts *o)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{"config", required_argument, NULL, 'c'},
		{"socket", required_argument, NULL, 'S'},
		{"json", no_argument, NULL, 'j'},
		{"timeout", required_argument, NULL, 'T'},
		{NULL, 0, NULL, 0}};
	int c;
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "c:S:jT:", longopts, NULL)) != -1) {
		int r = cli_common_opt(cli, c, argv, help_text);
		if (r == CLI_OPT_DONE)
			continue;
		if (r != CLI_OPT_NOT_MINE)
			return r;
		if (c == 'c')
			o->config = optarg;
		else if (c == 'S')
			o->socket = optarg;
		else if (c == 'j')
			o->raw = true;
		else if (c == 'T' && cli_parse_double(optarg, 0, 3600, &o->timeout))
			return cli_usage_error(cli, "--timeout: expected seconds > 0, got '%s'", optarg);
	}
	if (o->config && o->socket)
		return cli_usage_error(cli, "use --config or --socket, not both");
	return cli_no_operands(cli, argc, argv);
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
	struct buf *b = user;
	size_t n = size * nmemb;
	/* Returning less than n makes curl fail the transfer. */
	if (b->len + n > STATS_MAX_BODY || buf_append(b, data, n))
		return 0;
	return n;
}

/* GET the stats into `body`; CLI_OK or CLI_FAIL after saying why. */
static int fetch(const struct cli *cli, const char *socket, double timeout, struct buf *body)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	int r = CLI_FAIL;
	CURL *h = curl_easy_init();
	if (!h) {
		cli_error(cli, "cannot initialise libcurl");
		return CLI_FAIL;
	}
	curl_easy_setopt(h, CURLOPT_URL, STATS_URL);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, socket);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000.0));
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	CURLcode cc = curl_easy_perform(h);
	if (cc == CURLE_COULDNT_CONNECT)
		cli_error(cli, "heraldd is not running (socket %s)", socket);
	else if (cc != CURLE_OK)
		cli_error(cli, "%s: %s", socket, errbuf[0] ? errbuf : curl_easy_strerror(cc));
	else if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status != 200)
		cli_error(cli, "heraldd answered HTTP %ld: %.200s", status,
			  body->data ? body->data : "");
	else
		r = CLI_OK;
	curl_easy_cleanup(h);
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

/* --socket, else the config's api_socket (a copy: the config is freed). */
static int socket_path(const struct cli *cli, const struct stats_opts *o, char **out)
{
	struct config cfg;
	char err[1024] = "";
	if (o->socket) {
		*out = strdup(o->socket);
	} else {
		if (config_load(o->config ? o->config : HERALD_DEFAULT_CONFIG, &cfg, err,
				sizeof err)) {
			cli_error(cli, "%s", err);
			return CLI_USAGE;
		}
		*out = strdup(cfg.api_socket);
		config_release(&cfg);
	}
	if (!*out) {
		cli_error(cli, "out of memory");
		return CLI_FAIL;
	}
	return CLI_OK;
}

int cli_stats(struct cli *cli, int argc, char **argv)
{
	struct stats_opts o = {.timeout = 10.0};
	int r = parse_opts(cli, argc, argv, &o);
	if (r != CLI_OPT_DONE)
		return r;
	char *socket = NULL;
	if ((r = socket_path(cli, &o, &socket)) != CLI_OK)
		return r;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		cli_error(cli, "cannot initialise libcurl");
		free(socket);
		return CLI_FAIL;
	}
	struct buf body = BUF_INIT;
	r = fetch(cli, socket, o.timeout, &body);
	if (r == CLI_OK)
		r = print_stats(cli, &body, o.raw);
	buf_release(&body);
	curl_global_cleanup();
	free(socket);
	return r;
}
