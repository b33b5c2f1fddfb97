/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * sinkutil: the bundled sinks' toolkit (see sinkutil.h for the contract).
 * Not for what one sink alone needs: that stays in the sink.
 */
#define _GNU_SOURCE /* asprintf, explicit_bzero */
#include "sinkutil.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

/* ---- secret files ---- */

void sinkutil_secret_release(struct sinkutil_secret *s)
{
	if (s->value)
		explicit_bzero(s->value, s->len);
	free(s->value);
	free(s->path);
	*s = (struct sinkutil_secret){0};
}

/* Up to max + 1 bytes of fd into buf (max + 2 bytes long), NUL-terminated:
 * one byte more than allowed tells a file that grew past the cap. */
static ssize_t read_capped(int fd, char *buf, size_t max)
{
	size_t len = 0;

	while (len <= max) {
		ssize_t n = read(fd, buf + len, max + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	return (ssize_t)len;
}

/* Open `path` for reading without blocking on a FIFO and check it is a
 * regular file of at most max bytes: the fd, or a negative errno with
 * err's "why" part. */
static int open_regular(const char *path, size_t max, struct stat *st, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	int rc;

	if (fd < 0) {
		rc = -errno;
		snprintf(why, whylen, "%s", strerror(-rc));
		return rc;
	}
	if (fstat(fd, st)) {
		rc = -errno;
		snprintf(why, whylen, "%s", strerror(-rc));
	} else if (!S_ISREG(st->st_mode)) {
		rc = -EINVAL;
		snprintf(why, whylen, "not a regular file");
	} else if ((unsigned long long)st->st_size > max) {
		rc = -EFBIG;
		snprintf(why, whylen, "longer than %zu bytes", max);
	} else {
		return fd;
	}
	close(fd);
	return rc;
}

/* What of the file's text is the secret: its first line, or all of it less
 * the trailing line ends. The rest is wiped. 0, or -EINVAL with why set. */
static int trim_secret(char *buf, size_t *len, unsigned flags, char *why, size_t whylen)
{
	size_t n = *len;

	if (strlen(buf) != n) {
		snprintf(why, whylen, "has a NUL byte");
		return -EINVAL;
	}
	if (flags & SINKUTIL_SECRET_FIRST_LINE)
		n = strcspn(buf, "\r\n");
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	explicit_bzero(buf + n, *len - n);
	*len = n;
	if (!n) {
		snprintf(why, whylen, "empty");
		return -EINVAL;
	}
	return 0;
}

int sinkutil_secret_read(const char *what, const char *path, size_t max, unsigned flags,
			 struct sinkutil_secret *out, char *err, size_t errlen)
{
	struct sinkutil_secret n = {0};
	char why[160] = "out of memory";
	struct stat st;
	ssize_t got;
	int fd, rc;

	fd = open_regular(path, max, &st, why, sizeof why);
	if (fd < 0) {
		rc = fd;
		goto out;
	}
	rc = -ENOMEM;
	n.value = malloc(max + 2);
	n.path = strdup(path);
	if (!n.value || !n.path)
		goto out;
	got = read_capped(fd, n.value, max);
	n.len = got > 0 ? (size_t)got : 0;
	if (got < 0) {
		explicit_bzero(n.value, max + 2); /* what a read got before failing */
		rc = (int)got;
		snprintf(why, sizeof why, "%s", strerror(-rc));
	} else if (n.len > max) {
		rc = -EFBIG;
		snprintf(why, sizeof why, "longer than %zu bytes", max);
	} else {
		rc = trim_secret(n.value, &n.len, flags, why, sizeof why);
	}
	n.exposed = (st.st_mode & S_IROTH) != 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc) {
		snprintf(err, errlen, "%s: %s: %s", what, path, why);
		sinkutil_secret_release(&n);
		return rc;
	}
	sinkutil_secret_release(out);
	*out = n;
	return 0;
}

/* ---- option tables ---- */

static void *field(void *obj, const struct sinkutil_option *t)
{
	return (char *)obj + t->offset;
}

/* "KEY: 'VALUE' is not A, B or C (line N)" from the table's words. */
static int enum_error(const struct sinkutil_option *t, const struct herald_sink_option *o,
		      char *err, size_t errlen)
{
	char list[256] = "";
	size_t n = 0, at = 0;

	while (t->names[n])
		n++;
	for (size_t i = 0; i < n && at < sizeof list; i++)
		at += (size_t)snprintf(list + at, sizeof list - at, "%s%s",
				       i == 0	    ? ""
				       : i + 1 == n ? " or "
						    : ", ",
				       t->names[i]);
	snprintf(err, errlen, "%s: '%s' is not %s (line %u)", o->key, o->value, list, o->line);
	return -EINVAL;
}

static int set_enum(const struct sinkutil_option *t, void *obj, const struct herald_sink_option *o,
		    char *err, size_t errlen)
{
	for (size_t i = 0; t->names[i]; i++)
		if (!strcmp(o->value, t->names[i])) {
			*(int *)field(obj, t) = t->values[i];
			return 0;
		}
	return enum_error(t, o, err, errlen);
}

/* STRING and PATH: check, then replace what the field held. */
static int set_text(const struct sinkutil_option *t, void *obj, const struct herald_sink_host *host,
		    const struct herald_sink_option *o, char *err, size_t errlen)
{
	char **dst = field(obj, t);
	char *v = t->type == SINKUTIL_T_PATH ? sinkutil_resolve_path(host, o->value, err, errlen)
					     : strdup(o->value);
	int rc;

	if (!v && t->type == SINKUTIL_T_PATH)
		return -EINVAL; /* err says why */
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (t->check && (rc = t->check(o->key, v, err, errlen)) != 0) {
		free(v);
		return rc < 0 ? rc : -EINVAL;
	}
	free(*dst);
	*dst = v;
	return 0;
}

static int set_secret(const struct sinkutil_option *t, void *obj,
		      const struct herald_sink_host *host, const struct herald_sink_option *o,
		      char *err, size_t errlen)
{
	struct sinkutil_secret *dst = field(obj, t);
	char *path = sinkutil_resolve_path(host, o->value, err, errlen);
	int rc;

	if (!path)
		return -EINVAL;
	rc =
	    sinkutil_secret_read(o->key, path, t->hi, SINKUTIL_SECRET_FIRST_LINE, dst, err, errlen);
	if (!rc && dst->exposed)
		sinkutil_log(host, HERALD_SINK_LOG_WARNING, "%s: %s is readable by every user",
			     o->key, path);
	free(path);
	return rc;
}

static int set_one(const struct sinkutil_option *t, void *obj, const struct herald_sink_host *host,
		   const struct herald_sink_option *o, char *err, size_t errlen)
{
	unsigned long n;
	int rc;

	switch (t->type) {
	case SINKUTIL_T_STRING:
	case SINKUTIL_T_PATH: return set_text(t, obj, host, o, err, errlen);
	case SINKUTIL_T_UINT:
		if (sinkutil_parse_uint(o->value, t->lo, t->hi, &n)) {
			snprintf(err, errlen, "%s: '%s' is not a number from %lu to %lu (line %u)",
				 o->key, o->value, t->lo, t->hi, o->line);
			return -ERANGE;
		}
		*(unsigned long *)field(obj, t) = n;
		return 0;
	case SINKUTIL_T_BOOL:
		if (sinkutil_parse_bool(o->value, field(obj, t))) {
			snprintf(err, errlen, "%s: '%s' is not yes or no (line %u)", o->key,
				 o->value, o->line);
			return -EINVAL;
		}
		return 0;
	case SINKUTIL_T_ENUM: return set_enum(t, obj, o, err, errlen);
	case SINKUTIL_T_SECRET: return set_secret(t, obj, host, o, err, errlen);
	case SINKUTIL_T_CUSTOM: break;
	}
	rc = t->set(obj, o, err, errlen);
	return rc < 0 ? rc : rc ? -EINVAL : 0;
}

int sinkutil_set_option(const struct sinkutil_option *table, void *obj,
			const struct herald_sink_host *host, const struct herald_sink_option *o,
			char *err, size_t errlen)
{
	for (const struct sinkutil_option *t = table; t->name; t++)
		if (!strcmp(t->name, o->key))
			return set_one(t, obj, host, o, err, errlen);
	snprintf(err, errlen, "unknown option '%s' (line %u)", o->key, o->line);
	return -EINVAL;
}

int sinkutil_set_options(const struct sinkutil_option *table, void *obj,
			 const struct herald_sink_host *host,
			 const struct herald_sink_option *options, size_t n_options, char *err,
			 size_t errlen)
{
	int rc = 0;

	for (size_t i = 0; !rc && i < n_options; i++)
		rc = sinkutil_set_option(table, obj, host, &options[i], err, errlen);
	return rc;
}

void sinkutil_options_release(const struct sinkutil_option *table, void *obj)
{
	for (const struct sinkutil_option *t = table; t->name; t++) {
		if (t->type == SINKUTIL_T_STRING || t->type == SINKUTIL_T_PATH) {
			char **p = field(obj, t);
			free(*p);
			*p = NULL;
		} else if (t->type == SINKUTIL_T_SECRET) {
			sinkutil_secret_release(field(obj, t));
		}
	}
}

/* ---- UTF-8 ---- */

size_t sinkutil_utf8_len(const unsigned char *s)
{
	size_t n;

	if (s[0] < 0x80)
		return 1;
	n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	if ((n == 3 && s[0] == 0xe0 && s[1] < 0xa0) || (n == 3 && s[0] == 0xed && s[1] >= 0xa0) ||
	    (n == 4 && s[0] == 0xf0 && s[1] < 0x90) || (n == 4 && s[0] == 0xf4 && s[1] >= 0x90))
		return 0;
	return n;
}

bool sinkutil_utf8_fit(struct sbuf *b, const char *s, size_t max)
{
	static const char repl[] = "\xef\xbf\xbd", ellipsis[] = "\xe2\x80\xa6";
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t used = 0, keep = 0, at = 0;

	/* keep: how many output bytes still leave room for the ellipsis */
	while (p[at]) {
		size_t n = sinkutil_utf8_len(p + at), out = n ? n : 3;
		if (used + out > max)
			break;
		if (used + out + 3 <= max)
			keep = at + (n ? n : 1);
		used += out;
		at += n ? n : 1;
	}
	bool cut = p[at] != '\0';
	size_t end = cut ? keep : at;
	for (size_t i = 0; i < end;) {
		size_t n = sinkutil_utf8_len(p + i);
		sb_add(b, n ? (const char *)p + i : repl, n ? n : 3);
		i += n ? n : 1;
	}
	if (cut)
		sb_add(b, ellipsis, 3);
	return cut;
}

/* ---- checks and results ---- */

int sinkutil_check_readable(const char *key, const char *path, char *err, size_t errlen)
{
	if (!access(path, R_OK))
		return 0;
	snprintf(err, errlen, "%s: %s: %s", key, path, strerror(errno));
	return -EINVAL;
}

void sinkutil_log_undelivered(const struct herald_sink_host *host,
			      struct herald_sink_result *const *results, size_t n,
			      const char *(*where)(void *ctx, size_t i), void *ctx)
{
	size_t bad = 0, first = n;

	for (size_t i = 0; i < n; i++)
		if (results[i]->outcome != HERALD_SINK_DELIVERED && !bad++)
			first = i;
	if (bad)
		sinkutil_log(host, HERALD_SINK_LOG_INFO,
			     "%zu of %zu not delivered; the first: %s: %s (%s)", bad, n,
			     where(ctx, first), results[first]->reason,
			     herald_sink_outcome_name(results[first]->outcome));
}

void sinkutil_result(struct herald_sink_result *r, enum herald_sink_outcome o, const char *fmt, ...)
{
	va_list ap;

	r->outcome = o;
	r->retry_after = 0;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
}
