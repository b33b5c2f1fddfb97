/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * email: the bundled sink that sends each item as one email through an SMTP
 * relay with libesmtp. herald-email(7) has the options, the headers, the
 * threading scheme and how outcomes are classified.
 *
 * One deliver() call is one SMTP session: one smtp_session_t holding one
 * message (one recipient) per item, started once; libesmtp pipelines the
 * envelopes when the server offers PIPELINING. Each item's outcome comes
 * from its own statuses after the session (MAIL, RCPT, then the DATA reply),
 * so a session that "succeeds" with a refused recipient still reports that
 * item as refused, and a session lost half way through retries only what
 * was not acknowledged.
 *
 * Not here: building the message text (msg.c), retries and backoff (the
 * host's). No TLS on connect (port 465): libesmtp only does STARTTLS.
 *
 * Standalone: libc, libesmtp and herald/sink.h only.
 */
#define _GNU_SOURCE
#include <herald/sink.h>

/* before libesmtp.h, which declares smtp_starttls_set_ctx only after it */
#include <openssl/ssl.h>
#include <auth-client.h>
#include <libesmtp.h>

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"

#define MAX_PASSWORD 1024
#define MAX_URL	     900

struct email_sink {
	const struct herald_sink_host *host;
	char *host_port; /* "host:port" for smtp_set_server */
	char *server, *from, *domain, *unsub, *user;
	struct sinkutil_secret password; /* password_file's first line */
	unsigned long port;
	int starttls; /* enum starttls_option */
	unsigned long timeout_ms;
	unsigned long max_packages; /* for mc */
	struct msg_conf mc;
	auth_context_t auth;
	char *ca_file;	/* option: CAs to trust instead of the system's */
	SSL_CTX *tls;	/* ours; each session takes its own reference */
	char tls_error[160]; /* why the last handshake failed verification; "" */
};

/* One SMTP session: what the protocol monitor saw of authentication. */
struct session_state {
	bool auth_sent; /* the last command written was AUTH (or its continuation) */
	int auth_code;	/* the final reply to AUTH; 0: none */
	char auth_text[128];
	const char *tls_problem; /* STARTTLS required but impossible; NULL: none */
};

/* ---- options ---- */

static int set_str(char **dst, const char *v, char *err, size_t errlen)
{
	free(*dst);
	*dst = strdup(v);
	if (!*dst)
		snprintf(err, errlen, "out of memory");
	return *dst ? 0 : -ENOMEM;
}

/* Printable ASCII, no space, no '<' '>' '"': safe inside <...> in a header. */
static bool url_chars_ok(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v <= 0x20 || (unsigned char)*v >= 0x7f || strchr("<>\"", *v))
			return false;
	return true;
}

static int check_unsubscribe(const char *k, const char *v, char *err, size_t errlen)
{
	bool http = !strncmp(v, "https://", 8) || !strncmp(v, "http://", 7);

	if (!http && strncmp(v, "mailto:", 7)) {
		snprintf(err, errlen, "%s: must start with https://, http:// or mailto:", k);
		return -EINVAL;
	}
	if (strlen(v) > MAX_URL || !url_chars_ok(v)) {
		snprintf(err, errlen,
			 "%s: at most %d printable ASCII characters, no spaces, '<', '>' or '\"'",
			 k, MAX_URL);
		return -EINVAL;
	}
	return 0;
}

/* A host name or IPv4 address: what smtp_set_server can take before ":port". */
static int check_server(const char *k, const char *v, char *err, size_t errlen)
{
	for (const char *p = v; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-')) {
			snprintf(err, errlen, "%s: '%s' is not a host name or IPv4 address", k, v);
			return -EINVAL;
		}
	return 0;
}

static int check_from(const char *k, const char *v, char *err, size_t errlen)
{
	(void)k;
	return msg_check_address(v, err, errlen) ? -EINVAL : 0;
}

static int check_domain(const char *k, const char *v, char *err, size_t errlen)
{
	char probe[300];

	(void)k;
	snprintf(probe, sizeof probe, "x@%s", v);
	return strlen(v) > 200 || msg_check_address(probe, err, errlen) ? -EINVAL : 0;
}

static const char no_implicit_tls[] =
    "implicit TLS (SMTPS, port 465) is not supported: libesmtp can only do STARTTLS; "
    "use the submission port 587 with starttls = required";

/* There is no `tls` option: say what to use instead. */
static int set_tls(void *obj, const struct herald_sink_option *o, char *err, size_t errlen)
{
	(void)obj;
	snprintf(err, errlen, "tls = %s: %s", o->value,
		 strcmp(o->value, "implicit") ? "unknown value; "
						"only starttls = required|opportunistic|off exists"
					      : no_implicit_tls);
	return -EINVAL;
}

static const char *const starttls_names[] = {"required", "opportunistic", "off", NULL};
static const int starttls_values[] = {Starttls_REQUIRED, Starttls_ENABLED, Starttls_DISABLED};

static const struct sinkutil_option options[] = {
    SINKUTIL_STRING("host", struct email_sink, server, check_server),
    SINKUTIL_UINT("port", struct email_sink, port, 1, 65535),
    SINKUTIL_ENUM("starttls", struct email_sink, starttls, starttls_names, starttls_values),
    SINKUTIL_CUSTOM("tls", set_tls),
    SINKUTIL_STRING("user", struct email_sink, user, NULL),
    SINKUTIL_SECRET("password_file", struct email_sink, password, MAX_PASSWORD),
    SINKUTIL_PATH("ca_file", struct email_sink, ca_file, NULL),
    SINKUTIL_STRING("from", struct email_sink, from, check_from),
    SINKUTIL_STRING("message_id_domain", struct email_sink, domain, check_domain),
    SINKUTIL_UINT("timeout_ms", struct email_sink, timeout_ms, 100, 3600000),
    SINKUTIL_STRING("unsubscribe_url", struct email_sink, unsub, check_unsubscribe),
    SINKUTIL_UINT("max_packages_header", struct email_sink, max_packages, 0, 100),
    SINKUTIL_BOOL("html", struct email_sink, mc.html),
    SINKUTIL_END,
};

/* ---- authentication ---- */

static int interact(auth_client_request_t req, char **result, int fields, void *arg)
{
	struct email_sink *e = arg;

	for (int i = 0; i < fields; i++) {
		if (req[i].flags & AUTH_USER)
			result[i] = e->user;
		else if (req[i].flags & AUTH_PASS)
			result[i] = e->password.value;
		else
			return 0;
	}
	return 1;
}

static int setup_auth(struct email_sink *e, char *err, size_t errlen)
{
	if (!e->user != !e->password.value) {
		snprintf(err, errlen, "user and password_file: give both or neither");
		return -EINVAL;
	}
	if (!e->user)
		return 0;
	auth_client_init();
	e->auth = auth_create_context();
	if (!e->auth) {
		snprintf(err, errlen, "cannot create the SASL context");
		return -ENOMEM;
	}
	auth_set_mechanism_flags(e->auth, AUTH_PLUGIN_PLAIN, 0);
	auth_set_interact_cb(e->auth, interact, e);
	if (e->starttls != Starttls_REQUIRED)
		sinkutil_log(
		    e->host, HERALD_SINK_LOG_WARNING,
		    "the password may cross the network in clear: starttls is not 'required'");
	return 0;
}

/* A certificate that does not verify fails the handshake, which libesmtp
 * reports as nothing more than a session that ended: note why, so that the
 * outcome can say it (and be "broken", not a retry). Calls into an
 * instance are serialised, so instance state is the right place. */
static int verify_cb(int ok, X509_STORE_CTX *store)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct email_sink *e = ssl ? SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)) : NULL;

	if (!ok && e && !e->tls_error[0])
		snprintf(e->tls_error, sizeof e->tls_error,
			 "STARTTLS: the server's certificate could not be verified (%s)",
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(store)));
	return ok;
}

/* The TLS context of every session: the peer's certificate is verified
 * against ca_file, or the system's CAs (libesmtp's own default would look
 * in the service user's home directory); libesmtp then checks the host
 * name (event_cb). */
static int setup_tls(struct email_sink *e, char *err, size_t errlen)
{
	if (e->starttls == Starttls_DISABLED)
		return 0;
	e->tls = SSL_CTX_new(TLS_client_method());
	if (!e->tls) {
		snprintf(err, errlen, "cannot create the TLS context");
		return -ENOMEM;
	}
	SSL_CTX_set_min_proto_version(e->tls, TLS1_2_VERSION);
	/* At most TLS 1.2: a TLS 1.3 server sends its session tickets after the
	 * handshake, and libesmtp, which polls for reading and writing at once
	 * and reads first, takes them for the reply to a command it has not sent
	 * yet and waits a whole timeout for it (seen in 2 of 5 sessions on
	 * loopback). TLS 1.2 tickets come inside the handshake. */
	SSL_CTX_set_max_proto_version(e->tls, TLS1_2_VERSION);
	SSL_CTX_set_app_data(e->tls, e);
	SSL_CTX_set_verify(e->tls, SSL_VERIFY_PEER, verify_cb);
	if (e->ca_file ? SSL_CTX_load_verify_locations(e->tls, e->ca_file, NULL) != 1
		       : SSL_CTX_set_default_verify_paths(e->tls) != 1) {
		snprintf(err, errlen, "ca_file: %s: not a readable PEM file of certificates",
			 e->ca_file ? e->ca_file : "(system default)");
		return -EINVAL;
	}
	return 0;
}

/* ---- init, validate, shutdown ---- */

static void email_shutdown(void *instance)
{
	struct email_sink *e = instance;

	if (!e)
		return;
	if (e->auth)
		auth_destroy_context(e->auth);
	SSL_CTX_free(e->tls);
	sinkutil_options_release(options, e);
	free(e->host_port);
	free(e);
}

static int finish_init(struct email_sink *e, char *err, size_t errlen)
{
	int rc;

	if (!e->server) {
		snprintf(err, errlen, "host: required");
		return -EINVAL;
	}
	if (!e->from) {
		snprintf(err, errlen, "from: required");
		return -EINVAL;
	}
	if (e->port == 465) {
		snprintf(err, errlen, "port 465: %s", no_implicit_tls);
		return -EINVAL;
	}
	if (!e->domain && set_str(&e->domain, "herald.invalid", err, errlen))
		return -ENOMEM;
	if (asprintf(&e->host_port, "%s:%lu", e->server, e->port) < 0) {
		e->host_port = NULL;
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	e->mc.from = e->from;
	e->mc.domain = e->domain;
	e->mc.unsubscribe_url = e->unsub;
	e->mc.unsubscribe_post = e->unsub && strncmp(e->unsub, "mailto:", 7);
	e->mc.max_packages = e->max_packages;
	if (e->ca_file && e->starttls == Starttls_DISABLED) {
		snprintf(err, errlen, "ca_file: useless with starttls = off");
		return -EINVAL;
	}
	rc = setup_tls(e, err, errlen);
	return rc ? rc : setup_auth(e, err, errlen);
}

static int email_init(const struct herald_sink_host *host, const struct herald_sink_option *opts,
		      size_t n_opts, void **instance, char *err, size_t errlen)
{
	struct email_sink *e = calloc(1, sizeof *e);
	int rc;

	if (!e) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	e->host = host;
	e->port = 25;
	e->starttls = Starttls_ENABLED;
	e->timeout_ms = 30000;
	e->max_packages = 10;
	e->mc.html = true;
	rc = sinkutil_set_options(options, e, host, opts, n_opts, err, errlen);
	if (!rc)
		rc = finish_init(e, err, errlen);
	if (rc) {
		email_shutdown(e);
		return rc;
	}
	*instance = e;
	return 0;
}

static int email_validate(void *instance, const char *address, char *err, size_t errlen)
{
	(void)instance;
	return msg_check_address(address, err, errlen) ? -EINVAL : 0;
}

/* ---- one SMTP session ---- */

/* libesmtp's message source: the whole text in one piece; len NULL rewinds.
 * *ctx is ours to allocate and libesmtp's to free (as its own string
 * source does): it holds how much was handed out. */
static const char *message_cb(void **ctx, int *len, void *arg)
{
	const struct sbuf *m = arg;
	size_t *off = *ctx;

	if (!off) {
		off = calloc(1, sizeof *off);
		if (!off) {
			if (len)
				*len = 0;
			return NULL;
		}
		*ctx = off;
	}
	if (!len) {
		*off = 0;
		return NULL;
	}
	if (*off >= m->len) {
		*len = 0;
		return NULL;
	}
	*len = (int)(m->len - *off);
	*off = m->len;
	return m->p + (m->len - (size_t)*len);
}

/* Watch the protocol for the reply to AUTH (libesmtp has no event for it).
 * Only status lines are read; what we write is never looked at beyond its
 * first word, so the credentials are not copied anywhere. */
static void monitor_cb(const char *buf, int len, int writing, void *arg)
{
	struct session_state *st = arg;

	if (writing == SMTP_CB_WRITING) {
		st->auth_sent = st->auth_sent ? len > 0 && (buf[0] != 'M' && buf[0] != 'Q')
					      : len > 5 && !strncasecmp(buf, "AUTH ", 5);
		return;
	}
	if (writing != SMTP_CB_READING || !st->auth_sent || len < 4 || buf[0] < '2' ||
	    buf[0] > '5' || buf[3] == '-')
		return;
	if (buf[0] == '3')
		return; /* a challenge: the exchange goes on */
	st->auth_code = (buf[0] - '0') * 100 + (buf[1] - '0') * 10 + (buf[2] - '0');
	snprintf(st->auth_text, sizeof st->auth_text, "%.*s", len > 100 ? 100 : len, buf);
	st->auth_text[strcspn(st->auth_text, "\r\n")] = '\0';
	st->auth_sent = false;
}

/* libesmtp's events: only the STARTTLS failures matter (they end the
 * session before any message). The certificate events come with an
 * `int *ok` that we leave alone: libesmtp's default is to refuse. */
static void event_cb(smtp_session_t s, int event, void *arg, ...)
{
	struct session_state *st = arg;

	(void)s;
	switch (event) {
	case SMTP_EV_EXTNA_STARTTLS:
		st->tls_problem = "the server does not offer STARTTLS (starttls = required)";
		break;
	case SMTP_EV_INVALID_PEER_CERTIFICATE:
	case SMTP_EV_NO_PEER_CERTIFICATE:
	case SMTP_EV_WRONG_PEER_CERTIFICATE:
	case SMTP_EV_UNUSABLE_CA_LIST:
		st->tls_problem = "STARTTLS: the server's certificate could not be verified";
		break;
	default: break;
	}
}

static void set_timeouts(const struct email_sink *e, smtp_session_t s)
{
	static const int which[] = {Timeout_GREETING, Timeout_ENVELOPE, Timeout_DATA,
				    Timeout_TRANSFER, Timeout_DATA2};

	for (size_t i = 0; i < sizeof which / sizeof which[0]; i++)
		smtp_set_timeout(s, which[i] | Timeout_OVERRIDE_RFC2822_MINIMUM,
				 (long)e->timeout_ms);
}

/* The session with its options; NULL when libesmtp is out of memory. */
static smtp_session_t new_session(const struct email_sink *e, struct session_state *st)
{
	smtp_session_t s = smtp_create_session();

	if (!s)
		return NULL;
	if (!smtp_set_server(s, e->host_port) || !smtp_starttls_enable(s, e->starttls) ||
	    (e->tls && !smtp_starttls_set_ctx(s, e->tls)) ||
	    (e->auth && !smtp_auth_set_context(s, e->auth)) ||
	    !smtp_set_monitorcb(s, monitor_cb, st, 0) || !smtp_set_eventcb(s, event_cb, st)) {
		smtp_destroy_session(s);
		return NULL;
	}
	set_timeouts(e, s);
	return s;
}

/* One queued item: its message and recipient in the session. */
struct queued {
	smtp_message_t m;
	smtp_recipient_t r;
	struct sbuf text;
};

static void reason_from(struct herald_sink_result *r, const char *what, const smtp_status_t *st)
{
	const char *t = st->text ? st->text : "";
	size_t k = (size_t)snprintf(r->reason, sizeof r->reason, "%s: %d ", what, st->code);

	for (; *t && k + 1 < sizeof r->reason; t++)
		r->reason[k++] = (unsigned char)*t < 0x20 || *t == 0x7f ? ' ' : *t;
	while (k > 0 && r->reason[k - 1] == ' ')
		k--;
	r->reason[k] = '\0';
}

/* An SMTP reply as an outcome: 2xx delivered, 4xx (and none) retry, 530
 * and 535 (authentication) broken, other 5xx rejected. */
static enum herald_sink_outcome by_code(int code)
{
	if (code >= 200 && code < 300)
		return HERALD_SINK_DELIVERED;
	if (code == 530 || code == 535 || code == 534 || code == 538)
		return HERALD_SINK_BROKEN;
	if (code >= 500 && code < 600)
		return HERALD_SINK_REJECTED;
	return HERALD_SINK_RETRY;
}

/* The statuses of one message, in protocol order: the first step that did
 * not succeed decides. A step with code 0 was never reached (the session
 * ended before it): retry. */
static void judge(const struct queued *q, const char *session_err, struct herald_sink_result *r)
{
	const smtp_status_t *mail = smtp_reverse_path_status(q->m);
	const smtp_status_t *rcpt = smtp_recipient_status(q->r);
	const smtp_status_t *data = smtp_message_transfer_status(q->m);
	const struct {
		const char *what;
		const smtp_status_t *st;
	} steps[] = {{"MAIL FROM", mail}, {"RCPT TO", rcpt}, {"DATA", data}};

	for (size_t i = 0; i < 3; i++) {
		const smtp_status_t *st = steps[i].st;
		if (st && st->code >= 200 && st->code < 300)
			continue;
		if (!st || st->code == 0) {
			r->outcome = HERALD_SINK_RETRY;
			snprintf(r->reason, sizeof r->reason, "no reply to %s: %s", steps[i].what,
				 session_err ? session_err : "the session ended");
			return;
		}
		r->outcome = by_code(st->code);
		reason_from(r, steps[i].what, st);
		return;
	}
	r->outcome = HERALD_SINK_DELIVERED;
	r->reason[0] = '\0';
}

/* Queue item i, or fill its result at once (REJECTED: unusable item). */
static int queue_item(const struct email_sink *e, smtp_session_t s,
		      const struct herald_sink_item *it, struct queued *q,
		      struct herald_sink_result *r, time_t now)
{
	char err[200];

	r->outcome = HERALD_SINK_REJECTED;
	if (!it->notes || it->n_notes == 0 || !it->notes[0]) {
		snprintf(r->reason, sizeof r->reason, "item without notifications");
		return -1;
	}
	if (!it->address || msg_check_address(it->address, err, sizeof err)) {
		snprintf(r->reason, sizeof r->reason, "%s", it->address ? err : "no address");
		return -1;
	}
	msg_build(&e->mc, it, now, &q->text);
	q->m = q->text.failed ? NULL : smtp_add_message(s);
	if (q->m && smtp_set_reverse_path(q->m, e->from) &&
	    smtp_set_messagecb(q->m, message_cb, &q->text))
		q->r = smtp_add_recipient(q->m, it->address);
	if (!q->r) {
		r->outcome = HERALD_SINK_RETRY;
		snprintf(r->reason, sizeof r->reason, "out of memory");
		q->m = NULL;
		return -1;
	}
	return 0;
}

/* Every item queued this session failed alike (no session at all). */
static void fail_all(struct queued *q, size_t n, struct herald_sink_result *const *results,
		     enum herald_sink_outcome o, const char *why)
{
	for (size_t i = 0; i < n; i++)
		if (q[i].r) {
			results[i]->outcome = o;
			snprintf(results[i]->reason, sizeof results[i]->reason, "%s", why);
		}
}

/* Run the session with SIGPIPE blocked (a server that hangs up must cost us
 * an EPIPE, not the daemon), taking back a SIGPIPE we caused. */
static int run_session(smtp_session_t s)
{
	sigset_t pipe_set, old, pending;
	int ok;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	ok = smtp_start_session(s);
	if (!sigismember(&old, SIGPIPE) && !sigpending(&pending) && sigismember(&pending, SIGPIPE))
		sigtimedwait(&pipe_set, NULL, &(struct timespec){0, 0});
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return ok;
}

static void judge_session(const struct email_sink *e, struct session_state *st, int ok,
			  struct queued *q, size_t n, struct herald_sink_result *const *results)
{
	char buf[160], why[256];
	const char *session_err = NULL;

	if (!ok)
		session_err = smtp_strerror(smtp_errno(), buf, sizeof buf);
	if (st->auth_code >= 400) {
		snprintf(why, sizeof why, "authentication as '%s' failed: %s", e->user,
			 st->auth_text);
		sinkutil_log(e->host, HERALD_SINK_LOG_ERROR, "%s", why);
		fail_all(q, n, results, HERALD_SINK_BROKEN, why);
		return;
	}
	if (!st->tls_problem && e->tls_error[0])
		st->tls_problem = e->tls_error;
	if (st->tls_problem) {
		snprintf(why, sizeof why, "%s: %s", e->host_port, st->tls_problem);
		sinkutil_log(e->host, HERALD_SINK_LOG_ERROR, "%s", why);
		fail_all(q, n, results, HERALD_SINK_BROKEN, st->tls_problem);
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (q[i].r)
			judge(&q[i], session_err, results[i]);
	for (size_t i = 0; i < n; i++)
		if (q[i].r && results[i]->outcome == HERALD_SINK_BROKEN) {
			sinkutil_log(e->host, HERALD_SINK_LOG_ERROR, "%s: %s", e->host_port,
				     results[i]->reason);
			break;
		}
}

static void email_deliver(void *instance, const struct herald_sink_item *const *items, size_t n,
			  struct herald_sink_result *const *results)
{
	struct email_sink *e = instance;
	struct session_state st = {0};
	struct queued *q = calloc(n, sizeof *q);
	smtp_session_t s = q ? new_session(e, &st) : NULL;
	time_t now = time(NULL);
	size_t queued = 0;

	e->tls_error[0] = '\0'; /* verify_cb notes this session's problem only */

	if (!s) {
		for (size_t i = 0; i < n; i++) {
			results[i]->outcome = HERALD_SINK_RETRY;
			snprintf(results[i]->reason, sizeof results[i]->reason, "out of memory");
		}
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		queued += queue_item(e, s, items[i], &q[i], results[i], now) == 0;
	if (queued)
		judge_session(e, &st, run_session(s), q, n, results);
out:
	if (s)
		smtp_destroy_session(s);
	for (size_t i = 0; q && i < n; i++)
		sb_free(&q[i].text);
	free(q);
}

static const struct herald_sink_ops email_ops = {
    .size = sizeof email_ops,
    .abi = HERALD_SINK_ABI_VERSION,
    .name = "email",
    .init = email_init,
    .validate = email_validate,
    .deliver = email_deliver,
    .flush = NULL,
    .shutdown = email_shutdown,
    .reopen = NULL,
};

SINKUTIL_ENTRY(email_ops)
