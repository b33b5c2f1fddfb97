/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sinkutil: helpers shared by the bundled sinks (see sinkutil.h). */
#define _GNU_SOURCE /* asprintf */
#include "sinkutil.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->failed)
		return;
	if (!b->p || n + 1 > b->cap - b->len) {
		size_t cap = b->cap ? b->cap : 1024;
		while (cap - b->len < n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->failed = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

void sb_free(struct sbuf *b)
{
	free(b->p);
	*b = (struct sbuf){0};
}

void sinkutil_log(const struct herald_sink_host *host, enum herald_sink_log_level level,
		  const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!host || !HERALD_SINK_HAS(host, struct herald_sink_host, log) || !host->log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	host->log(host, level, "%s", line);
}

int sinkutil_parse_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (!strcmp(v, yes[i]) || !strcmp(v, no[i])) {
			*out = !strcmp(v, yes[i]);
			return 0;
		}
	}
	return -1;
}

int sinkutil_parse_uint(const char *v, unsigned long lo, unsigned long hi, unsigned long *out)
{
	char *end;
	unsigned long n;

	if (*v < '0' || *v > '9')
		return -1;
	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || *end || n < lo || n > hi)
		return -1;
	*out = n;
	return 0;
}

char *sinkutil_resolve_path(const struct herald_sink_host *host, const char *v, char *err,
			    size_t errlen)
{
	const char *conf =
	    HERALD_SINK_HAS(host, struct herald_sink_host, config_path) ? host->config_path : NULL;
	const char *slash = conf ? strrchr(conf, '/') : NULL;
	char cwd[4096] = "";
	char *out = NULL;

	if (v[0] == '/') {
		out = strdup(v);
		if (!out)
			snprintf(err, errlen, "out of memory");
		return out;
	}
	if (!conf) {
		snprintf(err, errlen, "path '%s' is relative and there is no config file", v);
		return NULL;
	}
	/* absolute, since the daemon may change directory */
	if ((!slash || conf[0] != '/') && !getcwd(cwd, sizeof cwd)) {
		snprintf(err, errlen, "path '%s': cannot get the current directory (%s)", v,
			 strerror(errno));
		return NULL;
	}
	if (asprintf(&out, "%s%s%.*s/%s", cwd, *cwd ? "/" : "", slash ? (int)(slash - conf) : 1,
		     slash ? conf : ".", v) < 0) {
		snprintf(err, errlen, "out of memory");
		out = NULL;
	}
	return out;
}

int sinkutil_check_address(const char *address, size_t max, char *err, size_t errlen)
{
	size_t n = strlen(address);

	if (n > max) {
		snprintf(err, errlen, "address longer than %zu bytes", max);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)address[i];
		if (c < 0x20 || c == 0x7f ||
		    (c == 0xc2 && (unsigned char)address[i + 1] >= 0x80 &&
		     (unsigned char)address[i + 1] <= 0x9f)) {
			snprintf(err, errlen, "address has a control character at byte %zu", i);
			return -1;
		}
	}
	return 0;
}
