/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * quiet: quiet hours in a user's time zone (ICU's calendar does the time
 * zone arithmetic, including daylight saving changes).
 *
 * A window is "HH:MM" to "HH:MM" local time; it may wrap midnight
 * ("22:00" to "07:00"); equal start and end means no quiet hours.
 * Not for deciding what to hold: schedule.c asks, then holds.
 *
 * Threads: no shared state; each call opens its own calendar.
 */
#ifndef HERALD_QUIET_H
#define HERALD_QUIET_H

#include <stdint.h>

/*
 * Is `now_ms` (Unix ms) inside the window in zone `tz` (IANA name, NULL or
 * "" for UTC)? 0: no. 1: yes, and *until_ms is when the window ends (the next
 * local END time after now, as Unix ms). -EINVAL for a malformed HH:MM or an
 * unknown zone.
 */
int quiet_check(const char *tz, const char *start, const char *end, int64_t now_ms,
		int64_t *until_ms);

#endif
