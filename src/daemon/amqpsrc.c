/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * amqpsrc: the consumer thread of one [amqp NAME] section (see amqpsrc.h).
 * Not for parsing deliveries (fmsg.c, in ingest's workers) nor for deciding
 * what is accepted (commit.c).
 *
 * Frames are read one at a time (amqp_simple_wait_frame_noblock) and put
 * together here (deliver method, header, body frames), rather than with
 * amqp_consume_message, whose wait cannot be interrupted mid-message: the
 * thread must also wake for settlements, which arrive on an eventfd.
 */
#include "amqpsrc.h"

#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <errno.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "amqphdr.h"
#include "src/common/clock.h"
#include "src/common/log.h"

#define CHANNEL 1
#define FRAME_MAX 131072
#define BACKOFF_MIN_MS 1000u
#define BACKOFF_MAX_MS 30000u
#define CONNECT_TIMEOUT_S 10
#define POLL_MS 1000

struct settle {
	uint32_t gen;
	uint64_t tag;       /* for ACK: the last of a run, acked with multiple=true */
	uint32_t count;     /* deliveries this entry settles */
	enum amqpsrc_outcome outcome;
};

struct settle_vec {
	struct settle *v;
	size_t n, cap;
};

struct amqpsrc {
	const struct config_amqp *cfg;
	size_t max_body;
	struct metrics *m;
	struct amqpsrc_sink sink;
	char url_shown[256];       /* the URL without its password */
	int efd;                   /* eventfd: settlements posted, or stop */
	atomic_bool stopping;
	pthread_t thread;
	bool started;
	struct settle_vec staged;  /* committer thread only */
	pthread_mutex_t lock;      /* guards `posted` */
	struct settle_vec posted;
	/* consumer thread only */
	amqp_connection_state_t conn;
	uint32_t gen;              /* of conn; deliveries carry it */
	struct amqpsrc_delivery *cur; /* being put together */
	uint64_t body_want;        /* body size the header announced */
	enum { WANT_METHOD, WANT_HEADER, WANT_BODY } state;
	struct log_limit rl;
};

/* ---- deliveries ---- */

static struct amqpsrc_delivery *delivery_new(void)
{
	struct amqpsrc_delivery *d = calloc(1, sizeof *d);
	if (d)
		d->routing_key = d->message_id = d->body = (struct buf)BUF_INIT;
	return d;
}

void amqpsrc_delivery_free(struct amqpsrc_delivery *d)
{
	if (!d)
		return;
	buf_release(&d->routing_key);
	buf_release(&d->message_id);
	buf_release(&d->body);
	json_decref(d->headers);
	free(d);
}

static void delivery_reset(struct amqpsrc_delivery *d)
{
	buf_reset(&d->routing_key);
	buf_reset(&d->message_id);
	buf_reset(&d->body);
	json_decref(d->headers);
	d->headers = NULL;
	d->has_message_id = d->has_encoding = d->too_large = false;
	d->bad_headers = NULL;
	d->content_encoding[0] = '\0';
}

struct fmsg_in amqpsrc_fmsg_in(const struct amqpsrc_delivery *d)
{
	return (struct fmsg_in){
		.routing_key = d->routing_key.data, .routing_key_len = d->routing_key.len,
		.message_id = d->has_message_id ? d->message_id.data : NULL,
		.message_id_len = d->message_id.len,
		.content_encoding = d->has_encoding ? d->content_encoding : NULL,
		.headers = d->headers, .body = d->body.data, .body_len = d->body.len};
}

/* ---- settlements ---- */

static int vec_push(struct settle_vec *v, const struct settle *s)
{
	if (v->n == v->cap) {
		size_t cap = v->cap ? v->cap * 2 : 256;
		struct settle *nv = realloc(v->v, cap * sizeof *nv);
		if (!nv)
			return -ENOMEM;
		v->v = nv;
		v->cap = cap;
	}
	v->v[v->n++] = *s;
	return 0;
}

int amqpsrc_settle_add(struct amqpsrc *s, const struct amqpsrc_delivery *d,
		       enum amqpsrc_outcome o)
{
	struct settle *last = s->staged.n ? &s->staged.v[s->staged.n - 1] : NULL;
	/* A run of acks on one connection is one basic.ack, multiple=true. */
	if (o == AMQPSRC_ACK && last && last->outcome == AMQPSRC_ACK && last->gen == d->gen) {
		last->tag = d->tag;
		last->count++;
		return 0;
	}
	struct settle e = {d->gen, d->tag, 1, o};
	return vec_push(&s->staged, &e);
}

void amqpsrc_settle_post(struct amqpsrc *s)
{
	if (!s->staged.n)
		return;
	pthread_mutex_lock(&s->lock);
	int rc = 0;
	for (size_t i = 0; !rc && i < s->staged.n; i++)
		rc = vec_push(&s->posted, &s->staged.v[i]);
	pthread_mutex_unlock(&s->lock);
	if (rc) /* not sent: the broker redelivers them after a reconnect */
		log_limited(&s->rl, L_ERROR, "amqp '%s': out of memory queueing acknowledgements",
			    s->cfg->name);
	s->staged.n = 0;
	uint64_t one = 1;
	if (write(s->efd, &one, sizeof one) < 0 && errno != EAGAIN)
		log_limited(&s->rl, L_ERROR, "amqp '%s': cannot wake the consumer (%s)", s->cfg->name,
			    strerror(errno));
}

/* Send what the committer posted. A settlement of an older connection is
 * dropped: the broker took those deliveries back when it closed. */
static int send_settlements(struct amqpsrc *s, struct settle_vec *work)
{
	pthread_mutex_lock(&s->lock);
	struct settle_vec tmp = s->posted;
	s->posted = *work;
	*work = tmp;
	s->posted.n = 0;
	pthread_mutex_unlock(&s->lock);
	int rc = 0;
	for (size_t i = 0; !rc && i < work->n; i++) {
		const struct settle *e = &work->v[i];
		if (e->gen != s->gen || !s->conn)
			continue;
		if (e->outcome == AMQPSRC_ACK) {
			rc = amqp_basic_ack(s->conn, CHANNEL, e->tag, 1);
			metric_add(&s->m->amqp_acked, rc ? 0 : e->count);
		} else if (e->outcome == AMQPSRC_REJECT) {
			rc = amqp_basic_reject(s->conn, CHANNEL, e->tag, 0);
		} else {
			rc = amqp_basic_nack(s->conn, CHANNEL, e->tag, 0, 1);
			metric_add(&s->m->amqp_requeued, rc ? 0 : 1);
		}
	}
	work->n = 0;
	if (rc)
		log_warn("amqp '%s': cannot acknowledge (%s); the broker will redeliver",
			 s->cfg->name, amqp_error_string2(rc));
	return rc;
}

/* ---- connecting ---- */

static const char *rpc_error(amqp_rpc_reply_t r, char *buf, size_t len)
{
	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL: return "ok";
	case AMQP_RESPONSE_NONE: return "no reply";
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		if (r.library_error == AMQP_STATUS_SSL_PEER_VERIFY_FAILED ||
		    r.library_error == AMQP_STATUS_SSL_CONNECTION_FAILED)
			snprintf(buf, len, "%s: the server's certificate was not verified; check ca_file",
				 amqp_error_string2(r.library_error));
		else
			snprintf(buf, len, "%s", amqp_error_string2(r.library_error));
		return buf;
	default:
		if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
			amqp_connection_close_t *c = r.reply.decoded;
			snprintf(buf, len, "server closed the connection: %u %.*s", c->reply_code,
				 (int)c->reply_text.len, (char *)c->reply_text.bytes);
		} else if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
			amqp_channel_close_t *c = r.reply.decoded;
			snprintf(buf, len, "server closed the channel: %u %.*s", c->reply_code,
				 (int)c->reply_text.len, (char *)c->reply_text.bytes);
		} else {
			snprintf(buf, len, "server error (method 0x%08x)", r.reply.id);
		}
		return buf;
	}
}

static int tls_setup(struct amqpsrc *s, amqp_socket_t *sock, char *err, size_t len)
{
	const struct config_amqp *c = s->cfg;
	int rc;
	amqp_ssl_socket_set_verify_peer(sock, 1);
	amqp_ssl_socket_set_verify_hostname(sock, 1);
	if (c->ca_file)
		rc = amqp_ssl_socket_set_cacert(sock, c->ca_file);
	else /* the system's trust store */
		rc = SSL_CTX_set_default_verify_paths(amqp_ssl_socket_get_context(sock)) == 1 ? 0 : -1;
	if (rc) {
		snprintf(err, len, "cannot read ca_file %s", c->ca_file ? c->ca_file : "(system)");
		return -1;
	}
	if (c->cert_file && amqp_ssl_socket_set_key(sock, c->cert_file, c->key_file)) {
		snprintf(err, len, "cannot read cert_file %s or key_file %s", c->cert_file,
			 c->key_file);
		return -1;
	}
	return 0;
}

static int open_socket(struct amqpsrc *s, struct amqp_connection_info *ci, char *err, size_t len)
{
	amqp_socket_t *sock = ci->ssl ? amqp_ssl_socket_new(s->conn) : amqp_tcp_socket_new(s->conn);
	struct timeval tv = {CONNECT_TIMEOUT_S, 0};
	if (!sock) {
		snprintf(err, len, "cannot create a socket");
		return -1;
	}
	if (ci->ssl && tls_setup(s, sock, err, len))
		return -1;
	int rc = amqp_socket_open_noblock(sock, ci->host, ci->port, &tv);
	if (rc) {
		amqp_rpc_reply_t r = {.reply_type = AMQP_RESPONSE_LIBRARY_EXCEPTION, .library_error = rc};
		rpc_error(r, err, len);
		return -1;
	}
	return 0;
}

/* Queue, bindings, prefetch, consume: fedora-messaging's consumer does the
 * same (a named queue durable, a server-named one exclusive). */
static int declare(struct amqpsrc *s, char *err, size_t len)
{
	const struct config_amqp *c = s->cfg;
	amqp_connection_state_t conn = s->conn;
	amqp_bytes_t qname = c->queue ? amqp_cstring_bytes(c->queue) : amqp_empty_bytes;
	char why[256];
	amqp_queue_declare_ok_t *q = amqp_queue_declare(conn, CHANNEL, qname, 0, c->queue_durable,
							 !c->queue, !c->queue, amqp_empty_table);
	amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
	if (!q || r.reply_type != AMQP_RESPONSE_NORMAL) {
		snprintf(err, len, "queue declare: %s", rpc_error(r, why, sizeof why));
		return -1;
	}
	amqp_bytes_t name = amqp_bytes_malloc_dup(q->queue);
	int rc = 0;
	for (size_t i = 0; !rc && i < c->n_bind; i++) {
		amqp_queue_bind(conn, CHANNEL, name, amqp_cstring_bytes(c->exchange),
				amqp_cstring_bytes(c->bind[i]), amqp_empty_table);
		if ((r = amqp_get_rpc_reply(conn)).reply_type != AMQP_RESPONSE_NORMAL) {
			snprintf(err, len, "bind %s to %s: %s", c->bind[i], c->exchange,
				 rpc_error(r, why, sizeof why));
			rc = -1;
		}
	}
	/* The prefetch window is what bounds heraldd's unacked deliveries: a
	 * consumer without it would take the whole queue into memory. */
	if (!rc && !amqp_basic_qos(conn, CHANNEL, 0, (uint16_t)c->prefetch, 0)) {
		r = amqp_get_rpc_reply(conn);
		snprintf(err, len, "prefetch %d: %s", c->prefetch, rpc_error(r, why, sizeof why));
		rc = -1;
	}
	if (!rc) {
		amqp_basic_consume(conn, CHANNEL, name, amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
		if ((r = amqp_get_rpc_reply(conn)).reply_type != AMQP_RESPONSE_NORMAL) {
			snprintf(err, len, "consume: %s", rpc_error(r, why, sizeof why));
			rc = -1;
		} else {
			log_info("amqp '%s': consuming queue %.*s on %s (prefetch %d)", c->name,
				 (int)name.len, (char *)name.bytes, s->url_shown, c->prefetch);
		}
	}
	amqp_bytes_free(name);
	return rc;
}

static void disconnect(struct amqpsrc *s)
{
	if (!s->conn)
		return;
	amqp_destroy_connection(s->conn); /* closes the socket: the broker requeues */
	s->conn = NULL;
	s->state = WANT_METHOD;
}

static int connect_broker(struct amqpsrc *s, char *err, size_t len)
{
	struct amqp_connection_info ci;
	char *url = strdup(s->cfg->url);
	amqp_rpc_reply_t r;
	char why[256];
	int rc = -1;
	if (!url || amqp_parse_url(url, &ci)) {
		snprintf(err, len, "cannot parse the url");
		goto out;
	}
	if (!(s->conn = amqp_new_connection())) {
		snprintf(err, len, "out of memory");
		goto out;
	}
	if (open_socket(s, &ci, err, len))
		goto out;
	/* pika's reading of the vhost (checked at load already), not rabbitmq-c's */
	char vhost[CONFIG_AMQP_VHOST_MAX + 1];
	if (config_amqp_vhost(s->cfg->url, vhost)) {
		snprintf(err, len, "cannot parse the url's vhost");
		goto out;
	}
	r = amqp_login(s->conn, vhost, 0, FRAME_MAX, s->cfg->heartbeat_s, AMQP_SASL_METHOD_PLAIN,
		       ci.user, ci.password);
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		snprintf(err, len, "login: %s", rpc_error(r, why, sizeof why));
		goto out;
	}
	amqp_channel_open(s->conn, CHANNEL);
	if ((r = amqp_get_rpc_reply(s->conn)).reply_type != AMQP_RESPONSE_NORMAL) {
		snprintf(err, len, "channel: %s", rpc_error(r, why, sizeof why));
		goto out;
	}
	rc = declare(s, err, len);
out:
	if (rc)
		disconnect(s);
	else
		s->gen++;
	free(url);
	return rc;
}

/* ---- deliveries, frame by frame ---- */

static int submit(struct amqpsrc *s)
{
	struct amqpsrc_delivery *d = s->cur;
	s->cur = NULL;
	s->state = WANT_METHOD;
	metric_add(&s->m->amqp_received, 1);
	if (s->sink.submit(s->sink.arg, s->sink.source, &d)) {
		amqpsrc_delivery_free(d);
		return -ECANCELED;
	}
	s->cur = d; /* an empty one to reuse, or NULL */
	return 0;
}

static int on_deliver(struct amqpsrc *s, const amqp_basic_deliver_t *m)
{
	if (!s->cur && !(s->cur = delivery_new()))
		return -ENOMEM;
	delivery_reset(s->cur);
	s->cur->from = s;
	s->cur->gen = s->gen;
	s->cur->tag = m->delivery_tag;
	s->state = WANT_HEADER;
	return buf_append(&s->cur->routing_key, m->routing_key.bytes, m->routing_key.len);
}

static int on_header(struct amqpsrc *s, const amqp_frame_t *f)
{
	const amqp_basic_properties_t *p = f->payload.properties.decoded;
	struct amqpsrc_delivery *d = s->cur;
	if (p->_flags & AMQP_BASIC_MESSAGE_ID_FLAG) {
		d->has_message_id = true;
		if (buf_append(&d->message_id, p->message_id.bytes, p->message_id.len))
			return -ENOMEM;
	}
	if (p->_flags & AMQP_BASIC_CONTENT_ENCODING_FLAG) {
		d->has_encoding = true;
		snprintf(d->content_encoding, sizeof d->content_encoding, "%.*s",
			 (int)p->content_encoding.len, (char *)p->content_encoding.bytes);
	}
	/* Not representable (a key or string not UTF-8, nesting too deep):
	 * fedora-messaging's headers cannot be read, so the message is refused. */
	if (p->_flags & AMQP_BASIC_HEADERS_FLAG)
		d->headers = amqphdr_to_json(&p->headers, &d->bad_headers);
	s->body_want = f->payload.properties.body_size;
	d->too_large = s->body_want > s->max_body;
	s->state = WANT_BODY;
	return s->body_want ? 0 : submit(s);
}

static int on_body(struct amqpsrc *s, const amqp_frame_t *f)
{
	struct amqpsrc_delivery *d = s->cur;
	const amqp_bytes_t *b = &f->payload.body_fragment;
	s->body_want -= b->len < s->body_want ? b->len : s->body_want;
	if (!d->too_large && buf_append(&d->body, b->bytes, b->len))
		return -ENOMEM;
	return s->body_want ? 0 : submit(s);
}

static int on_method(struct amqpsrc *s, const amqp_frame_t *f)
{
	const amqp_method_t *m = &f->payload.method;
	char why[300];
	amqp_rpc_reply_t r = {.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION, .reply = *m};
	switch (m->id) {
	case AMQP_BASIC_DELIVER_METHOD: return on_deliver(s, m->decoded);
	case AMQP_CONNECTION_CLOSE_METHOD:
	case AMQP_CHANNEL_CLOSE_METHOD:
		log_warn("amqp '%s': %s", s->cfg->name, rpc_error(r, why, sizeof why));
		return -ECONNRESET;
	case AMQP_BASIC_CANCEL_METHOD:
		log_warn("amqp '%s': the broker cancelled the consumer (queue deleted?)", s->cfg->name);
		return -ECONNRESET;
	default:
		return 0;
	}
}

static int on_frame(struct amqpsrc *s, const amqp_frame_t *f)
{
	if (f->channel != CHANNEL && f->frame_type != AMQP_FRAME_METHOD)
		return 0;
	if (f->frame_type == AMQP_FRAME_METHOD)
		return on_method(s, f);
	if (f->frame_type == AMQP_FRAME_HEADER && s->state == WANT_HEADER)
		return on_header(s, f);
	if (f->frame_type == AMQP_FRAME_BODY && s->state == WANT_BODY)
		return on_body(s, f);
	return 0; /* heartbeats; anything else out of turn is ignored */
}

/* Wait for the socket, a settlement or the poll interval, unless
 * rabbitmq-c already holds data that poll cannot see. */
static void wait_input(struct amqpsrc *s)
{
	if (amqp_frames_enqueued(s->conn) || amqp_data_in_buffer(s->conn))
		return;
	struct pollfd p[2] = {{.fd = amqp_get_sockfd(s->conn), .events = POLLIN},
			      {.fd = s->efd, .events = POLLIN}};
	if (poll(p, 2, POLL_MS) > 0 && (p[1].revents & POLLIN)) {
		uint64_t v;
		if (read(s->efd, &v, sizeof v) < 0 && errno != EAGAIN)
			log_limited(&s->rl, L_WARN, "amqp '%s': eventfd (%s)", s->cfg->name,
				    strerror(errno));
	}
}

/* Until the connection fails or the consumer stops. */
static void consume(struct amqpsrc *s, struct settle_vec *work)
{
	struct timeval zero = {0, 0};
	while (!atomic_load(&s->stopping)) {
		if (send_settlements(s, work))
			return;
		wait_input(s);
		for (int burst = 0; burst < 256 && !atomic_load(&s->stopping); burst++) {
			amqp_frame_t f;
			int rc = amqp_simple_wait_frame_noblock(s->conn, &f, &zero);
			if (rc == AMQP_STATUS_TIMEOUT)
				break;
			if (rc) {
				log_warn("amqp '%s': connection to %s lost (%s)", s->cfg->name,
					 s->url_shown, amqp_error_string2(rc));
				return;
			}
			rc = on_frame(s, &f);
			amqp_maybe_release_buffers(s->conn);
			if (rc)
				return;
		}
	}
}

/* Sleep up to ms, waking at once when asked to stop. */
static void backoff_sleep(struct amqpsrc *s, uint64_t ms)
{
	uint64_t until = clock_mono_ms() + ms;
	while (!atomic_load(&s->stopping) && clock_mono_ms() < until) {
		struct pollfd p = {.fd = s->efd, .events = POLLIN};
		uint64_t left = until - clock_mono_ms();
		if (poll(&p, 1, (int)(left > 1000 ? 1000 : left + 1)) > 0) {
			uint64_t v;
			if (read(s->efd, &v, sizeof v) < 0)
				continue;
		}
	}
}

static void *consumer_main(void *arg)
{
	struct amqpsrc *s = arg;
	struct settle_vec work = {0};
	uint64_t backoff = 0;
	char err[512];
	while (!atomic_load(&s->stopping)) {
		if (connect_broker(s, err, sizeof err)) {
			backoff = backoff ? (backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2)
					  : BACKOFF_MIN_MS;
			log_limited(&s->rl, L_ERROR, "amqp '%s': cannot connect to %s (%s); retrying "
				    "in %llu ms", s->cfg->name, s->url_shown, err,
				    (unsigned long long)backoff);
			backoff_sleep(s, backoff);
			continue;
		}
		backoff = 0;
		consume(s, &work);
		disconnect(s);
		if (!atomic_load(&s->stopping)) {
			metric_add(&s->m->amqp_reconnects, 1);
			backoff_sleep(s, BACKOFF_MIN_MS);
		}
	}
	free(work.v);
	return NULL;
}

/* ---- lifecycle ---- */

int amqpsrc_start(const struct config_amqp *cfg, size_t max_body, struct metrics *m,
		  const struct amqpsrc_sink *sink, struct amqpsrc **out, char *err, size_t errlen)
{
	struct amqpsrc *s = calloc(1, sizeof *s);
	*out = NULL;
	if (!s)
		return -ENOMEM;
	*s = (struct amqpsrc){.cfg = cfg, .max_body = max_body, .m = m, .sink = *sink,
			      .rl = {.interval_ms = 10000}};
	config_amqp_redact(cfg->url, s->url_shown, sizeof s->url_shown);
	pthread_mutex_init(&s->lock, NULL);
	s->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int rc = s->efd < 0 ? -errno : -pthread_create(&s->thread, NULL, consumer_main, s);
	if (rc) {
		snprintf(err, errlen, "amqp '%s': cannot start (%s)", cfg->name, strerror(-rc));
		amqpsrc_stop(s);
		return rc;
	}
	s->started = true;
	*out = s;
	return 0;
}

void amqpsrc_stop(struct amqpsrc *s)
{
	if (!s)
		return;
	atomic_store(&s->stopping, true);
	if (s->started) {
		uint64_t one = 1;
		if (write(s->efd, &one, sizeof one) < 0 && errno != EAGAIN)
			log_warn("amqp '%s': cannot wake the consumer (%s)", s->cfg->name,
				 strerror(errno));
		pthread_join(s->thread, NULL);
	}
	disconnect(s);
	amqpsrc_delivery_free(s->cur);
	if (s->efd >= 0)
		close(s->efd);
	free(s->staged.v);
	free(s->posted.v);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
