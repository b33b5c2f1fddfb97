/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * quiet: quiet hours in a user's time zone (see quiet.h).
 *
 * ICU's calendar turns an instant into local wall time and a local wall
 * time back into an instant, with the zone's daylight saving rules. This
 * file only answers "is it quiet now, and until when"; it holds nothing and
 * decides nothing about delivery.
 *
 * The window is [start, end) in local wall-clock minutes. "Until" is the
 * first instant after now at which that test turns false, which on DST days
 * needs care: an END that falls in the spring-forward gap ends the window at
 * the transition (the first valid local time after it), and an END inside
 * the repeated fall-back hour is the first of the two that lies after now.
 */
#include "quiet.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <unicode/ucal.h>
#include <unicode/ustring.h>

#define MIN_PER_DAY (24 * 60)

/* An IANA id is short and plain ASCII; anything else is not a zone. */
#define ZONE_MAX 64

/* "HH:MM", exactly: two digits, a colon, two digits, 00:00 to 23:59. */
static int parse_hhmm(const char *s, int *minutes)
{
	if (!s || strlen(s) != 5 || s[2] != ':')
		return -EINVAL;
	for (int i = 0; i < 5; i++)
		if (i != 2 && (s[i] < '0' || s[i] > '9'))
			return -EINVAL;
	int h = (s[0] - '0') * 10 + (s[1] - '0');
	int m = (s[3] - '0') * 10 + (s[4] - '0');
	if (h > 23 || m > 59)
		return -EINVAL;
	*minutes = h * 60 + m;
	return 0;
}

static int map_icu(UErrorCode st)
{
	if (U_SUCCESS(st))
		return 0;
	return st == U_MEMORY_ALLOCATION_ERROR ? -ENOMEM : -EINVAL;
}

/*
 * Convert the zone id to UTF-16. u_charsToUChars only handles ICU's
 * "invariant" characters, so the id is checked to be plain ASCII from the
 * characters IANA names use before it is handed over.
 */
static int zone_uchars(const char *tz, UChar *out, int32_t *len)
{
	size_t n = strlen(tz);
	if (n == 0 || n >= ZONE_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		char c = tz[i];
		bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
			     (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '-' || c == '+';
		if (!plain)
			return -EINVAL;
	}
	u_charsToUChars(tz, out, (int32_t)n);
	*len = (int32_t)n;
	return 0;
}

/*
 * Open a Gregorian calendar in zone tz. ucal_open() accepts any id and
 * silently falls back to "Etc/Unknown" (UTC), so the id is first checked to
 * be one of ICU's system zones: this refuses misspellings, wrong case and
 * custom ids such as "GMT+05:00".
 */
static int open_zone(const char *tz, UCalendar **out)
{
	UChar zone[ZONE_MAX], canon[2 * ZONE_MAX];
	UErrorCode st = U_ZERO_ERROR;
	UBool is_system = 0;
	int32_t len;
	int rc = zone_uchars(tz && *tz ? tz : "UTC", zone, &len);
	if (rc)
		return rc;
	ucal_getCanonicalTimeZoneID(zone, len, canon, 2 * ZONE_MAX, &is_system, &st);
	if (U_FAILURE(st) || !is_system)
		return st == U_MEMORY_ALLOCATION_ERROR ? -ENOMEM : -EINVAL;
	UCalendar *cal = ucal_open(zone, len, "en_US_POSIX", UCAL_GREGORIAN, &st);
	if (U_FAILURE(st)) {
		ucal_close(cal);
		return map_icu(st);
	}
	/* See the top of the file: the first instant at which the window is over. */
	ucal_setAttribute(cal, UCAL_SKIPPED_WALL_TIME, UCAL_WALLTIME_NEXT_VALID);
	*out = cal;
	return 0;
}

/* Local minutes since midnight at `ms`. */
static int local_minutes(UCalendar *cal, UDate ms, int *minutes)
{
	UErrorCode st = U_ZERO_ERROR;
	ucal_setMillis(cal, ms, &st);
	int h = ucal_get(cal, UCAL_HOUR_OF_DAY, &st);
	int m = ucal_get(cal, UCAL_MINUTE, &st);
	if (U_FAILURE(st))
		return map_icu(st);
	*minutes = h * 60 + m;
	return 0;
}

/* The instant of local `minutes` on the day `days` after the local date of
 * `now`, the earlier (or only) occurrence when `first`, else the later. */
static int wall_instant(UCalendar *cal, UDate now, int days, int minutes, bool first, UDate *out)
{
	UErrorCode st = U_ZERO_ERROR;
	ucal_setMillis(cal, now, &st);
	if (days)
		ucal_add(cal, UCAL_DATE, days, &st);
	int32_t y = ucal_get(cal, UCAL_YEAR, &st);
	int32_t mo = ucal_get(cal, UCAL_MONTH, &st);
	int32_t d = ucal_get(cal, UCAL_DATE, &st);
	if (U_FAILURE(st))
		return map_icu(st);
	ucal_clear(cal);
	ucal_setAttribute(cal, UCAL_REPEATED_WALL_TIME,
			  first ? UCAL_WALLTIME_FIRST : UCAL_WALLTIME_LAST);
	ucal_setDateTime(cal, y, mo, d, minutes / 60, minutes % 60, 0, &st);
	ucal_set(cal, UCAL_MILLISECOND, 0);
	*out = ucal_getMillis(cal, &st);
	return map_icu(st);
}

/*
 * The next local `end` after `now`, starting on day `days` after today. The
 * earlier occurrence of a repeated time may already be past (we are in the
 * second pass of the fall-back hour), then the later one is the answer. A
 * zone that moves its date backwards could still leave both behind, so a
 * day more is tried a few times before giving up.
 */
static int next_end(UCalendar *cal, UDate now, int days, int end, int64_t *until)
{
	for (int tries = 0; tries < 3; tries++, days++) {
		for (int first = 1; first >= 0; first--) {
			UDate t;
			int rc = wall_instant(cal, now, days, end, first, &t);
			if (rc)
				return rc;
			if (t > now) {
				*until = (int64_t)t;
				return 0;
			}
		}
	}
	return -EINVAL;
}

int quiet_check(const char *tz, const char *start, const char *end, int64_t now_ms,
		int64_t *until_ms)
{
	UCalendar *cal = NULL;
	UDate now = (UDate)now_ms;
	int64_t until;
	int s, e, m, rc;
	if ((rc = parse_hhmm(start, &s)) || (rc = parse_hhmm(end, &e)))
		return rc;
	/* The zone is checked even when the window is empty, so a bad setting
	 * is reported the first time, not the day quiet hours are turned on. */
	if ((rc = open_zone(tz, &cal)))
		return rc;
	if (s == e)
		goto out;
	if ((rc = local_minutes(cal, now, &m)))
		goto out;
	if (s < e ? m < s || m >= e : m < s && m >= e)
		goto out;
	/* A window that wraps midnight and began today ends tomorrow. */
	if ((rc = next_end(cal, now, s > e && m >= s ? 1 : 0, e, &until)))
		goto out;
	if (until_ms)
		*until_ms = until;
	rc = 1;
out:
	ucal_close(cal);
	return rc;
}
