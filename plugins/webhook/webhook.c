/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * webhook: the bundled sink that POSTs each item as one JSON document to an
 * HTTP(S) URL with libcurl. herald-webhook(7) has the options, the address
 * syntax, the payload shapes, the signatures and the outcomes.
 *
 * One deliver() call sends its whole batch concurrently through the
 * instance's curl multi handle (at most max_in_flight transfers at once,
 * max_per_host connections per host), which lives as long as the instance:
 * its connection cache keeps connections alive across calls, and HTTP/2 is
 * used where TLS offers it. Every connection attempt passes the SSRF guard
 * (netguard.h) in curl's open-socket callback, after DNS, so a name that
 * resolves to a private address is refused however it got there.
 *
 * Not here: payload shapes (payload.c), signatures (sign.c), key files
 * (secrets.c), address syntax and redaction (addr.c), what an HTTP status
 * means (outcome.c), retries and backoff (the host's).
 *
 * Standalone: libc, libcurl, jansson, libcrypto and herald/sink.h only.
 */
#define _GNU_SOURCE
#include <herald/sink.h>

#include <curl/curl.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
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
	CURLM *multi; /* the connection cache, kept across deliver() calls */
	CURL **idle;  /* easy handles to reuse, n_idle of them */
	size_t n_idle;
	bool curl_inited;
};

/* One request in flight: its item, what it sends, what came back. */
struct xfer {
	struct webhook_sink *w;
	const struct herald_sink_item *it;
	struct herald_sink_result *r;
	CURL *easy;
	char *body;
	size_t body_len;
	struct curl_slist *headers;
	const char *url; /* in the item's address */
	char where[160]; /* the redacted URL, for logs and reasons */
	/* the answer (the last status line's, after any 1xx) */
	char phrase[80];
	char retry_after[64];
	bool text_body; /* Content-Type is text/plain or JSON: worth quoting */
	char detail[101];
	size_t detail_len;
	/* the SSRF guard's verdicts for this transfer's connection attempts */
	unsigned opened, refused;
	char refused_why[200];
	char errbuf[CURL_ERROR_SIZE];
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

static int check_readable(const char *k, const char *path, char *err, size_t errlen)
{
	if (!access(path, R_OK))
		return 0;
	snprintf(err, errlen, "%s: %s: %s", k, path, strerror(errno));
	return -EINVAL;
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
    SINKUTIL_PATH("ca_file", struct webhook_sink, ca_file, check_readable),
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
	for (size_t i = 0; i < w->n_idle; i++)
		curl_easy_cleanup(w->idle[i]);
	free(w->idle);
	if (w->multi)
		curl_multi_cleanup(w->multi);
	if (w->curl_inited)
		curl_global_cleanup();
	secrets_release(&w->keys);
	json_decref(w->tmpl);
	netguard_list_release(&w->allow);
	sinkutil_options_release(options, w);
	free(w);
}

static int setup_curl(struct webhook_sink *w, char *err, size_t errlen)
{
	CURLcode c = curl_global_init(CURL_GLOBAL_DEFAULT);

	if (c != CURLE_OK) {
		snprintf(err, errlen, "libcurl: %s", curl_easy_strerror(c));
		return -EIO;
	}
	w->curl_inited = true;
	w->multi = curl_multi_init();
	w->idle = calloc(w->max_in_flight, sizeof *w->idle);
	if (!w->multi || !w->idle) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	curl_multi_setopt(w->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)w->max_per_host);
	curl_multi_setopt(w->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)w->max_in_flight);
	curl_multi_setopt(w->multi, CURLMOPT_MAXCONNECTS, (long)w->max_in_flight);
	return 0;
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
	if (!rc)
		rc = setup_curl(w, err, errlen);
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

/* The guard, for every connection curl opens: refused addresses never get
 * a socket. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct xfer *x = clientp;

	(void)purpose;
	x->opened++;
	if (netguard_check(&x->w->allow, &a->addr, a->addrlen, x->refused_why,
			   sizeof x->refused_why)) {
		x->refused++;
		return CURL_SOCKET_BAD;
	}
	return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

static bool header_is(const char *line, size_t n, const char *name, const char **value,
		      size_t *vlen)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(line, name, k) || line[k] != ':')
		return false;
	*value = line + k + 1;
	*vlen = n - k - 1;
	while (*vlen && (**value == ' ' || **value == '\t'))
		(*value)++, (*vlen)--;
	while (*vlen && strchr("\r\n \t", (*value)[*vlen - 1]))
		(*vlen)--;
	return true;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *userdata)
{
	struct xfer *x = userdata;
	size_t n = size * nitems;
	const char *v;
	size_t vlen;

	if (n > 5 && !strncmp(line, "HTTP/", 5)) {
		/* a new status line (after a 1xx): forget the previous answer */
		const char *sp = memchr(line, ' ', n);
		const char *ph = sp && (size_t)(sp - line) + 5 < n ? sp + 5 : NULL;
		size_t plen = ph ? n - (size_t)(ph - line) : 0;
		while (plen && strchr("\r\n ", ph[plen - 1]))
			plen--;
		snprintf(x->phrase, sizeof x->phrase, "%.*s", (int)plen, ph ? ph : "");
		x->retry_after[0] = '\0';
		x->text_body = false;
		x->detail_len = 0;
		x->detail[0] = '\0';
	} else if (header_is(line, n, "retry-after", &v, &vlen)) {
		snprintf(x->retry_after, sizeof x->retry_after, "%.*s", (int)vlen, v);
	} else if (header_is(line, n, "content-type", &v, &vlen)) {
		x->text_body = (vlen >= 10 && !strncasecmp(v, "text/plain", 10)) ||
			       (vlen >= 16 && !strncasecmp(v, "application/json", 16));
	}
	return n;
}

/* The body: its start is kept for a 4xx's reason, the rest dropped. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct xfer *x = userdata;
	size_t n = size * nmemb, room = sizeof x->detail - 1 - x->detail_len;

	if (room) {
		size_t k = n < room ? n : room;
		memcpy(x->detail + x->detail_len, data, k);
		x->detail_len += k;
		x->detail[x->detail_len] = '\0';
	}
	return n;
}

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
		if (sign_v1(&k->whsec[i], x->it->id, now, x->body, x->body_len, sig))
			goto out;
		if (i)
			sb_str(&sigs, " ");
		sb_str(&sigs, sig);
	}
	if (sigs.failed || (sigs.p && add_header(&x->headers, "webhook-signature", sigs.p)))
		goto out;
	if (k->has_github && (sign_github(&k->github, x->body, x->body_len, gh) ||
			      add_header(&x->headers, "X-Hub-Signature-256", gh)))
		goto out;
	rc = 0;
out:
	sb_free(&sigs);
	return rc;
}

static CURL *take_easy(struct webhook_sink *w)
{
	if (w->n_idle) {
		CURL *e = w->idle[--w->n_idle];
		curl_easy_reset(e);
		return e;
	}
	return curl_easy_init();
}

static void give_back_easy(struct webhook_sink *w, CURL *e)
{
	if (w->n_idle < w->max_in_flight)
		w->idle[w->n_idle++] = e;
	else
		curl_easy_cleanup(e);
}

static int setup_easy(struct xfer *x, const char *url)
{
	const struct webhook_sink *w = x->w;
	CURL *e = x->easy;
	CURLcode c = CURLE_OK;

#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (c == CURLE_OK)                                                                 \
			c = curl_easy_setopt(e, opt, val);                                         \
	} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PRIVATE, x);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_PROXY, ""); /* never a proxy from the environment */
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
	SET(CURLOPT_OPENSOCKETDATA, x);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	/* over TLS, wait for a connection that may turn out to multiplex
	 * (ALPN h2) rather than open another at once; plain http is HTTP/1.1
	 * only, and must not wait for a busy connection */
	SET(CURLOPT_PIPEWAIT, strncasecmp(url, "https:", 6) ? 0L : 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)w->connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, (long)w->timeout_ms);
	SET(CURLOPT_USERAGENT, w->user_agent);
	SET(CURLOPT_HTTPHEADER, x->headers);
	SET(CURLOPT_POST, 1L);
	SET(CURLOPT_POSTFIELDS, x->body);
	SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)x->body_len);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, x);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, x);
	SET(CURLOPT_ERRORBUFFER, x->errbuf);
	if (w->ca_file)
		SET(CURLOPT_CAINFO, w->ca_file);
#undef SET
	return c == CURLE_OK ? 0 : -1;
}

static void result(struct herald_sink_result *r, enum herald_sink_outcome o, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void result(struct herald_sink_result *r, enum herald_sink_outcome o, const char *fmt, ...)
{
	va_list ap;

	r->outcome = o;
	r->retry_after = 0;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
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
		result(x->r, HERALD_SINK_REJECTED, "invalid address: %s",
		       it->address ? err : "none");
		return -1;
	}
	x->url = url;
	addr_redact(url, x->where, sizeof x->where);
	if (!id_ok(it->id) || !it->notes || it->n_notes == 0) {
		result(x->r, HERALD_SINK_REJECTED, "item without a usable id or notifications");
		return -1;
	}
	x->body = payload_build(f, w->tmpl, it, &x->body_len, err, sizeof err);
	if (!x->body) {
		result(x->r, strcmp(err, "out of memory") ? HERALD_SINK_REJECTED : HERALD_SINK_RETRY,
		       "%s", err);
		return -1;
	}
	x->easy = take_easy(w);
	if (!x->easy || build_headers(x, now) || setup_easy(x, url)) {
		result(x->r, HERALD_SINK_RETRY, "out of memory");
		return -1;
	}
	return 0;
}

/* curl's error text, unless it quotes more of the URL than the host. */
static const char *error_text(const struct xfer *x, CURLcode c)
{
	const char *url = NULL;

	if (!x->errbuf[0])
		return curl_easy_strerror(c);
	curl_easy_getinfo(x->easy, CURLINFO_EFFECTIVE_URL, &url);
	if (url && strstr(x->errbuf, url))
		return curl_easy_strerror(c);
	for (size_t i = 0; x->errbuf[i]; i++)
		if (x->errbuf[i] == '?' || x->errbuf[i] == '@')
			return curl_easy_strerror(c);
	return x->errbuf;
}

/* A transfer that got no HTTP answer. */
static void judge_error(struct xfer *x, CURLcode c)
{
	if (x->refused && x->refused == x->opened) {
		/* never better on a retry: only a config change helps */
		result(x->r, HERALD_SINK_REJECTED, "%s", x->refused_why);
		return;
	}
	switch (c) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		result(x->r, HERALD_SINK_REJECTED, "%s", curl_easy_strerror(c));
		return;
	case CURLE_OPERATION_TIMEDOUT:
		result(x->r, HERALD_SINK_RETRY, "timed out (%s)", error_text(x, c));
		return;
	default:
		result(x->r, HERALD_SINK_RETRY, "%s", error_text(x, c));
		return;
	}
}

static void judge(struct xfer *x, CURLcode c, time_t now)
{
	long status = 0;

	/* A final status that arrived before a transport error still decides:
	 * an HTTP/2 server may answer early and then reset the stream with
	 * NO_ERROR (RFC 9113 8.1), which libcurl 7.88 reports as an error. The
	 * server has spoken; sending again would only duplicate. */
	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	if (c != CURLE_OK && status < 200) {
		judge_error(x, c);
		return;
	}
	/* a server's words may echo the request: not when they repeat a token */
	if (addr_leaks(x->url, x->phrase))
		x->phrase[0] = '\0';
	outcome_from_status(status, x->phrase,
			    x->text_body && !addr_leaks(x->url, x->detail) ? x->detail : NULL,
			    x->retry_after[0] ? x->retry_after : NULL, now, x->w->gone_ok, x->r);
}

/* ---- one batch ---- */

/* Run the prepared transfers (ready[0..n)) with at most max_in_flight
 * added to the multi handle at a time. */
static void run(struct webhook_sink *w, struct xfer **ready, size_t n, time_t now)
{
	size_t next = 0, active = 0;
	CURLMsg *m;
	int left, running = 0;

	while (next < n || active) {
		bool progressed = false;
		while (next < n && active < w->max_in_flight) {
			struct xfer *x = ready[next++];
			if (curl_multi_add_handle(w->multi, x->easy) != CURLM_OK) {
				result(x->r, HERALD_SINK_RETRY, "out of memory");
				continue;
			}
			active++;
			progressed = true;
		}
		if (curl_multi_perform(w->multi, &running) != CURLM_OK)
			break;
		while ((m = curl_multi_info_read(w->multi, &left))) {
			struct xfer *x = NULL;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
			judge(x, m->data.result, now);
			curl_multi_remove_handle(w->multi, x->easy);
			active--;
			progressed = true;
		}
		/* After a transfer ends, perform again before polling: libcurl
		 * (7.88) starts a transfer queued for a free connection only in
		 * perform, and a poll first would sleep its whole timeout with
		 * the connection idle (bench/webhook found a 1 s stall per wave
		 * whenever a batch held more than max_per_host transfers). */
		if (active && running && !progressed &&
		    curl_multi_poll(w->multi, NULL, 0, 1000, NULL) != CURLM_OK)
			break;
	}
	/* only after a multi failure: what was not judged is retried (removing
	 * a handle that was never added is a no-op) */
	for (size_t i = 0; i < n; i++)
		if (ready[i]->r->outcome == HERALD_SINK_RETRY && !ready[i]->r->reason[0]) {
			curl_multi_remove_handle(w->multi, ready[i]->easy);
			result(ready[i]->r, HERALD_SINK_RETRY, "libcurl multi interface failed");
		}
}

/* One log line per batch for what was not delivered (not one per item). */
static void log_batch(const struct webhook_sink *w, struct xfer *xs, size_t n)
{
	size_t bad = 0, first = n;

	for (size_t i = 0; i < n; i++)
		if (xs[i].r->outcome != HERALD_SINK_DELIVERED) {
			bad++;
			first = first < n ? first : i;
		}
	if (!bad)
		return;
	sinkutil_log(w->host, HERALD_SINK_LOG_INFO, "%zu of %zu not delivered; the first: %s: %s (%s)",
		     bad, n, xs[first].where[0] ? xs[first].where : "(no URL)",
		     xs[first].r->reason, herald_sink_outcome_name(xs[first].r->outcome));
}

static void webhook_deliver(void *instance, const struct herald_sink_item *const *items, size_t n,
			    struct herald_sink_result *const *results)
{
	struct webhook_sink *w = instance;
	struct xfer *xs = calloc(n, sizeof *xs);
	struct xfer **ready = calloc(n, sizeof *ready);
	time_t now = time(NULL);
	size_t n_ready = 0;

	if (!xs || !ready) {
		for (size_t i = 0; i < n; i++)
			result(results[i], HERALD_SINK_RETRY, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		xs[i] = (struct xfer){.w = w, .it = items[i], .r = results[i]};
		/* RETRY with no reason marks "not judged yet" for run() */
		results[i]->outcome = HERALD_SINK_RETRY;
		results[i]->reason[0] = '\0';
		if (!prepare(w, &xs[i], (int64_t)now))
			ready[n_ready++] = &xs[i];
	}
	run(w, ready, n_ready, now);
	log_batch(w, xs, n);
out:
	for (size_t i = 0; xs && i < n; i++) {
		if (xs[i].easy)
			give_back_easy(w, xs[i].easy);
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
