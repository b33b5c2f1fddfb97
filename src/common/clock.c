/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * clock: wall and monotonic time, and deadlines on the monotonic clock for
 * timed waits (see clock.h). Not for: anything that sleeps.
 */
#include "clock.h"

static uint64_t read_ns(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t clock_wall_ms(void)
{
	return read_ns(CLOCK_REALTIME) / 1000000u;
}

uint64_t clock_mono_ms(void)
{
	return read_ns(CLOCK_MONOTONIC) / 1000000u;
}

uint64_t clock_mono_us(void)
{
	return read_ns(CLOCK_MONOTONIC) / 1000u;
}

uint64_t clock_mono_ns(void)
{
	return read_ns(CLOCK_MONOTONIC);
}

struct timespec clock_deadline(uint64_t ms)
{
	uint64_t ns = read_ns(CLOCK_MONOTONIC) + ms * 1000000u;
	return (struct timespec){.tv_sec = (time_t)(ns / 1000000000u),
				 .tv_nsec = (long)(ns % 1000000000u)};
}

int clock_cond_init(pthread_cond_t *cond)
{
	pthread_condattr_t ca;
	int rc = pthread_condattr_init(&ca);
	if (rc)
		return rc;
	rc = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	if (!rc)
		rc = pthread_cond_init(cond, &ca);
	pthread_condattr_destroy(&ca);
	return rc;
}
