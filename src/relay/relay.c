/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * herald-relay: the bus relay. Services PUSH [topic, envelope] to its PULL
 * socket; the relay checks the shape of each message, appends a batch of them
 * to its durable log (relaylog) in one transaction, and only then republishes
 * them on its PUB socket as [topic, envelope, meta]. An optional ROUTER
 * socket (--ack) takes the same messages and answers each once it is durable
 * (the acknowledged intake; PULL is at most once per hop). A REP socket answers
 * replay requests from the log. One thread, one zmq_poll loop. This file
 * holds the options, the sockets and the loop; intake.c takes messages in,
 * ack.c speaks the acknowledged intake's protocol, replay.c answers replay
 * requests (relay_int.h between them).
 *
 * Not for signature checks (heraldd verifies; the envelope bytes are passed
 * on untouched because they are signed), not for LMDB (relaylog owns it), not
 * for understanding messages beyond "a JSON object whose topic matches".
 * The wire protocol is documented in doc/herald-relay.8.
 */
#include "relay_int.h"
#include "src/common/log.h"
#include "src/common/statelock.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
	(void)sig;
	g_stop = 1;
}

/* ---- options ---- */

static void usage(FILE *f)
{
	fputs("Usage: herald-relay --pull ENDPOINT --pub ENDPOINT --state DIR [options]\n"
	      "Log bus messages pushed to PULL durably, republish them on PUB, serve replay on "
	      "REP.\n"
	      "\n"
	      "  --pull ENDPOINT    bind the inbound PULL socket (required)\n"
	      "  --pub ENDPOINT     bind the outbound PUB socket (required)\n"
	      "  --replay ENDPOINT  bind the replay REP socket (optional)\n"
	      "  --ack ENDPOINT     bind the acknowledged intake ROUTER socket (optional)\n"
	      "  --state DIR        directory holding the LMDB log (required)\n"
	      "  --name NAME        relay name in the meta frame (default \"relay\")\n"
	      "  --keep N           messages kept for replay (default 1000000)\n"
	      "  --max-size BYTES   largest accepted envelope, K/M/G suffix ok (default 1M)\n"
	      "  --hwm N            PUB send high-water mark, 0 = none (default 100000)\n"
	      "  --map-size BYTES   LMDB map size, K/M/G suffix ok (default 1G)\n"
	      "  --log-level LEVEL  error, warn, info or debug (default info)\n"
	      "  --help             show this help\n",
	      f);
}

/* Decimal number with an optional binary K/M/G/T suffix, within [min, max]. */
static int parse_num(const char *s, bool suffix, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned shift = 0;
	errno = 0;
	if (*s < '0' || *s > '9')
		return -EINVAL;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	if (suffix && *end) {
		const char *units = "KMGT", *u = strchr(units, *end);
		if (!u || end[1])
			return -EINVAL;
		shift = 10 * (unsigned)(u - units + 1);
		end++;
	}
	if (*end || v > (max >> shift) || (v << shift) < min)
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int set_opt(struct opts *o, int c, const char *arg)
{
	uint64_t v = 0;
	int rc = 0;
	switch (c) {
	case 'p': o->pull = arg; break;
	case 'P': o->pub = arg; break;
	case 'r': o->replay = arg; break;
	case 'a': o->ack = arg; break;
	case 's': o->state = arg; break;
	case 'n':
		o->name = arg;
		rc = *arg ? 0 : -EINVAL;
		break;
	case 'k': rc = parse_num(arg, false, 1, UINT64_MAX, &o->keep); break;
	case 'm':
		rc = parse_num(arg, true, 1, 1u << 30, &v);
		o->max_size = (size_t)v;
		break;
	case 'M':
		rc = parse_num(arg, true, 1u << 16, SIZE_MAX, &v);
		o->map_size = (size_t)v;
		break;
	case 'h':
		rc = parse_num(arg, false, 0, INT_MAX, &v);
		o->hwm = (int)v;
		break;
	case 'l': rc = log_level_parse(arg, &o->level); break;
	default: rc = -EINVAL;
	}
	return rc;
}

/* 0: run; 1: exit 0 (help); -1: usage error (exit 2). */
static int parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{"pull", required_argument, NULL, 'p'},
		{"pub", required_argument, NULL, 'P'},
		{"replay", required_argument, NULL, 'r'},
		{"ack", required_argument, NULL, 'a'},
		{"state", required_argument, NULL, 's'},
		{"name", required_argument, NULL, 'n'},
		{"keep", required_argument, NULL, 'k'},
		{"max-size", required_argument, NULL, 'm'},
		{"hwm", required_argument, NULL, 'h'},
		{"map-size", required_argument, NULL, 'M'},
		{"log-level", required_argument, NULL, 'l'},
		{"help", no_argument, NULL, 'H'},
		{NULL, 0, NULL, 0},
	};
	int c, idx;
	*o = (struct opts){.name = "relay",
			   .keep = 1000000,
			   .max_size = 1u << 20,
			   .map_size = (size_t)1 << 30,
			   .hwm = 100000,
			   .level = L_INFO};
	while ((c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
		if (c == 'H') {
			usage(stdout);
			return 1;
		}
		if (c == '?' || set_opt(o, c, optarg)) {
			if (c != '?')
				fprintf(stderr, "herald-relay: bad value for --%s: %s\n",
					longopts[idx].name, optarg);
			return -1;
		}
	}
	if (optind < argc || !o->pull || !o->pub || !o->state) {
		fprintf(stderr, "herald-relay: %s\n",
			optind < argc ? "unexpected argument"
				      : "--pull, --pub and --state are required");
		return -1;
	}
	return 0;
}

/* ---- sockets ---- */

static int new_socket(struct relay *r, void **out, int type, const char *what)
{
	int zero = 0;
	void *s = zmq_socket(r->ctx, type);
	if (!s) {
		log_error("relay '%s': cannot create %s socket (%s)", r->o.name, what,
			  zmq_strerror(errno));
		return -1;
	}
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	*out = s; /* closed by relay_release whatever happens next */
	return 0;
}

static int do_bind(struct relay *r, void *s, const char *endpoint, const char *what)
{
	if (zmq_bind(s, endpoint) == 0)
		return 0;
	log_error("relay '%s': cannot bind %s socket to %s (%s)", r->o.name, what, endpoint,
		  zmq_strerror(errno));
	return -1;
}

static int setup_sockets(struct relay *r)
{
	int64_t in_max = (int64_t)r->o.max_size + FRAME_SLACK, req_max = REQUEST_BYTES;
	int linger = 1000, sndtimeo = 1000;
	if (!(r->ctx = zmq_ctx_new())) {
		log_error("relay '%s': cannot create zmq context (%s)", r->o.name,
			  zmq_strerror(errno));
		return -1;
	}
	if (new_socket(r, &r->pull, ZMQ_PULL, "pull") || new_socket(r, &r->pub, ZMQ_PUB, "pub") ||
	    (r->o.replay && new_socket(r, &r->rep, ZMQ_REP, "replay")) ||
	    (r->o.ack && new_socket(r, &r->ack, ZMQ_ROUTER, "ack")))
		return -1;
	/* Frames far beyond --max-size are cut off by libzmq before they cost memory;
	 * those merely over the limit still arrive and are refused and counted. */
	zmq_setsockopt(r->pull, ZMQ_MAXMSGSIZE, &in_max, sizeof in_max);
	zmq_setsockopt(r->pub, ZMQ_SNDHWM, &r->o.hwm, sizeof r->o.hwm);
	/* Give subscribers a moment to get the last batch on shutdown. */
	zmq_setsockopt(r->pub, ZMQ_LINGER, &linger, sizeof linger);
	if (r->rep) {
		zmq_setsockopt(r->rep, ZMQ_MAXMSGSIZE, &req_max, sizeof req_max);
		/* REP replies do not block (past the HWM they are dropped); a
		 * timeout anyway, so a surprise can never stall intake. */
		zmq_setsockopt(r->rep, ZMQ_SNDTIMEO, &sndtimeo, sizeof sndtimeo);
	}
	if (r->ack) {
		zmq_setsockopt(r->ack, ZMQ_MAXMSGSIZE, &in_max, sizeof in_max);
		/* The last replies get out on shutdown; lost ones are retried anyway. */
		zmq_setsockopt(r->ack, ZMQ_LINGER, &linger, sizeof linger);
	}
	if (do_bind(r, r->pull, r->o.pull, "pull") || do_bind(r, r->pub, r->o.pub, "pub") ||
	    (r->rep && do_bind(r, r->rep, r->o.replay, "replay")) ||
	    (r->ack && do_bind(r, r->ack, r->o.ack, "ack")))
		return -1;
	return 0;
}

/* See relay_int.h. */
int relay_recv_rest(void *s, zmq_msg_t *const *keep, int nkeep)
{
	int n = 1, more;
	size_t len = sizeof more;
	zmq_msg_t junk;
	while (zmq_getsockopt(s, ZMQ_RCVMORE, &more, &len) == 0 && more) {
		zmq_msg_t *m = n < nkeep ? keep[n] : &junk;
		if (m == &junk)
			zmq_msg_init(&junk);
		/* The rest of a multipart message is already here: this does not block. */
		while (zmq_msg_recv(m, s, 0) < 0 && errno == EINTR)
			;
		if (m == &junk)
			zmq_msg_close(&junk);
		n++;
		len = sizeof more;
	}
	return n;
}

/* ---- main ---- */

static int relay_init(struct relay *r)
{
	char err[600];
	json_t *name = json_string(r->o.name);
	r->name_json = name ? json_dumps(name, JSON_ENCODE_ANY) : NULL;
	json_decref(name);
	if (!r->name_json) {
		log_error("relay '%s': name is not valid UTF-8 (or out of memory)", r->o.name);
		return -1;
	}
	r->refuse_rl.interval_ms = r->store_rl.interval_ms = r->replay_rl.interval_ms =
		r->ack_rl.interval_ms = LOG_INTERVAL_MS;
	/* Before the log and the ports: a second relay on this state touches neither. */
	if (statelock_acquire(r->o.state, "herald-relay.lock", &r->lock, err, sizeof err)) {
		log_error("relay '%s': %s", r->o.name, err);
		return -1;
	}
	if (relaylog_open(r->o.state, r->o.map_size, r->o.keep, &r->log, err, sizeof err)) {
		log_error("relay '%s': cannot open log in %s (%s)", r->o.name, r->o.state, err);
		return -1;
	}
	return setup_sockets(r);
}

static void relay_release(struct relay *r)
{
	relay_batch_clear(r);
	if (r->ack)
		zmq_close(r->ack);
	if (r->rep)
		zmq_close(r->rep);
	if (r->pub)
		zmq_close(r->pub);
	if (r->pull)
		zmq_close(r->pull);
	/* zmq_ctx_term joins libzmq's I/O and reaper threads. A signal (a second
	 * SIGTERM: the handlers have no SA_RESTART) makes it return EINTR with
	 * them still running, and main would then exit under them: LeakSanitizer's
	 * stop-the-world tracer was seen to spin forever at such an exit. */
	if (r->ctx)
		while (zmq_ctx_term(r->ctx) && errno == EINTR)
			;
	relaylog_close(r->log);
	buf_release(&r->meta);
	free(r->name_json);
	statelock_free(r->lock);
}

static void install_signals(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: zmq_poll must return EINTR */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int run(struct relay *r)
{
	zmq_pollitem_t items[3] = {{r->pull, 0, ZMQ_POLLIN, 0}};
	int nitems = 1, rep = -1, ack = -1;
	if (r->ack)
		items[ack = nitems++] = (zmq_pollitem_t){r->ack, 0, ZMQ_POLLIN, 0};
	if (r->rep)
		items[rep = nitems++] = (zmq_pollitem_t){r->rep, 0, ZMQ_POLLIN, 0};
	fprintf(stderr, "herald-relay: ready\n");
	fflush(stderr);
	while (!g_stop) {
		/* A timeout, so a signal landing just before the poll is seen within a second. */
		int n = zmq_poll(items, nitems, 1000);
		if (n < 0 && errno != EINTR) {
			log_error("relay '%s': poll failed (%s)", r->o.name, zmq_strerror(errno));
			return -1;
		}
		if (n <= 0)
			continue;
		/* relay_intake drains both intakes, whichever woke us. */
		if ((items[0].revents & ZMQ_POLLIN) || (ack >= 0 && (items[ack].revents & ZMQ_POLLIN)))
			relay_intake(r);
		if (rep >= 0 && (items[rep].revents & ZMQ_POLLIN))
			relay_serve_replay(r);
	}
	return 0;
}

int main(int argc, char **argv)
{
	static struct relay r; /* static: the batch arrays are large */
	int rc = parse_args(argc, argv, &r.o);
	if (rc)
		return rc > 0 ? 0 : 2;
	log_setup("herald-relay", r.o.level, false);
	install_signals();
	rc = relay_init(&r);
	if (rc == 0)
		rc = run(&r);
	if (rc == 0)
		log_info("relay '%s': stopping: %" PRIu64 " accepted, %" PRIu64 " refused, %" PRIu64
			 " dropped, %" PRIu64 " acknowledged (%" PRIu64 " of them retries), %" PRIu64
			 " ack requests refused, %" PRIu64 " replay requests (%" PRIu64 " refused)",
			 r.o.name, r.accepted, r.refused, r.dropped, r.acked, r.ack_dups,
			 r.ack_refused, r.replays, r.bad_replays);
	relay_release(&r);
	return rc ? 1 : 0;
}

