/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* sign: Standard Webhooks and GitHub-style HMAC signatures (see sign.h). */
#define _GNU_SOURCE /* explicit_bzero */
#include "sign.h"

#include <openssl/evp.h>
#include <openssl/params.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void sign_key_wipe(struct sign_key *key)
{
	explicit_bzero(key, sizeof *key);
}

static int is_b64(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '+' || c == '/';
}

int sign_parse_whsec(const char *s, size_t len, struct sign_key *key, char *err, size_t errlen)
{
	unsigned char out[(SIGN_KEY_MAX / 3 + 2) * 3 + 3];
	size_t b64 = len > 6 ? len - 6 : 0, pad = 0;
	int n;

	*key = (struct sign_key){0};
	if (len < 6 || memcmp(s, "whsec_", 6) != 0) {
		snprintf(err, errlen, "a secret must start with 'whsec_'");
		return -1;
	}
	s += 6;
	for (size_t i = 0; i < b64; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '=' && i + 2 >= b64 && (i + 1 == b64 || s[i + 1] == '='))
			pad++;
		else if (!is_b64(c) || pad) {
			snprintf(err, errlen, "the secret after 'whsec_' is not base64 (byte %zu)",
				 i + 6);
			return -1;
		}
	}
	if (b64 == 0 || b64 % 4 != 0 || b64 / 4 * 3 > sizeof out - 3) {
		snprintf(err, errlen,
			 b64 % 4 ? "the secret after 'whsec_' is not base64 (length %zu)"
				 : "the secret after 'whsec_' has a bad length (%zu)",
			 b64);
		return -1;
	}
	/* EVP_DecodeBlock counts the padding as zero bytes: take them off. */
	n = EVP_DecodeBlock(out, (const unsigned char *)s, (int)b64);
	if (n < 0 || (size_t)n < pad || (size_t)n - pad == 0 || (size_t)n - pad > SIGN_KEY_MAX) {
		explicit_bzero(out, sizeof out);
		snprintf(err, errlen, "the secret after 'whsec_' must decode to 1..%d bytes",
			 SIGN_KEY_MAX);
		return -1;
	}
	key->len = (size_t)n - pad;
	memcpy(key->k, out, key->len);
	explicit_bzero(out, sizeof out);
	return 0;
}

/* HMAC-SHA256 over the concatenation of up to three pieces. */
static int hmac3(const struct sign_key *key, const void *a, size_t alen, const void *b,
		 size_t blen, const void *c, size_t clen, unsigned char mac[32])
{
	int rc = -1;
	EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = m ? EVP_MAC_CTX_new(m) : NULL;
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
			       OSSL_PARAM_construct_end()};
	size_t outl = 0;

	if (!ctx || !EVP_MAC_init(ctx, key->k, key->len, params))
		goto out;
	if ((alen && !EVP_MAC_update(ctx, a, alen)) || (blen && !EVP_MAC_update(ctx, b, blen)) ||
	    (clen && !EVP_MAC_update(ctx, c, clen)))
		goto out;
	if (!EVP_MAC_final(ctx, mac, &outl, 32) || outl != 32)
		goto out;
	rc = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(m);
	return rc;
}

int sign_v1(const struct sign_key *key, const char *id, int64_t timestamp, const char *body,
	    size_t body_len, char out[SIGN_V1_LEN])
{
	char head[200];
	unsigned char mac[32];
	int n = snprintf(head, sizeof head, "%s.%" PRId64 ".", id, timestamp);

	if (n < 0 || (size_t)n >= sizeof head)
		return -1;
	if (hmac3(key, head, (size_t)n, body, body_len, NULL, 0, mac))
		return -1;
	memcpy(out, "v1,", 3);
	EVP_EncodeBlock((unsigned char *)out + 3, mac, 32); /* 44 characters + NUL */
	return 0;
}

int sign_github(const struct sign_key *key, const char *body, size_t body_len,
		char out[SIGN_GITHUB_LEN])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char mac[32];

	if (hmac3(key, body, body_len, NULL, 0, NULL, 0, mac))
		return -1;
	memcpy(out, "sha256=", 7);
	for (size_t i = 0; i < 32; i++) {
		out[7 + 2 * i] = hex[mac[i] >> 4];
		out[8 + 2 * i] = hex[mac[i] & 15];
	}
	out[71] = '\0';
	return 0;
}
