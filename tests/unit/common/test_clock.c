/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_clock: timed waits made with clock_cond_init + clock_deadline wait
 * as long as asked (a condition on the wall clock given a monotonic deadline
 * would time out at once: the deadline lies decades in its past), and the
 * clocks read what they say. Lower bounds only: no timing thresholds.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "src/common/clock.h"
#include "tests/unit/tap.h"

int main(void)
{
	pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t cv;
	ok(clock_cond_init(&cv) == 0, "clock_cond_init");

	uint64_t t0 = clock_mono_us();
	struct timespec until = clock_deadline(60);
	pthread_mutex_lock(&mu);
	int rc;
	while ((rc = pthread_cond_timedwait(&cv, &mu, &until)) == 0)
		; /* spurious wake-ups: wait on */
	pthread_mutex_unlock(&mu);
	uint64_t waited = clock_mono_us() - t0;
	ok(rc == ETIMEDOUT, "the wait ends by its deadline (rc %d)", rc);
	ok(waited >= 60000, "and not before it: waited %llu us for 60 ms", (unsigned long long)waited);

	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	until = clock_deadline(0);
	ok(until.tv_sec >= now.tv_sec && until.tv_nsec < 1000000000L,
	   "a deadline is a normalised monotonic instant");

	struct timespec wall;
	clock_gettime(CLOCK_REALTIME, &wall);
	uint64_t w = clock_wall_ms(), expect = (uint64_t)wall.tv_sec * 1000;
	ok(w >= expect && w < expect + 60000, "clock_wall_ms is Unix milliseconds (%llu)",
	   (unsigned long long)w);
	uint64_t m1 = clock_mono_ms(), m2 = clock_mono_ms();
	ok(m2 >= m1, "the monotonic clock does not go back");
	pthread_cond_destroy(&cv);
	return tap_done();
}
