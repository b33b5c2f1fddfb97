/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* httpbatch: concurrent POSTs over a kept curl multi handle (see httpbatch.h). */
#define _GNU_SOURCE
#include "httpbatch.h"
#include "sinkutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

struct httpbatch {
	struct httpbatch_conf conf;
	CURLM *multi;
	CURL **idle; /* easy handles to reuse, n_idle of them */
	size_t n_idle;
	bool curl_inited;
};

int httpbatch_open(const struct httpbatch_conf *conf, struct httpbatch **out, char *err,
		   size_t errlen)
{
	struct httpbatch *b = calloc(1, sizeof *b);
	CURLcode c;

	if (!b) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	b->conf = *conf;
	c = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (c != CURLE_OK) {
		snprintf(err, errlen, "libcurl: %s", curl_easy_strerror(c));
		free(b);
		return -EIO;
	}
	b->curl_inited = true;
	b->multi = curl_multi_init();
	b->idle = calloc(conf->max_in_flight, sizeof *b->idle);
	if (!b->multi || !b->idle) {
		snprintf(err, errlen, "out of memory");
		httpbatch_close(b);
		return -ENOMEM;
	}
	curl_multi_setopt(b->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)conf->max_per_host);
	curl_multi_setopt(b->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)conf->max_in_flight);
	curl_multi_setopt(b->multi, CURLMOPT_MAXCONNECTS, (long)conf->max_in_flight);
	*out = b;
	return 0;
}

void httpbatch_close(struct httpbatch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n_idle; i++)
		curl_easy_cleanup(b->idle[i]);
	free(b->idle);
	if (b->multi)
		curl_multi_cleanup(b->multi);
	if (b->curl_inited)
		curl_global_cleanup();
	free(b);
}

/* ---- one transfer ---- */

/* The guard, for every connection curl opens: refused addresses never get
 * a socket. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
	struct httpreq *r = clientp;

	(void)purpose;
	r->opened++;
	if (netguard_check(r->allow, &a->addr, a->addrlen, r->refused_why, sizeof r->refused_why)) {
		r->refused++;
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
	struct httpreq *r = userdata;
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
		snprintf(r->phrase, sizeof r->phrase, "%.*s", (int)plen, ph ? ph : "");
		r->retry_after[0] = '\0';
		r->text_body = false;
		r->detail_len = 0;
		r->detail[0] = '\0';
	} else if (header_is(line, n, "retry-after", &v, &vlen)) {
		snprintf(r->retry_after, sizeof r->retry_after, "%.*s", (int)vlen, v);
	} else if (header_is(line, n, "content-type", &v, &vlen)) {
		r->text_body = (vlen >= 10 && !strncasecmp(v, "text/plain", 10)) ||
			       (vlen >= 16 && !strncasecmp(v, "application/json", 16));
	}
	return n;
}

/* The body: its start is kept for a 4xx's reason, the rest dropped. */
static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
	struct httpreq *r = userdata;
	size_t n = size * nmemb, room = sizeof r->detail - 1 - r->detail_len;

	if (room) {
		size_t k = n < room ? n : room;
		memcpy(r->detail + r->detail_len, data, k);
		r->detail_len += k;
		r->detail[r->detail_len] = '\0';
	}
	return n;
}

static CURL *take_easy(struct httpbatch *b)
{
	if (b->n_idle) {
		CURL *e = b->idle[--b->n_idle];
		curl_easy_reset(e);
		return e;
	}
	return curl_easy_init();
}

void httpbatch_release(struct httpbatch *b, struct httpreq *r)
{
	if (!r->easy)
		return;
	if (b->n_idle < b->conf.max_in_flight)
		b->idle[b->n_idle++] = r->easy;
	else
		curl_easy_cleanup(r->easy);
	r->easy = NULL;
}

static int setup_easy(const struct httpbatch *b, struct httpreq *r)
{
	CURL *e = r->easy;
	CURLcode c = CURLE_OK;

#define SET(opt, val)                                                                              \
	do {                                                                                       \
		if (c == CURLE_OK)                                                                 \
			c = curl_easy_setopt(e, opt, val);                                         \
	} while (0)
	SET(CURLOPT_URL, r->url);
	SET(CURLOPT_PRIVATE, r);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_PROXY, ""); /* never a proxy from the environment */
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_OPENSOCKETFUNCTION, open_socket);
	SET(CURLOPT_OPENSOCKETDATA, r);
	SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	/* over TLS, wait for a connection that may turn out to multiplex
	 * (ALPN h2) rather than open another at once; plain http is HTTP/1.1
	 * only, and must not wait for a busy connection */
	SET(CURLOPT_PIPEWAIT, strncasecmp(r->url, "https:", 6) ? 0L : 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)b->conf.connect_timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, (long)b->conf.timeout_ms);
	SET(CURLOPT_USERAGENT, b->conf.user_agent);
	SET(CURLOPT_HTTPHEADER, r->headers);
	SET(CURLOPT_POST, 1L);
	SET(CURLOPT_POSTFIELDS, r->body);
	SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, r);
	SET(CURLOPT_WRITEFUNCTION, on_body);
	SET(CURLOPT_WRITEDATA, r);
	SET(CURLOPT_ERRORBUFFER, r->errbuf);
	if (b->conf.ca_file)
		SET(CURLOPT_CAINFO, b->conf.ca_file);
#undef SET
	return c == CURLE_OK ? 0 : -1;
}

/* Clear the answer of a request about to be (re)sent. */
static void reset_answer(struct httpreq *r)
{
	r->code = CURLE_OK;
	r->status = 0;
	r->phrase[0] = r->retry_after[0] = r->detail[0] = r->refused_why[0] = r->errbuf[0] = '\0';
	r->text_body = false;
	r->detail_len = 0;
	r->opened = r->refused = 0;
	r->done = false;
}

static void finish(struct httpbatch *b, struct httpreq *r, CURLcode c)
{
	r->code = c;
	curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	curl_multi_remove_handle(b->multi, r->easy);
	r->done = true;
}

/* With a feed, how many requests are built and added between two calls to
 * curl_multi_perform: small enough that the first go out at once, large
 * enough that perform's syscalls are shared. */
#define FEED_BURST 8

int httpbatch_run(struct httpbatch *b, struct httpreq *const *reqs, size_t n,
		  httpbatch_feed_fn feed, void *ctx)
{
	size_t next = 0, active = 0;
	CURLMsg *m;
	int left, running = 0, rc = 0;

	for (size_t i = 0; i < n; i++)
		reset_answer(reqs[i]);
	while (next < n || active) {
		bool progressed = false;
		size_t fed = 0;
		while (next < n && active < b->conf.max_in_flight && (!feed || fed < FEED_BURST)) {
			struct httpreq *r = reqs[next++];
			if (feed && (fed++, feed(ctx, r)))
				continue;
			r->allow = b->conf.allow;
			if (r->easy)
				curl_easy_reset(r->easy); /* sent before: a 413's shorter retry */
			else
				r->easy = take_easy(b);
			if (!r->easy || setup_easy(b, r) ||
			    curl_multi_add_handle(b->multi, r->easy) != CURLM_OK) {
				rc = -ENOMEM;
				continue;
			}
			active++;
			progressed = true;
		}
		if (curl_multi_perform(b->multi, &running) != CURLM_OK) {
			rc = -EIO;
			break;
		}
		while ((m = curl_multi_info_read(b->multi, &left))) {
			struct httpreq *r = NULL;
			if (m->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&r);
			finish(b, r, m->data.result);
			active--;
			progressed = true;
		}
		/* After a transfer ends, perform again before polling: libcurl
		 * (7.88) starts a transfer queued for a free connection only in
		 * perform, and a poll first would sleep its whole timeout with
		 * the connection idle (bench/webhook found a 1 s stall per wave
		 * whenever a batch held more than max_per_host transfers). */
		if (active && running && !progressed &&
		    curl_multi_poll(b->multi, NULL, 0, 1000, NULL) != CURLM_OK) {
			rc = -EIO;
			break;
		}
	}
	/* only after a multi failure: removing a handle never added is a no-op */
	for (size_t i = 0; rc && i < n; i++)
		if (!reqs[i]->done && reqs[i]->easy)
			curl_multi_remove_handle(b->multi, reqs[i]->easy);
	return rc;
}

/* ---- judging an answer that did not come ---- */

/* curl's error text, unless it quotes more of the URL than the host. */
static const char *error_text(const struct httpreq *r)
{
	if (!r->errbuf[0] || strstr(r->errbuf, r->url))
		return curl_easy_strerror(r->code);
	for (size_t i = 0; r->errbuf[i]; i++)
		if (r->errbuf[i] == '?' || r->errbuf[i] == '@')
			return curl_easy_strerror(r->code);
	return r->errbuf;
}

bool httpreq_judge_transport(const struct httpreq *r, struct herald_sink_result *res)
{
	/* A final status that arrived before a transport error still decides:
	 * an HTTP/2 server may answer early and then reset the stream with
	 * NO_ERROR (RFC 9113 8.1), which libcurl 7.88 reports as an error. The
	 * server has spoken; sending again would only duplicate. */
	if (r->done && (r->code == CURLE_OK || r->status >= 200))
		return false;
	if (!r->done) {
		sinkutil_result(res, HERALD_SINK_RETRY, "libcurl multi interface failed");
		return true;
	}
	if (r->refused && r->refused == r->opened) {
		/* never better on a retry: only a config change helps */
		sinkutil_result(res, HERALD_SINK_REJECTED, "%s", r->refused_why);
		return true;
	}
	switch (r->code) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		sinkutil_result(res, HERALD_SINK_REJECTED, "%s", curl_easy_strerror(r->code));
		break;
	case CURLE_OPERATION_TIMEDOUT:
		sinkutil_result(res, HERALD_SINK_RETRY, "timed out (%s)", error_text(r));
		break;
	default:
		sinkutil_result(res, HERALD_SINK_RETRY, "%s", error_text(r));
		break;
	}
	return true;
}
