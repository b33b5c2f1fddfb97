/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * outcome: how an HTTP answer becomes a sink outcome (herald-webhook(7),
 * OUTCOMES; herald-webpush(7) adjusts a few), and the Retry-After header.
 * Pure functions, no libcurl; transport errors are classified in
 * httpbatch.c, which knows curl's codes.
 */
#ifndef HERALD_SINK_OUTCOME_H
#define HERALD_SINK_OUTCOME_H

#include <herald/sink.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* The longest wait a Retry-After may ask for; longer ones are cut to it. */
#define OUTCOME_RETRY_AFTER_MAX 86400u

/*
 * A Retry-After value: delta-seconds, or an HTTP-date (IMF-fixdate, RFC 850
 * or asctime form, RFC 9110 10.2.3) turned into seconds from now (0 when in
 * the past), capped at OUTCOME_RETRY_AFTER_MAX. 0 and *secs set, or -1 when
 * it is neither (then the header is ignored).
 */
int outcome_retry_after(const char *value, time_t now, uint32_t *secs);

/* What an HTTP answer means for one item:
 *   2xx -> DELIVERED; 408, 425, 429, 5xx -> RETRY (with retry_after);
 *   410 -> GONE when gone_ok (the host speaks ABI >= 1.1), else REJECTED;
 *   3xx -> REJECTED (redirects are not followed); other codes -> REJECTED.
 * phrase: the status line's reason phrase ("" or NULL under HTTP/2: the
 * standard one is used); detail: a short excerpt of the response body, or
 * NULL. Both are cleaned of controls before they reach r->reason. */
void outcome_from_status(long status, const char *phrase, const char *detail,
			 const char *retry_after, time_t now, bool gone_ok,
			 struct herald_sink_result *r);

/* The standard reason phrase of an HTTP status, or "" */
const char *outcome_status_phrase(long status);

#endif
