/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * cli_ack: `herald publish --ack`, the acknowledged transport (contract in
 * cli_ack.h, the relay's side in src/relay/ack.c and doc/herald-relay.8).
 * A fixed window of slots, each one message in flight with its deadlines;
 * one zmq_poll loop on the DEALER and on a socket monitor that tells us
 * when the connection came back, so what was in flight is sent again at
 * once instead of after its retry timeout. Not for envelopes or signing.
 */
#include "cli_ack.h"
#include "src/common/clock.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#define RETRY_FIRST_MS 1000 /* no answer after this long: send again */
#define RETRY_MAX_MS   4000 /* ...doubling up to this */
#define BUSY_RETRY_MS  100  /* the send queue was full: try again this soon */
#define MSGID_MAX      128
#define MONITOR_EP     "inproc://herald-publish-ack-monitor"

/* One message in flight. */
struct slot {
	bool busy;
	uint64_t reqid; /* unique per invocation: a late answer to an older try still counts */
	char *topic, *text;
	char msg_id[MSGID_MAX];
	uint64_t first_ms, due_ms; /* first send; next resend (or give-up) */
	unsigned tries;
};

struct cli_ack {
	const struct cli *cli;
	void *sock, *mon;
	const char *endpoint;
	struct slot *slots;
	unsigned long window, busy, acked, retries;
	uint64_t next_reqid, timeout_ms;
	bool failed;	   /* a message was refused for good or given up */
	bool disconnected; /* the monitor saw the connection go */
};

/* ---- open / free ---- */

static int zfail(const struct cli_ack *a, const char *what)
{
	cli_error(a->cli, "%s %s: %s", what, a->endpoint, zmq_strerror(zmq_errno()));
	return -1;
}

static int open_monitor(struct cli_ack *a, void *zctx)
{
	if (zmq_socket_monitor(a->sock, MONITOR_EP, ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED))
		return zfail(a, "monitoring the connection to");
	if (!(a->mon = zmq_socket(zctx, ZMQ_PAIR)) || zmq_connect(a->mon, MONITOR_EP))
		return zfail(a, "monitoring the connection to");
	return 0;
}

int cli_ack_open(const struct cli *cli, void *zctx, const char *endpoint, unsigned long window,
		 double timeout, struct cli_ack **out)
{
	struct cli_ack *a = calloc(1, sizeof *a);
	int zero = 0;
	if (!a || !(a->slots = calloc(window, sizeof *a->slots))) {
		cli_error(cli, "out of memory");
		free(a);
		return -1;
	}
	a->cli = cli;
	a->endpoint = endpoint;
	a->window = window;
	a->next_reqid = 1;
	a->timeout_ms = (uint64_t)(timeout * 1000.0);
	*out = a; /* freed by cli_ack_free whatever happens next */
	if (!(a->sock = zmq_socket(zctx, ZMQ_DEALER)))
		return zfail(a, "creating a socket for");
	/* Unanswered requests are retried or reported, never waited for at close. */
	zmq_setsockopt(a->sock, ZMQ_LINGER, &zero, sizeof zero);
	if (open_monitor(a, zctx))
		return -1;
	zmq_setsockopt(a->mon, ZMQ_LINGER, &zero, sizeof zero);
	return zmq_connect(a->sock, endpoint) ? zfail(a, "cannot connect to") : 0;
}

static void slot_release(struct cli_ack *a, struct slot *s)
{
	free(s->topic);
	free(s->text);
	*s = (struct slot){0};
	a->busy--;
}

void cli_ack_free(struct cli_ack *a)
{
	if (!a)
		return;
	for (unsigned long i = 0; i < a->window; i++)
		if (a->slots[i].busy)
			slot_release(a, &a->slots[i]);
	if (a->sock) {
		zmq_socket_monitor(a->sock, NULL, 0);
		zmq_close(a->sock);
	}
	if (a->mon)
		zmq_close(a->mon);
	free(a->slots);
	free(a);
}

unsigned long cli_ack_acked(const struct cli_ack *a)
{
	return a->acked;
}

unsigned long cli_ack_retries(const struct cli_ack *a)
{
	return a->retries;
}

/* ---- sending ---- */

static uint64_t backoff_ms(unsigned tries)
{
	uint64_t ms = RETRY_FIRST_MS;
	for (unsigned i = 1; i < tries && ms < RETRY_MAX_MS; i++)
		ms *= 2;
	return ms < RETRY_MAX_MS ? ms : RETRY_MAX_MS;
}

/* The next deadline of a slot: never past its give-up time. */
static void set_due(struct cli_ack *a, struct slot *s, uint64_t in_ms)
{
	uint64_t due = clock_mono_ms() + in_ms, end = s->first_ms + a->timeout_ms;
	s->due_ms = due < end ? due : end;
}

/* Send (again) [request id, topic, envelope], never blocking. */
static void send_slot(struct cli_ack *a, struct slot *s)
{
	char id[24];
	int n = snprintf(id, sizeof id, "%" PRIu64, s->reqid);
	if (zmq_send(a->sock, id, (size_t)n, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0) {
		/* Queue full (no connection for a while): not a try, just later. */
		set_due(a, s, BUSY_RETRY_MS);
		return;
	}
	/* The first frame was queued: the rest of the message goes too. */
	zmq_send(a->sock, s->topic, strlen(s->topic), ZMQ_SNDMORE);
	zmq_send(a->sock, s->text, strlen(s->text), 0);
	if (s->tries++)
		a->retries++;
	set_due(a, s, backoff_ms(s->tries));
}

/* ---- answers ---- */

static struct slot *find_slot(struct cli_ack *a, const char *id, size_t len)
{
	char buf[24];
	char *end;
	if (len == 0 || len >= sizeof buf)
		return NULL;
	memcpy(buf, id, len);
	buf[len] = '\0';
	uint64_t reqid = strtoull(buf, &end, 10);
	for (unsigned long i = 0; *end == '\0' && i < a->window; i++)
		if (a->slots[i].busy && a->slots[i].reqid == reqid)
			return &a->slots[i];
	return NULL; /* a late answer to a message already settled */
}

/* Act on the status frame of one answer for slot s. */
static void settle(struct cli_ack *a, struct slot *s, const char *text, size_t len)
{
	json_t *o = json_loadb(text, len, 0, NULL);
	const char *st = json_string_value(json_object_get(o, "status"));
	const char *why = json_string_value(json_object_get(o, "reason"));
	if (st && !strcmp(st, "ok")) {
		a->acked++;
		log_debug("publish '%s': acknowledged %s (seq %" JSON_INTEGER_FORMAT "%s)",
			  a->endpoint, s->msg_id, json_integer_value(json_object_get(o, "seq")),
			  json_is_true(json_object_get(o, "duplicate")) ? ", a retry" : "");
		slot_release(a, s);
	} else if (st && (!strcmp(st, "full") || !strcmp(st, "error"))) {
		log_info("publish '%s': %s answered %s (%s); retrying", a->endpoint, s->msg_id, st,
			 why ? why : "");
		set_due(a, s, backoff_ms(s->tries));
	} else {
		cli_error(a->cli, "%s refused %s: %s (%s)", a->endpoint, s->msg_id,
			  st ? st : "unreadable answer", why ? why : "");
		a->failed = true;
		slot_release(a, s);
	}
	json_decref(o);
}

/* Read one answer [request id, status]. false: none waiting. */
static bool read_answer(struct cli_ack *a)
{
	zmq_msg_t f[2], junk;
	int more = 0, n = 0;
	size_t len = sizeof more;
	zmq_msg_init(&f[0]);
	zmq_msg_init(&f[1]);
	zmq_msg_init(&junk);
	if (zmq_msg_recv(&f[0], a->sock, ZMQ_DONTWAIT) < 0)
		goto out;
	n = 1;
	/* The rest of a multipart message is already here: this does not block. */
	while (zmq_getsockopt(a->sock, ZMQ_RCVMORE, &more, &len) == 0 && more) {
		zmq_msg_recv(n < 2 ? &f[1] : &junk, a->sock, 0);
		n++;
		len = sizeof more;
	}
	struct slot *s = n == 2 ? find_slot(a, zmq_msg_data(&f[0]), zmq_msg_size(&f[0])) : NULL;
	if (s)
		settle(a, s, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]));
out:
	zmq_msg_close(&f[0]);
	zmq_msg_close(&f[1]);
	zmq_msg_close(&junk);
	return n > 0;
}

/* A reconnect after a disconnect: whatever was in flight may be lost with
 * the old connection, so everything in flight is due now. */
static void read_monitor(struct cli_ack *a)
{
	zmq_msg_t ev;
	uint16_t event = 0;
	int more = 0;
	size_t len = sizeof more;
	zmq_msg_init(&ev);
	while (zmq_msg_recv(&ev, a->mon, ZMQ_DONTWAIT) >= 0) {
		if (zmq_msg_size(&ev) >= 2)
			memcpy(&event, zmq_msg_data(&ev), sizeof event);
		while (zmq_getsockopt(a->mon, ZMQ_RCVMORE, &more, &len) == 0 && more)
			zmq_msg_recv(&ev, a->mon, 0); /* the endpoint frame */
		if (event == ZMQ_EVENT_DISCONNECTED)
			a->disconnected = true;
		if (event == ZMQ_EVENT_CONNECTED && a->disconnected) {
			a->disconnected = false;
			log_info("publish '%s': reconnected; resending %lu unacknowledged",
				 a->endpoint, a->busy);
			for (unsigned long i = 0; i < a->window; i++)
				if (a->slots[i].busy)
					a->slots[i].due_ms = 0;
		}
	}
	zmq_msg_close(&ev);
}

/* Resend what is due; give up on what reached its timeout. */
static void run_due(struct cli_ack *a)
{
	uint64_t now = clock_mono_ms();
	for (unsigned long i = 0; i < a->window; i++) {
		struct slot *s = &a->slots[i];
		if (!s->busy || s->due_ms > now)
			continue;
		if (now >= s->first_ms + a->timeout_ms) {
			cli_error(a->cli, "%s did not acknowledge %s within %g s (sent %u times)",
				  a->endpoint, s->msg_id, (double)a->timeout_ms / 1000.0, s->tries);
			a->failed = true;
			slot_release(a, s);
		} else {
			send_slot(a, s);
		}
	}
}

/* Wait for answers until the next deadline (at most max_ms; 0: just look),
 * then handle whatever came and whatever is due. */
static void pump(struct cli_ack *a, long max_ms)
{
	zmq_pollitem_t it[2] = {{a->sock, 0, ZMQ_POLLIN, 0}, {a->mon, 0, ZMQ_POLLIN, 0}};
	uint64_t now = clock_mono_ms(), next = UINT64_MAX;
	for (unsigned long i = 0; i < a->window; i++)
		if (a->slots[i].busy && a->slots[i].due_ms < next)
			next = a->slots[i].due_ms;
	long wait = next <= now ? 0 : next - now > (uint64_t)max_ms ? max_ms : (long)(next - now);
	if (zmq_poll(it, 2, wait) > 0) {
		while (read_answer(a))
			;
		read_monitor(a);
	}
	run_due(a);
}

int cli_ack_send(struct cli_ack *a, const char *topic, const char *text, const char *msg_id)
{
	struct slot *s = NULL;
	while (!a->failed && a->busy == a->window)
		pump(a, 1000);
	if (a->failed)
		return -1;
	for (unsigned long i = 0; !s; i++)
		if (!a->slots[i].busy)
			s = &a->slots[i];
	*s = (struct slot){.busy = true, .reqid = a->next_reqid++, .first_ms = clock_mono_ms()};
	snprintf(s->msg_id, sizeof s->msg_id, "%s", msg_id);
	s->topic = strdup(topic);
	s->text = strdup(text);
	a->busy++;
	if (!s->topic || !s->text) {
		cli_error(a->cli, "out of memory");
		slot_release(a, s);
		a->failed = true;
		return -1;
	}
	send_slot(a, s);
	pump(a, 0); /* take the answers that are already here */
	return 0;   /* sent: a refusal found now stops the next one */
}

int cli_ack_finish(struct cli_ack *a)
{
	while (a->busy)
		pump(a, 1000);
	return a->failed ? -1 : 0;
}
