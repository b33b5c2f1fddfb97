/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_http: the CLI's HTTP client for heraldd's API socket (see
 * cli_http.h). libcurl does the HTTP; this file decides where to connect,
 * bounds what it reads, and turns the daemon's answers into messages and
 * exit codes. Not for what any resource means.
 */
#include "cli_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/common/config.h"

#define BASE_URL "http://localhost"
#define MAX_ANSWER (64u << 20) /* a list of every user fits; a flood does not */

int cli_conn_opt(const struct cli *cli, struct cli_conn *o, int c, const char *arg)
{
	switch (c) {
	case 'c':
		o->config = arg;
		return CLI_OPT_DONE;
	case 'S':
		o->socket = arg;
		return CLI_OPT_DONE;
	case 'j':
		o->json = true;
		return CLI_OPT_DONE;
	case 'T':
		if (cli_parse_double(arg, 0, 3600, &o->timeout))
			return cli_usage_error(cli, "--timeout: expected seconds > 0, got '%s'", arg);
		return CLI_OPT_DONE;
	default:
		return CLI_OPT_NOT_MINE;
	}
}

int cli_conn_check(const struct cli *cli, const struct cli_conn *o)
{
	if (o->config && o->socket)
		return cli_usage_error(cli, "use --config or --socket, not both");
	return CLI_OPT_DONE;
}

/* --socket, else the config's api_socket (a copy: the config is freed). */
static int socket_path(const struct cli *cli, const struct cli_conn *o, char **out)
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

static size_t on_body(char *data, size_t size, size_t nmemb, void *user)
{
	struct buf *b = user;
	size_t n = size * nmemb;
	/* Returning less than n makes curl fail the transfer. */
	if (b->len + n > MAX_ANSWER || buf_append(b, data, n))
		return 0;
	return n;
}

static int perform(const struct cli *cli, CURL *h, const char *socket, long *status)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode cc = curl_easy_perform(h);
	if (cc == CURLE_COULDNT_CONNECT) {
		cli_error(cli, "heraldd is not running (socket %s)", socket);
		return CLI_FAIL;
	}
	if (cc != CURLE_OK) {
		cli_error(cli, "%s: %s", socket, errbuf[0] ? errbuf : curl_easy_strerror(cc));
		return CLI_FAIL;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	return CLI_OK;
}

static int request(const struct cli *cli, const char *socket, const struct cli_conn *o,
		   const char *method, const char *url, const char *body, long *status,
		   struct buf *resp)
{
	struct curl_slist *hdr = NULL;
	CURL *h = curl_easy_init();
	if (!h) {
		cli_error(cli, "cannot initialise libcurl");
		return CLI_FAIL;
	}
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, socket);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(o->timeout * 1000.0));
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	if (body) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	} else if (!strcmp(method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	}
	int r = perform(cli, h, socket, status);
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return r;
}

int cli_http_request(const struct cli *cli, const struct cli_conn *o, const char *method,
		     const char *path, const json_t *body, long *status, struct buf *resp)
{
	char *socket = NULL, *text = NULL;
	struct buf url = BUF_INIT;
	int r = socket_path(cli, o, &socket);
	if (r != CLI_OK)
		return r;
	if ((body && !(text = json_dumps(body, JSON_COMPACT))) ||
	    buf_printf(&url, "%s%s", BASE_URL, path)) {
		cli_error(cli, "out of memory");
		r = CLI_FAIL;
	} else if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		cli_error(cli, "cannot initialise libcurl");
		r = CLI_FAIL;
	} else {
		r = request(cli, socket, o, method, url.data, text, status, resp);
		curl_global_cleanup();
	}
	buf_release(&url);
	free(text);
	free(socket);
	return r;
}

/* The daemon's own words for a refusal, or what we can say without them. */
static void print_refusal(const struct cli *cli, long status, const struct buf *resp)
{
	json_t *v = resp->len ? json_loadb(resp->data, resp->len, 0, NULL) : NULL;
	const char *msg = json_string_value(json_object_get(v, "error"));
	if (msg)
		cli_error(cli, "%s", msg);
	else
		cli_error(cli, "heraldd answered HTTP %ld: %.200s", status,
			  resp->data ? resp->data : "");
	json_decref(v);
}

int cli_http_call(const struct cli *cli, const struct cli_conn *o, const char *method,
		  const char *path, const json_t *body, json_t **out)
{
	struct buf resp = BUF_INIT;
	json_error_t jerr;
	long status = 0;
	int r = cli_http_request(cli, o, method, path, body, &status, &resp);
	if (r != CLI_OK)
		goto out;
	if (status < 200 || status > 299) {
		print_refusal(cli, status, &resp);
		r = CLI_FAIL;
	} else if (!(*out = json_loadb(resp.data ? resp.data : "", resp.len, 0, &jerr))) {
		cli_error(cli, "heraldd sent something that is not JSON (%s)", jerr.text);
		r = CLI_FAIL;
	}
out:
	buf_release(&resp);
	return r;
}

int cli_path_add(struct buf *path, const char *seg)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = buf_putc(path, '/');
	for (const unsigned char *p = (const unsigned char *)seg; !rc && *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("._-~", *p))
			rc = buf_putc(path, (char)*p);
		else
			rc = buf_printf(path, "%%%c%c", hex[*p >> 4], hex[*p & 15]);
	}
	return rc;
}

int cli_read_message(const struct cli *cli, json_t **out)
{
	struct buf in = BUF_INIT;
	json_error_t jerr;
	int rc = cli_read_file(NULL, &in), r = CLI_OK;
	if (rc) {
		cli_error(cli, "reading standard input: %s", strerror(-rc));
		r = CLI_FAIL;
	} else if (!(*out = json_loadb(in.data ? in.data : "", in.len, 0, &jerr))) {
		cli_error(cli, "standard input: not a JSON message (%s, line %d)", jerr.text,
			  jerr.line);
		r = CLI_FAIL;
	}
	buf_release(&in);
	return r;
}

void cli_print_json(const json_t *v)
{
	char *s = json_dumps(v, JSON_INDENT(2) | JSON_ENCODE_ANY);
	if (s)
		puts(s);
	free(s);
}

#define MAX_OWN_LONGOPTS 8

int cli_action_opts(struct cli *cli, int argc, char **argv, const char *help,
		    struct cli_conn *o, const char *own_short, const struct option *own_long,
		    cli_own_opt_fn own, void *ctx, int min_ops, int max_ops)
{
	static const struct option shared[] = {CLI_COMMON_LONGOPTS, CLI_CONN_LONGOPTS};
	struct option longopts[sizeof shared / sizeof shared[0] + MAX_OWN_LONGOPTS + 1];
	char shortopts[64];
	size_t n = sizeof shared / sizeof shared[0];
	int c;
	memcpy(longopts, shared, sizeof shared);
	for (size_t i = 0; own_long && own_long[i].name && i < MAX_OWN_LONGOPTS; i++)
		longopts[n++] = own_long[i];
	memset(&longopts[n], 0, sizeof longopts[n]);
	snprintf(shortopts, sizeof shortopts, "%s%s%s", CLI_COMMON_SHORTOPTS, CLI_CONN_SHORTOPTS,
		 own_short ? own_short : "");
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
		int r = cli_common_opt(cli, c, argv, help);
		if (r == CLI_OPT_NOT_MINE)
			r = cli_conn_opt(cli, o, c, optarg);
		if (r == CLI_OPT_NOT_MINE)
			r = own ? own(cli, ctx, c, optarg) : CLI_USAGE;
		if (r != CLI_OPT_DONE)
			return r;
	}
	if (cli_conn_check(cli, o) != CLI_OPT_DONE)
		return CLI_USAGE;
	int ops = argc - optind;
	if (ops < min_ops)
		return cli_usage_error(cli, "missing argument%s", min_ops - ops > 1 ? "s" : "");
	if (ops > max_ops)
		return cli_usage_error(cli, "unexpected argument '%s'", argv[optind + max_ops]);
	return CLI_OPT_DONE;
}

int cli_dispatch(struct cli *cli, int argc, char **argv, const struct cli_action *actions,
		 size_t n, const char *help)
{
	static char cmd[64];
	if (argc < 2) {
		fputs(help, stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fputs(help, stdout);
		return CLI_OK;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(argv[1], actions[i].name))
			continue;
		snprintf(cmd, sizeof cmd, "%s %s", argv[0], actions[i].name);
		cli->cmd = cmd;
		return actions[i].run(cli, argc - 1, argv + 1);
	}
	return cli_usage_error(cli, "unknown action '%s'", argv[1]);
}
