/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for quiet: windows in UTC and across midnight, exact end
 * instants, daylight saving days, and refused input.
 *
 * Every expected instant was computed independently of ICU with Python's
 * zoneinfo (the system tzdata), e.g.
 *   python3 -c "from datetime import datetime; from zoneinfo import ZoneInfo;
 *     print(int(datetime(2026,3,29,7,tzinfo=ZoneInfo('Europe/Paris')).timestamp()*1000))"
 * and is written next to the value as local time.
 */
#include "src/daemon/quiet.h"

#include <errno.h>
#include <inttypes.h>
#include <unicode/uclean.h>

#include "tests/unit/tap.h"

/* A sentinel that no answer can be, to see *until_ms left alone. */
#define UNTOUCHED INT64_C(-42)

/* quiet_check, with *until_ms reset to UNTOUCHED first. */
static int check(const char *tz, const char *start, const char *end, int64_t now, int64_t *until)
{
	*until = UNTOUCHED;
	return quiet_check(tz, start, end, now, until);
}

/* Inside the window, ending exactly at `want`. */
static void inside(const char *tz, const char *start, const char *end, int64_t now, int64_t want,
		   const char *what)
{
	int64_t until;
	int rc = check(tz, start, end, now, &until);
	if (!ok(rc == 1 && until == want, "%s", what))
		diag("rc %d, until %" PRId64 ", want 1 and %" PRId64, rc, until, want);
}

/* Outside the window: 0, and *until_ms not written. */
static void outside(const char *tz, const char *start, const char *end, int64_t now,
		    const char *what)
{
	int64_t until;
	int rc = check(tz, start, end, now, &until);
	if (!ok(rc == 0 && until == UNTOUCHED, "%s", what))
		diag("rc %d, until %" PRId64, rc, until);
}

static void refused(const char *tz, const char *start, const char *end, const char *what)
{
	int64_t until;
	int rc = check(tz, start, end, INT64_C(1777898096000), &until);
	if (!ok(rc == -EINVAL && until == UNTOUCHED, "%s", what))
		diag("rc %d, until %" PRId64, rc, until);
}

static void utc_day_window(void)
{
	/* 2026-05-04 12:34:56 UTC -> 2026-05-04 17:00 UTC */
	inside("UTC", "09:00", "17:00", INT64_C(1777898096000), INT64_C(1777914000000),
	       "utc 09:00-17:00 at 12:34:56: quiet until 17:00");
	inside(NULL, "09:00", "17:00", INT64_C(1777898096000), INT64_C(1777914000000),
	       "NULL zone is UTC");
	inside("", "09:00", "17:00", INT64_C(1777898096000), INT64_C(1777914000000),
	       "empty zone is UTC");
	/* 2026-05-04 09:00:00 UTC */
	inside("UTC", "09:00", "17:00", INT64_C(1777885200000), INT64_C(1777914000000),
	       "the start minute is inside");
	/* 2026-05-04 08:59:59 UTC */
	outside("UTC", "09:00", "17:00", INT64_C(1777885199000), "one second before the start");
	/* 2026-05-04 17:00:00 UTC */
	outside("UTC", "09:00", "17:00", INT64_C(1777914000000), "the end minute is outside");
	/* 2026-05-04 23:30 UTC */
	outside("Etc/UTC", "09:00", "17:00", INT64_C(1777937400000), "evening is outside");
}

static void utc_wrap_midnight(void)
{
	/* 2026-05-04 23:30 UTC -> 2026-05-05 07:00 UTC */
	inside("UTC", "22:00", "07:00", INT64_C(1777937400000), INT64_C(1777964400000),
	       "22:00-07:00 before midnight ends tomorrow at 07:00");
	/* 2026-05-05 03:00 UTC -> 2026-05-05 07:00 UTC */
	inside("UTC", "22:00", "07:00", INT64_C(1777950000000), INT64_C(1777964400000),
	       "22:00-07:00 after midnight ends today at 07:00");
	/* 2026-12-31 23:00 UTC -> 2027-01-01 07:00 UTC */
	inside("UTC", "22:00", "07:00", INT64_C(1798758000000), INT64_C(1798786800000),
	       "wrap across the new year");
	/* 2026-05-04 21:59:59 UTC */
	outside("UTC", "22:00", "07:00", INT64_C(1777931999000), "21:59:59 is before the window");
	/* 2026-05-05 07:00 UTC */
	outside("UTC", "22:00", "07:00", INT64_C(1777964400000), "07:00 ends the window");
	/* 2026-05-04 12:34:56 UTC */
	outside("UTC", "22:00", "07:00", INT64_C(1777898096000), "midday is outside");
}

static void zones(void)
{
	/* 2026-05-04 20:00 UTC = 05-05 01:30 IST -> 05-05 07:00 IST = 01:30 UTC */
	inside("Asia/Kolkata", "22:00", "07:00", INT64_C(1777924800000), INT64_C(1777944600000),
	       "Asia/Kolkata: half-hour offset");
	/* 2026-05-04 12:34:56 UTC = 18:04:56 IST */
	outside("Asia/Kolkata", "09:00", "17:00", INT64_C(1777898096000),
		"Asia/Kolkata: 18:04 local is after 09:00-17:00");
	/* Links are zones too: 2026-10-31 23:00 EDT -> 2026-11-01 07:00 EST */
	inside("US/Eastern", "22:00", "07:00", INT64_C(1793502000000), INT64_C(1793534400000),
	       "US/Eastern (a link) works like America/New_York");
}

static void paris_dst(void)
{
	/* Spring forward 2026-03-29 02:00 CET -> 03:00 CEST: the night is an hour
	 * shorter. 03-28 23:00 CET -> 03-29 07:00 CEST (05:00 UTC), not 06:00 UTC. */
	inside("Europe/Paris", "22:00", "07:00", INT64_C(1774735200000), INT64_C(1774760400000),
	       "Paris spring forward: 23:00 CET to 07:00 CEST is 7 hours");
	/* End 02:30 does not exist that day: the window ends at the jump.
	 * 03-29 01:30 CET -> 03:00 CEST (01:00 UTC) */
	inside("Europe/Paris", "01:00", "02:30", INT64_C(1774744200000), INT64_C(1774746000000),
	       "Paris: an end in the gap ends the window at the transition");
	/* 03-29 03:10 CEST */
	outside("Europe/Paris", "01:00", "02:30", INT64_C(1774746600000),
		"Paris: after the gap the window is over");
	/* 03-29 03:00 CEST: a window entirely inside the gap never happens */
	outside("Europe/Paris", "02:15", "02:45", INT64_C(1774746000000),
		"Paris: a window inside the gap is skipped");
	/* Fall back 2026-10-25 03:00 CEST -> 02:00 CET: an hour longer.
	 * 10-24 23:00 CEST -> 10-25 07:00 CET (06:00 UTC) */
	inside("Europe/Paris", "22:00", "07:00", INT64_C(1792875600000), INT64_C(1792908000000),
	       "Paris fall back: 23:00 CEST to 07:00 CET is 9 hours");
}

static void new_york_dst(void)
{
	/* Fall back 2026-11-01 02:00 EDT -> 01:00 EST.
	 * 10-31 23:00 EDT -> 11-01 07:00 EST (12:00 UTC) */
	inside("America/New_York", "22:00", "07:00", INT64_C(1793502000000), INT64_C(1793534400000),
	       "New York fall back: 23:00 EDT to 07:00 EST is 9 hours");
	/* An end in the repeated hour. 00:30 EDT -> the first 01:30 (EDT, 05:30 UTC) */
	inside("America/New_York", "22:00", "01:30", INT64_C(1793507400000), INT64_C(1793511000000),
	       "New York: first pass ends at 01:30 EDT");
	/* 01:40 EDT */
	outside("America/New_York", "22:00", "01:30", INT64_C(1793511600000),
		"New York: 01:40 EDT is after the end");
	/* 01:10 EST, the clock shows 01:10 again -> 01:30 EST (06:30 UTC) */
	inside("America/New_York", "22:00", "01:30", INT64_C(1793513400000), INT64_C(1793514600000),
	       "New York: second pass of 01:10 ends at 01:30 EST");
	/* Spring forward 2026-03-08 02:00 EST -> 03:00 EDT.
	 * 03-07 23:30 EST -> 03-08 06:00 EDT (10:00 UTC) */
	inside("America/New_York", "23:00", "06:00", INT64_C(1772944200000), INT64_C(1772964000000),
	       "New York spring forward: 23:30 EST to 06:00 EDT");
}

static void equal_times(void)
{
	/* 2026-05-04 12:34:56 UTC, inside any window that contains everything */
	outside("UTC", "12:00", "12:00", INT64_C(1777898096000),
		"equal start and end: never quiet");
	outside("Europe/Paris", "00:00", "00:00", INT64_C(1774744200000),
		"00:00-00:00: never quiet");
	refused("Nope/Zone", "12:00", "12:00", "equal times still check the zone");
}

static void bad_zones(void)
{
	refused("Nope/Zone", "22:00", "07:00", "unknown zone");
	refused("europe/paris", "22:00", "07:00", "zone names are case-sensitive");
	refused("Etc/Unknown", "22:00", "07:00", "ICU's own 'Etc/Unknown' is not a zone");
	refused("GMT+05:00", "22:00", "07:00", "a custom offset is not an IANA zone");
	refused("Europe/Par\xc3\xads", "22:00", "07:00", "non-ASCII zone");
	refused("Europe/Paris ", "22:00", "07:00", "trailing space");
	refused("Europe/Paris/Europe/Paris/Europe/Paris/Europe/Paris/Europe/Paris/X", "22:00",
		"07:00", "overlong zone");
}

static void bad_times(void)
{
	static const char *const bad[] = {"7:00",     "07:0",  "24:00", "07:60",      "07-00",
					  "07:00 ",   " 7:00", "0a:00", "+7:00",      "",
					  "07:00:00", "99:99", "-1:00", "07:\xc3\xa9"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char what[64];
		snprintf(what, sizeof what, "start '%s' refused", bad[i]);
		refused("UTC", bad[i], "07:00", what);
		snprintf(what, sizeof what, "end '%s' refused", bad[i]);
		refused("UTC", "22:00", bad[i], what);
	}
	refused("UTC", NULL, "07:00", "NULL start refused");
	refused("UTC", "22:00", NULL, "NULL end refused");
	refused("Nope/Zone", "25:00", "07:00", "bad time and bad zone: -EINVAL");
}

static void edges(void)
{
	/* 2026-05-04 12:34:56 UTC, inside 00:00-23:59 */
	ok(quiet_check("UTC", "00:00", "23:59", INT64_C(1777898096000), NULL) == 1,
	   "until_ms may be NULL");
	/* 1970-01-01 00:00 UTC -> 07:00 UTC */
	inside("UTC", "22:00", "07:00", 0, INT64_C(25200000), "the epoch itself");
	/* 1969-12-31 23:00 UTC -> 1970-01-01 07:00 UTC */
	inside("UTC", "22:00", "07:00", INT64_C(-3600000), INT64_C(25200000), "before the epoch");
	/* 2026-05-04 23:59:59.999 UTC -> 2026-05-05 00:00 UTC */
	inside("UTC", "23:59", "00:00", INT64_C(1777939199999), INT64_C(1777939200000),
	       "a one-minute window wrapping midnight, last millisecond");
}

int main(void)
{
	utc_day_window();
	utc_wrap_midnight();
	zones();
	paris_dst();
	new_york_dst();
	equal_times();
	bad_zones();
	bad_times();
	edges();
	/* ICU keeps calendars and zone data in process-wide caches; free them so
	 * valgrind shows that nothing else is left. */
	u_cleanup();
	return tap_done();
}
