/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * webpush: the bundled sink that sends each item as a Web Push message
 * (RFC 8030) to the push service named by a browser's PushSubscription,
 * encrypted for that browser (RFC 8291, aes128gcm) and signed for the push
 * service with the instance's VAPID key (RFC 8292). herald-webpush(7) has
 * the options, the address, the payload and the outcomes.
 *
 * One deliver() call sends its batch concurrently through the instance's
 * httpbatch (plugins/common: kept connections, HTTP/2, the SSRF guard).
 * A 413 is answered once, in the same call, with a shorter notice; the
 * rest of what an answer means is in judge().
 *
 * Not here: the notice's JSON (notice.c), the address (pushsub.c), the
 * encryption (ece.c), the VAPID token (vapid.c), the transfers
 * (httpbatch.c), retries and backoff (the host's).
 *
 * Standalone: libc, libcurl, jansson, libcrypto and herald/sink.h only.
 */
#define _GNU_SOURCE
#include <herald/sink.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "b64url.h"
#include "ece.h"
#include "httpbatch.h"
#include "netguard.h"
#include "notice.h"
#include "outcome.h"
#include "pushsub.h"
#include "sealer.h"
#include "sinkutil.h"
#include "vapid.h"

#define PLAIN_MAX (ECE_MAX_BODY - ECE_OVERHEAD) /* the most a notice may hold */
#define PLAIN_SHORT 1024 /* the notice's budget after a 413 */

enum topic_mode { TOPIC_NOTIFICATION, TOPIC_SUBSCRIPTION, TOPIC_NONE };

/* Parsed subscriptions, by address: parsing one (JSON, base64url, the
 * curve check) costs about a quarter of what sealing a message does, and a
 * destination's address is the same for every item it gets. Direct-mapped
 * by a hash of the address; a collision simply replaces the slot. */
#define SUBCACHE_SLOTS 64
struct subslot {
	char *address; /* owned; NULL: empty */
	struct pushsub sub;
};

struct webpush_sink {
	const struct herald_sink_host *host;
	char *vapid_file, *subject, *icon, *app, *ca_file, *user_agent;
	unsigned long ttl, connect_timeout_ms, timeout_ms, max_in_flight, max_per_host;
	int urgency, topic;
	struct netguard_list allow;
	struct vapid *vapid;    /* owned; replaced by reopen() */
	struct sealer *sealer;  /* owned: the helper thread that encrypts */
	bool gone_ok;           /* the host knows HERALD_SINK_GONE (ABI >= 1.1) */
	bool links;             /* the host fills the 1.2 item fields */
	struct httpbatch *http; /* the connection cache, kept across deliver() calls */
	struct subslot *subs;   /* owned: SUBCACHE_SLOTS of them */
};

/* One item's request: its subscription, what it sends, what came back. */
struct push {
	struct webpush_sink *w;
	const struct herald_sink_item *it;
	struct herald_sink_result *r;
	struct pushsub sub;
	struct httpreq req;
	struct seal_job *job;       /* its message: the body is owned there */
	struct curl_slist *headers; /* owned */
	char where[PUSHSUB_ENDPOINT_MAX + 8]; /* the endpoint's origin and "/...", for logs */
	bool sent;      /* prepared and sent this round */
	bool shortened; /* the 413 retry was made */
};

/* ---- options ---- */

static const char *const urgency_names[] = {"very-low", "low", "normal", "high", NULL};
static const int urgency_values[] = {0, 1, 2, 3};
static const char *const topic_names[] = {"notification", "subscription", "none", NULL};
static const int topic_values[] = {TOPIC_NOTIFICATION, TOPIC_SUBSCRIPTION, TOPIC_NONE};

/* printable ASCII without spaces, at most max bytes */
static bool token_ok(const char *v, size_t max)
{
	size_t n = 0;

	for (; v[n]; n++)
		if ((unsigned char)v[n] <= 0x20 || (unsigned char)v[n] >= 0x7f)
			return false;
	return n > 0 && n <= max;
}

/* RFC 8292 2.1: a mailto: or https: URI the push service can reach us at. */
static int check_subject(const char *k, const char *v, char *err, size_t errlen)
{
	if ((!strncmp(v, "mailto:", 7) && v[7]) || (!strncmp(v, "https://", 8) && v[8]))
		if (token_ok(v, 256))
			return 0;
	snprintf(err, errlen, "%s: give a mailto: or https: URI (printable, no spaces, at most "
			      "256 bytes) where the push service can reach you", k);
	return -EINVAL;
}

static int check_icon(const char *k, const char *v, char *err, size_t errlen)
{
	if ((!strncmp(v, "https://", 8) || !strncmp(v, "http://", 7) || v[0] == '/') &&
	    token_ok(v, 1024))
		return 0;
	snprintf(err, errlen, "%s: an http(s) URL or an absolute path on the web app", k);
	return -EINVAL;
}

static int check_text(const char *k, const char *v, char *err, size_t errlen)
{
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			snprintf(err, errlen, "%s: no control characters", k);
			return -EINVAL;
		}
	if (strlen(v) > 200) {
		snprintf(err, errlen, "%s: at most 200 bytes", k);
		return -EINVAL;
	}
	return 0;
}

static int set_allow(void *obj, const struct herald_sink_option *o, char *err, size_t errlen)
{
	struct webpush_sink *w = obj;
	char why[160];

	if (!netguard_parse_list(o->value, &w->allow, why, sizeof why))
		return 0;
	snprintf(err, errlen, "allow_networks: %s (line %u)", why, o->line);
	return -EINVAL;
}

static const struct sinkutil_option options[] = {
    SINKUTIL_PATH("vapid_key", struct webpush_sink, vapid_file, sinkutil_check_readable),
    SINKUTIL_STRING("subject", struct webpush_sink, subject, check_subject),
    SINKUTIL_UINT("ttl", struct webpush_sink, ttl, 0, 2419200),
    SINKUTIL_ENUM("urgency", struct webpush_sink, urgency, urgency_names, urgency_values),
    SINKUTIL_ENUM("topic", struct webpush_sink, topic, topic_names, topic_values),
    SINKUTIL_STRING("icon", struct webpush_sink, icon, check_icon),
    SINKUTIL_STRING("app", struct webpush_sink, app, check_text),
    SINKUTIL_PATH("ca_file", struct webpush_sink, ca_file, sinkutil_check_readable),
    SINKUTIL_UINT("connect_timeout_ms", struct webpush_sink, connect_timeout_ms, 100, 600000),
    SINKUTIL_UINT("timeout_ms", struct webpush_sink, timeout_ms, 100, 600000),
    SINKUTIL_UINT("max_in_flight", struct webpush_sink, max_in_flight, 1, 10000),
    SINKUTIL_UINT("max_per_host", struct webpush_sink, max_per_host, 1, 10000),
    SINKUTIL_CUSTOM("allow_networks", set_allow),
    SINKUTIL_STRING("user_agent", struct webpush_sink, user_agent, check_text),
    SINKUTIL_END,
};

/* ---- init, validate, reopen, shutdown ---- */

static void webpush_shutdown(void *instance)
{
	struct webpush_sink *w = instance;

	if (!w)
		return;
	httpbatch_close(w->http);
	for (size_t i = 0; w->subs && i < SUBCACHE_SLOTS; i++)
		free(w->subs[i].address);
	free(w->subs);
	sealer_stop(w->sealer);
	vapid_free(w->vapid);
	netguard_list_release(&w->allow);
	sinkutil_options_release(options, w);
	free(w);
}

static int set_default(char **dst, const char *v, char *err, size_t errlen)
{
	if (*dst)
		return 0;
	*dst = strdup(v);
	if (!*dst)
		snprintf(err, errlen, "out of memory");
	return *dst ? 0 : -ENOMEM;
}

static int check_required(const struct webpush_sink *w, char *err, size_t errlen)
{
	if (!w->vapid_file)
		snprintf(err, errlen, "vapid_key is required (make one with herald keygen --vapid NAME)");
	else if (!w->subject)
		snprintf(err, errlen, "subject is required: a mailto: or https: URI for the push "
				      "services' operators (RFC 8292)");
	else
		return 0;
	return -EINVAL;
}

static int webpush_init(const struct herald_sink_host *host, const struct herald_sink_option *opts,
			size_t n_opts, void **instance, char *err, size_t errlen)
{
	struct webpush_sink *w = calloc(1, sizeof *w);
	int rc;

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	w->host = host;
	w->ttl = 86400;
	w->urgency = 2; /* normal */
	w->topic = TOPIC_NOTIFICATION;
	w->connect_timeout_ms = 5000;
	w->timeout_ms = 15000;
	w->max_in_flight = 64;
	w->max_per_host = 8;
	w->gone_ok = HERALD_SINK_HAS(host, struct herald_sink_host, abi) &&
		     HERALD_SINK_ABI_MINOR_OF(host->abi) >= 1;
	w->links = HERALD_SINK_HAS(host, struct herald_sink_host, abi) &&
		   HERALD_SINK_ABI_MINOR_OF(host->abi) >= 2;
	rc = sinkutil_set_options(options, w, host, opts, n_opts, err, errlen);
	if (!rc)
		rc = check_required(w, err, errlen);
	if (!rc)
		rc = set_default(&w->user_agent, "herald-webpush/1", err, errlen);
	if (!rc)
		rc = set_default(&w->app, "herald", err, errlen);
	if (!rc)
		rc = vapid_load(w->vapid_file, &w->vapid, err, errlen);
	if (!rc && !(w->subs = calloc(SUBCACHE_SLOTS, sizeof *w->subs))) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
	}
	if (!rc) {
		struct notice_opts o = {.app = w->app, .icon = w->icon, .links = w->links};
		rc = sealer_start(&o, &w->sealer, err, errlen);
	}
	if (!rc) {
		struct httpbatch_conf hc = {
		    .connect_timeout_ms = w->connect_timeout_ms, .timeout_ms = w->timeout_ms,
		    .max_in_flight = w->max_in_flight, .max_per_host = w->max_per_host,
		    .user_agent = w->user_agent, .ca_file = w->ca_file, .allow = &w->allow};
		rc = httpbatch_open(&hc, &w->http, err, errlen);
	}
	if (rc) {
		webpush_shutdown(w);
		return rc;
	}
	sinkutil_log(host, HERALD_SINK_LOG_INFO,
		     "webpush: VAPID public key %s, ttl %lu s, urgency %s, %zu allowed network(s)",
		     vapid_public_b64(w->vapid), w->ttl, urgency_names[w->urgency], w->allow.n);
	*instance = w;
	return 0;
}

static int webpush_validate(void *instance, const char *address, char *err, size_t errlen)
{
	struct pushsub *sub = malloc(sizeof *sub);
	int rc;

	(void)instance;
	if (!sub) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = pushsub_parse(address, sub, err, errlen) ? -EINVAL : 0;
	free(sub);
	return rc;
}

/* SIGHUP: the key file again; a bad one leaves the old key in use. */
static int webpush_reopen(void *instance)
{
	struct webpush_sink *w = instance;
	struct vapid *v = NULL;
	char err[256];

	if (vapid_load(w->vapid_file, &v, err, sizeof err)) {
		sinkutil_log(w->host, HERALD_SINK_LOG_ERROR, "reopen: %s; keeping the old key", err);
		return -EINVAL;
	}
	vapid_free(w->vapid);
	w->vapid = v;
	sinkutil_log(w->host, HERALD_SINK_LOG_INFO, "reopen: VAPID public key %s",
		     vapid_public_b64(w->vapid));
	return 0;
}

/* ---- one request ---- */

/* The item's subscription into *out, from the cache or parsed (and then
 * cached). 0, or -1 with err set. */
static int subscription(struct webpush_sink *w, const char *address, struct pushsub *out,
			char *err, size_t errlen)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	struct subslot *slot;
	char *copy;

	for (const unsigned char *p = (const unsigned char *)address; *p; p++)
		h = (h ^ *p) * 16777619u;
	slot = &w->subs[h % SUBCACHE_SLOTS];
	if (slot->address && !strcmp(slot->address, address)) {
		*out = slot->sub;
		return 0;
	}
	if (pushsub_parse(address, out, err, errlen))
		return -1;
	if ((copy = strdup(address))) { /* no room to cache it is no error */
		free(slot->address);
		slot->address = copy;
		slot->sub = *out;
	}
	return 0;
}

static int add_header(struct curl_slist **l, const char *name, const char *value)
{
	char line[1200];
	struct curl_slist *n;

	snprintf(line, sizeof line, "%s: %s", name, value);
	n = curl_slist_append(*l, line);
	if (!n)
		return -1;
	*l = n;
	return 0;
}

/*
 * RFC 8030 5.4: at most 32 characters of the base64url alphabet. The item's
 * id (32 hex digits from the host) is used as it is; anything else is
 * hashed. For "subscription", the first matching subscription's id, so a
 * newer notice of the same subscription replaces one still undelivered.
 */
static int topic_of(const struct push *x, char out[33])
{
	const char *key = x->it->id;
	char sub[40];
	unsigned char md[32];
	char b64[48];

	if (x->w->topic == TOPIC_SUBSCRIPTION) {
		const struct herald_notification *n = x->it->notes[0];
		snprintf(sub, sizeof sub, "sub:%llu",
			 n->n_subscriptions ? (unsigned long long)n->subscriptions[0] : 0ULL);
		key = sub;
	}
	size_t n = strlen(key);
	if (n && n <= 32 &&
	    strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n) {
		memcpy(out, key, n);
		out[n] = '\0';
		return 0;
	}
	if (!EVP_Digest(key, n, md, NULL, EVP_sha256(), NULL) ||
	    !b64url_encode(md, sizeof md, b64, sizeof b64))
		return -1;
	memcpy(out, b64, 32); /* 43 characters: the first 32 */
	out[32] = '\0';
	return 0;
}

static int build_headers(struct push *x, const char *auth)
{
	static const char *const urgency[] = {"very-low", "low", "normal", "high"};
	char ttl[24], topic[33];
	struct curl_slist **h = &x->headers;

	snprintf(ttl, sizeof ttl, "%lu", x->w->ttl);
	if (add_header(h, "Content-Type", "application/octet-stream") ||
	    add_header(h, "Content-Encoding", "aes128gcm") || add_header(h, "TTL", ttl) ||
	    add_header(h, "Urgency", urgency[x->w->urgency]) ||
	    add_header(h, "Authorization", auth) ||
	    add_header(h, "Expect", "")) /* no 100-continue round trip */
		return -1;
	if (x->w->topic != TOPIC_NONE && (topic_of(x, topic) || add_header(h, "Topic", topic)))
		return -1;
	return 0;
}

/* Build the request for one item (its subscription known, its message
 * sealed by the time sealer_take returns); 0 when it is ready to go, else
 * -1 with its result filled. */
static int prepare(struct push *x, int64_t now)
{
	const char *auth;
	char err[200];

	curl_slist_free_all(x->headers);
	x->headers = NULL;
	if (sealer_take(x->w->sealer, x->job)) {
		sinkutil_result(x->r, HERALD_SINK_REJECTED, "%s", x->job->err);
		return -1;
	}
	x->req.body = (const char *)x->job->body;
	x->req.body_len = x->job->body_len;
	auth = vapid_authorization(x->w->vapid, x->sub.origin, x->w->subject, now, err, sizeof err);
	if (!auth || build_headers(x, auth)) {
		sinkutil_result(x->r, HERALD_SINK_RETRY, "%s", auth ? "out of memory" : err);
		return -1;
	}
	x->req.headers = x->headers;
	return 0;
}

/* Its subscription, and its job for the sealer: 0, or -1 with its result
 * filled (the job's `it` stays NULL: not sealed, not sent). */
static int resolve(struct push *x)
{
	char err[200];

	if (!x->it->address || subscription(x->w, x->it->address, &x->sub, err, sizeof err)) {
		sinkutil_result(x->r, HERALD_SINK_REJECTED, "invalid address: %s",
		       x->it->address ? err : "none");
		return -1;
	}
	snprintf(x->where, sizeof x->where, "%s/...", x->sub.origin);
	x->req.url = x->sub.endpoint;
	*x->job = (struct seal_job){.it = x->it, .p256dh = x->sub.p256dh, .auth = x->sub.auth,
				    .budget = PLAIN_MAX};
	return 0;
}

/*
 * What an answer means (herald-webpush(7), OUTCOMES): webhook's reading
 * (2xx delivered; 429, 5xx retried with Retry-After; 410 gone) with three
 * changes. 404 is gone too: push services answer it for an expired
 * subscription. 400, 401, 403 are a VAPID or encryption problem of this
 * instance, not of the item: BROKEN, so nothing else is tried until the
 * probe. 413 gets one shorter try (the caller's), then is rejected.
 */
static void judge(struct push *x, time_t now)
{
	const struct httpreq *q = &x->req;
	long s = q->status;

	if (httpreq_judge_transport(q, x->r))
		return;
	outcome_from_status(s, q->phrase, q->text_body ? q->detail : NULL,
			    q->retry_after[0] ? q->retry_after : NULL, now, x->w->gone_ok, x->r);
	if (s == 404)
		x->r->outcome = x->w->gone_ok ? HERALD_SINK_GONE : HERALD_SINK_REJECTED;
	else if (s == 400 || s == 401 || s == 403) {
		x->r->outcome = HERALD_SINK_BROKEN;
		sinkutil_log(x->w->host, HERALD_SINK_LOG_WARNING,
			     "the push service at %s refused the request: %s", x->sub.origin,
			     x->r->reason);
	} else if (s == 413 && x->shortened) {
		size_t k = strlen(x->r->reason);
		snprintf(x->r->reason + k, sizeof x->r->reason - k, " (also with a %d-byte notice)",
			 PLAIN_SHORT);
	}
}

/* ---- one batch ---- */

/*
 * A 400, 401 or 403 says this instance's requests are refused (a VAPID key
 * the push service does not take, a clock far off): BROKEN. But when the
 * same push service accepted another message of the same batch, the
 * refusal is about that one subscription (RFC 8292 4.2: 403 when it was
 * made for another key, as after a key change), and pausing the instance
 * for it would hold everyone's notifications: a 403 is then GONE (the
 * person subscribes again), a 400 or 401 REJECTED.
 */
static void acquit(struct push *xs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct push *x = &xs[i];
		long s = x->req.status;
		bool sibling_ok = false;

		if (x->r->outcome != HERALD_SINK_BROKEN || (s != 400 && s != 401 && s != 403))
			continue;
		for (size_t k = 0; k < n && !sibling_ok; k++)
			sibling_ok = xs[k].r->outcome == HERALD_SINK_DELIVERED && xs[k].req.url &&
				     !strcmp(xs[k].sub.origin, x->sub.origin);
		if (!sibling_ok)
			continue;
		x->r->outcome = s == 403 && x->w->gone_ok ? HERALD_SINK_GONE : HERALD_SINK_REJECTED;
		size_t len = strlen(x->r->reason);
		snprintf(x->r->reason + len, sizeof x->r->reason - len, "%s",
			 s == 403 ? "; this subscription was made for another VAPID key"
				  : "; refused for this subscription only");
	}
}

/* One round's requests are built by httpbatch just before each is sent
 * (prepare as its feed), so the encryption of later ones overlaps the
 * network's work on the first. */
static int feed(void *ctx, struct httpreq *r)
{
	const int64_t *now = ctx;
	struct push *x = (struct push *)((char *)r - offsetof(struct push, req));

	x->sent = x->job->it && !prepare(x, *now);
	return x->sent ? 0 : -1;
}

/* Send reqs (n of them); judge what came back; the 413s are put in reqs
 * again, for a shorter notice: their count is returned. */
static size_t round_trip(struct webpush_sink *w, struct httpreq **reqs, size_t n, time_t now)
{
	int64_t now64 = (int64_t)now;
	size_t again = 0;

	if (httpbatch_run(w->http, reqs, n, feed, &now64)) /* what it left undone is judged RETRY */
		sinkutil_log(w->host, HERALD_SINK_LOG_WARNING, "libcurl's multi interface failed");
	for (size_t i = 0; i < n; i++) {
		struct push *x = (struct push *)((char *)reqs[i] - offsetof(struct push, req));
		if (!x->sent)
			continue; /* prepare() gave its result */
		if (x->req.done && x->req.status == 413 && !x->shortened) {
			/* sealed again, shorter, on this thread when it is sent */
			x->shortened = true;
			free(x->job->body);
			*x->job = (struct seal_job){.it = x->it, .p256dh = x->sub.p256dh,
						    .auth = x->sub.auth, .budget = PLAIN_SHORT};
			reqs[again++] = &x->req;
			continue;
		}
		judge(x, now);
	}
	return again;
}

/* For sinkutil_log_undelivered: item i's redacted destination. */
static const char *where_of(void *ctx, size_t i)
{
	const struct push *xs = ctx;

	return xs[i].where[0] ? xs[i].where : "(no endpoint)";
}

static void webpush_deliver(void *instance, const struct herald_sink_item *const *items, size_t n,
			    struct herald_sink_result *const *results)
{
	struct webpush_sink *w = instance;
	struct push *xs = calloc(n, sizeof *xs);
	struct seal_job *jobs = calloc(n, sizeof *jobs);
	struct httpreq **ready = calloc(n, sizeof *ready);
	time_t now = time(NULL);
	size_t again;

	if (!xs || !jobs || !ready) {
		for (size_t i = 0; i < n; i++)
			sinkutil_result(results[i], HERALD_SINK_RETRY, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		xs[i] = (struct push){.w = w, .it = items[i], .r = results[i], .job = &jobs[i]};
		ready[i] = &xs[i].req;
		(void)resolve(&xs[i]); /* a failure is the item's result; its job stays empty */
	}
	sealer_submit(w->sealer, jobs, n);
	again = round_trip(w, ready, n, now);
	sealer_finish(w->sealer);
	if (again)
		round_trip(w, ready, again, now); /* the 413s, shorter; never a third time */
	acquit(xs, n);
	sinkutil_log_undelivered(w->host, results, n, where_of, xs);
out:
	for (size_t i = 0; xs && jobs && i < n; i++) {
		httpbatch_release(w->http, &xs[i].req);
		curl_slist_free_all(xs[i].headers);
		free(jobs[i].body);
	}
	free(ready);
	free(jobs);
	free(xs);
}

static const struct herald_sink_ops webpush_ops = {
    .size = sizeof webpush_ops,
    .abi = HERALD_SINK_ABI_VERSION,
    .name = "webpush",
    .init = webpush_init,
    .validate = webpush_validate,
    .deliver = webpush_deliver,
    .flush = NULL,
    .shutdown = webpush_shutdown,
    .reopen = webpush_reopen,
};

SINKUTIL_ENTRY(webpush_ops)
