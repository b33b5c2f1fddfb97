/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * addr: the webhook sink's destination addresses, "URL" or "FORMAT+URL",
 * and the redacted form of a URL that may appear in logs and reasons.
 * Pure string functions: no libcurl (webhook.c has libcurl parse the URL
 * too before using it), no allocation, thread-safe.
 */
#ifndef HERALD_WEBHOOK_ADDR_H
#define HERALD_WEBHOOK_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "payload.h"

/* The longest address validate() accepts, prefix included. */
#define ADDR_MAX 2048

/*
 * Split and check an address. "https://x/y" has format `dflt`;
 * "slack+https://x/y" has format slack (FORMAT: a payload_format_parse
 * name). The URL must be http:// or https:// (scheme case-insensitive),
 * have a host (a name of letters, digits, '-', '.', '_' or a [bracketed]
 * IPv6 literal), an optional :port in 1..65535, and consist of printable
 * ASCII without spaces, quotes, '<', '>', '\', '^', '`', '{', '|', '}'
 * (percent-encode them), at most ADDR_MAX bytes in all.
 * On success: 0, *format set, *url pointing into address. Else -1 with err
 * set; err never holds more of the address than its scheme and host.
 */
int addr_parse(const char *address, enum payload_format dflt, enum payload_format *format,
	       const char **url, char *err, size_t errlen);

/*
 * The URL as it may be logged: "scheme://host[:port]/..." — no userinfo,
 * no path, no query, no fragment (tokens live in all of those), with "/..."
 * only when something was cut. A URL that does not parse becomes
 * "(unparsable URL)". Always NUL-terminates out (truncating).
 */
void addr_redact(const char *url, char *out, size_t outlen);

/*
 * Does text repeat a part of url that may be a secret: the user info, or a
 * path segment, query parameter or fragment of 6 bytes or more? Used to
 * keep a server's error text (which may echo the request) out of reasons
 * and logs. A URL that does not parse: true when text is not empty.
 */
bool addr_leaks(const char *url, const char *text);

#endif
