/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * harness: what the relay's unit tests (test_relay, test_relay_ack) share
 * to run herald-relay as a child: its pid, killing it on a bail-out or a
 * watchdog alarm, a free loopback port, a short sleep, a look into a log.
 * Not for starting the relay (each test has its own options) or for
 * asserting anything.
 */
#ifndef HERALD_TEST_RELAY_HARNESS_H
#define HERALD_TEST_RELAY_HARNESS_H

#include <stdbool.h>
#include <sys/types.h>

/* The running relay, or -1: what kill_child and the watchdog kill. */
extern pid_t g_child;

void kill_child(void);
/* SIGALRM handler: kill the child, print a TAP bail-out, _exit(1). */
void on_alarm(int sig);
/* Kill the child, print "Bail out! why", exit(1). */
void bail(const char *why) __attribute__((noreturn));
void sleep_ms(long ms);
/* A free loopback port (bind port 0, read it back, close), or -1. */
int free_port(void);
/* Does the file (its first 64 KiB) contain needle? */
bool file_has(const char *path, const char *needle);
/* Wait for herald-relay's ready line in `log`; false if the relay (*pid)
 * exited (then *pid and g_child are -1) or took over 5 s. */
bool wait_ready(const char *log, pid_t *pid);

#endif
