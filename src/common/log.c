/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* log: leveled logging to stderr or syslog (see log.h). */
#include "log.h"
#include "clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Process-wide, like openlog(): written by main only (log_setup). */
static struct {
	const char *ident;
	enum log_level level;
	bool use_syslog;
} g_log = {"herald", L_INFO, false};
static pthread_mutex_t g_log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_setup(const char *ident, enum log_level level, bool use_syslog)
{
	pthread_mutex_lock(&g_log_lock);
	if (g_log.use_syslog && !use_syslog)
		closelog();
	g_log.ident = ident;
	__atomic_store_n(&g_log.level, level, __ATOMIC_RELAXED); /* read unlocked by log_enabled */
	g_log.use_syslog = use_syslog;
	if (use_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	pthread_mutex_unlock(&g_log_lock);
}

int log_level_parse(const char *s, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level level;
	} names[] = {{"error", L_ERROR}, {"warn", L_WARN}, {"warning", L_WARN},
		     {"info", L_INFO},   {"debug", L_DEBUG}};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (strcmp(s, names[i].name) == 0) {
			*out = names[i].level;
			return 0;
		}
	return -EINVAL;
}

bool log_enabled(enum log_level level)
{
	return level <= __atomic_load_n(&g_log.level, __ATOMIC_RELAXED);
}

static const char *level_name(enum log_level l)
{
	switch (l) {
	case L_ERROR: return "error";
	case L_WARN: return "warn";
	case L_INFO: return "info";
	default: return "debug";
	}
}

__attribute__((format(printf, 2, 0))) static void vlog(enum log_level level, const char *fmt, va_list ap)
{
	char line[1024];
	vsnprintf(line, sizeof line, fmt, ap);
	pthread_mutex_lock(&g_log_lock);
	if (g_log.use_syslog) {
		syslog((int)level, "%s", line);
	} else {
		struct timespec ts;
		struct tm tm;
		char when[32];
		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
		fprintf(stderr, "%s.%03ldZ %s[%s]: %s\n", when, ts.tv_nsec / 1000000, g_log.ident,
			level_name(level), line);
	}
	pthread_mutex_unlock(&g_log_lock);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

void log_limited(struct log_limit *rl, enum log_level level, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	uint64_t now = clock_mono_ms();
	if (rl->last_ms && now - rl->last_ms < rl->interval_ms) {
		rl->suppressed++;
		return;
	}
	if (rl->suppressed)
		log_msg(level, "(%llu similar lines suppressed)", (unsigned long long)rl->suppressed);
	rl->last_ms = now;
	rl->suppressed = 0;
	va_list ap;
	va_start(ap, fmt);
	vlog(level, fmt, ap);
	va_end(ap);
}

