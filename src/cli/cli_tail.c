/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_tail: `herald tail`, the fedmsg-tail of herald. It subscribes to one
 * or more publishers (or a relay's PUB side) and prints one line per
 * message: topic, signer, and, given a heraldd config, whether heraldd
 * would accept the signature, then the body. Meant for people watching the
 * bus and for tests; it is not a consumer that tracks sequence numbers or
 * asks for replays (that is heraldd's ingest).
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "cli.h"
#include "src/common/config.h"
#include "src/common/verify.h"

static const char help_text[] =
	"usage: herald tail [OPTIONS] --connect ENDPOINT [--connect ENDPOINT...]\n"
	"       herald tail [OPTIONS] --config FILE\n"
	"\n"
	"Print messages from the bus, one line each:\n"
	"  TOPIC [SIGNER] [valid | invalid: REASON | unsigned] BODY\n"
	"\n"
	"  -e, --connect ENDPOINT  publisher or relay PUB address (repeatable;\n"
	"                          default: every endpoint in --config)\n"
	"  -t, --topic PREFIX      only topics starting with PREFIX (repeatable;\n"
	"                          default: everything)\n"
	"  -c, --config FILE       heraldd config: check each signature as heraldd would\n"
	"  -p, --pretty            indent the body on the following lines\n"
	"  -n, --count N           exit after N messages\n"
	"  -T, --timeout S         exit after S seconds\n"
	"  -q, --quiet             no status lines on stderr\n"
	"      --log-level L       error, warn, info or debug\n"
	"  -h, --help              this text\n"
	"\n"
	"Exit status: 0 done, 1 failure or fewer than --count messages before --timeout,\n"
	"2 usage or config error.\n";

#define MAX_FRAMES 3

struct tail_opts {
	const char **connect; /* borrowed from argv; room for argc entries */
	size_t n_connect;
	const char **topics;
	size_t n_topics;
	const char *config;
	bool pretty;
	unsigned long count;  /* 0 = forever */
	double timeout;       /* 0 = forever */
};

struct tailer {
	struct cli *cli;
	struct tail_opts *o;
	struct config cfg;
	bool have_cfg;
	struct verifier *verifier; /* NULL without --config */
	void *zctx, *sock;
	struct buf line, scratch;
	unsigned long seen;
};

/* ---- options ---- */

static int set_opt(struct cli *cli, struct tail_opts *o, int c, const char *arg)
{
	switch (c) {
	case 'e': o->connect[o->n_connect++] = arg; break;
	case 't': o->topics[o->n_topics++] = arg; break;
	case 'c': o->config = arg; break;
	case 'p': o->pretty = true; break;
	case 'n':
		if (cli_parse_ulong(arg, 1, 1000000000UL, &o->count))
			return cli_usage_error(cli, "--count: expected a positive integer, got '%s'", arg);
		break;
	case 'T':
		if (cli_parse_double(arg, 0, 31536000, &o->timeout))
			return cli_usage_error(cli, "--timeout: expected seconds > 0, got '%s'", arg);
		break;
	default:
		return CLI_USAGE;
	}
	return CLI_OPT_DONE;
}

static int parse_opts(struct cli *cli, int argc, char **argv, struct tail_opts *o)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{"connect", required_argument, NULL, 'e'},
		{"topic", required_argument, NULL, 't'},
		{"config", required_argument, NULL, 'c'},
		{"pretty", no_argument, NULL, 'p'},
		{"count", required_argument, NULL, 'n'},
		{"timeout", required_argument, NULL, 'T'},
		{NULL, 0, NULL, 0}};
	int c;
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "e:t:c:pn:T:", longopts, NULL)) !=
	       -1) {
		int r = cli_common_opt(cli, c, argv, help_text);
		if (r == CLI_OPT_NOT_MINE)
			r = set_opt(cli, o, c, optarg);
		if (r != CLI_OPT_DONE)
			return r;
	}
	int r = cli_no_operands(cli, argc, argv);
	if (r != CLI_OPT_DONE)
		return r;
	if (!o->n_connect && !o->config)
		return cli_usage_error(cli, "nothing to listen to: give --connect or --config");
	return CLI_OPT_DONE;
}

/* ---- socket ---- */

static int zmq_fail(const struct tailer *t, const char *what, const char *endpoint)
{
	cli_error(t->cli, "%s %s: %s", what, endpoint, zmq_strerror(zmq_errno()));
	return -1;
}

static int connect_one(struct tailer *t, const char *endpoint)
{
	if (zmq_connect(t->sock, endpoint))
		return zmq_fail(t, "cannot connect to", endpoint);
	log_info("tail '%s': connecting", endpoint);
	return 0;
}

/* --connect addresses, or else every [endpoint] connect in the config. */
static int connect_all(struct tailer *t)
{
	for (size_t i = 0; i < t->o->n_connect; i++)
		if (connect_one(t, t->o->connect[i]))
			return -1;
	if (t->o->n_connect)
		return 0;
	for (size_t e = 0; e < t->cfg.n_endpoints; e++)
		for (size_t i = 0; i < t->cfg.endpoints[e].n_connect; i++)
			if (connect_one(t, t->cfg.endpoints[e].connect[i]))
				return -1;
	return 0;
}

static int subscribe_all(struct tailer *t)
{
	if (!t->o->n_topics)
		return zmq_setsockopt(t->sock, ZMQ_SUBSCRIBE, "", 0) ? zmq_fail(t, "subscribing", "")
								     : 0;
	for (size_t i = 0; i < t->o->n_topics; i++) {
		const char *p = t->o->topics[i];
		if (zmq_setsockopt(t->sock, ZMQ_SUBSCRIBE, p, strlen(p)))
			return zmq_fail(t, "subscribing to", p);
	}
	return 0;
}

static int open_socket(struct tailer *t)
{
	int zero = 0;
	if (!(t->zctx = zmq_ctx_new()) || !(t->sock = zmq_socket(t->zctx, ZMQ_SUB)))
		return zmq_fail(t, "creating a", "SUB socket");
	/* Nothing to flush on a SUB socket: do not wait at exit. */
	zmq_setsockopt(t->sock, ZMQ_LINGER, &zero, sizeof zero);
	if (subscribe_all(t))
		return -1;
	return connect_all(t);
}

/* ---- one message ---- */

/* Topics from the wire may hold anything; keep the output one line. */
static int put_safe(struct buf *b, const char *s, size_t len)
{
	int rc = 0;
	for (size_t i = 0; i < len && !rc; i++) {
		unsigned char ch = (unsigned char)s[i];
		rc = buf_putc(b, ch <= 0x20 || ch == 0x7f ? '?' : (char)ch);
	}
	return rc;
}

static int put_body(struct tailer *t, const json_t *msg)
{
	size_t flags = JSON_ENCODE_ANY | (t->o->pretty ? JSON_INDENT(2) : JSON_COMPACT);
	char *s = json_dumps(msg, flags);
	if (!s)
		return -ENOMEM;
	int rc = buf_printf(&t->line, "%s%s", t->o->pretty ? "\n" : " ", s);
	free(s);
	return rc;
}

/* " SIGNER" when the envelope names one (Ed25519); X.509 names come from
 * the verifier instead. */
static int put_signer(struct tailer *t, const char *name)
{
	return name ? buf_printf(&t->line, " %s", name) : 0;
}

/* "valid" / "invalid: reason (detail)" / "unsigned", with the signer. */
static int put_status(struct tailer *t, const struct envelope *env, const char *raw, size_t len)
{
	const char *signer = NULL, *detail = NULL;
	int rc;
	if (!t->verifier) {
		rc = put_signer(t, env->signer);
		return rc || env->signature ? rc : buf_puts(&t->line, " unsigned");
	}
	enum verify_result r = verify_envelope(t->verifier, env, raw, len, &t->scratch, &signer,
					       &detail);
	if (r == VERIFY_OK)
		return signer ? buf_printf(&t->line, " %s valid", signer)
			      : buf_puts(&t->line, " unsigned");
	if ((rc = put_signer(t, env->signer)))
		return rc;
	if (detail)
		return buf_printf(&t->line, " invalid: %s (%s)", verify_result_name(r), detail);
	return buf_printf(&t->line, " invalid: %s", verify_result_name(r));
}

static void log_meta(zmq_msg_t *meta)
{
	json_error_t jerr;
	json_t *m = json_loadb(zmq_msg_data(meta), zmq_msg_size(meta), 0, &jerr);
	json_t *seq = m ? json_object_get(m, "seq") : NULL;
	if (json_is_integer(seq))
		log_debug("tail: relay seq %lld", (long long)json_integer_value(seq));
	json_decref(m);
}

/* Build the output line for [topic, envelope(, meta)] frames. */
static int describe(struct tailer *t, zmq_msg_t *frames, int n)
{
	const char *topic = zmq_msg_data(&frames[0]), *detail = NULL;
	size_t topic_len = zmq_msg_size(&frames[0]);
	if (put_safe(&t->line, topic, topic_len))
		return -ENOMEM;
	if (n < 2 || n > MAX_FRAMES)
		return buf_printf(&t->line, " invalid: bad_frames (%d frames)", n);
	if (n == 3)
		log_meta(&frames[2]);
	const char *raw = zmq_msg_data(&frames[1]);
	size_t len = zmq_msg_size(&frames[1]);
	struct envelope env;
	enum envelope_error ee = envelope_parse(&env, raw, len, &detail);
	if (ee != ENVELOPE_OK)
		return buf_printf(&t->line, " invalid: %s (%s)", cli_envelope_error_name(ee), detail);
	int rc;
	if (env.topic_len != topic_len || memcmp(env.topic, topic, topic_len) != 0)
		rc = buf_puts(&t->line, " invalid: topic_mismatch (the envelope says another topic)");
	else
		rc = put_status(t, &env, raw, len);
	if (!rc) {
		const json_t *msg = envelope_msg(&env);
		rc = msg ? put_body(t, msg) : -ENOMEM;
	}
	envelope_release(&env);
	return rc;
}

/* Read every frame of one message; frames beyond MAX_FRAMES are counted. */
static int recv_frames(struct tailer *t, zmq_msg_t *frames, int *n)
{
	int more = 1;
	*n = 0;
	while (more) {
		zmq_msg_t scrap, *m = *n < MAX_FRAMES ? &frames[*n] : &scrap;
		zmq_msg_init(m);
		if (zmq_msg_recv(m, t->sock, 0) < 0) {
			zmq_msg_close(m);
			return -1;
		}
		more = zmq_msg_more(m);
		if (m == &scrap)
			zmq_msg_close(m);
		(*n)++;
	}
	return 0;
}

static int show_one(struct tailer *t)
{
	zmq_msg_t frames[MAX_FRAMES];
	int n = 0, rc;
	if (recv_frames(t, frames, &n)) {
		for (int i = 0; i < n && i < MAX_FRAMES; i++)
			zmq_msg_close(&frames[i]);
		return zmq_fail(t, "receiving from", "the bus");
	}
	buf_reset(&t->line);
	rc = describe(t, frames, n);
	for (int i = 0; i < n && i < MAX_FRAMES; i++)
		zmq_msg_close(&frames[i]);
	if (rc || buf_putc(&t->line, '\n')) {
		cli_error(t->cli, "out of memory");
		return -1;
	}
	/* Flush per message: tail is read live, often through a pipe. */
	if (fwrite(t->line.data, 1, t->line.len, stdout) != t->line.len || fflush(stdout)) {
		cli_error(t->cli, "writing output: %s", strerror(errno));
		return -1;
	}
	t->seen++;
	return 0;
}

/* ---- the loop ---- */

static int loop(struct tailer *t)
{
	uint64_t deadline = t->o->timeout > 0 ? cli_deadline_ms(t->o->timeout) : 0;
	while (!t->o->count || t->seen < t->o->count) {
		zmq_pollitem_t it = {.socket = t->sock, .events = ZMQ_POLLIN};
		long wait = deadline ? cli_ms_left(deadline) : -1;
		int n = wait ? zmq_poll(&it, 1, wait) : 0;
		if (n < 0 && zmq_errno() == EINTR)
			continue;
		if (n < 0)
			return zmq_fail(t, "waiting on", "the bus");
		if (n == 0)
			break; /* --timeout */
		if (show_one(t))
			return -1;
	}
	if (t->o->count && t->seen < t->o->count) {
		cli_error(t->cli, "timed out after %g s with %lu of %lu messages", t->o->timeout,
			  t->seen, t->o->count);
		return -1;
	}
	return 0;
}

static void tailer_release(struct tailer *t)
{
	if (t->sock)
		zmq_close(t->sock);
	if (t->zctx)
		zmq_ctx_term(t->zctx);
	verifier_free(t->verifier);
	if (t->have_cfg)
		config_release(&t->cfg);
	buf_release(&t->line);
	buf_release(&t->scratch);
}

int cli_tail(struct cli *cli, int argc, char **argv)
{
	struct tail_opts o = {0};
	struct tailer t = {.cli = cli, .o = &o, .line = BUF_INIT, .scratch = BUF_INIT};
	int r = CLI_FAIL;
	o.connect = calloc((size_t)argc, sizeof *o.connect);
	o.topics = calloc((size_t)argc, sizeof *o.topics);
	if (!o.connect || !o.topics) {
		cli_error(cli, "out of memory");
		goto out;
	}
	if ((r = parse_opts(cli, argc, argv, &o)) != CLI_OPT_DONE)
		goto out;
	if (o.config && (r = cli_load_verifier(cli, o.config, &t.cfg, &t.verifier)) != CLI_OK)
		goto out;
	t.have_cfg = o.config != NULL;
	r = open_socket(&t) || loop(&t) ? CLI_FAIL : CLI_OK;
	if (r == CLI_OK)
		cli_note(cli, "received %lu message%s", t.seen, t.seen == 1 ? "" : "s");
out:
	tailer_release(&t);
	free(o.connect);
	free(o.topics);
	return r;
}
