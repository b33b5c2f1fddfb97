/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The Web Push sink's pure modules, without libcurl or a daemon:
 * base64url at its edges; RFC 8291 Appendix A reproduced byte for byte;
 * our messages decrypted by another implementation (webpush_check.py,
 * python3-cryptography) playing the browser; VAPID keys loaded and refused,
 * tokens checked by the same script playing the push service, and their
 * cache (per origin, renewed near expiry); subscriptions (pushsub) at their
 * limits; `herald keygen --vapid` end to end.
 */
#include <errno.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "b64url.h"
#include "ece.h"
#include "pushsub.h"
#include "tap.h"
#include "vapid.h"

#define PYTHON "/usr/bin/python3"

static char workdir[64] = "/tmp/herald-ut-webpush-XXXXXX";
static char checker[4096];

/* ---- helpers ---- */

static size_t unb64(const char *s, unsigned char *out, size_t outlen)
{
	size_t got = 0;

	if (b64url_decode(s, strlen(s), out, outlen, &got))
		abort(); /* the test's own constants */
	return got;
}

static char *path_in(const char *name)
{
	static char p[8][4200];
	static int i;
	char *r = p[i++ % 8];

	snprintf(r, sizeof p[0], "%s/%s", workdir, name);
	return r;
}

static int spit(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int rc = f && fwrite(data, 1, len, f) == len ? 0 : -1;

	if (f && fclose(f))
		rc = -1;
	return rc;
}

static size_t slurp(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n = 0;

	if (f) {
		n = fread(buf, 1, cap - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return n;
}

/* Run cmd through the shell; its exit status (-1 when it did not exit). */
static int run(const char *cmd)
{
	int st = system(cmd);

	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- base64url ---- */

static void test_b64url(void)
{
	static const struct {
		const char *raw, *enc;
	} v[] = {{"", ""},
		 {"f", "Zg"},
		 {"fo", "Zm8"},
		 {"foo", "Zm9v"},
		 {"foob", "Zm9vYg"},
		 {"fooba", "Zm9vYmE"},
		 {"foobar", "Zm9vYmFy"},
		 {"\xfb\xff\xbf", "-_-_"}};
	unsigned char out[16];
	char enc[16];
	size_t got;
	int good = 1;

	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
		size_t n = strlen(v[i].raw);
		good &= b64url_encode((const unsigned char *)v[i].raw, n, enc, sizeof enc) ==
			    strlen(v[i].enc) &&
			!strcmp(enc, v[i].enc);
		good &= !b64url_decode(v[i].enc, strlen(v[i].enc), out, sizeof out, &got) &&
			got == n && !memcmp(out, v[i].raw, n);
	}
	ok(good, "RFC 4648 vectors (and '-', '_') encode and decode");
	ok(!b64url_decode("Zg==", 4, out, sizeof out, &got) && got == 1 && out[0] == 'f' &&
	       !b64url_decode("Zm8=", 4, out, sizeof out, &got) && got == 2,
	   "padding at the end is accepted");
	ok(b64url_decode("Zg=", 3, out, sizeof out, &got) == -EINVAL &&
	       b64url_decode("Z===", 4, out, sizeof out, &got) == -EINVAL &&
	       b64url_decode("Zg==Zg==", 8, out, sizeof out, &got) == -EINVAL,
	   "incomplete, excessive or inner padding is refused");
	ok(b64url_decode("Zm+v", 4, out, sizeof out, &got) == -EINVAL &&
	       b64url_decode("Zm/v", 4, out, sizeof out, &got) == -EINVAL &&
	       b64url_decode("Zm 9v", 5, out, sizeof out, &got) == -EINVAL &&
	       b64url_decode("Zm9v\n", 5, out, sizeof out, &got) == -EINVAL && got == 0,
	   "'+', '/' and whitespace are refused");
	ok(b64url_decode("Zm9vY", 5, out, sizeof out, &got) == -EINVAL,
	   "a length of 1 mod 4 is refused");
	ok(b64url_decode("Zm9vYmFy", 8, out, 5, &got) == -EINVAL &&
	       !b64url_decode("Zm9vYmFy", 8, out, 6, &got) && got == 6,
	   "decode: 6 bytes need 6 bytes of room, 5 are refused");
	ok(b64url_encode((const unsigned char *)"foo", 3, enc, 4) == 0 && enc[0] == '\0' &&
	       b64url_encode((const unsigned char *)"foo", 3, enc, 5) == 4,
	   "encode: 0 when the NUL does not fit");
	ok(B64URL_ENCLEN(65) == 87 && B64URL_BUFLEN(65) == 89 && B64URL_ENCLEN(16) == 22,
	   "a P-256 point is 87 characters, an auth secret 22");
}

/* ---- RFC 8291 ---- */

/* RFC 8291 Appendix A. */
static const char rfc_plain[] = "When I grow up, I want to be a watermelon";
static const char rfc_as_private[] = "yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw";
static const char rfc_as_public[] =
    "BP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A8";
static const char rfc_ua_private[] = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
static const char rfc_ua_public[] =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
static const char rfc_salt[] = "DGv6ra1nlYgDCS1FRnbzlw";
static const char rfc_auth[] = "BTBZMqHH6r4Tts7J_aSIgg";
static const char rfc_message[] =
    "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYW"
    "AmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSx"
    "sj_Qulcy4a-fN";

/* The Appendix's sender key pair, from its private value and public point. */
static EVP_PKEY *rfc_as_key(void)
{
	unsigned char d[32], pub[65];
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pk = NULL;
	BIGNUM *bn;

	unb64(rfc_as_private, d, sizeof d);
	unb64(rfc_as_public, pub, sizeof pub);
	bn = BN_bin2bn(d, sizeof d, NULL);
	if (b && bn && c &&
	    OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
	    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, bn) &&
	    OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof pub) &&
	    (params = OSSL_PARAM_BLD_to_param(b)) && EVP_PKEY_fromdata_init(c) == 1)
		EVP_PKEY_fromdata(c, &pk, EVP_PKEY_KEYPAIR, params);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	BN_free(bn);
	EVP_PKEY_CTX_free(c);
	return pk;
}

static void test_rfc8291(struct ece *e)
{
	unsigned char ua[65], auth[16], salt[16], *out = NULL;
	char enc[512];
	size_t out_len = 0;
	EVP_PKEY *as = rfc_as_key();
	int rc;

	unb64(rfc_ua_public, ua, sizeof ua);
	unb64(rfc_auth, auth, sizeof auth);
	unb64(rfc_salt, salt, sizeof salt);
	rc = ece_encrypt(e, ua, auth, (const unsigned char *)rfc_plain, strlen(rfc_plain), 0, as,
			 salt, &out, &out_len);
	ok(rc == 0 && out_len == ECE_OVERHEAD + strlen(rfc_plain),
	   "RFC 8291 A: encrypts, %zu bytes", out_len);
	b64url_encode(out, out_len, enc, sizeof enc);
	if (!ok(out && !strcmp(enc, rfc_message), "RFC 8291 Appendix A: the message byte for byte"))
		diag("got %s", enc);
	ok(out && out[16] == 0 && out[17] == 0 && out[18] == 0x10 && out[19] == 0 && out[20] == 65,
	   "the header: rs 4096, idlen 65");
	free(out);
	EVP_PKEY_free(as);
}

static void test_ece_limits(struct ece *e)
{
	unsigned char ua[65], bad[65], auth[16], *out = NULL, *out2 = NULL;
	static unsigned char big[ECE_MAX_BODY];
	size_t len = 0, len2 = 0, most = ECE_MAX_BODY - ECE_OVERHEAD;

	unb64(rfc_ua_public, ua, sizeof ua);
	unb64(rfc_auth, auth, sizeof auth);
	ok(!ece_encrypt(e, ua, auth, big, most, 0, NULL, NULL, &out, &len) && len == ECE_MAX_BODY,
	   "%zu bytes of text make a body of exactly %d", most, ECE_MAX_BODY);
	free(out);
	ok(ece_encrypt(e, ua, auth, big, most + 1, 0, NULL, NULL, &out, &len) == -EMSGSIZE &&
	       !out && len == 0,
	   "one byte more: -EMSGSIZE");
	ok(!ece_encrypt(e, ua, auth, big, 10, most - 10, NULL, NULL, &out, &len) &&
	       len == ECE_MAX_BODY,
	   "padding counts: 10 + %zu padding fit", most - 10);
	free(out);
	ok(ece_encrypt(e, ua, auth, big, 10, most - 9, NULL, NULL, &out, &len) == -EMSGSIZE &&
	       ece_encrypt(e, ua, auth, big, 10, SIZE_MAX, NULL, NULL, &out, &len) == -EMSGSIZE,
	   "and too much padding (even SIZE_MAX) is -EMSGSIZE");
	ok(!ece_encrypt(e, ua, auth, big, 100, 0, NULL, NULL, &out, &len) &&
	       !ece_encrypt(e, ua, auth, big, 100, 0, NULL, NULL, &out2, &len2) && len == len2 &&
	       memcmp(out, out2, 16) && memcmp(out + 21, out2 + 21, 65) &&
	       memcmp(out + 86, out2 + 86, len - 86),
	   "the same text twice: another salt, another sender key, another ciphertext");
	free(out);
	free(out2);
	memcpy(bad, ua, sizeof bad);
	bad[64] ^= 1;
	ok(ece_encrypt(e, bad, auth, big, 10, 0, NULL, NULL, &out, &len) == -EINVAL && !out,
	   "a receiver key off the curve: -EINVAL");
	bad[0] = 0x02;
	ok(ece_encrypt(e, bad, auth, big, 10, 0, NULL, NULL, &out, &len) == -EINVAL,
	   "a compressed-point prefix: -EINVAL");
}

/* Browser keys from the checker; our message; the checker decrypts it. */
static void roundtrip(struct ece *e, const char *keys, const unsigned char *plain, size_t n,
		      size_t pad, const char *what)
{
	char priv[64], pub[100], auth_b64[40], cmd[9000], got[ECE_MAX_BODY + 1];
	unsigned char ua[65], auth[16], *out = NULL;
	size_t len = 0;
	int rc;

	if (sscanf(keys, "%63s %99s %39s", priv, pub, auth_b64) != 3 ||
	    unb64(pub, ua, sizeof ua) != 65 || unb64(auth_b64, auth, sizeof auth) != 16) {
		ok(0, "%s: the checker made keys", what);
		return;
	}
	rc = ece_encrypt(e, ua, auth, plain, n, pad, NULL, NULL, &out, &len);
	if (rc || spit(path_in("body"), out, len)) {
		ok(0, "%s: encrypt (%d)", what, rc);
		free(out);
		return;
	}
	free(out);
	snprintf(cmd, sizeof cmd, "%s %s decrypt %s %s %s %s %s >/dev/null", PYTHON, checker, priv,
		 pub, auth_b64, path_in("body"), path_in("plain"));
	rc = run(cmd);
	ok(rc == 0 && slurp(path_in("plain"), got, sizeof got) == n && !memcmp(got, plain, n),
	   "python3-cryptography decrypts our message: %s", what);
}

static void test_independent(struct ece *e)
{
	char cmd[4400], keys[300];
	static unsigned char text[ECE_MAX_BODY];
	const char *json = "{\"title\":\"caf\xc3\xa9\",\"body\":\"12 updates\",\"tag\":\"x\"}";

	unsigned char rfc[256];
	size_t n = unb64(rfc_message, rfc, sizeof rfc);
	char got[256];

	/* The checker itself first: it must read the RFC's message. */
	snprintf(cmd, sizeof cmd, "%s %s decrypt %s %s %s %s %s >/dev/null", PYTHON, checker,
		 rfc_ua_private, rfc_ua_public, rfc_auth, path_in("rfc"), path_in("rfc.txt"));
	ok(!spit(path_in("rfc"), rfc, n) && run(cmd) == 0 &&
	       slurp(path_in("rfc.txt"), got, sizeof got) == strlen(rfc_plain) &&
	       !strcmp(got, rfc_plain),
	   "the checker decrypts RFC 8291 Appendix A's message with the UA's private key");
	snprintf(cmd, sizeof cmd, "%s %s keys > %s", PYTHON, checker, path_in("keys"));
	if (!ok(run(cmd) == 0 && slurp(path_in("keys"), keys, sizeof keys) > 0,
		"the checker makes a subscription's keys as a browser does"))
		return;
	for (size_t i = 0; i < sizeof text; i++)
		text[i] = (unsigned char)(i * 7 + 1);
	roundtrip(e, keys, (const unsigned char *)json, strlen(json), 0, "a payload, no padding");
	roundtrip(e, keys, (const unsigned char *)json, strlen(json), 200,
		  "with 200 bytes of padding");
	roundtrip(e, keys, text, 0, 0, "an empty message");
	roundtrip(e, keys, text, ECE_MAX_BODY - ECE_OVERHEAD, 0, "the largest message");
}

/* ---- VAPID ---- */

static int openssl_make(const char *args, const char *name)
{
	char cmd[4400];

	snprintf(cmd, sizeof cmd, "openssl %s -out %s 2>/dev/null", args, path_in(name));
	return run(cmd);
}

static void test_vapid_load(void)
{
	struct vapid *v = NULL;
	char err[512], cmd[9000], pub[200];
	int rc;

	ok(!openssl_make("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256", "p8.pem") &&
	       !openssl_make("ecparam -name prime256v1 -genkey -noout", "sec1.pem") &&
	       !openssl_make("genpkey -algorithm ED25519", "ed.pem") &&
	       !openssl_make("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384",
			     "p384.pem") &&
	       !openssl_make("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes128 "
			     "-pass pass:secret",
			     "enc.pem") &&
	       !spit(path_in("junk.pem"), "-----BEGIN PRIVATE KEY-----\nnope\n", 33),
	   "openssl makes keys: PKCS#8 and SEC1 P-256, Ed25519, P-384, encrypted");
	rc = vapid_load(path_in("p8.pem"), &v, err, sizeof err);
	ok(rc == 0 && v && strlen(vapid_public_b64(v)) == VAPID_PUBLIC_B64_LEN,
	   "a PKCS#8 P-256 key loads; its public key is 87 characters");
	snprintf(cmd, sizeof cmd, "%s %s pub %s > %s", PYTHON, checker, path_in("p8.pem"),
		 path_in("pub"));
	slurp(path_in("pub"), pub, sizeof pub);
	ok(v && run(cmd) == 0 && slurp(path_in("pub"), pub, sizeof pub) &&
	       !strncmp(pub, vapid_public_b64(v), VAPID_PUBLIC_B64_LEN) &&
	       pub[VAPID_PUBLIC_B64_LEN] == '\n',
	   "the public key is the one python3-cryptography reads from the file");
	vapid_free(v);
	v = NULL;
	ok(!vapid_load(path_in("sec1.pem"), &v, err, sizeof err) && v &&
	       vapid_public_b64(v)[0] == 'B',
	   "a SEC1 (EC PRIVATE KEY) P-256 key loads, its point uncompressed (04: 'B')");
	snprintf(cmd, sizeof cmd, "openssl ec -in %s -conv_form compressed -out %s 2>/dev/null",
		 path_in("sec1.pem"), path_in("sec1c.pem"));
	snprintf(pub, sizeof pub, "%s", v ? vapid_public_b64(v) : "");
	vapid_free(v);
	v = NULL;
	ok(run(cmd) == 0 && !vapid_load(path_in("sec1c.pem"), &v, err, sizeof err) &&
	       !strcmp(vapid_public_b64(v), pub),
	   "the same key stored with its point compressed: the same 87-character key");
	vapid_free(v);
	v = NULL;
	rc = vapid_load(path_in("ed.pem"), &v, err, sizeof err);
	ok(rc == -EINVAL && !v && strstr(err, "not a P-256"), "an Ed25519 key is refused: %s", err);
	rc = vapid_load(path_in("p384.pem"), &v, err, sizeof err);
	ok(rc == -EINVAL && !v && strstr(err, "secp384r1"), "a P-384 key is refused: %s", err);
	rc = vapid_load(path_in("enc.pem"), &v, err, sizeof err);
	ok(rc == -EINVAL && !v && !strstr(err, "secret"),
	   "an encrypted key is refused without asking for a password: %s", err);
	rc = vapid_load(path_in("junk.pem"), &v, err, sizeof err);
	ok(rc == -EINVAL && !v && strstr(err, "junk.pem"), "a broken PEM is refused: %s", err);
	rc = vapid_load(path_in("missing.pem"), &v, err, sizeof err);
	ok(rc == -ENOENT && !v && strstr(err, "missing.pem"), "a missing file: -ENOENT: %s", err);
	vapid_free(NULL);
}

/* The claims of a "vapid t=..., k=..." value, parsed. */
static json_t *claims_of(const char *value)
{
	const char *dot1, *dot2;
	unsigned char buf[4096];
	size_t got;

	if (strncmp(value, "vapid t=", 8) || !(dot1 = strchr(value, '.')) ||
	    !(dot2 = strchr(dot1 + 1, '.')) ||
	    b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), buf, sizeof buf - 1, &got))
		return NULL;
	buf[got] = '\0';
	return json_loads((const char *)buf, 0, NULL);
}

static int checker_accepts(const char *value, const char *origin, const char *subject, int64_t now)
{
	char cmd[9000];

	snprintf(cmd, sizeof cmd, "%s %s jwt '%s' '%s' '%s' %lld", PYTHON, checker, value, origin,
		 subject, (long long)now);
	return run(cmd) == 0;
}

static void test_vapid_token(void)
{
	const char *o1 = "https://push.example.net", *o2 = "https://127.0.0.1:8443";
	const char *sub = "mailto:ops@example.org";
	const int64_t now = 1700000000;
	char err[512], first[2048], hdr[64];
	struct vapid *v = NULL;
	const char *a, *b;
	json_t *c;
	size_t got;

	if (!ok(!vapid_load(path_in("p8.pem"), &v, err, sizeof err), "load the key again"))
		return;
	a = vapid_authorization(v, o1, sub, now, err, sizeof err);
	ok(a && !strncmp(a, "vapid t=", 8) && strstr(a, ", k=") &&
	       !strcmp(strstr(a, ", k=") + 4, vapid_public_b64(v)),
	   "the value is 'vapid t=JWT, k=PUBLIC'");
	ok(a &&
	       b64url_decode(a + 8, strcspn(a + 8, "."), (unsigned char *)hdr, sizeof hdr - 1,
			     &got) == 0 &&
	       (hdr[got] = '\0', !strcmp(hdr, "{\"typ\":\"JWT\",\"alg\":\"ES256\"}")),
	   "the JWT header is {\"typ\":\"JWT\",\"alg\":\"ES256\"}");
	c = a ? claims_of(a) : NULL;
	ok(c && json_object_size(c) == 3 &&
	       !strcmp(json_string_value(json_object_get(c, "aud")) ?: "", o1) &&
	       !strcmp(json_string_value(json_object_get(c, "sub")) ?: "", sub) &&
	       json_integer_value(json_object_get(c, "exp")) == now + 12 * 3600,
	   "claims: aud the origin, sub the subject, exp now + 12 h (RFC 8292: at most 24 h)");
	json_decref(c);
	ok(a && checker_accepts(a, o1, sub, now),
	   "python3-cryptography verifies the ES256 signature against k= and the claims");
	snprintf(first, sizeof first, "%s", a ? a : "");
	b = vapid_authorization(v, o1, sub, now + 600, err, sizeof err);
	ok(b && !strcmp(b, first), "same origin 10 minutes later: the same token");
	b = vapid_authorization(v, o2, sub, now + 600, err, sizeof err);
	ok(b && strcmp(b, first) && checker_accepts(b, o2, sub, now + 600),
	   "another origin: another token, valid for it");
	b = vapid_authorization(v, o1, sub, now + 11 * 3600, err, sizeof err);
	ok(b && !strcmp(b, first), "the first origin with exactly 1 h left: still the same token");
	b = vapid_authorization(v, o1, sub, now + 11 * 3600 + 1, err, sizeof err);
	ok(b && strcmp(b, first) && checker_accepts(b, o1, sub, now + 11 * 3600 + 1),
	   "less than 1 h left: a new token");
	snprintf(first, sizeof first, "%s", b ? b : "");
	b = vapid_authorization(v, o1, sub, now - 24 * 3600, err, sizeof err);
	ok(b && strcmp(b, first) && checker_accepts(b, o1, sub, now - 24 * 3600),
	   "the clock went back a day: a new token, valid from then");
	b = vapid_authorization(v, o1, "https://example.org/\"who\"\\", now, err, sizeof err);
	c = b ? claims_of(b) : NULL;
	ok(c && !strcmp(json_string_value(json_object_get(c, "sub")) ?: "",
			"https://example.org/\"who\"\\"),
	   "another subject: its own token, quotes and backslashes escaped in the JSON");
	json_decref(c);
	vapid_free(v);
}

static void test_vapid_cache_full(void)
{
	char err[256], origin[64], keep[2048];
	struct vapid *v = NULL;
	const char *t;
	int good = 1;

	if (vapid_load(path_in("sec1.pem"), &v, err, sizeof err))
		return (void)ok(0, "load: %s", err);
	t = vapid_authorization(v, "https://a.example", "mailto:x@y", 1000, err, sizeof err);
	snprintf(keep, sizeof keep, "%s", t ? t : "");
	for (int i = 0; i < 100 && good; i++) {
		snprintf(origin, sizeof origin, "https://p%d.example", i);
		t = vapid_authorization(v, origin, "mailto:x@y", 2000 + i, err, sizeof err);
		good = t && strstr(t, "vapid t=") == t;
	}
	ok(good, "100 origins: each gets a token (the cache keeps a bounded number)");
	t = vapid_authorization(v, "https://a.example", "mailto:x@y", 3000, err, sizeof err);
	ok(t && strcmp(t, keep) && checker_accepts(t, "https://a.example", "mailto:x@y", 3000),
	   "the oldest origin was evicted: it gets a new, valid token");
	vapid_free(v);
}

/* ---- subscriptions ---- */

static char *sub_json(char *buf, size_t len, const char *endpoint, const char *p256dh,
		      const char *auth)
{
	snprintf(buf, len,
		 "{\"endpoint\":\"%s\",\"expirationTime\":null,\"keys\":{\"p256dh\":\"%s\","
		 "\"auth\":\"%s\"}}",
		 endpoint, p256dh, auth);
	return buf;
}

static int parses(const char *json, struct pushsub *s, char *err, size_t errlen)
{
	return pushsub_parse(json, s, err, errlen) == 0;
}

/* Refused, and err names `field`. */
static void refused(const char *json, const char *field, const char *what)
{
	struct pushsub s;
	char err[512] = "";
	int rc = pushsub_parse(json, &s, err, sizeof err);

	ok(rc == -EINVAL && strstr(err, field) && !s.endpoint[0] && !s.origin[0],
	   "refused: %s (%s)", what, err);
}

static void test_pushsub_good(void)
{
	static char j[4096], ep[PUSHSUB_ENDPOINT_MAX + 2];
	unsigned char ua[65], auth[16];
	struct pushsub s;
	char err[512];
	const char *P = rfc_ua_public, *A = rfc_auth;

	unb64(P, ua, sizeof ua);
	unb64(A, auth, sizeof auth);
	ok(parses(sub_json(j, sizeof j, "https://fcm.googleapis.com/fcm/send/abc:APA91b", P, A), &s,
		  err, sizeof err) &&
	       !strcmp(s.endpoint, "https://fcm.googleapis.com/fcm/send/abc:APA91b") &&
	       !strcmp(s.origin, "https://fcm.googleapis.com") && !memcmp(s.p256dh, ua, 65) &&
	       !memcmp(s.auth, auth, 16),
	   "a browser's subscription: endpoint, origin, the keys");
	ok(parses("{\"keys\":{\"auth\":\"BTBZMqHH6r4Tts7J_aSIgg==\",\"p256dh\":\"BCVxsr7N_eNgVRq"
		  "vHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4=\","
		  "\"x\":1},\"endpoint\":\"https://a.example/\",\"expirationTime\":1767225600000,"
		  "\"other\":[]}",
		  &s, err, sizeof err) &&
	       !memcmp(s.p256dh, ua, 65),
	   "padded keys, a numeric expirationTime, members in any order, others ignored");
	ok(parses("{\"endpoint\":\"https://a.example/p\",\"keys\":{\"p256dh\":\"BCVxsr7N_eNgVRqvH"
		  "tD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4\","
		  "\"auth\":\"BTBZMqHH6r4Tts7J_aSIgg\"}}",
		  &s, err, sizeof err),
	   "no expirationTime at all");
	ok(parses(sub_json(j, sizeof j, "https://Push.Example.ORG:443/p", P, A), &s, err,
		  sizeof err) &&
	       !strcmp(s.origin, "https://push.example.org") &&
	       !strcmp(s.endpoint, "https://Push.Example.ORG:443/p"),
	   "port 443 is left out of the origin, the host lowercased, the endpoint kept");
	ok(parses(sub_json(j, sizeof j, "https://127.0.0.1:8443/push/7?x=1", P, A), &s, err,
		  sizeof err) &&
	       !strcmp(s.origin, "https://127.0.0.1:8443"),
	   "another port stays: https://127.0.0.1:8443");
	ok(parses(sub_json(j, sizeof j, "https://[::1]:9443/push", P, A), &s, err, sizeof err) &&
	       !strcmp(s.origin, "https://[::1]:9443"),
	   "an IPv6 literal with a port");
	ok(parses(sub_json(j, sizeof j, "https://push.example", P, A), &s, err, sizeof err) &&
	       !strcmp(s.origin, "https://push.example"),
	   "no path at all");
	memcpy(ep, "https://push.example/", 21);
	memset(ep + 21, 'a', PUSHSUB_ENDPOINT_MAX - 21);
	ep[PUSHSUB_ENDPOINT_MAX] = '\0';
	ok(parses(sub_json(j, sizeof j, ep, P, A), &s, err, sizeof err) &&
	       strlen(s.endpoint) == PUSHSUB_ENDPOINT_MAX,
	   "an endpoint of exactly %d bytes", PUSHSUB_ENDPOINT_MAX);
	ep[PUSHSUB_ENDPOINT_MAX] = 'a';
	ep[PUSHSUB_ENDPOINT_MAX + 1] = '\0';
	refused(sub_json(j, sizeof j, ep, P, A), "endpoint", "one byte over the limit");
}

static void test_pushsub_bad(void)
{
	static char j[4096], p[200];
	const char *P = rfc_ua_public, *A = rfc_auth, *E = "https://push.example/x";
	unsigned char pt[66];
	char compressed[100];

	refused(sub_json(j, sizeof j, "http://push.example/x", P, A), "endpoint", "http://");
	refused(sub_json(j, sizeof j, "ftp://push.example/x", P, A), "endpoint", "ftp://");
	refused(sub_json(j, sizeof j, "https://user:pw@push.example/x", P, A), "endpoint",
		"userinfo");
	refused(sub_json(j, sizeof j, "https://push.example/x#frag", P, A), "endpoint",
		"a fragment");
	refused(sub_json(j, sizeof j, "https://push.example/a b", P, A), "endpoint", "a space");
	refused(sub_json(j, sizeof j, "https://push.example/caf\xc3\xa9", P, A), "endpoint",
		"non-ASCII");
	refused(sub_json(j, sizeof j, "https:///x", P, A), "endpoint", "no host");
	refused(sub_json(j, sizeof j, "https://push.example:0/x", P, A), "endpoint", "port 0");
	refused(sub_json(j, sizeof j, "https://push.example:65536/x", P, A), "endpoint",
		"port 65536");
	refused(sub_json(j, sizeof j, "https://push.example:x/x", P, A), "endpoint",
		"a port that is not a number");
	refused(sub_json(j, sizeof j, "https://push%2eexample/x", P, A), "endpoint",
		"a percent-escaped host");

	/* p256dh: 64 and 66 bytes, off the curve, compressed, bad base64url */
	memset(pt, 0, sizeof pt);
	unb64(P, pt, sizeof pt);
	b64url_encode(pt, 64, p, sizeof p);
	refused(sub_json(j, sizeof j, E, p, A), "p256dh", "p256dh of 64 bytes");
	b64url_encode(pt, 66, p, sizeof p);
	refused(sub_json(j, sizeof j, E, p, A), "p256dh", "p256dh of 66 bytes");
	pt[64] ^= 1;
	b64url_encode(pt, 65, p, sizeof p);
	refused(sub_json(j, sizeof j, E, p, A), "p256dh", "a point not on the curve");
	pt[64] ^= 1;
	memset(pt + 1, 0, 64);
	b64url_encode(pt, 65, p, sizeof p);
	refused(sub_json(j, sizeof j, E, p, A), "p256dh", "(0, 0), not on the curve");
	unb64(P, pt, sizeof pt);
	pt[0] = 0x02 | (pt[64] & 1);
	b64url_encode(pt, 33, compressed, sizeof compressed);
	refused(sub_json(j, sizeof j, E, compressed, A), "p256dh", "a compressed point (33 bytes)");
	b64url_encode(pt, 65, p, sizeof p);
	refused(sub_json(j, sizeof j, E, p, A), "p256dh", "65 bytes that do not start with 04");
	snprintf(p, sizeof p, "%s", P);
	p[10] = '+';
	refused(sub_json(j, sizeof j, E, p, A), "p256dh", "'+' in p256dh (standard base64)");

	/* auth: 15 and 17 bytes, bad base64url */
	refused(sub_json(j, sizeof j, E, P, "BTBZMqHH6r4Tts7J_aSI"), "auth", "auth of 15 bytes");
	refused(sub_json(j, sizeof j, E, P, "BTBZMqHH6r4Tts7J_aSIggA"), "auth", "auth of 17 bytes");
	refused(sub_json(j, sizeof j, E, P, "BTBZMqHH6r4Tts7J aSIgg"), "auth", "a space in auth");
	refused(sub_json(j, sizeof j, E, P, "BTBZMqHH6r4Tts7J/aSIgg"), "auth", "'/' in auth");

	/* members missing or of the wrong type */
	refused("{\"keys\":{\"p256dh\":\"x\",\"auth\":\"y\"}}", "endpoint", "no endpoint");
	refused("{\"endpoint\":\"https://a.example/\"}", "keys", "no keys");
	snprintf(j, sizeof j, "{\"endpoint\":\"%s\",\"keys\":{\"auth\":\"%s\"}}", E, A);
	refused(j, "p256dh", "no p256dh");
	snprintf(j, sizeof j, "{\"endpoint\":\"%s\",\"keys\":{\"p256dh\":\"%s\"}}", E, P);
	refused(j, "auth", "no auth");
	refused("{\"endpoint\":42,\"keys\":{}}", "endpoint", "a numeric endpoint");
	snprintf(j, sizeof j, "{\"endpoint\":\"%s\",\"keys\":[\"%s\",\"%s\"]}", E, P, A);
	refused(j, "keys", "keys an array");
	snprintf(j, sizeof j, "{\"endpoint\":\"%s\",\"keys\":{\"p256dh\":65,\"auth\":\"%s\"}}", E,
		 A);
	refused(j, "p256dh", "a numeric p256dh");
	snprintf(j, sizeof j, "{\"endpoint\":\"%s\",\"keys\":{\"p256dh\":\"%s\",\"auth\":null}}", E,
		 P);
	refused(j, "auth", "a null auth");
	snprintf(j, sizeof j,
		 "{\"endpoint\":\"%s\",\"expirationTime\":\"tomorrow\",\"keys\":{\"p256dh\":\"%s\","
		 "\"auth\":\"%s\"}}",
		 E, P, A);
	refused(j, "expirationTime", "a string expirationTime");
	snprintf(j, sizeof j,
		 "{\"endpoint\":\"https://a.example/\",\"endpoint\":\"%s\",\"keys\":{\"p256dh\":"
		 "\"%s\",\"auth\":\"%s\"}}",
		 E, P, A);
	refused(j, "duplicate", "two endpoints");
	refused("[\"https://a.example/\"]", "object", "an array");
	refused("{\"endpoint\":\"https://a.example/\",", "bad JSON", "cut short");
	refused("", "bad JSON", "empty");
	snprintf(j, sizeof j,
		 "{\"endpoint\":\"https://a.example/\\u0000x\",\"keys\":{\"p256dh\":"
		 "\"%s\",\"auth\":\"%s\"}}",
		 P, A);
	refused(j, "bad JSON", "a NUL in the endpoint");
}

/* ---- herald keygen --vapid ---- */

static void test_keygen(void)
{
	const char *herald = getenv("HERALD");
	char cmd[9000], out[2048], line1[200], line2[4400], expect[4400];
	struct vapid *v = NULL;
	struct stat st;
	char err[512];

	if (!herald) {
		ok(0, "HERALD is not set (run through make check)");
		return;
	}
	snprintf(cmd, sizeof cmd, "cd %s && '%s' keygen --vapid web --dir %s > %s 2>%s", workdir,
		 herald, workdir, path_in("kg.out"), path_in("kg.err"));
	ok(run(cmd) == 0, "herald keygen --vapid web --dir DIR: exit 0");
	ok(stat(path_in("web.pem"), &st) == 0 && (st.st_mode & 0777) == 0600,
	   "DIR/web.pem, mode 0600");
	slurp(path_in("web.pem"), out, sizeof out);
	ok(!strncmp(out, "-----BEGIN PRIVATE KEY-----\n", 28), "a PKCS#8 PEM");
	slurp(path_in("kg.out"), out, sizeof out);
	snprintf(expect, sizeof expect, "vapid_key = %s", path_in("web.pem"));
	ok(sscanf(out, "%199[^\n]\n%4399[^\n]", line1, line2) == 2 && !strcmp(line2, expect),
	   "it prints the config line: %s", expect);
	ok(!vapid_load(path_in("web.pem"), &v, err, sizeof err) &&
	       !strcmp(line1, vapid_public_b64(v)),
	   "and first the public key, the sink's own (base64url, 87 characters)");
	vapid_free(v);
	snprintf(cmd, sizeof cmd, "'%s' keygen --vapid web --dir %s >/dev/null 2>%s", herald,
		 workdir, path_in("kg.err"));
	ok(run(cmd) == 1 && slurp(path_in("kg.err"), out, sizeof out) &&
	       strstr(out, "not overwriting"),
	   "a second run refuses to overwrite (exit 1)");
	ok(!vapid_load(path_in("web.pem"), &v, err, sizeof err) &&
	       !strcmp(line1, vapid_public_b64(v)),
	   "and the key is still the first one");
	vapid_free(v);
	snprintf(cmd, sizeof cmd, "'%s' keygen --vapid ../x --dir %s >/dev/null 2>&1", herald,
		 workdir);
	ok(run(cmd) == 2, "a name with '/' is a usage error (exit 2)");
	snprintf(cmd, sizeof cmd, "'%s' keygen --vapid a b --dir %s >/dev/null 2>&1", herald,
		 workdir);
	ok(run(cmd) == 2 && access(path_in("a.pem"), F_OK) != 0,
	   "--vapid NAME and another NAME: a usage error, nothing written");
}

int main(void)
{
	const char *top = getenv("top_srcdir");
	struct ece *e = NULL;
	char cmd[200];

	snprintf(checker, sizeof checker, "%s/tests/unit/plugins/webpush/webpush_check.py",
		 top ? top : ".");
	if (!mkdtemp(workdir) || ece_new(&e)) {
		ok(0, "set up (a temporary directory, ece_new)");
		return tap_done();
	}
	test_b64url();
	test_rfc8291(e);
	test_ece_limits(e);
	test_independent(e);
	test_vapid_load();
	test_vapid_token();
	test_vapid_cache_full();
	test_pushsub_good();
	test_pushsub_bad();
	test_keygen();
	ece_free(e);
	ece_free(NULL);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", workdir);
	if (!getenv("KEEP_WORK") && run(cmd))
		diag("could not remove %s", workdir);
	return tap_done();
}
