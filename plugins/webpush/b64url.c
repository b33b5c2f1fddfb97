/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* b64url: base64url without padding (see b64url.h). */
#include "b64url.h"

#include <errno.h>
#include <stdint.h>

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t b64url_encode(const unsigned char *in, size_t n, char *out, size_t outlen)
{
	size_t need = B64URL_ENCLEN(n), o = 0, i = 0;

	if (outlen == 0)
		return 0;
	/* need + 1 cannot wrap: need is about 4/3 of an object's size. */
	if (n > SIZE_MAX / 2 || outlen < need + 1) {
		out[0] = '\0';
		return 0;
	}
	for (; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = alphabet[(v >> 6) & 63];
		out[o++] = alphabet[v & 63];
	}
	if (n - i) {
		uint32_t v = (uint32_t)in[i] << 16 | (n - i > 1 ? (uint32_t)in[i + 1] << 8 : 0);
		out[o++] = alphabet[v >> 18];
		out[o++] = alphabet[(v >> 12) & 63];
		if (n - i > 1)
			out[o++] = alphabet[(v >> 6) & 63];
	}
	out[o] = '\0';
	return o;
}

/* The 6-bit value of c, or -1 outside the url-safe alphabet. */
static int sextet(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* n without its trailing padding, or SIZE_MAX when the padding is not a
 * complete one (only a padded length that is a multiple of 4 is). */
static size_t strip_padding(const char *in, size_t n)
{
	size_t pad = 0;

	while (pad < n && pad < 3 && in[n - 1 - pad] == '=')
		pad++;
	if (pad && (n % 4 != 0 || pad > 2))
		return SIZE_MAX;
	return n - pad;
}

int b64url_decode(const char *in, size_t n, unsigned char *out, size_t outlen, size_t *got)
{
	size_t len = strip_padding(in, n), need, o = 0;
	uint32_t acc = 0;
	int bits = 0;

	*got = 0;
	if (len == SIZE_MAX || len % 4 == 1)
		return -EINVAL;
	need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
	if (need > outlen)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		int v = sextet((unsigned char)in[i]);
		if (v < 0)
			return -EINVAL;
		acc = (acc << 6 | (uint32_t)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	*got = o;
	return 0;
}
