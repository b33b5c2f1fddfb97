/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_publish: `herald publish`, the fedmsg-logger of herald. It wraps each
 * message body in a fresh fedmsg envelope (topic, msg, msg_id, timestamp,
 * i, username), signs it with an Ed25519 key (verify.h's signer, so the
 * bytes signed are the bytes heraldd checks) and sends [topic, envelope]
 * by pushing to a relay (at most once per hop: nobody confirms anything), to
 * a relay's acknowledged intake (cli_ack.c: a message counts as sent once
 * the relay says it is durable), by binding an XPUB socket for subscribers,
 * or to stdout. Bodies come from --message, --json, stdin, or a JSON-lines corpus
 * (--lines) replayed message by message.
 *
 * What it does not do: it is not a relay or a long-running publisher (no
 * replay endpoint, no reconnect policy beyond ZeroMQ's own); and it does not
 * canonicalize or sign by itself (verify.c and canon.c own those bytes).
 */
#include <errno.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "cli.h"
#include "cli_ack.h"
#include "src/common/envelope.h"
#include "src/common/verify.h"
#include "src/common/clock.h"

static const char help_text[] =
	"usage: herald publish [OPTIONS] --topic TOPIC (--message TEXT | --json JSON | < JSON)\n"
	"       herald publish [OPTIONS] --lines FILE\n"
	"\n"
	"Build a signed fedmsg envelope around each message and send it.\n"
	"\n"
	"Message:\n"
	"  -t, --topic TOPIC       topic (with --lines: overrides each line's topic)\n"
	"  -m, --message TEXT      body {\"log\": TEXT}\n"
	"  -j, --json JSON         body given as JSON (default: JSON read from stdin)\n"
	"  -l, --lines FILE        JSON lines ('-' = stdin), each an envelope or\n"
	"                          {\"topic\": ..., \"msg\": ...}; topic and msg are reused\n"
	"  -n, --count N           send everything N times (default 1)\n"
	"  -r, --rate N            at most N messages per second\n"
	"Signing:\n"
	"  -k, --key FILE          Ed25519 private key (PEM, from herald keygen)\n"
	"  -s, --signer NAME       key name in heraldd.conf [keys] (default: FILE's\n"
	"                          base name without .key)\n"
	"  -u, --unsigned          send without a signature\n"
	"Transport (one of):\n"
	"      --ack ENDPOINT      send to a relay's acknowledged intake (herald-relay\n"
	"                          --ack) and count a message as sent only when the\n"
	"                          relay answers that it is durable; retried until then\n"
	"      --relay ENDPOINT    connect a PUSH socket to a relay (e.g. tcp://host:9941);\n"
	"                          nothing is acknowledged: at most once per hop\n"
	"      --bind ENDPOINT     bind an XPUB socket subscribers connect to\n"
	"      --stdout            print each signed envelope as a JSON line instead\n"
	"  -w, --wait-subscribers N  with --bind: wait for N subscriptions first (default 1)\n"
	"  -T, --timeout S         limit for waiting for subscribers and for delivering\n"
	"                          what is queued at exit; with --ack, for each message\n"
	"                          to be acknowledged (default 10)\n"
	"      --window N          with --ack: messages in flight at once (default 256)\n"
	"Common:\n"
	"  -q, --quiet             no summary line\n"
	"      --log-level L       error, warn, info or debug\n"
	"  -h, --help              this text\n"
	"\n"
	"Exit status: 0 all sent (with --ack: all acknowledged), 1 failure (nothing or not\n"
	"everything delivered), 2 usage.\n";

#define MSG_ID_LEN 64 /* "<year>-<uuid4>" and its NUL */

enum { OPT_RELAY = CLI_OPT_FIRST_OWN, OPT_BIND, OPT_STDOUT, OPT_ACK, OPT_WINDOW };

struct pub_opts {
	const char *topic, *message, *json, *lines;
	const char *key, *signer_name;
	const char *relay, *bind, *ack;
	bool unsigned_msgs, to_stdout, wait_set, window_set;
	unsigned long wait_subs, count, window;
	double timeout, rate;
	char signer_buf[256]; /* default signer name derived from --key */
};

/* One invocation's publishing state. */
struct publisher {
	struct cli *cli;
	const struct pub_opts *o;
	struct ed25519_signer *signer;
	void *zctx, *sock;
	struct cli_ack *ack;   /* --ack: the acknowledged sender (instead of sock) */
	const char *endpoint;  /* where we send, for messages */
	char bound[256];       /* --bind's resolved address ("tcp://...:*" -> port) */
	bool undelivered;      /* close gave up with messages still queued */
	char username[256];
	int64_t next_i;        /* fedmsg "i": 1, 2, 3... per invocation */
	unsigned long sent;
	unsigned long skipped; /* --lines entries we could not use */
	uint64_t start_us;
	struct buf sig;
};

/* ---- options ---- */

static int set_opt(struct cli *cli, struct pub_opts *o, int c, const char *arg)
{
	switch (c) {
	case 't': o->topic = arg; break;
	case 'm': o->message = arg; break;
	case 'j': o->json = arg; break;
	case 'l': o->lines = arg; break;
	case 'k': o->key = arg; break;
	case 's': o->signer_name = arg; break;
	case 'u': o->unsigned_msgs = true; break;
	case OPT_RELAY: o->relay = arg; break;
	case OPT_BIND: o->bind = arg; break;
	case OPT_STDOUT: o->to_stdout = true; break;
	case OPT_ACK: o->ack = arg; break;
	case OPT_WINDOW:
		if (cli_parse_ulong(arg, 1, 100000UL, &o->window))
			return cli_usage_error(cli, "--window: expected a positive integer, got '%s'", arg);
		o->window_set = true;
		break;
	case 'n':
		if (cli_parse_ulong(arg, 1, 1000000000UL, &o->count))
			return cli_usage_error(cli, "--count: expected a positive integer, got '%s'", arg);
		break;
	case 'w':
		if (cli_parse_ulong(arg, 0, 100000UL, &o->wait_subs))
			return cli_usage_error(cli, "--wait-subscribers: expected an integer, got '%s'", arg);
		o->wait_set = true;
		break;
	case 'r':
		if (cli_parse_double(arg, 0, 1e9, &o->rate))
			return cli_usage_error(cli, "--rate: expected a positive number, got '%s'", arg);
		break;
	case 'T':
		if (cli_parse_double(arg, 0, 86400, &o->timeout))
			return cli_usage_error(cli, "--timeout: expected seconds > 0, got '%s'", arg);
		break;
	default:
		return CLI_USAGE;
	}
	return CLI_OPT_DONE;
}

/* --signer defaults to the key file's base name without ".key". */
static int default_signer(struct cli *cli, struct pub_opts *o)
{
	const char *base = strrchr(o->key, '/');
	base = base ? base + 1 : o->key;
	size_t n = strlen(base);
	if (n > 4 && !strcmp(base + n - 4, ".key"))
		n -= 4;
	if (!n || n >= sizeof o->signer_buf)
		return cli_usage_error(cli, "--signer is needed: cannot derive a key name from '%s'",
				       o->key);
	memcpy(o->signer_buf, base, n);
	o->signer_buf[n] = '\0';
	o->signer_name = o->signer_buf;
	return CLI_OPT_DONE;
}

static int check_opts(struct cli *cli, struct pub_opts *o)
{
	int bodies = !!o->message + !!o->json + !!o->lines;
	if (bodies > 1)
		return cli_usage_error(cli, "use only one of --message, --json and --lines");
	if (!o->lines && !o->topic)
		return cli_usage_error(cli, "--topic is required (unless --lines gives topics)");
	if (o->lines && !strcmp(o->lines, "-") && o->count > 1)
		return cli_usage_error(cli, "--count cannot repeat --lines read from stdin");
	if (!!o->relay + !!o->bind + !!o->ack + o->to_stdout != 1)
		return cli_usage_error(cli, "choose one transport: --ack, --relay, --bind or --stdout");
	if (o->window_set && !o->ack)
		return cli_usage_error(cli, "--window only applies to --ack");
	if (o->wait_set && !o->bind)
		return cli_usage_error(cli, "--wait-subscribers only applies to --bind");
	if (o->unsigned_msgs && (o->key || o->signer_name))
		return cli_usage_error(cli, "--unsigned contradicts --key/--signer");
	if (!o->unsigned_msgs && !o->key)
		return cli_usage_error(cli, "--key is required (or --unsigned)");
	if (o->key && !o->signer_name)
		return default_signer(cli, o);
	return CLI_OPT_DONE;
}

static int parse_opts(struct cli *cli, int argc, char **argv, struct pub_opts *o)
{
	static const struct option longopts[] = {
		CLI_COMMON_LONGOPTS,
		{"topic", required_argument, NULL, 't'},
		{"message", required_argument, NULL, 'm'},
		{"json", required_argument, NULL, 'j'},
		{"lines", required_argument, NULL, 'l'},
		{"count", required_argument, NULL, 'n'},
		{"rate", required_argument, NULL, 'r'},
		{"key", required_argument, NULL, 'k'},
		{"signer", required_argument, NULL, 's'},
		{"unsigned", no_argument, NULL, 'u'},
		{"relay", required_argument, NULL, OPT_RELAY},
		{"bind", required_argument, NULL, OPT_BIND},
		{"stdout", no_argument, NULL, OPT_STDOUT},
		{"ack", required_argument, NULL, OPT_ACK},
		{"window", required_argument, NULL, OPT_WINDOW},
		{"wait-subscribers", required_argument, NULL, 'w'},
		{"timeout", required_argument, NULL, 'T'},
		{NULL, 0, NULL, 0}};
	int c;
	cli_getopt_reset();
	while ((c = getopt_long(argc, argv, CLI_COMMON_SHORTOPTS "t:m:j:l:n:r:k:s:uw:T:", longopts,
				NULL)) != -1) {
		int r = cli_common_opt(cli, c, argv, help_text);
		if (r == CLI_OPT_NOT_MINE)
			r = set_opt(cli, o, c, optarg);
		if (r != CLI_OPT_DONE)
			return r;
	}
	int r = cli_no_operands(cli, argc, argv);
	return r != CLI_OPT_DONE ? r : check_opts(cli, o);
}

/* ---- envelope ---- */

/* fedmsg's msg_id: "<UTC year>-<uuid4>". */
static int make_msg_id(char *out, size_t len)
{
	unsigned char u[16];
	if (RAND_bytes(u, sizeof u) != 1)
		return -EIO;
	u[6] = (u[6] & 0x0f) | 0x40; /* version 4 */
	u[8] = (u[8] & 0x3f) | 0x80; /* RFC 4122 variant */
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	snprintf(out, len,
		 "%d-%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 tm.tm_year + 1900, u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
		 u[10], u[11], u[12], u[13], u[14], u[15]);
	return 0;
}

static double wall_time(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The envelope minus "signature", in the order fedmsg writes it; its msg_id
 * goes into msg_id too. */
static json_t *unsigned_envelope(struct publisher *p, const char *topic, json_t *msg,
				 char msg_id[MSG_ID_LEN])
{
	if (make_msg_id(msg_id, MSG_ID_LEN))
		return NULL;
	json_t *env = json_object();
	if (!env)
		return NULL;
	int bad = json_object_set_new(env, "topic", json_string(topic));
	bad |= json_object_set(env, "msg", msg);
	bad |= json_object_set_new(env, "msg_id", json_string(msg_id));
	bad |= json_object_set_new(env, "timestamp", json_real(wall_time()));
	bad |= json_object_set_new(env, "i", json_integer(p->next_i));
	bad |= json_object_set_new(env, "username", json_string(p->username));
	if (p->signer) {
		bad |= json_object_set_new(env, "crypto", json_string("ed25519"));
		bad |= json_object_set_new(env, "signer", json_string(p->o->signer_name));
	}
	if (bad) {
		json_decref(env);
		return NULL;
	}
	return env;
}

/*
 * The text to send: the envelope JSON, signed over its canonical bytes.
 * jansson keeps insertion order, so the text we sign and the text we send
 * differ only by the trailing "signature" member, which canon strips.
 */
static char *signed_envelope(struct publisher *p, const char *topic, json_t *msg,
			     char msg_id[MSG_ID_LEN])
{
	json_t *env = unsigned_envelope(p, topic, msg, msg_id);
	char *text = NULL, *out = NULL;
	if (!env || !p->signer) {
		out = env ? json_dumps(env, JSON_COMPACT) : NULL;
		goto done;
	}
	if (!(text = json_dumps(env, JSON_COMPACT)))
		goto done;
	buf_reset(&p->sig);
	int rc = verify_signer_sign(p->signer, text, strlen(text), &p->sig);
	if (rc) {
		cli_error(p->cli, "signing failed (%s)", strerror(-rc));
		goto done;
	}
	if (json_object_set_new(env, "signature", json_stringn(p->sig.data, p->sig.len)) == 0)
		out = json_dumps(env, JSON_COMPACT);
done:
	free(text);
	json_decref(env);
	return out;
}

/* Refuse to send what heraldd would reject as malformed (bad topic...). */
static int self_check(const struct cli *cli, const char *text)
{
	struct envelope env;
	const char *detail = NULL;
	if (envelope_parse(&env, text, strlen(text), &detail) != ENVELOPE_OK) {
		cli_error(cli, "refusing to send a malformed envelope: %s", detail);
		return -EINVAL;
	}
	envelope_release(&env);
	return 0;
}

/* ---- transport ---- */

static int zmq_fail(const struct publisher *p, const char *what)
{
	cli_error(p->cli, "%s %s: %s", what, p->endpoint, zmq_strerror(zmq_errno()));
	return -1;
}

static int set_sockopts(struct publisher *p)
{
	/* Linger bounds how long close waits to deliver what is still queued;
	 * the send timeout keeps a full queue (no peer) from blocking forever. */
	int ms = (int)(p->o->timeout * 1000.0), one = 1;
	if (zmq_setsockopt(p->sock, ZMQ_LINGER, &ms, sizeof ms) ||
	    zmq_setsockopt(p->sock, ZMQ_SNDTIMEO, &ms, sizeof ms))
		return zmq_fail(p, "setting options for");
	if (p->o->bind && (zmq_setsockopt(p->sock, ZMQ_XPUB_VERBOSE, &one, sizeof one) ||
			   zmq_setsockopt(p->sock, ZMQ_XPUB_NODROP, &one, sizeof one)))
		return zmq_fail(p, "setting options for");
	return 0;
}

static int open_socket(struct publisher *p)
{
	p->endpoint = p->o->ack ? p->o->ack : p->o->relay ? p->o->relay : p->o->bind;
	if (!(p->zctx = zmq_ctx_new()))
		return zmq_fail(p, "creating a context for");
	if (p->o->ack)
		return cli_ack_open(p->cli, p->zctx, p->endpoint, p->o->window, p->o->timeout,
				    &p->ack);
	if (!(p->sock = zmq_socket(p->zctx, p->o->relay ? ZMQ_PUSH : ZMQ_XPUB)))
		return zmq_fail(p, "creating a socket for");
	if (set_sockopts(p))
		return -1;
	if (p->o->relay)
		return zmq_connect(p->sock, p->endpoint) ? zmq_fail(p, "cannot connect to") : 0;
	if (zmq_bind(p->sock, p->endpoint))
		return zmq_fail(p, "cannot bind");
	size_t len = sizeof p->bound;
	if (zmq_getsockopt(p->sock, ZMQ_LAST_ENDPOINT, p->bound, &len) == 0 && p->bound[0])
		p->endpoint = p->bound;
	/* Tests and scripts that bind port 0 ("*") read the port from this. */
	cli_note(p->cli, "bound to %s", p->endpoint);
	return 0;
}

/*
 * Slow joiners: a subscriber's subscription reaches us some time after it
 * connects, and until then PUB drops its messages. XPUB_VERBOSE hands us
 * every subscribe message, so we can wait for as many as the user expects.
 */
static int wait_subscribers(struct publisher *p, unsigned long want)
{
	uint64_t deadline = cli_deadline_ms(p->o->timeout);
	unsigned long got = 0;
	while (got < want) {
		zmq_pollitem_t it = {.socket = p->sock, .events = ZMQ_POLLIN};
		long left = cli_ms_left(deadline);
		int n = left ? zmq_poll(&it, 1, left) : 0;
		if (n < 0)
			return zmq_fail(p, "waiting for subscribers on");
		if (n == 0) {
			cli_error(p->cli, "%lu of %lu subscriptions on %s after %g s; nothing sent",
				  got, want, p->endpoint, p->o->timeout);
			return -1;
		}
		unsigned char frame[512];
		int len = zmq_recv(p->sock, frame, sizeof frame, ZMQ_DONTWAIT);
		if (len > 0 && frame[0] == 1)
			got++;
	}
	log_info("publish '%s': %lu subscriptions, sending", p->endpoint, got);
	return 0;
}

/* Hold to --rate: message k is due k/rate seconds after the first. */
static void throttle(const struct publisher *p)
{
	if (p->o->rate <= 0)
		return;
	uint64_t due = p->start_us + (uint64_t)((double)p->sent * 1e6 / p->o->rate);
	uint64_t now = clock_mono_us();
	if (due <= now)
		return;
	struct timespec ts = {.tv_sec = (time_t)((due - now) / 1000000u),
			      .tv_nsec = (long)((due - now) % 1000000u) * 1000};
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static int send_frames(struct publisher *p, const char *topic, const char *text)
{
	if (p->o->to_stdout) {
		if (puts(text) == EOF) {
			cli_error(p->cli, "writing to stdout: %s", strerror(errno));
			return -1;
		}
		return 0;
	}
	if (zmq_send(p->sock, topic, strlen(topic), ZMQ_SNDMORE) < 0 ||
	    zmq_send(p->sock, text, strlen(text), 0) < 0) {
		if (zmq_errno() == EAGAIN)
			cli_error(p->cli, "%s accepted nothing for %g s (is anyone there?)",
				  p->endpoint, p->o->timeout);
		else
			zmq_fail(p, "sending to");
		return -1;
	}
	return 0;
}

/* Build, sign, check and send one message. */
static int emit(struct publisher *p, const char *topic, json_t *msg)
{
	char msg_id[MSG_ID_LEN];
	char *text = signed_envelope(p, topic, msg, msg_id);
	int rc = -1;
	if (!text) {
		cli_error(p->cli, "cannot build the envelope for topic '%s'", topic);
		return -1;
	}
	if (self_check(p->cli, text))
		goto out;
	throttle(p);
	if (p->ack ? cli_ack_send(p->ack, topic, text, msg_id) : send_frames(p, topic, text))
		goto out;
	p->next_i++;
	p->sent++;
	rc = 0;
out:
	free(text);
	return rc;
}

/*
 * Close and wait for the queue to drain. zmq_ctx_term returns 0 whether the
 * queue drained or the linger period ran out, so a term that took the whole
 * linger period is how we learn that something may have been dropped.
 */
static int close_socket(struct publisher *p)
{
	if (!p->zctx)
		return 0;
	uint64_t linger = (uint64_t)(p->o->timeout * 1000.0), t0 = clock_mono_ms();
	if (p->sock)
		zmq_close(p->sock);
	cli_ack_free(p->ack); /* no linger: cli_ack_finish accounted for everything */
	while (zmq_ctx_term(p->zctx) != 0 && zmq_errno() == EINTR)
		;
	if (p->ack)
		return 0;
	uint64_t took = clock_mono_ms() - t0;
	log_debug("publish '%s': closing took %llu ms", p->endpoint ? p->endpoint : "",
		  (unsigned long long)took);
	if (p->sent && took + 5 >= linger) {
		cli_error(p->cli, "%s did not take all queued messages within %g s; some may be lost",
			  p->endpoint, p->o->timeout);
		p->undelivered = true;
		return -1;
	}
	return 0;
}

/* ---- message sources ---- */

static json_t *load_json(const char *text, size_t len, json_error_t *jerr)
{
	/* "\u0000" in a string is JSON, Python writes it and heraldd takes it. */
	size_t flags = JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL;
	json_t *v = json_loadb(text, len, flags, jerr);
	/* Corpora hold integers beyond 64 bits; keep them, approximately. */
	if (!v && strstr(jerr->text, "too big"))
		v = json_loadb(text, len, flags | JSON_DECODE_INT_AS_REAL, jerr);
	return v;
}

/* --message, --json or stdin: one body, sent --count times. */
static int run_single(struct publisher *p)
{
	const struct pub_opts *o = p->o;
	struct buf in = BUF_INIT;
	json_error_t jerr;
	json_t *msg = NULL;
	int rc = -1;
	if (o->message) {
		msg = json_pack("{s:s}", "log", o->message);
	} else if (o->json) {
		if (!(msg = load_json(o->json, strlen(o->json), &jerr)))
			cli_error(p->cli, "--json: %s", jerr.text);
	} else if ((rc = cli_read_file(NULL, &in)) < 0) {
		cli_error(p->cli, "reading stdin: %s", strerror(-rc));
	} else if (!(msg = load_json(in.data ? in.data : "", in.len, &jerr))) {
		cli_error(p->cli, "stdin: line %d: %s", jerr.line, jerr.text);
	}
	rc = msg ? 0 : -1;
	for (unsigned long n = 0; !rc && n < o->count; n++)
		rc = emit(p, o->topic, msg);
	json_decref(msg);
	buf_release(&in);
	return rc;
}

/* One --lines entry: returns 1 if skipped, 0 if sent, -1 to stop. */
static int run_line(struct publisher *p, const char *path, unsigned long lineno, char *line,
		    size_t len)
{
	json_error_t jerr;
	json_t *obj = load_json(line, len, &jerr);
	json_t *topic = obj ? json_object_get(obj, "topic") : NULL;
	json_t *msg = obj ? json_object_get(obj, "msg") : NULL;
	int rc = 1;
	if (!obj)
		cli_error(p->cli, "%s:%lu: skipped (%s)", path, lineno, jerr.text);
	else if ((!p->o->topic && !json_is_string(topic)) || !msg)
		cli_error(p->cli, "%s:%lu: skipped (needs \"topic\" and \"msg\")", path, lineno);
	else
		rc = emit(p, p->o->topic ? p->o->topic : json_string_value(topic), msg);
	json_decref(obj);
	return rc;
}

static bool blank(const char *s)
{
	return s[strspn(s, " \t\r\n")] == '\0';
}

static int run_lines_once(struct publisher *p, const char *path)
{
	bool is_stdin = !strcmp(path, "-");
	FILE *f = is_stdin ? stdin : fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	unsigned long lineno = 0;
	ssize_t len;
	int rc = 0;
	if (!f) {
		cli_error(p->cli, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (rc >= 0 && (len = getline(&line, &cap, f)) >= 0) {
		lineno++;
		if (blank(line))
			continue;
		rc = run_line(p, path, lineno, line, (size_t)len);
		if (rc > 0)
			p->skipped++;
	}
	if (rc >= 0 && ferror(f)) {
		cli_error(p->cli, "%s: %s", path, strerror(errno));
		rc = -1;
	}
	free(line);
	if (!is_stdin)
		fclose(f);
	return rc < 0 ? -1 : 0;
}

static int run_lines(struct publisher *p)
{
	for (unsigned long n = 0; n < p->o->count; n++)
		if (run_lines_once(p, p->o->lines))
			return -1;
	return 0;
}

/* ---- the command ---- */

static void set_username(struct publisher *p)
{
	struct passwd *pw = getpwuid(geteuid());
	if (pw && pw->pw_name)
		snprintf(p->username, sizeof p->username, "%s", pw->pw_name);
	else
		snprintf(p->username, sizeof p->username, "%u", (unsigned)geteuid());
}

static int setup(struct publisher *p)
{
	char err[256] = "";
	set_username(p);
	if (p->o->key && verify_signer_load(p->o->key, &p->signer, err, sizeof err)) {
		cli_error(p->cli, "%s", err[0] ? err : "cannot load the key");
		return -1;
	}
	if (p->o->to_stdout)
		return 0;
	if (open_socket(p))
		return -1;
	unsigned long want = p->o->wait_set ? p->o->wait_subs : 1;
	return p->o->bind && want ? wait_subscribers(p, want) : 0;
}

int cli_publish(struct cli *cli, int argc, char **argv)
{
	struct pub_opts o = {.count = 1, .timeout = 10.0, .window = 256};
	int r = parse_opts(cli, argc, argv, &o);
	if (r != CLI_OPT_DONE)
		return r;
	struct publisher p = {.cli = cli, .o = &o, .next_i = 1, .sig = BUF_INIT};
	int rc = setup(&p);
	p.start_us = clock_mono_us();
	if (!rc)
		rc = o.lines ? run_lines(&p) : run_single(&p);
	/* Even after a refusal: wait for what is in flight, to report it right. */
	if (p.ack && cli_ack_finish(p.ack))
		rc = -1;
	unsigned long acked = p.ack ? cli_ack_acked(p.ack) : 0;
	unsigned long retries = p.ack ? cli_ack_retries(p.ack) : 0;
	if (close_socket(&p))
		rc = -1;
	verify_signer_free(p.signer);
	buf_release(&p.sig);
	/* After a failed setup the error said it all; no "published 0". */
	if ((p.sent || !rc) && o.ack)
		cli_note(cli, "published %lu message%s, %lu acknowledged (%lu retries)", p.sent,
			 p.sent == 1 ? "" : "s", acked, retries);
	else if (p.sent || !rc)
		cli_note(cli, "published %lu message%s%s%s", p.sent, p.sent == 1 ? "" : "s",
			 p.undelivered ? ", delivery not confirmed" : "",
			 o.relay ? " (not acknowledged: --relay is at most once per hop)" : "");
	if (p.skipped)
		cli_error(cli, "%lu lines skipped", p.skipped);
	return rc || p.skipped ? CLI_FAIL : CLI_OK;
}
