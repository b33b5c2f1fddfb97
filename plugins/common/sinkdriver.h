/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sinkdriver: what a program that drives a sink without heraldd (the email
 * benchmark's driver, the webhook test's driver) offers it as the host's
 * logging: one line on stderr, "sink 'NAME' [LEVEL]: text".
 */
#ifndef HERALD_SINKDRIVER_H
#define HERALD_SINKDRIVER_H

#include <herald/sink.h>
#include <stdarg.h>
#include <stdio.h>

static void driver_log(const struct herald_sink_host *h, enum herald_sink_log_level l,
		       const char *fmt, ...) __attribute__((format(printf, 3, 4), unused));
static void driver_log(const struct herald_sink_host *h, enum herald_sink_log_level l,
		       const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "sink '%s' [%d]: ", h->instance, (int)l);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#endif
