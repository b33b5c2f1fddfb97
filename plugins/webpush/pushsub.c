/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* pushsub: PushSubscription JSON as a destination address (see pushsub.h). */
#include "pushsub.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "b64url.h"
#include "ece.h"

/* Each check fills err and returns -EINVAL, so the callers can return it. */
__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt,
						      ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* A registered name (letters, digits, '-', '.', '_') or an IPv6 literal in
 * brackets (hex digits, ':', '.' for an embedded IPv4). No percent
 * escapes: no push service has them, and they would need decoding. */
static bool valid_host(const char *h, size_t n)
{
	const char *ok = "-._";
	size_t i = 0;

	if (n == 0)
		return false;
	if (h[0] == '[') {
		if (n < 3 || h[n - 1] != ']')
			return false;
		ok = ":.";
		i = 1;
		n--;
	}
	for (; i < n; i++) {
		unsigned char c = (unsigned char)h[i];
		if (h[0] == '[' ? !isxdigit(c) && !strchr(ok, c) : !isalnum(c) && !strchr(ok, c))
			return false;
	}
	return true;
}

/* The port after ':' (n digits), 1..65535; 0 when it is not one. */
static unsigned port_of(const char *p, size_t n)
{
	unsigned v = 0;

	if (n == 0 || n > 5)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return 0;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	return v <= 65535 ? v : 0;
}

/* "https://" + the lowercased host + ":port" unless it is 443. */
static void make_origin(const char *host, size_t host_len, unsigned port, struct pushsub *out)
{
	size_t o = strlen("https://");

	memcpy(out->origin, "https://", o);
	for (size_t i = 0; i < host_len; i++)
		out->origin[o++] = (char)tolower((unsigned char)host[i]);
	out->origin[o] = '\0';
	if (port != 443)
		snprintf(out->origin + o, sizeof out->origin - o, ":%u", port);
}

static int parse_endpoint(const char *url, size_t len, struct pushsub *out, char *err,
			  size_t errlen)
{
	const char *auth, *end, *colon, *host;
	size_t host_len;
	unsigned port = 443;

	if (len > PUSHSUB_ENDPOINT_MAX)
		return fail(err, errlen, "endpoint: longer than %d bytes", PUSHSUB_ENDPOINT_MAX);
	for (size_t i = 0; i < len; i++)
		if (url[i] <= ' ' || url[i] > '~')
			return fail(err, errlen,
				    "endpoint: byte %zu is not printable ASCII (a URL escapes it)",
				    i);
	if (len < 8 || strncasecmp(url, "https://", 8) != 0)
		return fail(err, errlen, "endpoint: not an https:// URL");
	if (strchr(url, '#'))
		return fail(err, errlen, "endpoint: a push endpoint has no fragment ('#')");
	auth = url + 8;
	end = auth + strcspn(auth, "/?");
	if (memchr(auth, '@', (size_t)(end - auth)))
		return fail(err, errlen, "endpoint: user information ('@') is not allowed");
	/* The port's ':' is the last one, after an IPv6 literal's ']'. */
	colon = NULL;
	for (const char *p = end; p > auth; p--)
		if (p[-1] == ':' || p[-1] == ']') {
			colon = p[-1] == ':' ? p - 1 : NULL;
			break;
		}
	host = auth;
	host_len = (size_t)((colon ? colon : end) - auth);
	if (colon && !(port = port_of(colon + 1, (size_t)(end - colon - 1))))
		return fail(err, errlen, "endpoint: the port is not a number in 1..65535");
	if (!valid_host(host, host_len))
		return fail(err, errlen, "endpoint: the host is missing or not a host name");
	memcpy(out->endpoint, url, len);
	out->endpoint[len] = '\0';
	make_origin(host, host_len, port, out);
	return 0;
}

/* A base64url member of keys into exactly want bytes. */
static int parse_key(json_t *keys, const char *name, unsigned char *dst, size_t want, char *err,
		     size_t errlen)
{
	unsigned char buf[128];
	json_t *v = json_object_get(keys, name);
	size_t got = 0;

	if (!v)
		return fail(err, errlen, "keys.%s: missing", name);
	if (!json_is_string(v))
		return fail(err, errlen, "keys.%s: not a string", name);
	if (b64url_decode(json_string_value(v), json_string_length(v), buf, sizeof buf, &got))
		return fail(err, errlen, "keys.%s: not base64url", name);
	if (got != want)
		return fail(err, errlen, "keys.%s: %zu bytes, not %zu", name, got, want);
	memcpy(dst, buf, want);
	return 0;
}

static int parse_p256dh(json_t *keys, struct pushsub *out, char *err, size_t errlen)
{
	EVP_PKEY *pk = NULL;
	int rc = parse_key(keys, "p256dh", out->p256dh, sizeof out->p256dh, err, errlen);

	if (rc)
		return rc;
	if (out->p256dh[0] != 0x04)
		return fail(err, errlen,
			    "keys.p256dh: not an uncompressed point (first byte 0x%02x)",
			    out->p256dh[0]);
	rc = ece_import_public(out->p256dh, &pk);
	EVP_PKEY_free(pk);
	if (rc == -EINVAL)
		return fail(err, errlen, "keys.p256dh: not a point on P-256");
	if (rc)
		return fail(err, errlen, "keys.p256dh: cannot be checked (%s)", strerror(-rc));
	return 0;
}

static int parse_members(json_t *root, struct pushsub *out, char *err, size_t errlen)
{
	json_t *ep = json_object_get(root, "endpoint");
	json_t *exp = json_object_get(root, "expirationTime");
	json_t *keys = json_object_get(root, "keys");
	int rc;

	if (!ep)
		return fail(err, errlen, "endpoint: missing");
	if (!json_is_string(ep))
		return fail(err, errlen, "endpoint: not a string");
	if (exp && !json_is_null(exp) && !json_is_number(exp))
		return fail(err, errlen, "expirationTime: neither null nor a number");
	if (!keys)
		return fail(err, errlen, "keys: missing");
	if (!json_is_object(keys))
		return fail(err, errlen, "keys: not an object");
	if ((rc = parse_endpoint(json_string_value(ep), json_string_length(ep), out, err, errlen)))
		return rc;
	if ((rc = parse_p256dh(keys, out, err, errlen)))
		return rc;
	return parse_key(keys, "auth", out->auth, sizeof out->auth, err, errlen);
}

int pushsub_parse(const char *address, struct pushsub *out, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root;
	int rc;

	memset(out, 0, sizeof *out);
	/* Two "endpoint" members would leave which one counts to the parser. */
	root = json_loads(address, JSON_REJECT_DUPLICATES, &je);
	if (!root)
		return fail(err, errlen, "bad JSON: %s (column %d)", je.text, je.column);
	if (!json_is_object(root))
		rc = fail(err, errlen, "not a JSON object (a PushSubscription is one)");
	else
		rc = parse_members(root, out, err, errlen);
	json_decref(root);
	if (rc)
		memset(out, 0, sizeof *out);
	return rc;
}
