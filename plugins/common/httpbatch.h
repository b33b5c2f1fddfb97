/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * httpbatch: what the HTTP sinks (webhook, webpush) share to send one
 * deliver() call's items as concurrent POSTs with libcurl: a multi handle
 * kept for the instance's life (its connection cache gives keep-alive
 * across calls; HTTP/2 where TLS offers it, multiplexed), reusable easy
 * handles, the SSRF guard (netguard.h) in curl's open-socket callback, so
 * it runs after DNS for every connection attempt, and what came back (the
 * status, its phrase, Retry-After, the start of a text body).
 *
 * Not here: what a request carries (the sink builds its body and headers),
 * what an answer means (outcome.h and the sink), retries (the host's).
 *
 * Ownership: an httpbatch owns its curl handles; an httpreq borrows its url,
 * body and headers from the sink, which frees them after httpbatch_run.
 * Threads: one httpbatch is used by one thread at a time (the host
 * serialises an instance's calls). Compiled into each HTTP sink (libcurl).
 */
#ifndef HERALD_SINK_HTTPBATCH_H
#define HERALD_SINK_HTTPBATCH_H

#include <curl/curl.h>
#include <herald/sink.h>
#include <stdbool.h>
#include <stddef.h>

#include "netguard.h"

struct httpbatch_conf {
	unsigned long connect_timeout_ms, timeout_ms;
	unsigned long max_in_flight, max_per_host;
	const char *user_agent;            /* borrowed for the batch's life */
	const char *ca_file;               /* CA bundle instead of the system's, or NULL */
	const struct netguard_list *allow; /* networks exempt from the SSRF guard; borrowed */
};

struct httpbatch;

/* One POST. The sink fills the first block; httpbatch_run the second. */
struct httpreq {
	const char *url;
	const char *body;
	size_t body_len;
	struct curl_slist *headers;
	/* the answer: code is CURLE_OK and status the final HTTP status when
	 * one came (status may be set with an error code: see httpreq_judge) */
	CURLcode code;
	long status;
	char phrase[80];      /* the status line's reason phrase ("" under HTTP/2) */
	char retry_after[64]; /* the Retry-After header's value, or "" */
	bool text_body;       /* text/plain or JSON: worth quoting in a reason */
	char detail[101];     /* the body's start */
	size_t detail_len;
	unsigned opened, refused; /* connection attempts and the guard's refusals */
	char refused_why[200];
	char errbuf[CURL_ERROR_SIZE];
	/* private */
	CURL *easy;
	const struct netguard_list *allow;
	bool done;
};

/* 0, or a negative errno with err set. */
int httpbatch_open(const struct httpbatch_conf *conf, struct httpbatch **out, char *err,
		   size_t errlen);
void httpbatch_close(struct httpbatch *b);

/* Makes a request ready just before it is sent: 0, or non-zero to leave it
 * out (the sink has filled its result). */
typedef int (*httpbatch_feed_fn)(void *ctx, struct httpreq *r);

/* Send reqs[0..n) concurrently, at most max_in_flight at a time, and fill
 * each one's answer. With feed, each request is prepared by it just before
 * it is added, a few at a time between calls to libcurl, so the first ones
 * are on the wire while later ones are still being built (the webpush
 * sink's encryption overlaps the network). Returns 0, or -ENOMEM / -EIO
 * when the multi interface failed: then the requests with done == false
 * got no answer (those feed left out are never done either). */
int httpbatch_run(struct httpbatch *b, struct httpreq *const *reqs, size_t n,
		  httpbatch_feed_fn feed, void *ctx);

/* Give a request's easy handle back for reuse; the request may be run again
 * after (the 413-shortened retry does). */
void httpbatch_release(struct httpbatch *b, struct httpreq *r);

/* For a request with no HTTP answer (status < 200): the outcome. Refused by
 * the guard on every attempt or an unusable URL: REJECTED (a retry cannot
 * help); anything else RETRY with curl's text (never one that quotes the
 * URL's path or query). Returns false when the request did get an answer,
 * which the sink then judges by its status. */
bool httpreq_judge_transport(const struct httpreq *r, struct herald_sink_result *res);

#endif
