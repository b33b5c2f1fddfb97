/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config: heraldd.conf parsing and validation (see config.h). inih does the
 * INI syntax; everything about meaning is here. Not for applying the config.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <ini.h>
#include <limits.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_int.h"


int config_fail(struct parse_ctx *c, const char *fmt, ...)
{
	if (c->err_line)
		return 0;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->err, sizeof c->err, fmt, ap);
	va_end(ap);
	c->err_line = c->lineno;
	return 0;
}

/* fgets that counts lines and refuses lines inih would silently split. */
static char *reader(char *str, int num, void *stream)
{
	struct parse_ctx *c = stream;
	if (!fgets(str, num, c->file))
		return NULL;
	c->lineno++;
	size_t n = strlen(str);
	if (n == (size_t)num - 1 && str[n - 1] != '\n' && !feof(c->file)) {
		int ch;
		while ((ch = fgetc(c->file)) != EOF && ch != '\n')
			;
		config_fail(c, "line too long (at most %d characters)", num - 2);
		str[0] = '\0';
	}
	return str;
}

int config_parse_bool(const char *s, bool *out)
{
	static const char *yes[] = {"yes", "true", "on", "1"}, *no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	return -EINVAL;
}

static int parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

/* A path relative to the config file's directory becomes absolute-ish. */
static char *resolve_path(const struct parse_ctx *c, const char *v)
{
	if (v[0] == '/' || !c->dir)
		return strdup(v);
	size_t n = strlen(c->dir) + strlen(v) + 2;
	char *p = malloc(n);
	if (p)
		snprintf(p, n, "%s/%s", c->dir, v);
	return p;
}

int config_set_str(struct parse_ctx *c, char **dst, const char *v, bool path)
{
	char *s = path ? resolve_path(c, v) : strdup(v);
	if (!s)
		return config_fail(c, "out of memory");
	free(*dst);
	*dst = s;
	return 1;
}

int config_push_str(struct parse_ctx *c, char ***arr, size_t *n, const char *v)
{
	char **a = realloc(*arr, (*n + 1) * sizeof *a);
	if (!a)
		return config_fail(c, "out of memory");
	*arr = a;
	if (!(a[*n] = strdup(v)))
		return config_fail(c, "out of memory");
	(*n)++;
	return 1;
}

int config_set_bool(struct parse_ctx *c, bool *dst, const char *key, const char *v)
{
	if (config_parse_bool(v, dst))
		return config_fail(c, "%s: expected yes or no, got '%s'", key, v);
	return 1;
}

int config_set_int(struct parse_ctx *c, int *dst, const char *key, const char *v, long min,
		   long max)
{
	long l;
	if (parse_long(v, min, max, &l))
		return config_fail(c, "%s: expected an integer from %ld to %ld, got '%s'", key, min, max, v);
	*dst = (int)l;
	return 1;
}

static int set_size(struct parse_ctx *c, size_t *dst, const char *key, const char *v, long min,
		    long max, size_t unit)
{
	long l;
	if (parse_long(v, min, max, &l))
		return config_fail(c, "%s: expected an integer from %ld to %ld, got '%s'", key, min, max, v);
	*dst = (size_t)l * unit;
	return 1;
}

static int daemon_key(struct parse_ctx *c, const char *k, const char *v)
{
	struct config *cfg = c->cfg;
	if (!strcmp(k, "state_dir"))
		return config_set_str(c, &cfg->state_dir, v, true);
	if (!strcmp(k, "log_level")) {
		if (log_level_parse(v, &cfg->log_level))
			return config_fail(c, "log_level: expected error, warn, info or debug, got '%s'", v);
		return 1;
	}
	if (!strcmp(k, "log_target")) {
		if (strcmp(v, "stderr") && strcmp(v, "syslog"))
			return config_fail(c, "log_target: expected stderr or syslog, got '%s'", v);
		cfg->log_syslog = !strcmp(v, "syslog");
		return 1;
	}
	if (!strcmp(k, "workers"))
		return config_set_int(c, &cfg->workers, k, v, 1, 64);
	if (!strcmp(k, "api_socket"))
		return config_set_str(c, &cfg->api_socket, v, false);
	if (!strcmp(k, "api_listen")) {
		const char *colon = strrchr(v, ':');
		long port;
		if (!colon || colon == v || parse_long(colon + 1, 1, 65535, &port))
			return config_fail(c, "api_listen: expected HOST:PORT, got '%s'", v);
		return config_set_str(c, &cfg->api_listen, v, false);
	}
	if (!strcmp(k, "api_tokens"))
		return config_set_str(c, &cfg->api_tokens, v, true);
	if (!strcmp(k, "rules_dir"))
		return config_set_str(c, &cfg->rules_dir, v, true);
	if (!strcmp(k, "identity_map"))
		return config_set_str(c, &cfg->identity_map, v, true);
	if (!strcmp(k, "print_accepted"))
		return config_set_bool(c, &cfg->print_accepted, k, v);
	if (!strcmp(k, "map_size_mb"))
		return set_size(c, &cfg->map_size, k, v, 1, 1L << 22, 1u << 20);
	return config_fail(c, "unknown key '%s' in [daemon]", k);
}

static int valid_zmq_address(const char *v)
{
	return !strncmp(v, "tcp://", 6) || !strncmp(v, "ipc://", 6) || !strncmp(v, "inproc://", 9);
}

static int bus_key(struct parse_ctx *c, const char *k, const char *v)
{
	struct config *cfg = c->cfg;
	if (!strcmp(k, "subscribe"))
		return config_push_str(c, &cfg->subscribe, &cfg->n_subscribe, v);
	if (!strcmp(k, "rcvhwm"))
		return config_set_int(c, &cfg->rcvhwm, k, v, 1, 10000000);
	if (!strcmp(k, "max_message_size"))
		return set_size(c, &cfg->max_message_size, k, v, 256, 64L << 20, 1);
	if (!strcmp(k, "replay_timeout_ms"))
		return config_set_int(c, &cfg->replay_timeout_ms, k, v, 10, 600000);
	if (!strcmp(k, "replay_batch"))
		return config_set_int(c, &cfg->replay_batch, k, v, 1, 10000);
	if (!strcmp(k, "dedup_window"))
		return set_size(c, &cfg->dedup_window, k, v, 1, 100000000L, 1);
	return config_fail(c, "unknown key '%s' in [bus]", k);
}

static struct config_endpoint *endpoint_for(struct parse_ctx *c, const char *name)
{
	struct config *cfg = c->cfg;
	for (size_t i = 0; i < cfg->n_endpoints; i++)
		if (!strcmp(cfg->endpoints[i].name, name))
			return &cfg->endpoints[i];
	struct config_endpoint *e = realloc(cfg->endpoints, (cfg->n_endpoints + 1) * sizeof *e);
	if (!e)
		return NULL;
	cfg->endpoints = e;
	e = &e[cfg->n_endpoints];
	memset(e, 0, sizeof *e);
	if (!(e->name = strdup(name)))
		return NULL;
	cfg->n_endpoints++;
	return e;
}

static int endpoint_key(struct parse_ctx *c, const char *name, const char *k, const char *v)
{
	if (!*name)
		return config_fail(c, "[endpoint] needs a name: [endpoint NAME]");
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
			return config_fail(c, "endpoint name '%s': use letters, digits, '.', '_' or '-'", name);
	struct config_endpoint *e = endpoint_for(c, name);
	if (!e)
		return config_fail(c, "out of memory");
	if (!valid_zmq_address(v))
		return config_fail(c, "%s: expected a tcp://, ipc:// or inproc:// address, got '%s'", k, v);
	if (!strcmp(k, "connect"))
		return config_push_str(c, &e->connect, &e->n_connect, v);
	if (!strcmp(k, "replay"))
		return config_set_str(c, &e->replay, v, false);
	return config_fail(c, "unknown key '%s' in [endpoint %s]", k, name);
}

static int verify_key_(struct parse_ctx *c, const char *k, const char *v)
{
	struct verify_config *vc = &c->cfg->verify;
	if (!strcmp(k, "require_signatures"))
		return config_set_bool(c, &vc->require_signatures, k, v);
	if (!strcmp(k, "ca_file"))
		return config_set_str(c, &vc->ca_file, v, true);
	if (!strcmp(k, "crl_file"))
		return config_set_str(c, &vc->crl_file, v, true);
	if (!strcmp(k, "security_level"))
		return config_set_int(c, &vc->security_level, k, v, 0, 5);
	if (!strcmp(k, "ignore_cert_time"))
		return config_set_bool(c, &vc->ignore_cert_time, k, v);
	if (!strcmp(k, "routing_strict"))
		return config_set_bool(c, &vc->routing_strict, k, v);
	return config_fail(c, "unknown key '%s' in [verify]", k);
}

static int routing_key(struct parse_ctx *c, const char *k, const char *v)
{
	struct verify_config *vc = &c->cfg->verify;
	struct verify_route *r = NULL;
	for (size_t i = 0; i < vc->n_routes; i++)
		if (!strcmp(vc->routes[i].pattern, k))
			r = &vc->routes[i];
	if (!r) {
		r = realloc(vc->routes, (vc->n_routes + 1) * sizeof *r);
		if (!r)
			return config_fail(c, "out of memory");
		vc->routes = r;
		r = &r[vc->n_routes];
		memset(r, 0, sizeof *r);
		if (!(r->pattern = strdup(k)))
			return config_fail(c, "out of memory");
		vc->n_routes++;
	}
	char *copy = strdup(v), *save = NULL;
	if (!copy)
		return config_fail(c, "out of memory");
	int ok = 1;
	for (char *t = strtok_r(copy, " \t,", &save); t && ok; t = strtok_r(NULL, " \t,", &save))
		ok = config_push_str(c, &r->names, &r->n_names, t);
	free(copy);
	if (ok && !r->n_names)
		return config_fail(c, "routing '%s': expected one or more signer names", k);
	return ok;
}

/* Open a file that must be a regular file: a FIFO or a device named by
 * mistake (or by an attacker who can write the config's folder) would block
 * the reader, heraldd --check-config included. Returns NULL with errno set
 * (EINVAL: not a regular file). */
static FILE *open_regular(const char *path)
{
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || fcntl(fd, F_SETFL, 0)) {
		int e = S_ISREG(st.st_mode) ? errno : EINVAL;
		close(fd);
		errno = e;
		return NULL;
	}
	FILE *f = fdopen(fd, "r");
	if (!f)
		close(fd);
	return f;
}

/* An Ed25519 public key: base64 of the 32 raw bytes, or a PEM file.
 * Returns 0, or -EINVAL with *why set when the file is not a regular one. */
static int load_pubkey(struct parse_ctx *c, const char *v, unsigned char pub[32],
		       const char **why)
{
	size_t vlen = strlen(v);
	if (vlen == 44 && v[43] == '=') {
		unsigned char raw[33];
		if (EVP_DecodeBlock(raw, (const unsigned char *)v, 44) == 33) {
			memcpy(pub, raw, 32);
			return 0;
		}
	}
	char *path = resolve_path(c, v);
	FILE *f = path ? open_regular(path) : NULL;
	if (path && !f && errno == EINVAL)
		*why = "is not a regular file";
	EVP_PKEY *pk = f ? PEM_read_PUBKEY(f, NULL, NULL, NULL) : NULL;
	size_t len = 32;
	int rc = -EINVAL;
	if (pk && EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519 &&
	    EVP_PKEY_get_raw_public_key(pk, pub, &len) == 1 && len == 32)
		rc = 0;
	EVP_PKEY_free(pk);
	if (f)
		fclose(f);
	free(path);
	return rc;
}

static int keys_key(struct parse_ctx *c, const char *k, const char *v)
{
	struct verify_config *vc = &c->cfg->verify;
	for (size_t i = 0; i < vc->n_keys; i++)
		if (!strcmp(vc->keys[i].name, k))
			return config_fail(c, "key '%s' defined twice", k);
	struct verify_key *key = realloc(vc->keys, (vc->n_keys + 1) * sizeof *key);
	if (!key)
		return config_fail(c, "out of memory");
	vc->keys = key;
	key = &key[vc->n_keys];
	const char *why = NULL;
	int rc = load_pubkey(c, v, key->pub, &why);
	if (rc && why)
		return config_fail(c, "key '%s': %s %s", k, v, why);
	if (rc)
		return config_fail(c, "key '%s': expected the base64 of a 32-byte Ed25519 public key or "
			       "a readable Ed25519 PEM public key file", k);
	if (!(key->name = strdup(k)))
		return config_fail(c, "out of memory");
	vc->n_keys++;
	return 1;
}

static int parse_double(const char *s, double min, double max, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= min && v <= max))
		return -EINVAL;
	*out = v;
	return 0;
}

static int set_ms(struct parse_ctx *c, long *dst, const char *k, const char *v, long min, long max)
{
	if (parse_long(v, min, max, dst))
		return config_fail(c, "%s: expected milliseconds from %ld to %ld, got '%s'", k, min, max, v);
	return 1;
}

/* Notifications per minute; 0 or "none": no limit. */
static int set_rate(struct parse_ctx *c, double *dst, const char *k, const char *v)
{
	if (!strcmp(v, "none")) {
		*dst = 0;
		return 1;
	}
	if (parse_double(v, 0, 1e6, dst))
		return config_fail(c, "%s: expected notifications per minute (0 to 1000000) or none, got '%s'",
			    k, v);
	return 1;
}

static int dispatch_key(struct parse_ctx *c, const char *k, const char *v)
{
	struct config_dispatch *d = &c->cfg->dispatch;
	if (!strcmp(k, "plugin_dir"))
		return config_set_str(c, &d->plugin_dir, v, true);
	if (!strcmp(k, "retry_base_ms"))
		return set_ms(c, &d->retry_base_ms, k, v, 1, 86400000L);
	if (!strcmp(k, "retry_max_ms"))
		return set_ms(c, &d->retry_max_ms, k, v, 1, 7 * 86400000L);
	if (!strcmp(k, "max_attempts"))
		return config_set_int(c, &d->max_attempts, k, v, 1, 1000);
	if (!strcmp(k, "pause_after_ms"))
		return set_ms(c, &d->pause_after_ms, k, v, 1, 30 * 86400000L);
	if (!strcmp(k, "probe_interval_ms"))
		return set_ms(c, &d->probe_interval_ms, k, v, 1, 86400000L);
	if (!strcmp(k, "delivery_log"))
		return set_size(c, &d->delivery_log, k, v, 0, 100000000L, 1);
	if (!strcmp(k, "digest_max_items"))
		return config_set_int(c, &d->digest_max_items, k, v, 1, 10000);
	if (!strcmp(k, "digest_max_bytes"))
		return set_size(c, &d->digest_max_bytes, k, v, 1024, 16L << 20, 1);
	if (!strcmp(k, "rate"))
		return set_rate(c, &d->rate, k, v);
	if (!strcmp(k, "burst"))
		return config_set_int(c, &d->burst, k, v, 1, 1000000);
	return config_fail(c, "unknown key '%s' in [dispatch]", k);
}

static struct config_sink *sink_for(struct parse_ctx *c, const char *name)
{
	struct config *cfg = c->cfg;
	for (size_t i = 0; i < cfg->n_sinks; i++)
		if (!strcmp(cfg->sinks[i].name, name))
			return &cfg->sinks[i];
	struct config_sink *s = realloc(cfg->sinks, (cfg->n_sinks + 1) * sizeof *s);
	if (!s)
		return NULL;
	cfg->sinks = s;
	s = &s[cfg->n_sinks];
	*s = (struct config_sink){.batch = 64, .rate = -1};
	if (!(s->name = strdup(name)))
		return NULL;
	cfg->n_sinks++;
	return s;
}

const struct config_sink *config_sink_find(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->n_sinks; i++)
		if (!strcmp(cfg->sinks[i].name, name))
			return &cfg->sinks[i];
	return NULL;
}

static int sink_option(struct parse_ctx *c, struct config_sink *s, const char *k, const char *v)
{
	for (size_t i = 0; i < s->n_options; i++)
		if (!strcmp(s->options[i].key, k))
			return config_fail(c, "%s: given twice in [sink %s]", k, s->name);
	struct herald_sink_option *o = realloc(s->options, (s->n_options + 1) * sizeof *o);
	if (!o)
		return config_fail(c, "out of memory");
	s->options = o;
	o = &o[s->n_options];
	*o = (struct herald_sink_option){strdup(k), strdup(v), (unsigned)c->lineno};
	s->n_options++;
	if (!o->key || !o->value)
		return config_fail(c, "out of memory");
	return 1;
}

static int sink_key(struct parse_ctx *c, const char *name, const char *k, const char *v)
{
	if (!*name)
		return config_fail(c, "[sink] needs a name: [sink NAME]");
	if (strlen(name) > 32)
		return config_fail(c, "sink name '%s': at most 32 characters", name);
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("_-", *p))
			return config_fail(c, "sink name '%s': use letters, digits, '_' or '-'", name);
	struct config_sink *s = sink_for(c, name);
	if (!s)
		return config_fail(c, "out of memory");
	if (!strcmp(k, "plugin"))
		return config_set_str(c, &s->plugin, v, strchr(v, '/') != NULL);
	if (!strcmp(k, "template"))
		return config_set_str(c, &s->template_text, v, false);
	if (!strcmp(k, "template_markdown"))
		return config_set_str(c, &s->template_markdown, v, false);
	if (!strcmp(k, "footer"))
		return config_set_bool(c, &s->footer, k, v);
	if (!strcmp(k, "verify"))
		return config_set_bool(c, &s->verify, k, v);
	if (!strcmp(k, "rate"))
		return set_rate(c, &s->rate, k, v);
	if (!strcmp(k, "burst"))
		return config_set_int(c, &s->burst, k, v, 1, 1000000);
	if (!strcmp(k, "batch"))
		return config_set_int(c, &s->batch, k, v, 1, 10000);
	if (!strcmp(k, "isolation")) {
		if (strcmp(v, "process") && strcmp(v, "inline"))
			return config_fail(c, "isolation: 'process' or 'inline', not '%s'", v);
		s->inline_plugin = !strcmp(v, "inline");
		return 1;
	}
	return sink_option(c, s, k, v);
}

int config_parse_duration(const char *s, long *out_s)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || v < 0 || !isdigit((unsigned char)*s))
		return -EINVAL;
	long unit = 1;
	if (*end) {
		const char *units = "smhd";
		const long mult[] = {1, 60, 3600, 86400};
		const char *u = end[1] ? NULL : strchr(units, *end);
		if (!u)
			return -EINVAL;
		unit = mult[u - units];
	}
	if (v > LONG_MAX / unit)
		return -EINVAL;
	*out_s = v * unit;
	return 0;
}

static int set_duration(struct parse_ctx *c, long *dst, const char *k, const char *v, long min,
			long max)
{
	long d;
	if (config_parse_duration(v, &d) || d < min || d > max)
		return config_fail(c, "%s: expected a duration from %lds to %lds (such as 90s, 30m, 8h, 60d), "
			       "got '%s'", k, min, max, v);
	*dst = d;
	return 1;
}

/* Split a list on spaces and commas; each item through `check` (NULL: any). */
static int push_list(struct parse_ctx *c, char ***arr, size_t *n, const char *k, const char *v,
		     bool (*check)(const char *), const char *what)
{
	char *copy = strdup(v), *save = NULL;
	if (!copy)
		return config_fail(c, "out of memory");
	int ok = 1;
	for (char *t = strtok_r(copy, " \t,", &save); t && ok; t = strtok_r(NULL, " \t,", &save)) {
		if (check && !check(t))
			ok = config_fail(c, "%s: '%s' is not %s", k, t, what);
		else
			ok = config_push_str(c, arr, n, t);
	}
	free(copy);
	if (ok && !*n)
		return config_fail(c, "%s: expected %s, one or more", k, what);
	return ok;
}

static bool is_ip_address(const char *s)
{
	unsigned char b[16];
	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static bool is_loopback_host(const char *h, size_t n)
{
	return (n == 9 && !strncmp(h, "localhost", 9)) || (n == 5 && !strncmp(h, "[::1]", 5)) ||
	       (n >= 4 && !strncmp(h, "127.", 4) && strspn(h, "0123456789.") == n);
}

/* "scheme://host[:port][/path]" with no query, fragment, user info or
 * whitespace. *host and *host_len: the host part (with the port cut off), for the
 * caller's own checks. Returns 0 or -EINVAL. */
static int check_url(const char *v, bool allow_path, const char **host, size_t *host_len)
{
	const char *p;
	if (!strncmp(v, "https://", 8))
		p = v + 8;
	else if (!strncmp(v, "http://", 7))
		p = v + 7;
	else
		return -EINVAL;
	size_t auth = strcspn(p, "/");
	if (!auth || strpbrk(v, "?#@ \t\\\"'<>"))
		return -EINVAL;
	if (!allow_path && p[auth] && strcmp(p + auth, "/"))
		return -EINVAL;
	for (const char *q = p + auth; *q; q++)
		if ((unsigned char)*q < 0x21 || (unsigned char)*q > 0x7e)
			return -EINVAL;
	/* The port is what follows the last ':' outside an IPv6 literal. */
	const char *close = memchr(p, ']', auth);
	const char *colon = NULL;
	for (const char *q = close ? close : p; q < p + auth; q++)
		if (*q == ':')
			colon = q;
	*host = p;
	*host_len = colon ? (size_t)(colon - p) : auth;
	if (!*host_len)
		return -EINVAL;
	if (colon) {
		long port;
		char portbuf[8] = "";
		size_t pl = (size_t)(p + auth - colon - 1);
		if (!pl || pl >= sizeof portbuf)
			return -EINVAL;
		memcpy(portbuf, colon + 1, pl);
		if (parse_long(portbuf, 1, 65535, &port))
			return -EINVAL;
	}
	return 0;
}

/* Trailing slashes are dropped: base_url + "/auth/callback" must be one URL. */
static int set_url(struct parse_ctx *c, char **dst, const char *k, const char *v, bool path)
{
	const char *host;
	size_t hl;
	if (check_url(v, path, &host, &hl))
		return config_fail(c, "%s: expected %s, got '%s'", k,
			    path ? "http(s)://HOST[:PORT][/PREFIX]" : "http(s)://HOST[:PORT]", v);
	if (!config_set_str(c, dst, v, false))
		return 0;
	size_t n = strlen(*dst);
	while (n > 0 && (*dst)[n - 1] == '/')
		(*dst)[--n] = '\0';
	return 1;
}

static int check_host_port(struct parse_ctx *c, const char *k, const char *v)
{
	const char *colon = strrchr(v, ':');
	long port;
	if (!colon || colon == v || parse_long(colon + 1, 1, 65535, &port))
		return config_fail(c, "%s: expected HOST:PORT, got '%s'", k, v);
	return 1;
}

static int web_key(struct parse_ctx *c, const char *k, const char *v)
{
	struct config_web *w = &c->cfg->web;
	if (!strcmp(k, "listen"))
		return check_host_port(c, k, v) && config_set_str(c, &w->listen, v, false);
	if (!strcmp(k, "base_url"))
		return set_url(c, &w->base_url, k, v, true);
	if (!strcmp(k, "tls_cert"))
		return config_set_str(c, &w->tls_cert, v, true);
	if (!strcmp(k, "tls_key"))
		return config_set_str(c, &w->tls_key, v, true);
	if (!strcmp(k, "trusted_proxies"))
		return push_list(c, &w->trusted_proxies, &w->n_trusted_proxies, k, v, is_ip_address,
				 "a numeric IPv4 or IPv6 address");
	if (!strcmp(k, "assets"))
		return config_set_str(c, &w->assets, v, true);
	if (!strcmp(k, "session_ttl"))
		return set_duration(c, &w->session_ttl_s, k, v, 60, 30 * 86400L);
	if (!strcmp(k, "admins"))
		return push_list(c, &w->admins, &w->n_admins, k, v, NULL, "a user name");
	if (!strcmp(k, "dashboard")) {
		static const char *names[] = {"signed-in", "public", "off"};
		for (size_t i = 0; i < 3; i++)
			if (!strcmp(v, names[i]))
				return w->dashboard = (enum config_dashboard)i, 1;
		return config_fail(c, "dashboard: expected public, signed-in or off, got '%s'", v);
	}
	if (!strcmp(k, "recent_messages"))
		return set_size(c, &w->recent_messages, k, v, 1, 100000, 1);
	if (!strcmp(k, "link_ttl"))
		return set_duration(c, &w->link_ttl_s, k, v, 3600, 3650 * 86400L);
	if (!strcmp(k, "max_per_ip"))
		return config_set_int(c, &w->max_per_ip, k, v, 1, 100000);
	return config_fail(c, "unknown key '%s' in [web]", k);
}

static int set_issuer(struct parse_ctx *c, const char *k, const char *v)
{
	const char *host;
	size_t hl;
	if (check_url(v, true, &host, &hl))
		return config_fail(c, "%s: expected https://HOST[/PATH], got '%s'", k, v);
	if (!strncmp(v, "http://", 7) && !is_loopback_host(host, hl))
		return config_fail(c, "%s: http:// only for a loopback host (127.0.0.1, [::1], localhost); "
			       "use https://, got '%s'", k, v);
	/* Kept as given: the ID token's iss must equal it byte for byte, so only
	 * a trailing slash is dropped (discovery appends its own). */
	return set_url(c, &c->cfg->oidc.issuer, k, v, true);
}

static int oidc_key(struct parse_ctx *c, const char *k, const char *v)
{
	struct config_oidc *o = &c->cfg->oidc;
	if (!strcmp(k, "issuer"))
		return set_issuer(c, k, v);
	if (!strcmp(k, "client_id")) {
		for (const char *p = v; *p; p++)
			if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
				return config_fail(c, "client_id: printable characters without spaces, got '%s'", v);
		return config_set_str(c, &o->client_id, v, false);
	}
	if (!strcmp(k, "client_secret_file"))
		return config_set_str(c, &o->client_secret_file, v, true);
	if (!strcmp(k, "username_claim")) {
		for (const char *p = v; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr("_-.:", *p))
				return config_fail(c, "username_claim: expected a claim name, got '%s'", v);
		return config_set_str(c, &o->username_claim, v, false);
	}
	if (!strcmp(k, "scopes")) {
		char padded[256];
		for (const char *p = v; *p; p++)
			if (!isalnum((unsigned char)*p) && !strchr(" _-.:/", *p))
				return config_fail(c, "scopes: expected scope names separated by spaces, got '%s'", v);
		snprintf(padded, sizeof padded, " %s ", v);
		if (!strstr(padded, " openid "))
			return config_fail(c, "scopes: must include openid, got '%s'", v);
		return config_set_str(c, &o->scopes, v, false);
	}
	if (!strcmp(k, "create_users"))
		return config_set_bool(c, &o->create_users, k, v);
	return config_fail(c, "unknown key '%s' in [oidc]", k);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse_ctx *c = user;
	if (c->err_line)
		return 0;
	if (!*value && strcmp(section, "bus") != 0)
		return config_fail(c, "%s: empty value", name);
	if (!strcmp(section, "daemon"))
		return daemon_key(c, name, value);
	if (!strcmp(section, "bus"))
		return bus_key(c, name, value);
	if (!strncmp(section, "endpoint", 8) && (section[8] == ' ' || !section[8]))
		return endpoint_key(c, section + (section[8] ? 9 : 8), name, value);
	if (!strncmp(section, "amqp", 4) && (section[4] == ' ' || !section[4]))
		return config_amqp_key(c, section + (section[4] ? 5 : 4), name, value);
	if (!strcmp(section, "verify"))
		return verify_key_(c, name, value);
	if (!strcmp(section, "routing"))
		return routing_key(c, name, value);
	if (!strcmp(section, "keys"))
		return keys_key(c, name, value);
	if (!strcmp(section, "dispatch"))
		return dispatch_key(c, name, value);
	if (!strncmp(section, "sink", 4) && (section[4] == ' ' || !section[4]))
		return sink_key(c, section + (section[4] ? 5 : 4), name, value);
	if (!strcmp(section, "web"))
		return web_key(c, name, value);
	if (!strcmp(section, "oidc"))
		return oidc_key(c, name, value);
	return config_fail(c, "unknown section [%s]", section);
}

static void set_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->log_level = L_INFO;
	cfg->workers = 2;
	cfg->map_size = (size_t)1 << 30;
	cfg->rcvhwm = 100000;
	cfg->max_message_size = 1 << 20;
	cfg->replay_timeout_ms = 5000;
	cfg->replay_batch = 1000;
	cfg->dedup_window = 1000000;
	cfg->verify.require_signatures = true;
	cfg->verify.security_level = 1;
	cfg->dispatch = (struct config_dispatch){
		.retry_base_ms = 30000, .retry_max_ms = 3600000, .max_attempts = 12,
		.pause_after_ms = 6 * 3600000L, .probe_interval_ms = 30000, .delivery_log = 10000,
		.digest_max_items = 100, .digest_max_bytes = 64 << 10, .rate = 60, .burst = 20};
	cfg->web = (struct config_web){.session_ttl_s = 8 * 3600, .recent_messages = 2000,
				       .link_ttl_s = 60 * 86400L, .max_per_ip = 64};
}

/* [web] and [oidc] together: what only the whole file can tell. */
static int finish_web(struct parse_ctx *c)
{
	struct config_web *w = &c->cfg->web;
	struct config_oidc *o = &c->cfg->oidc;
	bool any_oidc = o->issuer || o->client_id || o->client_secret_file || o->username_claim ||
			o->scopes;
	if (!w->listen) {
		if (w->base_url || w->tls_cert || w->tls_key || w->n_trusted_proxies || w->assets ||
		    w->n_admins)
			return config_fail(c, "[web] needs listen = HOST:PORT (without it there is no web app)");
		if (any_oidc)
			return config_fail(c, "[oidc] needs the web app: [web] listen = HOST:PORT");
		return 1;
	}
	if (!w->base_url)
		return config_fail(c, "[web] base_url is required (the public origin, such as "
			       "https://herald.example.org)");
	if (!w->tls_cert != !w->tls_key)
		return config_fail(c, "[web] tls_cert and tls_key: both or neither");
	if (!w->assets && !(w->assets = strdup(HERALD_WEB_DIR)))
		return config_fail(c, "out of memory");
	if (any_oidc) {
		if (!o->issuer || !o->client_id || !o->client_secret_file)
			return config_fail(c, "[oidc] needs issuer, client_id and client_secret_file");
		if (!o->username_claim && !(o->username_claim = strdup("preferred_username")))
			return config_fail(c, "out of memory");
		if (!o->scopes && !(o->scopes = strdup("openid profile email")))
			return config_fail(c, "out of memory");
	}
	return 1;
}

/* Checks that need the whole file; reported against the last line. */
static int finish(struct parse_ctx *c)
{
	struct config *cfg = c->cfg;
	if (!cfg->state_dir)
		return config_fail(c, "[daemon] state_dir is required");
	for (size_t i = 0; i < cfg->n_endpoints; i++)
		if (!cfg->endpoints[i].n_connect)
			return config_fail(c, "[endpoint %s] has no connect address", cfg->endpoints[i].name);
	if (!config_amqp_finish(c))
		return 0;
	if (!cfg->n_endpoints && !cfg->n_amqp)
		return config_fail(c, "at least one [endpoint NAME] section with a connect address, or "
				      "an [amqp NAME] section, is required");
	if (!cfg->rules_dir && !(cfg->rules_dir = strdup(HERALD_RULES_DIR)))
		return config_fail(c, "out of memory");
	if (!cfg->dispatch.plugin_dir && !(cfg->dispatch.plugin_dir = strdup(HERALD_SINK_DIR)))
		return config_fail(c, "out of memory");
	if (cfg->dispatch.retry_max_ms < cfg->dispatch.retry_base_ms)
		return config_fail(c, "[dispatch] retry_max_ms is smaller than retry_base_ms");
	for (size_t i = 0; i < cfg->n_sinks; i++)
		if (!cfg->sinks[i].plugin)
			return config_fail(c, "[sink %s] needs plugin = NAME or a path", cfg->sinks[i].name);
	if (!finish_web(c))
		return 0;
	if (!cfg->api_socket) {
		size_t n = strlen(cfg->state_dir) + sizeof "/heraldd.sock";
		if (!(cfg->api_socket = malloc(n)))
			return config_fail(c, "out of memory");
		snprintf(cfg->api_socket, n, "%s/heraldd.sock", cfg->state_dir);
	} else if (cfg->api_socket[0] != '/') {
		char *rel = cfg->api_socket;
		size_t n = strlen(cfg->state_dir) + strlen(rel) + 2;
		if (!(cfg->api_socket = malloc(n))) {
			cfg->api_socket = rel;
			return config_fail(c, "out of memory");
		}
		snprintf(cfg->api_socket, n, "%s/%s", cfg->state_dir, rel);
		free(rel);
	}
	return 1;
}

int config_load(const char *path, struct config *cfg, char *err, size_t errlen)
{
	struct parse_ctx c = {.cfg = cfg};
	char *dir = NULL;
	set_defaults(cfg);
	if (!(cfg->path = strdup(path)) || !(dir = strdup(path))) {
		snprintf(err, errlen, "%s: out of memory", path);
		goto fail;
	}
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	c.dir = slash ? (slash == dir ? "/" : dir) : NULL;
	if (!(c.file = fopen(path, "r"))) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	int line = ini_parse_stream(reader, &c, handler, &c);
	fclose(c.file);
	if (line && !c.err_line) {
		c.err_line = line;
		snprintf(c.err, sizeof c.err, "syntax error: expected '[section]' or 'key = value'");
	}
	if (!c.err_line)
		finish(&c);
	if (c.err_line) {
		snprintf(err, errlen, "%s:%d: %s", path, c.err_line, c.err);
		goto fail;
	}
	free(dir);
	return 0;
fail:
	free(dir);
	config_release(cfg);
	return -EINVAL;
}

static void free_strv(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void config_release(struct config *cfg)
{
	free(cfg->path);
	free(cfg->state_dir);
	free(cfg->api_socket);
	free(cfg->api_listen);
	free(cfg->api_tokens);
	free(cfg->rules_dir);
	free(cfg->identity_map);
	for (size_t i = 0; i < cfg->n_endpoints; i++) {
		free(cfg->endpoints[i].name);
		free_strv(cfg->endpoints[i].connect, cfg->endpoints[i].n_connect);
		free(cfg->endpoints[i].replay);
	}
	free(cfg->endpoints);
	config_amqp_release(cfg);
	free_strv(cfg->subscribe, cfg->n_subscribe);
	verify_config_release(&cfg->verify);
	free(cfg->dispatch.plugin_dir);
	for (size_t i = 0; i < cfg->n_sinks; i++) {
		struct config_sink *s = &cfg->sinks[i];
		free(s->name);
		free(s->plugin);
		free(s->template_text);
		free(s->template_markdown);
		for (size_t k = 0; k < s->n_options; k++) {
			free((char *)s->options[k].key);
			free((char *)s->options[k].value);
		}
		free(s->options);
	}
	free(cfg->sinks);
	free(cfg->web.listen);
	free(cfg->web.base_url);
	free(cfg->web.tls_cert);
	free(cfg->web.tls_key);
	free_strv(cfg->web.trusted_proxies, cfg->web.n_trusted_proxies);
	free(cfg->web.assets);
	free_strv(cfg->web.admins, cfg->web.n_admins);
	free(cfg->oidc.issuer);
	free(cfg->oidc.client_id);
	free(cfg->oidc.client_secret_file);
	free(cfg->oidc.username_claim);
	free(cfg->oidc.scopes);
	memset(cfg, 0, sizeof *cfg);
}
