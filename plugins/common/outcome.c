/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* outcome: HTTP statuses and Retry-After (see outcome.h). */
#define _GNU_SOURCE /* timegm */
#include "outcome.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int month_of(const char *m)
{
	static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

	for (int i = 0; i < 12; i++)
		if (!strncmp(m, months + 3 * i, 3) && m[3] == '\0')
			return i;
	return -1;
}

/* An HTTP-date as Unix time, or -1. */
static time_t http_date(const char *v)
{
	struct tm tm = {0};
	char wday[16], mon[4], tail[8];
	int day, year, h, m, s, n = 0;

	mon[0] = tail[0] = '\0';
	if (sscanf(v, "%3s, %2d %3s %4d %2d:%2d:%2d %3s%n", wday, &day, mon, &year, &h, &m, &s, tail,
		   &n) == 8 &&
	    !strcmp(tail, "GMT") && !v[n]) {
		/* IMF-fixdate: Sun, 06 Nov 1994 08:49:37 GMT */
	} else if (n = 0, sscanf(v, "%15[A-Za-z], %2d-%3s-%2d %2d:%2d:%2d %3s%n", wday, &day, mon,
				 &year, &h, &m, &s, tail, &n) == 8 &&
		   !strcmp(tail, "GMT") && !v[n]) {
		/* RFC 850: Sunday, 06-Nov-94 08:49:37 GMT; a two-digit year
		 * more than 50 years ahead is in the past (RFC 9110) */
		year += year < 70 ? 2000 : 1900;
	} else if (n = 0, sscanf(v, "%3s %3s %2d %2d:%2d:%2d %4d%n", wday, mon, &day, &h, &m, &s,
				 &year, &n) == 7 &&
		   !v[n]) {
		/* asctime: Sun Nov  6 08:49:37 1994 */
	} else {
		return -1;
	}
	tm.tm_mon = month_of(mon);
	if (tm.tm_mon < 0 || day < 1 || day > 31 || h > 23 || m > 59 || s > 60 || year < 1970 ||
	    h < 0 || m < 0 || s < 0)
		return -1;
	tm.tm_mday = day;
	tm.tm_year = year - 1900;
	tm.tm_hour = h;
	tm.tm_min = m;
	tm.tm_sec = s;
	return timegm(&tm);
}

int outcome_retry_after(const char *value, time_t now, uint32_t *secs)
{
	const char *v = value;
	char buf[64];
	size_t n;

	while (*v == ' ' || *v == '\t')
		v++;
	n = strlen(v);
	while (n && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r' || v[n - 1] == '\n'))
		n--;
	if (n == 0 || n >= sizeof buf)
		return -1;
	memcpy(buf, v, n);
	buf[n] = '\0';
	if (strspn(buf, "0123456789") == n) {
		/* delta-seconds; anything with more than 10 digits is past the cap */
		unsigned long long d = n > 10 ? OUTCOME_RETRY_AFTER_MAX : strtoull(buf, NULL, 10);
		*secs = d > OUTCOME_RETRY_AFTER_MAX ? OUTCOME_RETRY_AFTER_MAX : (uint32_t)d;
		return 0;
	}
	time_t t = http_date(buf);
	if (t < 0)
		return -1;
	*secs = t <= now ? 0
	      : t - now > (time_t)OUTCOME_RETRY_AFTER_MAX ? OUTCOME_RETRY_AFTER_MAX
							   : (uint32_t)(t - now);
	return 0;
}

const char *outcome_status_phrase(long status)
{
	static const struct {
		long code;
		const char *phrase;
	} t[] = {
	    {300, "Multiple Choices"}, {301, "Moved Permanently"}, {302, "Found"},
	    {303, "See Other"}, {304, "Not Modified"}, {307, "Temporary Redirect"},
	    {308, "Permanent Redirect"}, {400, "Bad Request"}, {401, "Unauthorized"},
	    {402, "Payment Required"}, {403, "Forbidden"}, {404, "Not Found"},
	    {405, "Method Not Allowed"}, {406, "Not Acceptable"}, {408, "Request Timeout"},
	    {409, "Conflict"}, {410, "Gone"}, {411, "Length Required"},
	    {413, "Content Too Large"}, {414, "URI Too Long"}, {415, "Unsupported Media Type"},
	    {422, "Unprocessable Content"}, {425, "Too Early"}, {429, "Too Many Requests"},
	    {500, "Internal Server Error"}, {501, "Not Implemented"}, {502, "Bad Gateway"},
	    {503, "Service Unavailable"}, {504, "Gateway Timeout"},
	};

	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		if (t[i].code == status)
			return t[i].phrase;
	return "";
}

/* Append s to r->reason at *k, controls as spaces, runs of blanks as one. */
static void add_clean(struct herald_sink_result *r, size_t *k, const char *s, size_t max)
{
	size_t start = *k;

	for (; s && *s && *k + 1 < sizeof r->reason && *k - start < max; s++) {
		char c = (unsigned char)*s < 0x20 || *s == 0x7f ? ' ' : *s;
		if (c == ' ' && (*k == 0 || r->reason[*k - 1] == ' '))
			continue;
		r->reason[(*k)++] = c;
	}
	r->reason[*k] = '\0';
}

void outcome_from_status(long status, const char *phrase, const char *detail,
			 const char *retry_after, time_t now, bool gone_ok,
			 struct herald_sink_result *r)
{
	size_t k;
	uint32_t secs;

	r->retry_after = 0;
	r->reason[0] = '\0';
	if (status >= 200 && status < 300) {
		r->outcome = HERALD_SINK_DELIVERED;
		return;
	}
	if (status == 408 || status == 425 || status == 429 || (status >= 500 && status < 600)) {
		r->outcome = HERALD_SINK_RETRY;
		if (retry_after && !outcome_retry_after(retry_after, now, &secs))
			r->retry_after = secs;
	} else if (status == 410) {
		r->outcome = gone_ok ? HERALD_SINK_GONE : HERALD_SINK_REJECTED;
	} else {
		r->outcome = HERALD_SINK_REJECTED;
	}
	if (!phrase || !*phrase)
		phrase = outcome_status_phrase(status);
	k = (size_t)snprintf(r->reason, sizeof r->reason, "HTTP %ld", status);
	if (*phrase) {
		add_clean(r, &k, ": ", 2);
		add_clean(r, &k, phrase, 60);
	}
	if (status >= 300 && status < 400) {
		/* never the Location: it may carry another token */
		add_clean(r, &k, " (redirects are not followed)", 40);
	} else if (detail && *detail && status >= 400 && status < 500) {
		add_clean(r, &k, " (", 2);
		add_clean(r, &k, detail, 100);
		while (k > 0 && r->reason[k - 1] == ' ')
			r->reason[--k] = '\0'; /* a body's closing newline */
		add_clean(r, &k, ")", 1);
	}
	if (r->retry_after) {
		char ra[40];
		snprintf(ra, sizeof ra, "; retry after %u s", r->retry_after);
		add_clean(r, &k, ra, sizeof ra);
	}
	while (k > 0 && r->reason[k - 1] == ' ')
		r->reason[--k] = '\0';
}
