/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * oidc: the OpenID Connect relying party (see oidc.h): discovery and JWKS
 * caches, the back channel (libcurl), the pending sign-ins in the store, and
 * the ID token's checks (cjose for the signature). Not for HTTP serving.
 */
#include "oidc.h"

#include <cjose/cjose.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "session.h"
#include "src/common/b64url.h"
#include "src/common/buf.h"
#include "src/common/clock.h"
#include "src/common/config.h"
#include "src/common/log.h"
#include "src/daemon/store.h"

#define FETCH_MAX (256u << 10)
#define CONNECT_TIMEOUT_MS 3000L
#define TOTAL_TIMEOUT_MS 5000L
#define JWKS_REFETCH_MIN_MS 10000u
#define SECRET_MAX 1024
#define IAT_MAX_AGE_S 86400
#define PRUNE_PER_BEGIN 32 /* an ID token issued a day ago is not from this sign-in */

struct oidc {
	char *issuer, *client_id, *client_secret, *redirect_uri, *scopes, *username_claim;
	bool loopback_http;        /* the issuer is http:// on loopback: allow http */
	pthread_mutex_t lock;      /* guards the three cached values below */
	json_t *discovery;         /* the provider's metadata, or NULL before the first fetch */
	json_t *jwks;              /* its key set, or NULL */
	uint64_t jwks_at_ms;       /* monotonic time of the last JWKS fetch */
};

static __attribute__((format(printf, 3, 4))) int refuse(char *err, size_t errlen,
							  const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EPERM;
}

/* ---- the secret ---- */

int oidc_check_secret_file(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errlen, "[oidc] client_secret_file %s: %s", path, strerror(errno));
		return -errno;
	}
	int rc = fstat(fd, &st) ? -errno : 0;
	close(fd);
	if (!rc && !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "[oidc] client_secret_file %s is not a regular file", path);
		return -EINVAL;
	}
	if (!rc && (st.st_mode & 077)) {
		snprintf(err, errlen, "[oidc] client_secret_file %s: group or others have access "
				      "(mode %03o); chmod 600 it", path, (unsigned)(st.st_mode & 0777));
		return -EPERM;
	}
	if (rc)
		snprintf(err, errlen, "[oidc] client_secret_file %s: %s", path, strerror(-rc));
	return rc;
}

/* The first line of the file, without its newline. */
static int read_secret(const char *path, char **out, char *err, size_t errlen)
{
	char line[SECRET_MAX + 2];
	int rc = oidc_check_secret_file(path, err, errlen);
	if (rc)
		return rc;
	FILE *f = fopen(path, "re");
	if (!f || !fgets(line, sizeof line, f)) {
		snprintf(err, errlen, "[oidc] client_secret_file %s: cannot read it", path);
		if (f)
			fclose(f);
		return -EIO;
	}
	fclose(f);
	line[strcspn(line, "\r\n")] = '\0';
	if (!line[0] || strlen(line) > SECRET_MAX) {
		snprintf(err, errlen, "[oidc] client_secret_file %s: expected the secret on its "
				      "first line (1 to %d characters)", path, SECRET_MAX);
		OPENSSL_cleanse(line, sizeof line);
		return -EINVAL;
	}
	*out = strdup(line);
	OPENSSL_cleanse(line, sizeof line);
	return *out ? 0 : -ENOMEM;
}

/* ---- the back channel ---- */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	if (b->len + n > FETCH_MAX || buf_append(b, data, n))
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	return n;
}

/*
 * GET (form == NULL) or POST a form to `url`, with HTTP basic auth when
 * user is set. A 2xx JSON object lands in *out. -EIO with err otherwise.
 */
static int fetch_json(const struct oidc *o, const char *url, const char *form, const char *user,
		      const char *pass, json_t **out, char *err, size_t errlen)
{
	struct buf body = BUF_INIT;
	long status = 0;
	int rc = -EIO;
	CURL *h = curl_easy_init();
	if (!h)
		return -ENOMEM;
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, o->loopback_http ? "http,https" : "https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, TOTAL_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)FETCH_MAX);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "heraldd");
	if (form)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, form);
	if (user) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, user);
		curl_easy_setopt(h, CURLOPT_PASSWORD, pass);
	}
	CURLcode cc = curl_easy_perform(h);
	if (cc == CURLE_OK)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	json_t *v = cc == CURLE_OK ? json_loadb(body.data ? body.data : "", body.len, 0, NULL) : NULL;
	if (cc != CURLE_OK)
		snprintf(err, errlen, "the identity provider could not be reached (%s)",
			 curl_easy_strerror(cc));
	else if (status < 200 || status > 299)
		snprintf(err, errlen, "the identity provider answered HTTP %ld (%s)", status,
			 json_string_value(json_object_get(v, "error")) ?: "no reason given");
	else if (!json_is_object(v))
		snprintf(err, errlen, "the identity provider's answer is not a JSON object");
	else
		rc = 0;
	if (rc)
		json_decref(v);
	else
		*out = v;
	buf_release(&body);
	curl_easy_cleanup(h);
	return rc;
}

/* An endpoint from discovery must be https:// (or http:// when the issuer is
 * a loopback http URL, for tests) and not point elsewhere by scheme tricks. */
static const char *endpoint(const struct oidc *o, const json_t *disc, const char *name)
{
	const char *u = json_string_value(json_object_get(disc, name));
	if (!u || strpbrk(u, " \t\r\n\"<>\\"))
		return NULL;
	if (!strncmp(u, "https://", 8) || (o->loopback_http && !strncmp(u, "http://", 7)))
		return u;
	return NULL;
}

/* The discovery document, fetched once. The caller owns a reference. */
static int discovery(struct oidc *o, json_t **out, char *err, size_t errlen)
{
	pthread_mutex_lock(&o->lock);
	json_t *d = json_incref(o->discovery);
	pthread_mutex_unlock(&o->lock);
	if (d)
		return *out = d, 0;
	char url[1024];
	snprintf(url, sizeof url, "%s/.well-known/openid-configuration", o->issuer);
	int rc = fetch_json(o, url, NULL, NULL, NULL, &d, err, errlen);
	if (rc)
		return rc;
	const char *iss = json_string_value(json_object_get(d, "issuer"));
	if (!iss || strcmp(iss, o->issuer) || !endpoint(o, d, "authorization_endpoint") ||
	    !endpoint(o, d, "token_endpoint") || !endpoint(o, d, "jwks_uri")) {
		log_warn("web: oidc discovery at %s: issuer '%s' (expected '%s') or an endpoint is "
			 "missing or not https", url, iss ? iss : "", o->issuer);
		json_decref(d);
		snprintf(err, errlen, "the identity provider's discovery document does not fit "
				      "the configured issuer");
		return -EIO;
	}
	pthread_mutex_lock(&o->lock);
	if (!o->discovery)
		o->discovery = json_incref(d);
	pthread_mutex_unlock(&o->lock);
	*out = d;
	return 0;
}

/* The key set: the cached one, or a fresh fetch when `refresh` (and the
 * last fetch is not too recent) or when there is none. */
static int key_set(struct oidc *o, const json_t *disc, bool refresh, json_t **out, char *err,
		   size_t errlen)
{
	uint64_t now = clock_mono_ms();
	pthread_mutex_lock(&o->lock);
	json_t *k = o->jwks;
	bool fetch = !k || (refresh && now - o->jwks_at_ms >= JWKS_REFETCH_MIN_MS);
	if (!fetch)
		json_incref(k);
	pthread_mutex_unlock(&o->lock);
	if (!fetch)
		return *out = k, 0;
	int rc = fetch_json(o, endpoint(o, disc, "jwks_uri"), NULL, NULL, NULL, &k, err, errlen);
	if (rc)
		return rc;
	if (!json_is_array(json_object_get(k, "keys"))) {
		json_decref(k);
		snprintf(err, errlen, "the identity provider's key set has no keys");
		return -EIO;
	}
	pthread_mutex_lock(&o->lock);
	json_decref(o->jwks);
	o->jwks = json_incref(k);
	o->jwks_at_ms = now;
	pthread_mutex_unlock(&o->lock);
	*out = k;
	return 0;
}

/* ---- pending sign-ins ---- */

int oidc_pending_put(struct store *s, const char *state, const struct oidc_pending *p)
{
	json_t *v = json_pack("{s:s, s:s, s:s, s:I}", "verifier", p->verifier, "nonce", p->nonce,
			      "return", p->return_path, "expires", (json_int_t)p->expires);
	char *text = v ? json_dumps(v, JSON_COMPACT) : NULL;
	int rc = text ? store_kv_put(s, STORE_KV_AUTH_STATES, state, strlen(state), text,
				     strlen(text))
		      : -ENOMEM;
	free(text);
	json_decref(v);
	return rc;
}

static bool copy_str(char *dst, size_t n, const char *src)
{
	if (!src || strlen(src) >= n)
		return false;
	strcpy(dst, src);
	return true;
}

int oidc_pending_take(struct store *s, const char *state, int64_t now_s, struct oidc_pending *out)
{
	struct buf b = BUF_INIT;
	if (!state || !*state || strlen(state) > 128)
		return -ENOENT;
	int rc = store_kv_take(s, STORE_KV_AUTH_STATES, state, strlen(state), &b);
	json_t *v = rc ? NULL : json_loadb(b.data, b.len, 0, NULL);
	buf_release(&b);
	if (rc)
		return rc == -EPROTO ? -ENOENT : rc;
	json_t *exp = json_object_get(v, "expires");
	if (!json_is_integer(exp) ||
	    !copy_str(out->verifier, sizeof out->verifier,
		      json_string_value(json_object_get(v, "verifier"))) ||
	    !copy_str(out->nonce, sizeof out->nonce, json_string_value(json_object_get(v, "nonce"))) ||
	    !copy_str(out->return_path, sizeof out->return_path,
		      json_string_value(json_object_get(v, "return"))))
		rc = -ENOENT;
	else if ((out->expires = json_integer_value(exp)) <= now_s)
		rc = -ETIMEDOUT;
	json_decref(v);
	return rc;
}

/* Expired pending sign-ins: never finished, never taken. */
static bool pending_expired(void *arg, const void *val, size_t vlen)
{
	int64_t now = *(const int64_t *)arg;
	json_t *v = json_loadb(val, vlen, 0, NULL);
	json_int_t exp = json_integer_value(json_object_get(v, "expires"));
	json_decref(v);
	return exp <= now;
}

/* ---- the ID token ---- */

static bool alg_allowed(const char *alg, cjose_jwk_kty_t *kty)
{
	static const char *rsa[] = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"};
	static const char *ec[] = {"ES256", "ES384", "ES512"};
	for (size_t i = 0; alg && i < 6; i++)
		if (!strcmp(alg, rsa[i]))
			return *kty = CJOSE_JWK_KTY_RSA, true;
	for (size_t i = 0; alg && i < 3; i++)
		if (!strcmp(alg, ec[i]))
			return *kty = CJOSE_JWK_KTY_EC, true;
	return false;
}

/* The key of the set that fits kid (NULL kid: the only one of that type),
 * type and alg, imported; NULL when none does. */
static cjose_jwk_t *find_key(const json_t *jwks, const char *kid, const char *alg,
			     cjose_jwk_kty_t kty)
{
	static const char *kty_names[] = {[CJOSE_JWK_KTY_RSA] = "RSA", [CJOSE_JWK_KTY_EC] = "EC"};
	const json_t *keys = json_object_get(jwks, "keys"), *k, *found = NULL;
	size_t i, matches = 0;
	json_array_foreach(keys, i, k) {
		const char *kk = json_string_value(json_object_get(k, "kid"));
		const char *kt = json_string_value(json_object_get(k, "kty"));
		const char *use = json_string_value(json_object_get(k, "use"));
		const char *ka = json_string_value(json_object_get(k, "alg"));
		if ((kid && (!kk || strcmp(kk, kid))) || !kt || strcmp(kt, kty_names[kty]) ||
		    (use && strcmp(use, "sig")) || (ka && strcmp(ka, alg)))
			continue;
		found = k;
		matches++;
	}
	if (!found || (!kid && matches != 1))
		return NULL;
	char *text = json_dumps(found, JSON_COMPACT);
	cjose_err cerr;
	cjose_jwk_t *jwk = text ? cjose_jwk_import(text, strlen(text), &cerr) : NULL;
	free(text);
	if (jwk && cjose_jwk_get_kty(jwk, &cerr) != kty) {
		cjose_jwk_release(jwk);
		jwk = NULL;
	}
	return jwk;
}

/* Check the signature; the verified payload as JSON in *claims. */
static int check_signature(const char *jwt, const json_t *jwks, json_t **claims, char *err,
			   size_t errlen)
{
	cjose_err cerr;
	cjose_jwk_kty_t kty;
	uint8_t *plain = NULL;
	size_t plain_len = 0;
	int rc;
	cjose_jws_t *jws = cjose_jws_import(jwt, strlen(jwt), &cerr);
	if (!jws)
		return refuse(err, errlen, "the ID token is not a signed JWT (%s)", cerr.message);
	cjose_header_t *hdr = cjose_jws_get_protected(jws);
	const char *alg = hdr ? cjose_header_get(hdr, CJOSE_HDR_ALG, &cerr) : NULL;
	const char *kid = hdr ? cjose_header_get(hdr, CJOSE_HDR_KID, &cerr) : NULL;
	cjose_jwk_t *jwk = NULL;
	if (!alg_allowed(alg, &kty)) {
		rc = refuse(err, errlen, "the ID token's algorithm '%s' is not accepted",
			    alg ? alg : "(none)");
	} else if (!(jwk = find_key(jwks, kid, alg, kty))) {
		snprintf(err, errlen, "no key of the identity provider fits the ID token (kid '%s')",
			 kid ? kid : "");
		rc = -ENOKEY;
	} else if (!cjose_jws_verify(jws, jwk, &cerr) ||
		   !cjose_jws_get_plaintext(jws, &plain, &plain_len, &cerr)) {
		rc = refuse(err, errlen, "the ID token's signature is not valid");
	} else if (!(*claims = json_loadb((const char *)plain, plain_len, 0, NULL)) ||
		   !json_is_object(*claims)) {
		json_decref(*claims);
		*claims = NULL;
		rc = refuse(err, errlen, "the ID token's claims are not a JSON object");
	} else {
		rc = 0;
	}
	if (jwk)
		cjose_jwk_release(jwk);
	cjose_jws_release(jws);
	return rc;
}

static bool string_is(const json_t *v, const char *want)
{
	const char *s = json_string_value(v);
	return s && strlen(s) == strlen(want) && CRYPTO_memcmp(s, want, strlen(want)) == 0;
}

/* aud holds client_id; with several audiences (or an azp at all) azp must be
 * client_id too. */
static bool audience_ok(const json_t *claims, const char *client_id)
{
	const json_t *aud = json_object_get(claims, "aud"), *azp = json_object_get(claims, "azp"), *a;
	size_t i, n = 0;
	bool found = false;
	if (json_is_string(aud)) {
		found = string_is(aud, client_id);
		n = 1;
	} else if (json_is_array(aud)) {
		json_array_foreach(aud, i, a)
			found |= string_is(a, client_id);
		n = json_array_size(aud);
	}
	if (!found || ((n > 1 || azp) && !string_is(azp, client_id)))
		return false;
	return true;
}

static int check_claims(const json_t *c, const struct oidc_expect *e,
			char user[DIRECTORY_NAME_MAX + 1], char *err, size_t errlen)
{
	const json_t *exp = json_object_get(c, "exp"), *iat = json_object_get(c, "iat");
	if (!string_is(json_object_get(c, "iss"), e->issuer))
		return refuse(err, errlen, "the ID token was issued by someone else");
	if (!audience_ok(c, e->client_id))
		return refuse(err, errlen, "the ID token is not meant for herald (aud/azp)");
	if (!json_is_number(exp) || json_number_value(exp) + OIDC_SKEW_S <= (double)e->now_s)
		return refuse(err, errlen, "the ID token has expired");
	if (!json_is_number(iat) || json_number_value(iat) > (double)(e->now_s + OIDC_SKEW_S) ||
	    json_number_value(iat) < (double)(e->now_s - IAT_MAX_AGE_S))
		return refuse(err, errlen, "the ID token's issue time is not plausible");
	if (!e->nonce || !string_is(json_object_get(c, "nonce"), e->nonce))
		return refuse(err, errlen, "the ID token's nonce is not this sign-in's");
	if (!json_is_string(json_object_get(c, "sub")))
		return refuse(err, errlen, "the ID token names no subject");
	const char *name = json_string_value(json_object_get(c, e->username_claim));
	if (!name)
		return refuse(err, errlen, "the ID token has no '%s' claim to name the user",
			      e->username_claim);
	if (!directory_valid_user_name(name))
		return refuse(err, errlen, "the account name given by the identity provider is not "
					   "a valid herald user name (1 to %d of a-z, 0-9, '.', '_' "
					   "and '-')", DIRECTORY_NAME_MAX);
	strcpy(user, name);
	return 0;
}

int oidc_verify_id_token(const char *jwt, const json_t *jwks, const struct oidc_expect *e,
			 char user[DIRECTORY_NAME_MAX + 1], char *err, size_t errlen)
{
	json_t *claims = NULL;
	int rc = check_signature(jwt, jwks, &claims, err, errlen);
	if (!rc)
		rc = check_claims(claims, e, user, err, errlen);
	json_decref(claims);
	return rc;
}

/* ---- the flow ---- */

int oidc_new(const struct config_oidc *cfg, const char *redirect_uri, struct oidc **out,
	     char *err, size_t errlen)
{
	struct oidc *o = calloc(1, sizeof *o);
	if (!o)
		return -ENOMEM;
	pthread_mutex_init(&o->lock, NULL);
	int rc = read_secret(cfg->client_secret_file, &o->client_secret, err, errlen);
	if (!rc && (!(o->issuer = strdup(cfg->issuer)) || !(o->client_id = strdup(cfg->client_id)) ||
		    !(o->redirect_uri = strdup(redirect_uri)) || !(o->scopes = strdup(cfg->scopes)) ||
		    !(o->username_claim = strdup(cfg->username_claim))))
		rc = -ENOMEM;
	if (rc) {
		oidc_free(o);
		return rc;
	}
	/* config.c allowed http:// only for a loopback issuer. */
	o->loopback_http = !strncmp(o->issuer, "http://", 7);
	*out = o;
	return 0;
}

void oidc_free(struct oidc *o)
{
	if (!o)
		return;
	if (o->client_secret)
		OPENSSL_cleanse(o->client_secret, strlen(o->client_secret));
	free(o->client_secret);
	free(o->issuer);
	free(o->client_id);
	free(o->redirect_uri);
	free(o->scopes);
	free(o->username_claim);
	json_decref(o->discovery);
	json_decref(o->jwks);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

/* "&name=value", the value percent-encoded. */
static int add_param(struct buf *b, const char *name, const char *value)
{
	char *enc = curl_easy_escape(NULL, value, 0);
	int rc = enc ? buf_printf(b, "%s%s=%s", b->len ? "&" : "", name, enc) : -ENOMEM;
	curl_free(enc);
	return rc;
}

static void pkce_challenge(const char *verifier, char out[SESSION_TOKEN_LEN + 1])
{
	unsigned char d[SHA256_DIGEST_LENGTH];
	SHA256((const unsigned char *)verifier, strlen(verifier), d);
	b64url_encode(d, sizeof d, out);
}

int oidc_begin(struct oidc *o, struct store *s, const char *return_path, int64_t now_s,
	       char **url, char *err, size_t errlen)
{
	struct oidc_pending p = {.expires = now_s + OIDC_STATE_TTL_S};
	char state[SESSION_TOKEN_LEN + 1], challenge[SESSION_TOKEN_LEN + 1];
	struct buf q = BUF_INIT;
	json_t *disc = NULL;
	size_t pruned, pending = 0;
	int rc;
	*err = '\0';
	if (strlen(return_path) > OIDC_RETURN_MAX)
		return_path = "/";
	strcpy(p.return_path, return_path);
	if ((rc = discovery(o, &disc, err, errlen)))
		return rc;
	if ((rc = session_random_token(state)) || (rc = session_random_token(p.nonce)) ||
	    (rc = session_random_token(p.verifier)))
		goto out;
	pkce_challenge(p.verifier, challenge);
	/* States are random, so pruning from the new one samples at random. */
	store_kv_prune(s, STORE_KV_AUTH_STATES, state, strlen(state), PRUNE_PER_BEGIN,
		       pending_expired, &now_s, &pruned);
	if (!store_kv_count(s, STORE_KV_AUTH_STATES, &pending) && pending >= OIDC_PENDING_MAX) {
		rc = -EBUSY;
		snprintf(err, errlen, "too many sign-ins are in progress; please try again in a few "
				      "minutes");
		goto out;
	}
	if ((rc = oidc_pending_put(s, state, &p)))
		goto out;
	const char *ep = endpoint(o, disc, "authorization_endpoint");
	if ((rc = buf_printf(&q, "%s%c", ep, strchr(ep, '?') ? '&' : '?')))
		goto out;
	struct buf params = BUF_INIT; /* add_param puts '&' between, not before */
	if ((rc = add_param(&params, "response_type", "code")) ||
	    (rc = add_param(&params, "client_id", o->client_id)) ||
	    (rc = add_param(&params, "redirect_uri", o->redirect_uri)) ||
	    (rc = add_param(&params, "scope", o->scopes)) || (rc = add_param(&params, "state", state)) ||
	    (rc = add_param(&params, "nonce", p.nonce)) ||
	    (rc = add_param(&params, "code_challenge", challenge)) ||
	    (rc = add_param(&params, "code_challenge_method", "S256")) ||
	    (rc = buf_append(&q, params.data, params.len))) {
		buf_release(&params);
		goto out;
	}
	buf_release(&params);
	*url = q.data;
	q.data = NULL;
out:
	if (rc && !*err)
		snprintf(err, errlen, "could not start the sign-in (%s)", strerror(-rc));
	buf_release(&q);
	json_decref(disc);
	return rc;
}

/* Code for an ID token at the token endpoint. */
static int exchange(struct oidc *o, const json_t *disc, const char *code, const char *verifier,
		    char **id_token, char *err, size_t errlen)
{
	struct buf form = BUF_INIT;
	json_t *tok = NULL;
	/* client_secret_basic: both parts form-encoded first (RFC 6749 2.3.1). */
	char *user = curl_easy_escape(NULL, o->client_id, 0);
	char *pass = curl_easy_escape(NULL, o->client_secret, 0);
	int rc = user && pass ? 0 : -ENOMEM;
	if (!rc && ((rc = add_param(&form, "grant_type", "authorization_code")) ||
		    (rc = add_param(&form, "code", code)) ||
		    (rc = add_param(&form, "redirect_uri", o->redirect_uri)) ||
		    (rc = add_param(&form, "code_verifier", verifier))))
		goto out;
	if (!rc)
		rc = fetch_json(o, endpoint(o, disc, "token_endpoint"), form.data, user, pass, &tok,
				err, errlen);
	const char *id = rc ? NULL : json_string_value(json_object_get(tok, "id_token"));
	if (!rc && !id)
		rc = refuse(err, errlen, "the identity provider gave no ID token");
	if (!rc && !(*id_token = strdup(id)))
		rc = -ENOMEM;
out:
	if (pass)
		OPENSSL_cleanse(pass, strlen(pass));
	curl_free(user);
	curl_free(pass);
	json_decref(tok);
	buf_release(&form);
	return rc;
}

/* Verify, fetching the key set again once when it lacks the token's kid. */
static int verify(struct oidc *o, const json_t *disc, const char *id_token, const char *nonce,
		  int64_t now_s, char user[DIRECTORY_NAME_MAX + 1], char *err, size_t errlen)
{
	struct oidc_expect e = {.issuer = o->issuer, .client_id = o->client_id, .nonce = nonce,
				.username_claim = o->username_claim, .now_s = now_s};
	json_t *jwks = NULL;
	int rc = key_set(o, disc, false, &jwks, err, errlen);
	if (!rc)
		rc = oidc_verify_id_token(id_token, jwks, &e, user, err, errlen);
	json_decref(jwks);
	jwks = NULL;
	if (rc == -ENOKEY && !(rc = key_set(o, disc, true, &jwks, err, errlen)))
		rc = oidc_verify_id_token(id_token, jwks, &e, user, err, errlen);
	json_decref(jwks);
	return rc == -ENOKEY ? -EPERM : rc;
}

int oidc_finish(struct oidc *o, struct store *s, const char *code, const char *state,
		int64_t now_s, struct oidc_result *out, char *err, size_t errlen)
{
	struct oidc_pending p;
	json_t *disc = NULL;
	char *id_token = NULL;
	int rc = oidc_pending_take(s, state, now_s, &p);
	if (rc == -ETIMEDOUT)
		return refuse(err, errlen, "the sign-in took longer than %d minutes; please sign in "
					   "again", OIDC_STATE_TTL_S / 60);
	if (rc)
		return refuse(err, errlen, "this sign-in is unknown or was already used; please "
					   "sign in again");
	if (!code || !*code || strlen(code) > 2048)
		return refuse(err, errlen, "the identity provider sent no authorization code");
	if ((rc = discovery(o, &disc, err, errlen)) ||
	    (rc = exchange(o, disc, code, p.verifier, &id_token, err, errlen)) ||
	    (rc = verify(o, disc, id_token, p.nonce, now_s, out->user, err, errlen)))
		goto out;
	strcpy(out->return_path, p.return_path);
out:
	OPENSSL_cleanse(&p, sizeof p);
	free(id_token);
	json_decref(disc);
	return rc;
}
