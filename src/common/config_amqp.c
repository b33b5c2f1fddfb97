/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * config_amqp: the [amqp NAME] sections of heraldd.conf (see config.h,
 * struct config_amqp, and heraldd.conf(5)). Checks form only: that the URL
 * looks like amqp(s)://[user[:password]@]host[:port][/vhost] (the vhost
 * read as pika reads it, config_amqp_vhost), that the
 * TLS keys go with amqps, that the files are named in pairs. Connecting,
 * and reading the certificate files, is the AMQP consumer's job
 * (src/daemon/amqp.c). The URL's password never appears in an error.
 */
#include "config_int.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_PREFETCH 4096
#define DEFAULT_HEARTBEAT_S 30

char *config_amqp_redact(const char *url, char *out, size_t outlen)
{
	const char *scheme = strstr(url, "://");
	const char *auth = scheme ? scheme + 3 : url;
	const char *at = strchr(auth, '@');
	const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (!colon)
		snprintf(out, outlen, "%s", url);
	else
		snprintf(out, outlen, "%.*s:***%s", (int)(colon - url), url, at);
	return out;
}

static int hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (char)tolower((unsigned char)ch);
	return ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
}

/* pika's reading, which fedora-messaging's configs rely on: no path or a
 * bare "/" is the default vhost "/" (rabbitmq-c would log in to ""); else
 * the path after its "/", percent-decoded. pika silently drops a second
 * segment and reads a query as options: both are refused here instead. */
const char *config_amqp_vhost(const char *url, char out[CONFIG_AMQP_VHOST_MAX + 1])
{
	const char *scheme = strstr(url, "://");
	const char *path = scheme ? scheme + 3 : url;
	path += strcspn(path, "/");
	size_t n = 0;
	snprintf(out, CONFIG_AMQP_VHOST_MAX + 1, "/");
	if (!*path || !path[1])
		return NULL;
	for (const char *q = path + 1; *q; q++) {
		char ch = *q;
		if (ch == '/')
			return "the URL's path has a second '/': write a '/' in the vhost as %2F";
		if (ch == '?' || ch == '#')
			return "the URL has a query or a fragment: set options with heraldd.conf keys";
		if (ch == '%') {
			int hi = hex_digit(q[1]), lo = hi < 0 ? -1 : hex_digit(q[2]);
			if (lo < 0)
				return "the URL's vhost has a '%' not followed by two hex digits";
			ch = (char)(hi * 16 + lo);
			if (!ch)
				return "the URL's vhost decodes to a NUL byte (%00)";
			q += 2;
		}
		if (n == CONFIG_AMQP_VHOST_MAX)
			return "the URL's vhost is longer than 255 bytes";
		out[n++] = ch;
	}
	out[n] = '\0';
	return NULL;
}

/* amqp(s)://[userinfo@]host[:port][/vhost]: what rabbitmq-c's URL parser
 * will accept, checked now so that a typo is an error at load. */
static const char *check_url(const char *v, bool *tls)
{
	const char *p;
	if (!strncmp(v, "amqps://", 8))
		*tls = true, p = v + 8;
	else if (!strncmp(v, "amqp://", 7))
		*tls = false, p = v + 7;
	else
		return "expected an amqp:// or amqps:// URL";
	const char *end = p + strcspn(p, "/");
	const char *at = memchr(p, '@', (size_t)(end - p));
	const char *host = at ? at + 1 : p;
	const char *port = memchr(host, ':', (size_t)(end - host));
	const char *host_end = port ? port : end;
	if (host_end == host)
		return "the URL has no host";
	for (const char *h = host; h < host_end; h++)
		if (!isalnum((unsigned char)*h) && !strchr(".-_", *h))
			return "the URL's host is not a host name or an IPv4 address";
	if (port) {
		long n = 0;
		if (port + 1 == end)
			return "the URL's port is empty";
		for (const char *q = port + 1; q < end; q++) {
			if (!isdigit((unsigned char)*q) || (n = n * 10 + (*q - '0')) > 65535)
				return "the URL's port is not a number from 1 to 65535";
		}
		if (n == 0)
			return "the URL's port is not a number from 1 to 65535";
	}
	for (const char *q = v; *q; q++)
		if ((unsigned char)*q <= ' ')
			return "the URL contains a space or a control character";
	char vhost[CONFIG_AMQP_VHOST_MAX + 1];
	return config_amqp_vhost(v, vhost);
}

static struct config_amqp *section_for(struct parse_ctx *c, const char *name)
{
	struct config *cfg = c->cfg;
	for (size_t i = 0; i < cfg->n_amqp; i++)
		if (!strcmp(cfg->amqp[i].name, name))
			return &cfg->amqp[i];
	struct config_amqp *a = realloc(cfg->amqp, (cfg->n_amqp + 1) * sizeof *a);
	if (!a)
		return NULL;
	cfg->amqp = a;
	a = &a[cfg->n_amqp];
	*a = (struct config_amqp){.prefetch = DEFAULT_PREFETCH, .heartbeat_s = DEFAULT_HEARTBEAT_S,
				  .queue_durable = true, .line = c->lineno};
	if (!(a->name = strdup(name)))
		return NULL;
	cfg->n_amqp++;
	return a;
}

static int set_url(struct parse_ctx *c, struct config_amqp *a, const char *v)
{
	bool tls;
	char shown[256];
	const char *why = check_url(v, &tls);
	if (why)
		return config_fail(c, "url: %s, got '%s'", why,
				   config_amqp_redact(v, shown, sizeof shown));
	return config_set_str(c, &a->url, v, false);
}

static int set_trust(struct parse_ctx *c, struct config_amqp *a, const char *v)
{
	if (strcmp(v, "broker"))
		return config_fail(c, "trust: expected 'broker' (fedora-messaging messages are not "
				      "signed: the broker's TLS and credentials vouch for them), got '%s'", v);
	a->trust_broker = true;
	return 1;
}

static int set_bind(struct parse_ctx *c, struct config_amqp *a, const char *v)
{
	if (strlen(v) > 255)
		return config_fail(c, "bind: a binding key is at most 255 bytes");
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p <= ' ')
			return config_fail(c, "bind: one binding key per line, without spaces, got '%s'", v);
	return config_push_str(c, &a->bind, &a->n_bind, v);
}

static int set_name(struct parse_ctx *c, char **dst, const char *k, const char *v)
{
	if (strlen(v) > 255)
		return config_fail(c, "%s: at most 255 bytes", k);
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < ' ')
			return config_fail(c, "%s: control characters are not allowed", k);
	return config_set_str(c, dst, v, false);
}

int config_amqp_key(struct parse_ctx *c, const char *name, const char *k, const char *v)
{
	if (!*name)
		return config_fail(c, "[amqp] needs a name: [amqp NAME]");
	for (const char *p = name; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
			return config_fail(c, "amqp name '%s': use letters, digits, '.', '_' or '-'", name);
	struct config_amqp *a = section_for(c, name);
	if (!a)
		return config_fail(c, "out of memory");
	if (!strcmp(k, "url"))
		return set_url(c, a, v);
	if (!strcmp(k, "trust"))
		return set_trust(c, a, v);
	if (!strcmp(k, "ca_file"))
		return config_set_str(c, &a->ca_file, v, true);
	if (!strcmp(k, "cert_file"))
		return config_set_str(c, &a->cert_file, v, true);
	if (!strcmp(k, "key_file"))
		return config_set_str(c, &a->key_file, v, true);
	if (!strcmp(k, "exchange"))
		return set_name(c, &a->exchange, k, v);
	if (!strcmp(k, "queue"))
		return set_name(c, &a->queue, k, v);
	if (!strcmp(k, "queue_durable")) {
		a->durable_said = true;
		return config_set_bool(c, &a->queue_durable, k, v);
	}
	if (!strcmp(k, "bind"))
		return set_bind(c, a, v);
	if (!strcmp(k, "prefetch"))
		return config_set_int(c, &a->prefetch, k, v, 1, 65535);
	if (!strcmp(k, "heartbeat"))
		return config_set_int(c, &a->heartbeat_s, k, v, 0, 3600);
	return config_fail(c, "unknown key '%s' in [amqp %s]", k, name);
}

/* What only the whole section can tell; reported at its first key's line. */
static int finish_one(struct parse_ctx *c, struct config_amqp *a)
{
	bool tls = false;
	c->lineno = a->line;
	if (!a->url)
		return config_fail(c, "[amqp %s] needs url = amqps://...", a->name);
	check_url(a->url, &tls);
	if (!a->trust_broker)
		return config_fail(c, "[amqp %s] needs trust = broker: its messages are not signed, "
				      "the broker's TLS and credentials vouch for them", a->name);
	if (!tls && (a->ca_file || a->cert_file || a->key_file))
		return config_fail(c, "[amqp %s] ca_file, cert_file and key_file need an amqps:// url",
				   a->name);
	if (!a->cert_file != !a->key_file)
		return config_fail(c, "[amqp %s] cert_file and key_file: both or neither", a->name);
	if (!a->queue && a->durable_said && a->queue_durable)
		return config_fail(c, "[amqp %s] queue_durable = yes needs a queue name (a server-named "
				      "queue lives only as long as the connection)", a->name);
	if (!a->queue)
		a->queue_durable = false;
	if (!a->exchange && !(a->exchange = strdup("amq.topic")))
		return config_fail(c, "out of memory");
	if (!a->n_bind)
		return config_push_str(c, &a->bind, &a->n_bind, "#");
	return 1;
}

int config_amqp_finish(struct parse_ctx *c)
{
	int last = c->lineno;
	for (size_t i = 0; i < c->cfg->n_amqp; i++)
		if (!finish_one(c, &c->cfg->amqp[i]))
			return 0;
	c->lineno = last;
	return 1;
}

void config_amqp_release(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_amqp; i++) {
		struct config_amqp *a = &cfg->amqp[i];
		free(a->name);
		free(a->url);
		free(a->ca_file);
		free(a->cert_file);
		free(a->key_file);
		free(a->exchange);
		free(a->queue);
		for (size_t k = 0; k < a->n_bind; k++)
			free(a->bind[k]);
		free(a->bind);
	}
	free(cfg->amqp);
	cfg->amqp = NULL;
	cfg->n_amqp = 0;
}
