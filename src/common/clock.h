/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clock: the two clocks herald reads, in one place.
 * - wall time (CLOCK_REALTIME) for what is stored or shown: a message's
 *   arrival, a notification's due time, a log line's stamp;
 * - monotonic time (CLOCK_MONOTONIC) for every interval and deadline a
 *   thread waits on, so a step of the wall clock never stalls or spins one.
 * A condition variable that is waited on with a deadline is created with
 * clock_cond_init, and its deadline made with clock_deadline.
 * Not for: time zones or calendars (quiet.c, with ICU). All thread-safe.
 */
#ifndef HERALD_CLOCK_H
#define HERALD_CLOCK_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

/* Milliseconds since the Unix epoch. */
uint64_t clock_wall_ms(void);
/* Monotonic milliseconds and microseconds, from an arbitrary origin. */
uint64_t clock_mono_ms(void);
uint64_t clock_mono_us(void);
/* Monotonic nanoseconds, for charging short pieces of work (the filter
 * evaluation budget). */
uint64_t clock_mono_ns(void);
/* The monotonic instant ms milliseconds from now, for pthread_cond_timedwait
 * on a condition made by clock_cond_init. */
struct timespec clock_deadline(uint64_t ms);
/* pthread_cond_init on the monotonic clock. Returns 0 or an errno. */
int clock_cond_init(pthread_cond_t *cond);

#endif
