/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * webhook: the bundled sink that POSTs each item as one JSON document to an
 * HTTP(S) URL with libcurl. herald-webhook(7) has the options, the address
 * syntax, the payload shapes, the signatures and the outcomes.
 *
 * One deliver() call sends its whole batch concurrently through the
 * instance's httpbatch (plugins/common: a kept curl multi handle, at most
 * max_in_flight transfers at once, max_per_host connections per host,
 * keep-alive and HTTP/2, the SSRF guard after DNS on every connection).
 *
 * Not here: payload shapes (payload.c), signatures (sign.c), key files
 * (secrets.c), address syntax and redaction (addr.c), what an HTTP status
 * means (outcome.c), the transfers (httpbatch.c), retries and backoff (the
 * host's).
 *
 * Standalone: libc, libcurl, jansson, libcrypto and herald/sink.h only.
 */
#define _GNU_SOURCE
#include <herald/sink.h>

#include <curl/curl.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "addr.h"
#include "httpbatch.h"
#include "netguard.h"
#include "outcome.h"
#include "payload.h"
#include "secrets.h"
#include "sign.h"
#include "sinkutil.h"

#define MAX_TEMPLATE 65536

struct webhook_sink {
	const struct herald_sink_host *host;
	enum payload_format format;
	char *template_file, *secret_file, *github_file; /* resolved paths, or NULL */
	char *ca_file;					   /* CA bundle instead of the system's */
	json_t *tmpl;				      /* parsed template_file, or NULL */
	struct secrets keys;
	struct netguard_list allow;
	char *user_agent;
	unsigned long connect_timeout_ms, timeout_ms;
	unsigned long max_in_flight, max_per_host;
	bool gone_ok; /* the host knows HERALD_SINK_GONE (ABI >= 1.1) */
	struct httpbatch *http; /* the connection cache, kept across deliver() calls */
};

/* One item's request: what it sends (req's url, body and headers point
 * here and into the item) and what came back (in req). */
struct xfer {
	struct webhook_sink *w;
	const struct herald_sink_item *it;
	struct herald_sink_result *r;
	struct httpreq req;
	char *body; /* owned */
	struct curl_slist *headers; /* owned */
	char where[160]; /* the redacted URL, for logs and reasons */
	bool sent;       /* prepared and handed to httpbatch_run */
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

static int check_user_agent(const char *k, const char *v, char *err, size_t errlen)
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

/* payload.c knows the format names. */
static int set_format(void *obj, const struct herald_sink_option *o, char *err, size_t errlen)
{
	struct webhook_sink *w = obj;

	if (!payload_format_parse(o->value, &w->format))
		return 0;
	snprintf(err, errlen,
		 "format: '%s' is not generic, slack, mattermost, discord, matrix, "
		 "teams, zulip or custom (line %u)",
		 o->value, o->line);
	return -EINVAL;
}

static int set_allow(void *obj, const struct herald_sink_option *o, char *err, size_t errlen)
{
	struct webhook_sink *w = obj;
	char why[160];

	if (!netguard_parse_list(o->value, &w->allow, why, sizeof why))
		return 0;
	snprintf(err, errlen, "allow_networks: %s (line %u)", why, o->line);
	return -EINVAL;
}

static const struct sinkutil_option options[] = {
    SINKUTIL_CUSTOM("format", set_format),
    SINKUTIL_PATH("template_file", struct webhook_sink, template_file, NULL),
    SINKUTIL_PATH("secret_file", struct webhook_sink, secret_file, NULL),
    SINKUTIL_PATH("github_secret_file", struct webhook_sink, github_file, NULL),
    SINKUTIL_PATH("ca_file", struct webhook_sink, ca_file, sinkutil_check_readable),
    SINKUTIL_UINT("connect_timeout_ms", struct webhook_sink, connect_timeout_ms, 100, 600000),
    SINKUTIL_UINT("timeout_ms", struct webhook_sink, timeout_ms, 100, 600000),
    SINKUTIL_UINT("max_in_flight", struct webhook_sink, max_in_flight, 1, 10000),
    SINKUTIL_UINT("max_per_host", struct webhook_sink, max_per_host, 1, 10000),
    SINKUTIL_CUSTOM("allow_networks", set_allow),
    SINKUTIL_STRING("user_agent", struct webhook_sink, user_agent, check_user_agent),
    SINKUTIL_END,
};

/* The template file's JSON, checked, into *out. */
static int load_template(const char *path, json_t **out, char *err, size_t errlen)
{
	json_error_t je;
	char why[200];
	json_t *probe = json_load_file(path, JSON_DECODE_ANY, &je);
	char *text = probe ? json_dumps(probe, JSON_ENCODE_ANY) : NULL;
	int rc = -1;

	if (!probe)
		snprintf(err, errlen, "template_file: %s: %s (line %d)", path, je.text, je.line);
	else if (!text)
		snprintf(err, errlen, "out of memory");
	else if (strlen(text) > MAX_TEMPLATE)
		snprintf(err, errlen, "template_file: %s: longer than %d bytes", path, MAX_TEMPLATE);
	else if (payload_template_parse(text, out, why, sizeof why))
		snprintf(err, errlen, "template_file: %s: %s", path, why);
	else
		rc = 0;
	free(text);
	json_decref(probe);
	return rc;
}

/* The files (secrets, template): at init, and again on reopen. On failure
 * the instance keeps what it had. */
static int load_files(struct webhook_sink *w, char *err, size_t errlen)
{
	struct secrets keys = {0};
	const char *warning = NULL;
	json_t *tmpl = NULL;

	if (w->template_file && load_template(w->template_file, &tmpl, err, errlen))
		return -EINVAL;
	if ((w->secret_file || w->github_file) &&
	    secrets_load(w->secret_file, w->github_file, &keys, &warning, err, errlen)) {
		json_decref(tmpl);
		return -EINVAL;
	}
	if (warning)
		sinkutil_log(w->host, HERALD_SINK_LOG_WARNING, "a secret file %s", warning);
	json_decref(w->tmpl);
	w->tmpl = tmpl;
	secrets_release(&w->keys);
	w->keys = keys;
	return 0;
}

/* ---- init, validate, shutdown ---- */

static void webhook_shutdown(void *instance)
{
	struct webhook_sink *w = instance;

	if (!w)
		return;
	httpbatch_close(w->http);
	secrets_release(&w->keys);
	json_decref(w->tmpl);
	netguard_list_release(&w->allow);
	sinkutil_options_release(options, w);
	free(w);
}

static int webhook_init(const struct herald_sink_host *host, const struct herald_sink_option *opts,
			size_t n_opts, void **instance, char *err, size_t errlen)
{
	struct webhook_sink *w = calloc(1, sizeof *w);
	int rc;

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	w->host = host;
	w->format = PAYLOAD_GENERIC;
	w->connect_timeout_ms = 5000;
	w->timeout_ms = 15000;
	w->max_in_flight = 64;
	w->max_per_host = 8;
	w->gone_ok = HERALD_SINK_HAS(host, struct herald_sink_host, abi) &&
		     HERALD_SINK_ABI_MINOR_OF(host->abi) >= 1;
	rc = sinkutil_set_options(options, w, host, opts, n_opts, err, errlen);
	if (!rc && !w->user_agent)
		rc = set_str(&w->user_agent, "herald-webhook/1", err, errlen);
	if (!rc && w->format == PAYLOAD_CUSTOM && !w->template_file) {
		snprintf(err, errlen, "format = custom needs template_file");
		rc = -EINVAL;
	}
	if (!rc)
		rc = load_files(w, err, errlen);
	if (!rc) {
		struct httpbatch_conf hc = {
		    .connect_timeout_ms = w->connect_timeout_ms, .timeout_ms = w->timeout_ms,
		    .max_in_flight = w->max_in_flight, .max_per_host = w->max_per_host,
		    .user_agent = w->user_agent, .ca_file = w->ca_file, .allow = &w->allow};
		rc = httpbatch_open(&hc, &w->http, err, errlen);
	}
	if (rc)
		goto fail;
	sinkutil_log(host, HERALD_SINK_LOG_INFO,
		     "webhook: format %s, %zu signing secret(s)%s, %zu allowed network(s)",
		     payload_format_name(w->format), w->keys.n_whsec,
		     w->keys.has_github ? " and a GitHub secret" : "", w->allow.n);
	*instance = w;
	return 0;
fail:
	webhook_shutdown(w);
	return rc;
}

static int webhook_validate(void *instance, const char *address, char *err, size_t errlen)
{
	struct webhook_sink *w = instance;
	enum payload_format f;
	const char *url;
	CURLU *u;
	char *scheme = NULL;
	int rc = -EINVAL;

	if (addr_parse(address, w->format, &f, &url, err, errlen))
		return -EINVAL;
	if (f == PAYLOAD_CUSTOM && !w->tmpl) {
		snprintf(err, errlen, "format custom: this sink has no template_file");
		return -EINVAL;
	}
	/* and libcurl must read it the same way */
	u = curl_url();
	if (!u) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https")))
		snprintf(err, errlen, "libcurl cannot use this URL");
	else
		rc = 0;
	curl_free(scheme);
	curl_url_cleanup(u);
	return rc;
}

static int webhook_reopen(void *instance)
{
	struct webhook_sink *w = instance;
	char err[256];

	if (load_files(w, err, sizeof err)) {
		sinkutil_log(w->host, HERALD_SINK_LOG_ERROR, "reopen: %s; keeping the old ones", err);
		return -EINVAL;
	}
	sinkutil_log(w->host, HERALD_SINK_LOG_INFO, "reopen: %zu signing secret(s) loaded",
		     w->keys.n_whsec);
	return 0;
}

/* ---- one transfer ---- */

static int add_header(struct curl_slist **l, const char *name, const char *value)
{
	char line[1024];
	struct curl_slist *n;

	snprintf(line, sizeof line, "%s: %s", name, value);
	n = curl_slist_append(*l, line);
	if (!n)
		return -1;
	*l = n;
	return 0;
}

/* Content-Type, the webhook-* headers and the signatures. */
static int build_headers(struct xfer *x, int64_t now)
{
	const struct secrets *k = &x->w->keys;
	char ts[24], sig[SIGN_V1_LEN], gh[SIGN_GITHUB_LEN];
	struct sbuf sigs = {0};
	int rc = -1;

	snprintf(ts, sizeof ts, "%lld", (long long)now);
	if (add_header(&x->headers, "Content-Type", "application/json") ||
	    add_header(&x->headers, "Expect", "") || /* no 100-continue round trip */
	    add_header(&x->headers, "webhook-id", x->it->id) ||
	    add_header(&x->headers, "webhook-timestamp", ts))
		goto out;
	for (size_t i = 0; i < k->n_whsec; i++) {
		if (sign_v1(&k->whsec[i], x->it->id, now, x->body, x->req.body_len, sig))
			goto out;
		if (i)
			sb_str(&sigs, " ");
		sb_str(&sigs, sig);
	}
	if (sigs.failed || (sigs.p && add_header(&x->headers, "webhook-signature", sigs.p)))
		goto out;
	if (k->has_github && (sign_github(&k->github, x->body, x->req.body_len, gh) ||
			      add_header(&x->headers, "X-Hub-Signature-256", gh)))
		goto out;
	rc = 0;
out:
	sb_free(&sigs);
	return rc;
}

/* The id goes into a header and the signed string: 1..128 of [A-Za-z0-9_.-]
 * (the host's are 32 hex digits). */
static bool id_ok(const char *id)
{
	size_t n = id ? strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
		      : 0;

	return n > 0 && n <= 128 && id[n] == '\0';
}

/* Build the request for one item; 0 when it is ready to go, else -1 with
 * its result filled. */
static int prepare(struct webhook_sink *w, struct xfer *x, int64_t now)
{
	const struct herald_sink_item *it = x->it;
	enum payload_format f;
	const char *url;
	char err[200];

	if (!it->address || addr_parse(it->address, w->format, &f, &url, err, sizeof err)) {
		sinkutil_result(x->r, HERALD_SINK_REJECTED, "invalid address: %s",
		       it->address ? err : "none");
		return -1;
	}
	x->req.url = url;
	addr_redact(url, x->where, sizeof x->where);
	if (!id_ok(it->id) || !it->notes || it->n_notes == 0) {
		sinkutil_result(x->r, HERALD_SINK_REJECTED, "item without a usable id or notifications");
		return -1;
	}
	x->body = payload_build(f, w->tmpl, it, &x->req.body_len, err, sizeof err);
	if (!x->body) {
		sinkutil_result(x->r, strcmp(err, "out of memory") ? HERALD_SINK_REJECTED : HERALD_SINK_RETRY,
		       "%s", err);
		return -1;
	}
	x->req.body = x->body;
	if (build_headers(x, now)) {
		sinkutil_result(x->r, HERALD_SINK_RETRY, "out of memory");
		return -1;
	}
	x->req.headers = x->headers;
	return 0;
}

static void judge(struct xfer *x, time_t now)
{
	const struct httpreq *q = &x->req;
	char phrase[sizeof q->phrase];

	if (httpreq_judge_transport(q, x->r))
		return;
	/* a server's words may echo the request: not when they repeat a token */
	snprintf(phrase, sizeof phrase, "%s", addr_leaks(q->url, q->phrase) ? "" : q->phrase);
	outcome_from_status(q->status, phrase,
			    q->text_body && !addr_leaks(q->url, q->detail) ? q->detail : NULL,
			    q->retry_after[0] ? q->retry_after : NULL, now, x->w->gone_ok, x->r);
}

/* ---- one batch ---- */

/* For sinkutil_log_undelivered: item i's redacted destination. */
static const char *where_of(void *ctx, size_t i)
{
	const struct xfer *xs = ctx;

	return xs[i].where[0] ? xs[i].where : "(no URL)";
}

static void webhook_deliver(void *instance, const struct herald_sink_item *const *items, size_t n,
			    struct herald_sink_result *const *results)
{
	struct webhook_sink *w = instance;
	struct xfer *xs = calloc(n, sizeof *xs);
	struct httpreq **ready = calloc(n, sizeof *ready);
	time_t now = time(NULL);
	size_t n_ready = 0;

	if (!xs || !ready) {
		for (size_t i = 0; i < n; i++)
			sinkutil_result(results[i], HERALD_SINK_RETRY, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		xs[i] = (struct xfer){.w = w, .it = items[i], .r = results[i]};
		if ((xs[i].sent = !prepare(w, &xs[i], (int64_t)now)))
			ready[n_ready++] = &xs[i].req;
	}
	if (httpbatch_run(w->http, ready, n_ready, NULL, NULL)) /* what it left undone is judged RETRY */
		sinkutil_log(w->host, HERALD_SINK_LOG_WARNING, "libcurl's multi interface failed");
	for (size_t i = 0; i < n; i++)
		if (xs[i].sent)
			judge(&xs[i], now);
	sinkutil_log_undelivered(w->host, results, n, where_of, xs);
out:
	for (size_t i = 0; xs && i < n; i++) {
		httpbatch_release(w->http, &xs[i].req);
		curl_slist_free_all(xs[i].headers);
		free(xs[i].body);
	}
	free(ready);
	free(xs);
}

static const struct herald_sink_ops webhook_ops = {
    .size = sizeof webhook_ops,
    .abi = HERALD_SINK_ABI_VERSION,
    .name = "webhook",
    .init = webhook_init,
    .validate = webhook_validate,
    .deliver = webhook_deliver,
    .flush = NULL,
    .shutdown = webhook_shutdown,
    .reopen = webhook_reopen,
};

SINKUTIL_ENTRY(webhook_ops)
