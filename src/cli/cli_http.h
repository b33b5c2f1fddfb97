/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_http: how the `herald` commands talk to a running heraldd: HTTP over
 * the API unix socket with libcurl, or over TCP (--url http://HOST:PORT with
 * --token-file FILE: a personal token, or one of the token file's), so users
 * get the CLI too. Shared by stats, user, dest, sub, filter and the outbox
 * commands: the connection options
 * (-c/--socket/--url/--token-file/--timeout/--json), one request
 * with a JSON body, and the daemon's {"error": ...} answers turned into the
 * command's error line and exit status. Not for what the resources mean:
 * each command file knows its own.
 *
 * Single-threaded, like the rest of the tool.
 */
#ifndef HERALD_CLI_HTTP_H
#define HERALD_CLI_HTTP_H

#include <jansson.h>
#include <stdbool.h>

#include "src/common/buf.h"
#include "cli.h"

struct cli_conn {
	const char *config; /* -c: the heraldd config naming api_socket */
	const char *socket; /* --socket: the socket itself (the config is not read) */
	double timeout;     /* seconds for the whole request */
	bool json;          /* --json: print the daemon's JSON, not a summary */
	const char *url;    /* --url: heraldd's TCP API, "http(s)://HOST:PORT[/PREFIX]" */
	const char *token_file; /* --token-file: the bearer token for --url (mode 0600) */
};

#define CLI_CONN_INIT {NULL, NULL, 10.0, false, NULL, NULL}

/* Spliced into a command's option table and optstring. */
#define CLI_CONN_LONGOPTS                                            \
	{"config", required_argument, NULL, 'c'},                    \
	{"socket", required_argument, NULL, 'S'},                    \
	{"json", no_argument, NULL, 'j'},                            \
	{"timeout", required_argument, NULL, 'T'},                   \
	{"url", required_argument, NULL, CLI_OPT_URL},               \
	{"token-file", required_argument, NULL, CLI_OPT_TOKEN_FILE}
#define CLI_CONN_SHORTOPTS "c:S:jT:"
#define CLI_CONN_HELP                                                                    \
	"  -c, --config FILE    heraldd config naming api_socket (default: "           \
	HERALD_DEFAULT_CONFIG ")\n"                                                  \
	"  -S, --socket PATH    the API socket itself (the config is not read)\n"      \
	"      --url URL        heraldd's TCP API instead, e.g. http://127.0.0.1:8081\n" \
	"      --token-file F   the API token for --url (only its owner may read F)\n"  \
	"  -j, --json           print the daemon's JSON as received\n"                 \
	"  -T, --timeout S      give up after S seconds (default 10)\n"

/*
 * Inside a getopt loop, after cli_common_opt: CLI_OPT_DONE when `c` was a
 * connection option, CLI_OPT_NOT_MINE when not, or CLI_USAGE after a bad
 * value. cli_conn_check after the loop refuses --config with --socket, and
 * --url with either; --url and --token-file go together.
 */
int cli_conn_opt(const struct cli *cli, struct cli_conn *o, int c, const char *arg);
int cli_conn_check(const struct cli *cli, const struct cli_conn *o);

/*
 * Send METHOD `path` (starting with '/', built with cli_path_add) with an
 * optional JSON body; the answer's status and body land in *status and
 * *resp. CLI_OK when heraldd answered at all, else CLI_FAIL (not running,
 * timeout, an unreadable token file) or CLI_USAGE (unusable config, a
 * token file others can read), after printing why. No message ever holds
 * the token.
 */
int cli_http_request(const struct cli *cli, const struct cli_conn *o, const char *method,
		     const char *path, const json_t *body, long *status, struct buf *resp);

/*
 * cli_http_request, then: a 2xx answer parsed into *out (a new reference)
 * and CLI_OK; any other answer printed as "herald CMD: ERROR" from its
 * {"error": ...} and CLI_FAIL.
 */
int cli_http_call(const struct cli *cli, const struct cli_conn *o, const char *method,
		  const char *path, const json_t *body, json_t **out);

/* Append "/" and `seg` percent-escaped (everything but A-Z a-z 0-9 . _ - ~).
 * 0 or -ENOMEM. */
int cli_path_add(struct buf *path, const char *seg);

/* Read one JSON value (a message envelope) from standard input into *out.
 * CLI_OK, or CLI_FAIL after saying why. */
int cli_read_message(const struct cli *cli, json_t **out);

/* Print a JSON value on stdout, indented, with a newline. */
void cli_print_json(const json_t *v);

/*
 * Parse one action's options: the common ones, the connection ones, and its
 * own (`own_short` for getopt, `own_long` NULL-terminated or NULL), each of
 * the latter handed to `own(cli, ctx, c, optarg)`, which returns
 * CLI_OPT_DONE or an exit code. Then between min_ops and max_ops operands
 * must remain, at argv[optind]. CLI_OPT_DONE, or the exit code to return.
 */
typedef int (*cli_own_opt_fn)(struct cli *cli, void *ctx, int c, const char *arg);
int cli_action_opts(struct cli *cli, int argc, char **argv, const char *help,
		    struct cli_conn *o, const char *own_short, const struct option *own_long,
		    cli_own_opt_fn own, void *ctx, int min_ops, int max_ops);

/*
 * Commands with actions (`herald user add ...`): argv[0] is the command,
 * argv[1] the action, run with argv + 1; cli->cmd becomes "CMD ACTION" so
 * messages read "herald user add: ...". `help` is printed for -h or when
 * the action is missing (then CLI_USAGE).
 */
struct cli_action {
	const char *name;
	int (*run)(struct cli *cli, int argc, char **argv);
};
int cli_dispatch(struct cli *cli, int argc, char **argv, const struct cli_action *actions,
		 size_t n, const char *help);

#endif
