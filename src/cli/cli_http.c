/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_http: the CLI's HTTP client for heraldd's API socket or its TCP API
 * (see cli_http.h). libcurl does the HTTP; this file decides where to
 * connect, reads the token file, bounds what it reads, and turns the
 * daemon's answers into messages and exit codes. Not for what any resource
 * means.
 */
#include "cli_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
	case CLI_OPT_URL:
		if (strncmp(arg, "http://", 7) && strncmp(arg, "https://", 8))
			return cli_usage_error(cli, "--url: expected http://HOST:PORT or "
						    "https://HOST:PORT, got '%.200s'", arg);
		o->url = arg;
		return CLI_OPT_DONE;
	case CLI_OPT_TOKEN_FILE:
		o->token_file = arg;
		return CLI_OPT_DONE;
	default:
		return CLI_OPT_NOT_MINE;
	}
}

int cli_conn_check(const struct cli *cli, const struct cli_conn *o)
{
	if (o->config && o->socket)
		return cli_usage_error(cli, "use --config or --socket, not both");
	if (o->url && (o->socket || o->config))
		return cli_usage_error(cli, "use --url or --%s, not both",
				       o->socket ? "socket" : "config");
	if (o->url && !o->token_file)
		return cli_usage_error(cli, "--url needs --token-file (the API over TCP asks "
					    "for a token)");
	if (o->token_file && !o->url)
		return cli_usage_error(cli, "--token-file goes with --url (the socket needs "
					    "no token)");
	return CLI_OPT_DONE;
}

/* The token file must be a regular file only its owner can read or write:
 * CLI_OK, or CLI_USAGE after saying why. */
static int check_token_mode(const struct cli *cli, int fd, const char *path)
{
	struct stat st;
	if (fstat(fd, &st)) {
		cli_error(cli, "token file %s: %s", path, strerror(errno));
		return CLI_FAIL;
	}
	if (!S_ISREG(st.st_mode)) {
		cli_error(cli, "token file %s: not a regular file", path);
		return CLI_USAGE;
	}
	if (st.st_mode & 077) {
		cli_error(cli, "token file %s: mode %04o lets group or others read the token; "
			       "run chmod 600 %s", path, (unsigned)(st.st_mode & 07777), path);
		return CLI_USAGE;
	}
	return CLI_OK;
}

/* The one token in `path` (its first line, blanks around it dropped) as
 * "Authorization: Bearer TOKEN" in hdr, which the caller cleanses. */
static int read_token(const struct cli *cli, const char *path, struct buf *hdr)
{
	char line[512] = "";
	int r, fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		cli_error(cli, "token file %s: %s", path, strerror(errno));
		return CLI_FAIL;
	}
	r = check_token_mode(cli, fd, path);
	ssize_t n = r == CLI_OK ? read(fd, line, sizeof line - 1) : 0;
	close(fd);
	if (r != CLI_OK)
		return r;
	line[n > 0 ? n : 0] = '\0';
	char *tok = line + strspn(line, " \t");
	size_t len = strcspn(tok, " \t\r\n");
	if (n < 0 || !len || len > 256) {
		cli_error(cli, "token file %s: expected one token on its first line", path);
		r = CLI_FAIL;
	} else if (buf_printf(hdr, "Authorization: Bearer %.*s", (int)len, tok)) {
		cli_error(cli, "out of memory");
		r = CLI_FAIL;
	}
	explicit_bzero(line, sizeof line);
	return r;
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

/* `where`: the socket, or the --url (which holds no token). */
static int perform(const struct cli *cli, CURL *h, const char *where, bool tcp, long *status)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	CURLcode cc = curl_easy_perform(h);
	if (cc == CURLE_COULDNT_CONNECT) {
		cli_error(cli, "heraldd is not running (%s %s)", tcp ? "nothing answers at" : "socket",
			  where);
		return CLI_FAIL;
	}
	if (cc != CURLE_OK) {
		cli_error(cli, "%s: %s", where, errbuf[0] ? errbuf : curl_easy_strerror(cc));
		return CLI_FAIL;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	return CLI_OK;
}

/* Where the request goes: the socket (auth NULL), or TCP with the token's
 * header. */
struct target {
	const char *where; /* socket path or --url, for messages */
	const char *auth;  /* "Authorization: Bearer ..." or NULL */
};

static int request(const struct cli *cli, const struct target *to, const struct cli_conn *o,
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
	if (to->auth) {
		/* Never follow a redirect: the token would go along. */
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
		hdr = curl_slist_append(hdr, to->auth);
	} else {
		curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, to->where);
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)(o->timeout * 1000.0));
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, resp);
	if (body) {
		hdr = curl_slist_append(hdr, "Content-Type: application/json");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	} else if (!strcmp(method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	}
	if (hdr)
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	int r = perform(cli, h, to->where, to->auth != NULL, status);
	/* curl_slist_append copied the header: wipe that copy too. */
	for (struct curl_slist *l = hdr; l; l = l->next)
		explicit_bzero(l->data, strlen(l->data));
	curl_slist_free_all(hdr);
	curl_easy_cleanup(h);
	return r;
}

/* The base URL and target: --url with its token, or the socket. */
static int resolve(const struct cli *cli, const struct cli_conn *o, char **socket,
		   struct buf *auth, struct buf *url, struct target *to)
{
	int r;
	if (o->url) {
		size_t n = strlen(o->url);
		while (n > 0 && o->url[n - 1] == '/')
			n--; /* "http://h:1/" + "/v1/..." */
		if ((r = read_token(cli, o->token_file, auth)) != CLI_OK)
			return r;
		*to = (struct target){o->url, auth->data};
		return buf_append(url, o->url, n) ? CLI_FAIL : CLI_OK;
	}
	if ((r = socket_path(cli, o, socket)) != CLI_OK)
		return r;
	*to = (struct target){*socket, NULL};
	return buf_puts(url, BASE_URL) ? CLI_FAIL : CLI_OK;
}

int cli_http_request(const struct cli *cli, const struct cli_conn *o, const char *method,
		     const char *path, const json_t *body, long *status, struct buf *resp)
{
	char *socket = NULL, *text = NULL;
	struct buf url = BUF_INIT, auth = BUF_INIT;
	struct target to;
	int r = resolve(cli, o, &socket, &auth, &url, &to);
	if (r != CLI_OK)
		goto out;
	if ((body && !(text = json_dumps(body, JSON_COMPACT))) || buf_puts(&url, path)) {
		cli_error(cli, "out of memory");
		r = CLI_FAIL;
	} else if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		cli_error(cli, "cannot initialise libcurl");
		r = CLI_FAIL;
	} else {
		r = request(cli, &to, o, method, url.data, text, status, resp);
		curl_global_cleanup();
	}
out:
	if (auth.data)
		explicit_bzero(auth.data, auth.len);
	buf_release(&auth);
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
