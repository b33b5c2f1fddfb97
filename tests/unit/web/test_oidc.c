/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Unit tests for oidc's ID token verifier, with tokens signed here (cjose):
 * RS256 and ES256 accepted; a bad signature, "none", HS256, an unknown kid,
 * and every claim check (iss, aud, azp, exp, iat, nonce, user name) refused. */
#include "src/web/oidc.h"

#include <cjose/cjose.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/common/b64url.h"
#include "tests/unit/tap.h"

#define NOW 1800000000LL
#define ISS "https://id.example.org"

static cjose_jwk_t *rsa, *ec, *oct;
static json_t *jwks;

/* The public half of a key, with its kid, as a JWKS member. */
static void add_public(cjose_jwk_t *k, const char *kid)
{
	cjose_err e;
	cjose_jwk_set_kid(k, kid, strlen(kid), &e);
	char *text = cjose_jwk_to_json(k, false, &e);
	json_array_append_new(json_object_get(jwks, "keys"), json_loads(text, 0, NULL));
	free(text);
}

static void keys(void)
{
	cjose_err e;
	static const uint8_t e65537[] = {1, 0, 1};
	rsa = cjose_jwk_create_RSA_random(2048, e65537, 3, &e);
	ec = cjose_jwk_create_EC_random(CJOSE_JWK_EC_P_256, &e);
	oct = cjose_jwk_create_oct_random(32, &e);
	jwks = json_pack("{s:[]}", "keys");
	add_public(rsa, "r1");
	add_public(ec, "e1");
	/* A symmetric key in the set must not make HS256 acceptable. */
	char *text = cjose_jwk_to_json(oct, true, &e);
	json_t *o = json_loads(text, 0, NULL);
	json_object_set_new(o, "kid", json_string("h1"));
	json_array_append_new(json_object_get(jwks, "keys"), o);
	free(text);
}

/* The standard claims, for one test to change. */
static json_t *claims(void)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s, s:s}", "iss", ISS, "sub", "1234", "aud",
			 "herald", "exp", (json_int_t)(NOW + 300), "iat", (json_int_t)(NOW - 5),
			 "nonce", "n-0123", "preferred_username", "alice");
}

/* A compact JWS of `c` (stolen) signed by k with alg and kid. malloc'd. */
static char *sign(cjose_jwk_t *k, const char *alg, const char *kid, json_t *c)
{
	cjose_err e;
	cjose_header_t *h = cjose_header_new(&e);
	cjose_header_set(h, CJOSE_HDR_ALG, alg, &e);
	if (kid)
		cjose_header_set(h, CJOSE_HDR_KID, kid, &e);
	char *payload = json_dumps(c, JSON_COMPACT);
	json_decref(c);
	cjose_jws_t *jws = cjose_jws_sign(k, h, (const uint8_t *)payload, strlen(payload), &e);
	const char *ser = NULL;
	char *out = jws && cjose_jws_export(jws, &ser, &e) ? strdup(ser) : NULL;
	if (!out)
		diag("signing failed: %s", e.message);
	cjose_jws_release(jws);
	cjose_header_release(h);
	free(payload);
	return out;
}

static int verify(const char *jwt, char *user, char *err)
{
	err[0] = '\0';
	struct oidc_expect x = {.issuer = ISS, .client_id = "herald", .nonce = "n-0123",
				.username_claim = "preferred_username", .now_s = NOW};
	return oidc_verify_id_token(jwt ? jwt : "", jwks, &x, user, err, 256);
}

/* Sign c with RS256 and check it is refused with a message holding `needle`. */
static void refused(const char *what, json_t *c, const char *needle)
{
	char user[DIRECTORY_NAME_MAX + 1] = "", err[256] = "";
	char *t = sign(rsa, "RS256", "r1", c);
	int rc = verify(t, user, err);
	ok(rc == -EPERM && strstr(err, needle) && !user[0], "%s: refused (%s)", what, err);
	free(t);
}

static json_t *with(const char *key, json_t *v)
{
	json_t *c = claims();
	if (v)
		json_object_set_new(c, key, v);
	else
		json_object_del(c, key);
	return c;
}

static void signatures(void)
{
	char user[DIRECTORY_NAME_MAX + 1] = "", err[256] = "";
	char *t = sign(rsa, "RS256", "r1", claims());
	ok(verify(t, user, err) == 0 && !strcmp(user, "alice"), "RS256: accepted, user alice (%s)", err);
	/* Flip one character of the signature. */
	char *bad = strdup(t);
	char *sig = strrchr(bad, '.') + 1;
	sig[5] = sig[5] == 'A' ? 'B' : 'A';
	user[0] = '\0';
	ok(verify(bad, user, err) == -EPERM && strstr(err, "signature") && !user[0],
	   "RS256 with a changed signature: refused (%s)", err);
	free(bad);
	/* Another payload under the same signature. */
	char *other = sign(rsa, "RS256", "r1", with("preferred_username", json_string("mallory")));
	char *dot1 = strchr(t, '.'), *dot2 = strrchr(t, '.');
	char *o1 = strchr(other, '.'), *o2 = strrchr(other, '.');
	char spliced[8192];
	snprintf(spliced, sizeof spliced, "%.*s%.*s%s", (int)(dot1 - t), t, (int)(o2 - o1), o1, dot2);
	ok(verify(spliced, user, err) == -EPERM, "a payload spliced under another signature: refused");
	free(other);

	free(t);
	t = sign(ec, "ES256", "e1", claims());
	user[0] = '\0';
	ok(verify(t, user, err) == 0 && !strcmp(user, "alice"), "ES256: accepted (%s)", err);
	free(t);

	/* alg none: header {"alg":"none"}, the claims, an empty signature. */
	json_t *c = claims();
	char *payload = json_dumps(c, JSON_COMPACT), b64[1024], none[2048];
	json_decref(c);
	b64url_encode((const unsigned char *)payload, strlen(payload), b64);
	snprintf(none, sizeof none, "eyJhbGciOiJub25lIn0.%s.", b64);
	user[0] = '\0';
	ok(verify(none, user, err) == -EPERM && !user[0], "alg none: refused (%s)", err);
	snprintf(none, sizeof none, "eyJhbGciOiJub25lIiwia2lkIjoicjEifQ.%s.", b64);
	ok(verify(none, user, err) == -EPERM && !user[0], "alg none naming an RSA kid: refused (%s)",
	   err);
	free(payload);

	t = sign(oct, "HS256", "h1", claims());
	ok(verify(t, user, err) == -EPERM && strstr(err, "HS256") && !user[0],
	   "HS256 with a key the set holds: refused (%s)", err);
	free(t);
	t = sign(rsa, "RS256", "nope", claims());
	ok(verify(t, user, err) == -ENOKEY, "an unknown kid: -ENOKEY, so the set is fetched again");
	free(t);
	t = sign(rsa, "RS256", "e1", claims());
	ok(verify(t, user, err) == -ENOKEY, "RS256 naming the EC key's kid: no key fits");
	free(t);
	ok(verify("not.a.jwt", user, err) == -EPERM && verify("", user, err) == -EPERM,
	   "garbage: refused");
}

static void claim_checks(void)
{
	char user[DIRECTORY_NAME_MAX + 1], err[256];
	refused("another issuer", with("iss", json_string("https://evil.example.org")), "issued by");
	refused("the issuer with a trailing slash", with("iss", json_string(ISS "/")), "issued by");
	refused("no issuer", with("iss", NULL), "issued by");
	refused("another audience", with("aud", json_string("other")), "aud");
	refused("no audience", with("aud", NULL), "aud");
	refused("several audiences without azp", with("aud", json_pack("[s,s]", "herald", "x")), "aud");
	json_t *c = with("aud", json_pack("[s,s]", "herald", "x"));
	json_object_set_new(c, "azp", json_string("x"));
	refused("several audiences, azp another client", c, "aud");
	c = with("aud", json_pack("[s,s]", "herald", "x"));
	json_object_set_new(c, "azp", json_string("herald"));
	char *t = sign(rsa, "RS256", "r1", c);
	ok(verify(t, user, err) == 0, "several audiences with azp = client_id: accepted (%s)", err);
	free(t);
	refused("expired", with("exp", json_integer(NOW - 61)), "expired");
	refused("no exp", with("exp", NULL), "expired");
	refused("exp a string", with("exp", json_string("soon")), "expired");
	t = sign(rsa, "RS256", "r1", with("exp", json_integer(NOW - 30)));
	ok(verify(t, user, err) == 0, "expired 30 s ago: inside the skew, accepted");
	free(t);
	refused("issued in the future", with("iat", json_integer(NOW + 3600)), "issue time");
	refused("issued two days ago", with("iat", json_integer(NOW - 2 * 86400)), "issue time");
	refused("no iat", with("iat", NULL), "issue time");
	refused("another nonce", with("nonce", json_string("n-9999")), "nonce");
	refused("no nonce", with("nonce", NULL), "nonce");
	refused("no sub", with("sub", NULL), "subject");
	refused("no user name claim", with("preferred_username", NULL), "preferred_username");
	refused("a user name herald cannot use", with("preferred_username", json_string("Alice Smith")),
		"not a valid herald user name");
	refused("a user name that is not a string", with("preferred_username", json_integer(7)),
		"preferred_username");

	struct oidc_expect x = {.issuer = ISS, .client_id = "herald", .nonce = "n-0123",
				.username_claim = "nickname", .now_s = NOW};
	c = claims();
	json_object_set_new(c, "nickname", json_string("al.ice"));
	t = sign(rsa, "RS256", "r1", c);
	ok(oidc_verify_id_token(t, jwks, &x, user, err, sizeof err) == 0 && !strcmp(user, "al.ice"),
	   "username_claim = nickname: the user is that claim (%s)", user);
	free(t);
}

int main(void)
{
	keys();
	ok(rsa && ec && oct, "test keys made");
	signatures();
	claim_checks();
	cjose_jwk_release(rsa);
	cjose_jwk_release(ec);
	cjose_jwk_release(oct);
	json_decref(jwks);
	return tap_done();
}
