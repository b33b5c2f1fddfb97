/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * log: leveled log lines to stderr or syslog.
 *
 * Lines read `module 'instance': what failed (detail)`, lowercase. The target
 * and level are process-wide, like syslog's own openlog(): main sets them at
 * start and on reload (log_setup), everyone else only logs. Logging is
 * thread-safe. Repeated errors go through a caller-owned struct log_limit so
 * a flood of bad input costs a line per interval, not a line per message.
 */
#ifndef HERALD_LOG_H
#define HERALD_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <syslog.h>

enum log_level { L_ERROR = LOG_ERR, L_WARN = LOG_WARNING, L_INFO = LOG_INFO, L_DEBUG = LOG_DEBUG };

/* Configure the process-wide target; `ident` is kept by reference. */
void log_setup(const char *ident, enum log_level level, bool use_syslog);
/* Parse "error", "warn", "info", "debug". 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
bool log_enabled(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(L_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(L_WARN, __VA_ARGS__)
#define log_info(...) log_msg(L_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_enabled(L_DEBUG)) log_msg(L_DEBUG, __VA_ARGS__); } while (0)

/* Rate limit: at most one line per `interval_ms`; the next line that passes
 * says how many were suppressed. Caller owns it; zero-initialise, set
 * interval_ms. Not thread-safe: one per thread or under the caller's lock. */
struct log_limit {
	uint64_t interval_ms;
	uint64_t last_ms;
	uint64_t suppressed;
};
void log_limited(struct log_limit *rl, enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));


#endif
