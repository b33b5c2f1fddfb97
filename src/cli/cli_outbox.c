/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_outbox: `herald outbox|deadletter list|show|retry|drop`, `herald
 * delivered` and `herald sinks`, clients of heraldd's /v1/outbox,
 * /v1/deadletter, /v1/delivered and /v1/sinks resources and of their
 * /v1/users/USER/... forms (doc/herald-api.7). Only prints answers: whether
 * an id is one, and whose, is the daemon's decision.
 */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "cli_http.h"
#include "src/common/clock.h"

#define HELP_TAIL                                                                       \
	CLI_CONN_HELP                                                                   \
	"  -h, --help           this text\n"                                            \
	"\n"                                                                            \
	"Exit status: 0 success, 1 refused or daemon unreachable, 2 usage error.\n"

static const char notes_help[] =
	"usage: herald outbox list [--user USER] [--limit N] [--after ID]\n"
	"       herald outbox show|retry|drop ID [--user USER]\n"
	"       herald deadletter list [--user USER] [--limit N] [--after ID]\n"
	"       herald deadletter show|retry|drop ID [--user USER]\n"
	"\n"
	"Look at and act on notifications through heraldd's API socket: the outbox\n"
	"holds those waiting for delivery, the dead letters those given up on.\n"
	"`list` prints ID, USER, DESTINATION, DUE (UTC, \"now\" or \"parked\"; for a\n"
	"dead letter: when it died), ATTEMPTS, TOPIC and TITLE, and for a dead letter\n"
	"the REASON, tab separated; then how to get the next page, if there may be\n"
	"one. `show` prints the whole notification. `retry` makes it due now (a dead\n"
	"letter goes back into the outbox; a note in a digest takes the digest with\n"
	"it); `drop` deletes it.\n"
	"\n"
	"  -u, --user USER      only USER's notifications (the /v1/users/USER/...\n"
	"                       resources, which a user-scoped API token may use)\n"
	"  -l, --limit N        at most N per page (default 100, at most 1000)\n"
	"  -a, --after ID       the page after notification ID\n"
	HELP_TAIL;

static const char delivered_help[] =
	"usage: herald delivered [--user USER] [--limit N]\n"
	"\n"
	"The latest deliveries, newest first, from heraldd's bounded delivery log:\n"
	"AT (UTC), ID, USER, DESTINATION, SINK, note or digest, COUNT (notifications\n"
	"sent) and ATTEMPTS, tab separated.\n"
	"\n"
	"  -u, --user USER      only USER's deliveries\n"
	"  -l, --limit N        at most N records (default 100, at most 1000)\n"
	HELP_TAIL;

static const char sinks_help[] =
	"usage: herald sinks\n"
	"       herald sinks resume NAME\n"
	"\n"
	"heraldd's sink instances, one a line: NAME, PLUGIN and \"loaded\" (with\n"
	"\"broken until TIME\" while it backs off after failures, \"restarting at\n"
	"TIME\" after its sink process crashed, \"PAUSED: REASON\" after it crashed\n"
	"5 times in 10 minutes, \"busy\" while it delivers) or \"FAILED: ERROR\";\n"
	"then the outbox's counts. `resume NAME` gives a paused instance work again\n"
	"(its notifications waited in the outbox).\n"
	"\n"
	HELP_TAIL;

/* What --user, --limit and --after asked for. */
struct query {
	const char *user;    /* the /v1/users/USER/... form */
	const char *after;   /* a notification id */
	unsigned long limit; /* 0: the daemon's default */
};

/*
 * Each command takes a suffix of this table: list all three, delivered
 * --limit and --user, show/retry/drop --user, sinks none (enum takes is the
 * index of the first one; the short options go two characters each).
 */
static const struct option query_opts[] = {{"after", required_argument, NULL, 'a'},
					   {"limit", required_argument, NULL, 'l'},
					   {"user", required_argument, NULL, 'u'},
					   {NULL, 0, NULL, 0}};
static const char query_short[] = "a:l:u:";
enum takes { TAKES_PAGE, TAKES_LIMIT, TAKES_USER, TAKES_NONE };

typedef void (*print_fn)(const json_t *ans, const char *res, const struct query *q);

/* One command: a request and how to print its answer. */
struct req {
	const char *method;
	const char *res;    /* "outbox", "deadletter", "delivered" or "sinks" */
	const char *action; /* "retry" or NULL */
	enum takes takes;
	bool id;            /* takes a notification ID operand */
	print_fn print;     /* the summary; NULL: the JSON, indented */
	const char *help;
};

static int query_opt(struct cli *cli, void *ctx, int c, const char *arg)
{
	struct query *q = ctx;
	switch (c) {
	case 'u':
		if (!*arg)
			return cli_usage_error(cli, "--user: expected a user name");
		q->user = arg;
		return CLI_OPT_DONE;
	case 'a':
		q->after = arg;
		return CLI_OPT_DONE;
	case 'l':
		if (cli_parse_ulong(arg, 1, ULONG_MAX, &q->limit))
			return cli_usage_error(cli, "--limit: expected a positive integer, got '%s'",
					       arg);
		return CLI_OPT_DONE;
	default:
		return CLI_USAGE;
	}
}

/* METHOD "/v1[/users/USER]/RES[/ID[/ACTION]][?limit=N][&after=ID]"; the answer in *ans. */
static int call(struct cli *cli, const struct cli_conn *o, const struct req *rq,
		const struct query *q, const char *id, json_t **ans)
{
	struct buf p = BUF_INIT;
	int r, rc = buf_puts(&p, "/v1");
	if (!rc && q->user && !(rc = buf_puts(&p, "/users")))
		rc = cli_path_add(&p, q->user);
	if (!rc)
		rc = cli_path_add(&p, rq->res);
	if (!rc && id)
		rc = cli_path_add(&p, id);
	if (!rc && rq->action)
		rc = cli_path_add(&p, rq->action);
	if (!rc && q->limit)
		rc = buf_printf(&p, "?limit=%lu", q->limit);
	if (!rc && q->after && !(rc = buf_puts(&p, q->limit ? "&after" : "?after"))) {
		size_t eq = p.len; /* cli_path_add escapes a query value too; its '/' is the '=' */
		if (!(rc = cli_path_add(&p, q->after)))
			p.data[eq] = '=';
	}
	if (rc) {
		cli_error(cli, "out of memory");
		r = CLI_FAIL;
	} else {
		r = cli_http_call(cli, o, rq->method, p.data, NULL, ans);
	}
	buf_release(&p);
	return r;
}

static int run(struct cli *cli, int argc, char **argv, const struct req *rq)
{
	struct cli_conn o = CLI_CONN_INIT;
	struct query q = {NULL, NULL, 0};
	json_t *ans;
	int r = cli_action_opts(cli, argc, argv, rq->help, &o, query_short + 2 * rq->takes,
				query_opts + rq->takes, query_opt, &q, rq->id, rq->id);
	if (r != CLI_OPT_DONE)
		return r;
	if (rq->id && !*argv[optind])
		return cli_usage_error(cli, "the notification id is empty");
	if ((r = call(cli, &o, rq, &q, rq->id ? argv[optind] : NULL, &ans)) != CLI_OK)
		return r;
	if (o.json || !rq->print)
		cli_print_json(ans);
	else
		rq->print(ans, rq->res, &q);
	json_decref(ans);
	return CLI_OK;
}

/* ---- printing ---- */

static long long num(const json_t *o, const char *key)
{
	return json_integer_value(json_object_get(o, key));
}

/* A string member as one field of a line: "-" when absent or empty, control
 * characters (a title's newline, a tab) as spaces. Then `sep`. */
static void field(const json_t *o, const char *key, char sep)
{
	const char *s = json_string_value(json_object_get(o, key));
	for (s = s && *s ? s : "-"; *s; s++)
		putchar((unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s);
	putchar(sep);
}


/* Unix milliseconds as ISO 8601 UTC, to the second. */
static const char *iso(long long ms, char out[32])
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (!gmtime_r(&t, &tm) || !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, 32, "%lld", ms);
	return out;
}

static void print_note(const json_t *d, bool dead, long long now)
{
	char t[32];
	long long due = num(d, "due");
	const char *when = "now";
	if (dead)
		when = iso(num(d, "dead_at"), t);
	else if (due < 0)
		when = "parked";
	else if (due > now)
		when = iso(due, t);
	field(d, "id", '\t');
	field(d, "user", '\t');
	printf("%lld\t%s\t%lld\t", num(d, "destination"), when, num(d, "attempts"));
	field(d, "topic", '\t');
	field(d, "title", dead ? '\t' : '\n');
	if (dead)
		field(d, "reason", '\n');
}

static void print_page(const json_t *ans, const char *res, const struct query *q)
{
	const char *next = json_string_value(json_object_get(ans, "next"));
	long long now = (long long)clock_wall_ms();
	const json_t *d;
	size_t i;
	json_array_foreach(json_object_get(ans, "notifications"), i, d)
		print_note(d, !strcmp(res, "deadletter"), now);
	if (!next)
		return;
	printf("more: herald %s list --after %s", res, next);
	if (q->user)
		printf(" --user %s", q->user);
	if (q->limit)
		printf(" --limit %lu", q->limit);
	putchar('\n');
}

/* {"retried": ID, ...} or {"dropped": ID, ...} */
static void print_done(const json_t *ans, const char *res, const struct query *q)
{
	const char *key = json_object_get(ans, "retried") ? "retried" : "dropped";
	const char *id = json_string_value(json_object_get(ans, key));
	printf("%s %s\n", key, id ? id : "?");
}

static void print_delivered(const json_t *ans, const char *res, const struct query *q)
{
	char t[32];
	const json_t *d;
	size_t i;
	json_array_foreach(json_object_get(ans, "delivered"), i, d) {
		printf("%s\t", iso(num(d, "at"), t));
		field(d, "id", '\t');
		field(d, "user", '\t');
		printf("%lld\t", num(d, "destination"));
		field(d, "sink", '\t');
		printf("%s\t%lld\t%lld\n", json_is_true(json_object_get(d, "digest")) ? "digest" : "note",
		       num(d, "count"), num(d, "attempts"));
	}
}

static void print_sinks(const json_t *ans, const char *res, const struct query *q)
{
	const json_t *s, *n = json_object_get(ans, "outbox");
	long long now = (long long)clock_wall_ms();
	char t[32];
	size_t i;
	json_array_foreach(json_object_get(ans, "sinks"), i, s) {
		field(s, "name", '\t');
		field(s, "plugin", '\t');
		if (!json_is_true(json_object_get(s, "loaded"))) {
			fputs("FAILED: ", stdout);
			field(s, "error", '\n');
			continue;
		}
		fputs("loaded", stdout);
		if (num(s, "broken_until") > now)
			printf(" broken until %s", iso(num(s, "broken_until"), t));
		if (num(s, "restart_at") > now)
			printf(" restarting at %s", iso(num(s, "restart_at"), t));
		if (json_is_true(json_object_get(s, "paused"))) {
			fputs(" PAUSED: ", stdout);
			field(s, "paused_reason", ' ');
		}
		puts(json_is_true(json_object_get(s, "busy")) ? " busy" : "");
	}
	printf("outbox: %lld pending, %lld due now, %lld parked, %lld digests, %lld dead\n",
	       num(n, "pending"), num(n, "due_now"), num(n, "parked"), num(n, "digests"),
	       num(n, "dead"));
}

/* ---- commands ---- */

/* argv[0] is the action (cli_dispatch checked it is one of the four). */
static int notes(struct cli *cli, int argc, char **argv, const char *res)
{
	struct req rq = {.method = "GET", .res = res, .takes = TAKES_USER, .id = true,
			 .help = notes_help};
	if (!strcmp(argv[0], "list")) {
		rq.takes = TAKES_PAGE;
		rq.id = false;
		rq.print = print_page;
	} else if (!strcmp(argv[0], "retry")) {
		rq.method = "POST";
		rq.action = "retry";
		rq.print = print_done;
	} else if (!strcmp(argv[0], "drop")) {
		rq.method = "DELETE";
		rq.print = print_done;
	}
	return run(cli, argc, argv, &rq);
}

static int outbox_action(struct cli *cli, int argc, char **argv)
{
	return notes(cli, argc, argv, "outbox");
}

static int deadletter_action(struct cli *cli, int argc, char **argv)
{
	return notes(cli, argc, argv, "deadletter");
}

static int notes_dispatch(struct cli *cli, int argc, char **argv,
			  int (*action)(struct cli *cli, int argc, char **argv))
{
	const struct cli_action actions[] = {
		{"list", action}, {"show", action}, {"retry", action}, {"drop", action}};
	return cli_dispatch(cli, argc, argv, actions, sizeof actions / sizeof actions[0],
			    notes_help);
}

int cli_outbox(struct cli *cli, int argc, char **argv)
{
	return notes_dispatch(cli, argc, argv, outbox_action);
}

int cli_deadletter(struct cli *cli, int argc, char **argv)
{
	return notes_dispatch(cli, argc, argv, deadletter_action);
}

int cli_delivered(struct cli *cli, int argc, char **argv)
{
	static const struct req rq = {.method = "GET", .res = "delivered", .takes = TAKES_LIMIT,
				      .print = print_delivered, .help = delivered_help};
	return run(cli, argc, argv, &rq);
}

static void print_resumed(const json_t *ans, const char *res, const struct query *q)
{
	printf("resumed %s\n", json_string_value(json_object_get(ans, "resumed")));
}

int cli_sinks(struct cli *cli, int argc, char **argv)
{
	static const struct req rq = {.method = "GET", .res = "sinks", .takes = TAKES_NONE,
				      .print = print_sinks, .help = sinks_help};
	static const struct req resume = {.method = "POST", .res = "sinks", .action = "resume",
					  .takes = TAKES_NONE, .id = true, .print = print_resumed,
					  .help = sinks_help};
	if (argc > 1 && !strcmp(argv[1], "resume"))
		return run(cli, argc - 1, argv + 1, &resume);
	return run(cli, argc, argv, &rq);
}
