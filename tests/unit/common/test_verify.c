/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * test_verify: verify.c against keys, certificates and signatures made by
 * the openssl command line and Python (make_verify_fixtures.sh), never by
 * herald itself, except the one signer round trip, which is then checked by
 * openssl and Python too. Not a test of canon.c or envelope.c as such,
 * though the fixtures lean on both.
 *
 * Usage: test_verify FIXTURE_DIR (or $VERIFY_FIXTURES); prints TAP.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/common/buf.h"
#include "src/common/envelope.h"
#include "src/common/log.h"
#include "tests/unit/tap.h"
#include "src/common/verify.h"

#define BODHI_CN "bodhi-app01.example.org"
#define KOJI_CN "koji01.example.org"

static const char *fixdir;

static char *path_of(const char *name)
{
	static char p[4096];
	snprintf(p, sizeof p, "%s/%s", fixdir, name);
	return p;
}

static char *slurp(const char *name, size_t *len)
{
	FILE *f = fopen(path_of(name), "rb");
	struct buf b = BUF_INIT;
	char chunk[4096];
	size_t n;
	if (!f) {
		diag("cannot open %s", path_of(name));
		return NULL;
	}
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (buf_append(&b, chunk, n))
			abort();
	fclose(f);
	*len = b.len;
	return b.data ? b.data : calloc(1, 1);
}

static int spit(const char *path, const void *p, size_t n)
{
	char tmp[4200];
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	FILE *f = fopen(tmp, "wb");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f))
		return -1;
	return rename(tmp, path); /* a new inode, as config management does */
}

static int copy_fixture(const char *from, const char *to)
{
	size_t n;
	char *p = slurp(from, &n);
	char dst[4096];
	snprintf(dst, sizeof dst, "%s/%s", fixdir, to);
	int rc = p ? spit(dst, p, n) : -1;
	free(p);
	return rc;
}

/* ---- configs ---- */

static void add_key(struct verify_config *c, const char *name, const char *rawfile)
{
	size_t n;
	char *raw = slurp(rawfile, &n);
	if (!raw || n != 32)
		abort();
	c->keys = realloc(c->keys, (c->n_keys + 1) * sizeof *c->keys);
	c->keys[c->n_keys].name = strdup(name);
	memcpy(c->keys[c->n_keys].pub, raw, 32);
	c->n_keys++;
	free(raw);
}

/* NULL-terminated list of names. */
static void add_route(struct verify_config *c, const char *pattern, ...)
{
	va_list ap;
	c->routes = realloc(c->routes, (c->n_routes + 1) * sizeof *c->routes);
	struct verify_route *r = &c->routes[c->n_routes++];
	memset(r, 0, sizeof *r);
	r->pattern = strdup(pattern);
	va_start(ap, pattern);
	for (const char *n; (n = va_arg(ap, const char *));) {
		r->names = realloc(r->names, (r->n_names + 1) * sizeof *r->names);
		r->names[r->n_names++] = strdup(n);
	}
	va_end(ap);
}

/* The default config: CA, both Ed25519 keys, no CRL, no routes. */
static struct verify_config cfg_base(const char *ca)
{
	struct verify_config c;
	memset(&c, 0, sizeof c);
	c.require_signatures = true;
	c.security_level = 1;
	c.ca_file = ca ? strdup(path_of(ca)) : NULL;
	add_key(&c, "bodhi", "ed.pub.raw");
	add_key(&c, "koji", "ed2.pub.raw");
	return c;
}

/* Make a verifier and release the config, as the daemon does. */
static struct verifier *make(struct verify_config *c)
{
	struct verifier *v = NULL;
	char err[512] = "";
	if (verifier_new(c, &v, err, sizeof err))
		diag("verifier_new: %s", err);
	verify_config_release(c);
	return v;
}

/* ---- running envelopes ---- */

struct outcome {
	int r; /* enum verify_result, or -1 if the envelope did not parse */
	const char *signer;
	const char *detail;
};

static struct outcome run_raw(struct verifier *v, const char *raw, size_t len, struct buf *scratch)
{
	struct outcome o = {-1, NULL, NULL};
	struct envelope env;
	const char *why = NULL;
	if (envelope_parse(&env, raw, len, &why) != ENVELOPE_OK) {
		o.detail = why;
		return o;
	}
	o.r = verify_envelope(v, &env, raw, len, scratch, &o.signer, &o.detail);
	envelope_release(&env);
	return o;
}

static struct outcome run(struct verifier *v, const char *name)
{
	struct buf scratch = BUF_INIT;
	size_t len;
	char file[256];
	snprintf(file, sizeof file, "%s.json", name);
	char *raw = slurp(file, &len);
	struct outcome o = {-1, NULL, "fixture missing"};
	if (raw && v)
		o = run_raw(v, raw, len, &scratch);
	free(raw);
	buf_release(&scratch);
	return o;
}

static const char *rname(int r)
{
	return r < 0 ? "unparsable" : verify_result_name((enum verify_result)r);
}

/* One test point: `name` gives `want`, and on success the signer `who`
 * (NULL: no signer expected). */
static int expect(struct verifier *v, const char *name, enum verify_result want, const char *who,
		  const char *why)
{
	struct outcome o = run(v, name);
	bool good = o.r == (int)want;
	if (good && want == VERIFY_OK)
		good = who ? o.signer && !strcmp(o.signer, who) : !o.signer;
	if (!ok(good, "%s: %s -> %s (%s)", why, name, verify_result_name(want), who ? who : "-"))
		diag("got %s, signer %s, detail %s", rname(o.r), o.signer ? o.signer : "(null)",
		     o.detail ? o.detail : "(null)");
	return good;
}

/* ---- tests ---- */

static void test_topic_match(void)
{
	static const struct {
		const char *pattern, *topic;
		bool want;
	} cases[] = {
		{"org.example.prod.bodhi.update", "org.example.prod.bodhi.update", true},
		{"org.example.prod.bodhi.update", "org.example.prod.bodhi.updates", false},
		{"org.example.prod.bodhi.update", "org.example.prod.bodhi", false},
		{"*", "anything.at.all", true},
		{"*", "", true},
		{"", "", true},
		{"", "x", false},
		{"org.example.*.bodhi.*", "org.example.prod.bodhi.update.comment", true},
		{"org.example.*.bodhi.*", "org.example.stg.dev.bodhi.x", true}, /* * spans dots */
		{"org.example.*.bodhi.*", "org.example.prod.koji.bodhi", false},
		{"*.bodhi.*", "org.bodhi.x", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"*.update", "org.update.update", true},
		{"org.*", "org", false},
		{"**a", "bba", true},
	};
	int bad = 0;
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		if (verify_topic_match(cases[i].pattern, cases[i].topic) != cases[i].want) {
			diag("'%s' vs '%s': expected %s", cases[i].pattern, cases[i].topic,
			     cases[i].want ? "match" : "no match");
			bad++;
		}
	ok(!bad, "verify_topic_match: %zu cases", sizeof cases / sizeof *cases);
}

static void test_names(void)
{
	ok(!strcmp(verify_result_name(VERIFY_OK), "ok") &&
		   !strcmp(verify_result_name(VERIFY_BAD_SIGNATURE), "bad_signature") &&
		   !strcmp(verify_result_name(VERIFY_UNKNOWN_SIGNER), "unknown_signer") &&
		   !strcmp(verify_result_name(VERIFY_RESULT_COUNT), "unknown"),
	   "verify_result_name");
	int named = 1;
	for (int r = 0; r < VERIFY_RESULT_COUNT; r++)
		named &= verify_result_name((enum verify_result)r) != NULL &&
			 strcmp(verify_result_name((enum verify_result)r), "unknown");
	ok(named, "every result has a name");
}

static void test_new_errors(void)
{
	struct verifier *v = NULL;
	char err[512] = "";
	struct verify_config c = cfg_base(NULL);
	c.ca_file = strdup(path_of("no-such-ca.pem"));
	int rc = verifier_new(&c, &v, err, sizeof err);
	ok(rc < 0 && !v && strstr(err, "no-such-ca.pem"), "missing ca_file refused: %s", err);
	verify_config_release(&c);

	c = cfg_base("ca.pem");
	c.crl_file = strdup(path_of("signer.key"));
	rc = verifier_new(&c, &v, err, sizeof err);
	ok(rc < 0 && !v && strstr(err, "crl_file"), "unreadable crl_file refused: %s", err);
	verify_config_release(&c);

	c = cfg_base(NULL);
	c.crl_file = strdup(path_of("crl.pem"));
	rc = verifier_new(&c, &v, err, sizeof err);
	ok(rc == -EINVAL && !v, "crl_file without ca_file refused: %s", err);
	verify_config_release(&c);

	c = cfg_base("ca.pem");
	c.security_level = 6;
	rc = verifier_new(&c, &v, err, sizeof err);
	ok(rc == -EINVAL && !v, "security_level 6 refused: %s", err);
	verify_config_release(&c);

	c = cfg_base(NULL);
	add_key(&c, "bodhi", "ed2.pub.raw");
	rc = verifier_new(&c, &v, err, sizeof err);
	ok(rc == -EINVAL && !v && strstr(err, "bodhi"), "duplicate key name refused: %s", err);
	verify_config_release(&c);

	verifier_free(NULL);
	ok(1, "verifier_free(NULL) is a no-op");
}

static void test_x509(void)
{
	struct verify_config c = cfg_base("ca.pem");
	struct verifier *v = make(&c);
	ok(v != NULL, "x509 verifier");
	if (!v)
		return;
	expect(v, "x509_sha1", VERIFY_OK, BODHI_CN, "fedmsg sha1, 76-column base64");
	expect(v, "x509_sha256", VERIFY_OK, BODHI_CN, "sha256");
	expect(v, "x509_sha1", VERIFY_OK, BODHI_CN, "sha1 again after sha256 (digest hint)");
	expect(v, "x509_wrap64", VERIFY_OK, BODHI_CN, "64-column base64");
	expect(v, "x509_flat", VERIFY_OK, BODHI_CN, "unwrapped base64");
	expect(v, "x509_nocrypto", VERIFY_OK, BODHI_CN, "no crypto field, certificate present");
	expect(v, "x509_unicode", VERIFY_OK, BODHI_CN, "non-ASCII, astral, escapes");
	expect(v, "x509_numbers", VERIFY_OK, BODHI_CN, "floats and integers past 64 bits");
	expect(v, "x509_numbers_i", VERIFY_OK, BODHI_CN, "integers past 64 bits in msg, with \"i\"");
	expect(v, "x509_deep", VERIFY_OK, BODHI_CN, "100 levels of nesting");
	expect(v, "x509_koji", VERIFY_OK, KOJI_CN, "second certificate, no routes");

	/* The name is owned by the cache: the same pointer every time. */
	struct outcome a = run(v, "x509_sha1"), b = run(v, "x509_flat");
	ok(a.signer && a.signer == b.signer, "cached signer name is stable");

	expect(v, "archive_full", VERIFY_OK, BODHI_CN, "archive copy: source_*, float ts, {} headers");
	expect(v, "archive_nullheaders", VERIFY_OK, BODHI_CN, "archive copy: null headers");
	expect(v, "archive_source_only", VERIFY_OK, BODHI_CN, "archive copy: source fields only");
	expect(v, "archive_half", VERIFY_BAD_SIGNATURE, NULL, "source_name without source_version");
	expect(v, "archive_headers", VERIFY_BAD_SIGNATURE, NULL, "archive copy with real headers");

	expect(v, "x509_swapped", VERIFY_BAD_SIGNATURE, NULL, "signed by another key");
	expect(v, "x509_wrongca", VERIFY_BAD_CERTIFICATE, NULL, "certificate from another CA");
	expect(v, "x509_wrongca", VERIFY_BAD_CERTIFICATE, NULL, "other CA, again (not cached)");
	expect(v, "x509_expired", VERIFY_BAD_CERTIFICATE, NULL, "expired certificate");
	expect(v, "x509_revoked", VERIFY_OK, BODHI_CN, "revoked certificate, no CRL configured");

	expect(v, "x509_sig_garbage", VERIFY_MALFORMED, NULL, "signature not base64");
	expect(v, "x509_sig_dash", VERIFY_MALFORMED, NULL, "signature with trailing '-garbage'");
	expect(v, "x509_sig_midpad", VERIFY_MALFORMED, NULL, "signature with padding inside");
	expect(v, "x509_sig_trunc", VERIFY_MALFORMED, NULL, "signature truncated mid-quantum");
	expect(v, "x509_sig_empty", VERIFY_MALFORMED, NULL, "empty signature");
	expect(v, "x509_sig_bits", VERIFY_MALFORMED, NULL, "signature base64 with stray end bits");
	expect(v, "x509_cert_garbage", VERIFY_MALFORMED, NULL, "certificate not base64");
	expect(v, "x509_cert_notpem", VERIFY_MALFORMED, NULL, "certificate base64 of plain text");
	expect(v, "x509_cert_der", VERIFY_MALFORMED, NULL, "certificate base64 of DER, not PEM");
	expect(v, "x509_nocert", VERIFY_MALFORMED, NULL, "crypto x509 without certificate");
	expect(v, "x509_nocrypto_nocert", VERIFY_MALFORMED, NULL, "signature, no crypto, no cert");
	expect(v, "gpg", VERIFY_UNSUPPORTED, NULL, "crypto gpg");
	expect(v, "unsigned_bodhi", VERIFY_UNSIGNED, NULL, "unsigned, signatures required");
	expect(v, "unsigned_gpg", VERIFY_UNSIGNED, NULL, "crypto gpg without signature");
	verifier_free(v);

	c = cfg_base("ca.pem");
	c.ignore_cert_time = true;
	v = make(&c);
	expect(v, "x509_expired", VERIFY_OK, BODHI_CN, "expired, ignore_cert_time");
	verifier_free(v);

	c = cfg_base("ca.pem");
	c.crl_file = strdup(path_of("crl.pem"));
	v = make(&c);
	expect(v, "x509_revoked", VERIFY_BAD_CERTIFICATE, NULL, "revoked, CRL configured");
	expect(v, "x509_sha1", VERIFY_OK, BODHI_CN, "not revoked, CRL configured");
	verifier_free(v);

	c = cfg_base(NULL);
	v = make(&c);
	expect(v, "x509_sha1", VERIFY_UNSUPPORTED, NULL, "x509 without ca_file");
	verifier_free(v);
}

static void test_legacy(void)
{
	/* RSA-1024 signed with SHA-1: see the security level note in verify_cert.c. */
	static const struct {
		int level;
		enum verify_result want;
		const char *detail;
	} cases[] = {
		{0, VERIFY_OK, NULL},
		{1, VERIFY_BAD_CERTIFICATE, "digest algorithm too weak"},
		{2, VERIFY_BAD_CERTIFICATE, "too weak"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct verify_config c = cfg_base("ca.pem");
		c.security_level = cases[i].level;
		struct verifier *v = make(&c);
		struct outcome o = run(v, "x509_legacy");
		bool good = o.r == (int)cases[i].want &&
			    (!cases[i].detail || (o.detail && strstr(o.detail, cases[i].detail)));
		if (!ok(good, "RSA-1024/SHA-1 certificate at security_level %d -> %s", cases[i].level,
			verify_result_name(cases[i].want)))
			diag("got %s (%s)", rname(o.r), o.detail ? o.detail : "");
		verifier_free(v);
	}
	/* The message signature itself is SHA-1 at level 1: fine. */
	struct verify_config c = cfg_base("ca.pem");
	struct verifier *v = make(&c);
	expect(v, "x509_sha1", VERIFY_OK, BODHI_CN, "sha1 message signature at security_level 1");
	verifier_free(v);
}

static void test_ed25519(void)
{
	struct verify_config c = cfg_base(NULL);
	struct verifier *v = make(&c);
	ok(v != NULL, "ed25519 verifier");
	if (!v)
		return;
	expect(v, "ed_ok", VERIFY_OK, "bodhi", "ed25519");
	expect(v, "ed_unicode", VERIFY_OK, "bodhi", "ed25519, non-ASCII");
	expect(v, "ed_numbers", VERIFY_OK, "bodhi", "ed25519, numbers");
	expect(v, "ed_archived", VERIFY_OK, "bodhi", "ed25519, archive copy");
	expect(v, "ed_unknown", VERIFY_UNKNOWN_SIGNER, NULL, "signer not in config");
	expect(v, "ed_wrongkey", VERIFY_BAD_SIGNATURE, NULL, "signed with another key");
	expect(v, "ed_renamed", VERIFY_BAD_SIGNATURE, NULL, "signer renamed to another trusted key");
	expect(v, "ed_nosigner", VERIFY_MALFORMED, NULL, "no signer field");
	expect(v, "ed_short", VERIFY_MALFORMED, NULL, "63-byte signature");
	expect(v, "ed_long", VERIFY_MALFORMED, NULL, "65-byte signature");
	verifier_free(v);

	c = cfg_base(NULL);
	for (size_t i = 0; i < c.n_keys; i++)
		free(c.keys[i].name);
	free(c.keys);
	c.keys = NULL;
	c.n_keys = 0;
	v = make(&c);
	expect(v, "ed_ok", VERIFY_UNKNOWN_SIGNER, NULL, "no keys configured");
	verifier_free(v);
}

static void test_unsigned_and_policy(void)
{
	struct verify_config c = cfg_base("ca.pem");
	c.require_signatures = false;
	struct verifier *v = make(&c);
	expect(v, "unsigned_wiki", VERIFY_OK, NULL, "unsigned allowed");
	expect(v, "unsigned_gpg", VERIFY_OK, NULL, "unsigned allowed, crypto gpg");
	expect(v, "x509_swapped", VERIFY_BAD_SIGNATURE, NULL, "signed messages still checked");
	expect(v, "x509_sha1", VERIFY_OK, BODHI_CN, "signed message, signatures optional");
	verifier_free(v);

	c = cfg_base("ca.pem");
	add_route(&c, "org.example.*.bodhi.*", BODHI_CN, "bodhi", NULL);
	add_route(&c, "org.example.prod.koji.*", KOJI_CN, "koji", NULL);
	v = make(&c);
	expect(v, "x509_sha1", VERIFY_OK, BODHI_CN, "route allows signer");
	expect(v, "x509_koji", VERIFY_POLICY, NULL, "koji cert on a bodhi topic");
	expect(v, "x509_koji_on_koji", VERIFY_OK, KOJI_CN, "koji cert on a koji topic");
	expect(v, "x509_wiki", VERIFY_OK, BODHI_CN, "topic no route covers, not strict");
	expect(v, "ed_ok", VERIFY_OK, "bodhi", "route allows ed25519 key name");
	expect(v, "ed_wiki", VERIFY_OK, "bodhi", "ed25519, uncovered topic, not strict");
	expect(v, "x509_revoked", VERIFY_OK, BODHI_CN, "route ignores which certificate");
	verifier_free(v);

	c = cfg_base("ca.pem");
	c.routing_strict = true;
	add_route(&c, "org.example.*.bodhi.*", BODHI_CN, "bodhi", NULL);
	v = make(&c);
	expect(v, "x509_sha1", VERIFY_OK, BODHI_CN, "strict: covered topic");
	expect(v, "x509_wiki", VERIFY_POLICY, NULL, "strict: uncovered topic");
	expect(v, "ed_wiki", VERIFY_POLICY, NULL, "strict: uncovered topic, ed25519");
	verifier_free(v);

	/* The first matching route decides, even if a later one would allow. */
	c = cfg_base("ca.pem");
	add_route(&c, "*.bodhi.update.*", KOJI_CN, NULL);
	add_route(&c, "org.example.*", BODHI_CN, NULL);
	v = make(&c);
	expect(v, "x509_sha1", VERIFY_POLICY, NULL, "first matching route decides (deny)");
	expect(v, "x509_koji", VERIFY_OK, KOJI_CN, "first matching route decides (allow)");
	verifier_free(v);

	/* Unsigned messages meet the policy as a message without signer. */
	c = cfg_base("ca.pem");
	c.require_signatures = false;
	add_route(&c, "org.example.*.bodhi.*", BODHI_CN, NULL);
	v = make(&c);
	expect(v, "unsigned_bodhi", VERIFY_POLICY, NULL, "unsigned on a routed topic");
	expect(v, "unsigned_wiki", VERIFY_OK, NULL, "unsigned on an unrouted topic");
	verifier_free(v);

	c = cfg_base("ca.pem");
	c.require_signatures = false;
	c.routing_strict = true;
	v = make(&c);
	expect(v, "unsigned_wiki", VERIFY_POLICY, NULL, "unsigned, strict routing");
	verifier_free(v);
}

/* Change one letter or digit at a time inside msg (or anywhere): every
 * variant that still parses must fail; inside msg, as a bad signature. */
static void tamper(struct verifier *v, const char *name, bool whole)
{
	size_t len, start = 0, end, slen;
	char file[256];
	snprintf(file, sizeof file, "%s.json", name);
	char *raw = slurp(file, &len);
	end = len;
	if (!whole) {
		snprintf(file, sizeof file, "%s.span", name);
		char *span = slurp(file, &slen);
		if (!span || sscanf(span, "%zu %zu", &start, &end) != 2 || end > len)
			abort();
		free(span);
	}
	/* The certificate's PEM may carry a text dump before the BEGIN line
	 * that nothing authenticates (the DER is checked through the chain),
	 * so changes there rightly verify; leave the certificate alone. */
	size_t cert_lo = len, cert_hi = len;
	const char *cert = raw ? strstr(raw, "\"certificate\": \"") : NULL;
	if (cert) {
		cert_lo = (size_t)(cert - raw);
		const char *q = strchr(cert + 16, '"');
		cert_hi = q ? (size_t)(q - raw) : len;
	}
	struct buf scratch = BUF_INIT;
	int tried = 0, unparsable = 0, wrong = 0, badsig = 0;
	for (size_t i = start; raw && i < end; i++) {
		char c = raw[i], m;
		if (i >= cert_lo && i < cert_hi)
			continue;
		if (c >= 'a' && c <= 'z')
			m = c == 'z' ? 'a' : c + 1;
		else if (c >= 'A' && c <= 'Z')
			m = c == 'Z' ? 'A' : c + 1;
		else if (c >= '0' && c <= '9')
			m = c == '9' ? '1' : c + 1; /* never a new leading zero */
		else
			continue;
		raw[i] = m;
		struct outcome o = run_raw(v, raw, len, &scratch);
		raw[i] = c;
		tried++;
		if (o.r < 0) {
			unparsable++;
			continue;
		}
		badsig += o.r == VERIFY_BAD_SIGNATURE;
		if (o.r == VERIFY_OK || (!whole && o.r != VERIFY_BAD_SIGNATURE && o.r != VERIFY_MALFORMED)) {
			if (wrong++ < 5)
				diag("byte %zu '%c'->'%c': %s (%s)", i, c, m, rname(o.r),
				     o.detail ? o.detail : "");
		}
	}
	ok(!wrong && badsig >= 10, "tamper %s %s: %d variants, %d bad signature, %d unparsable", name,
	   whole ? "anywhere" : "in msg", tried, badsig, unparsable);
	buf_release(&scratch);
	free(raw);
}

static void test_tamper(void)
{
	struct verify_config c = cfg_base("ca.pem");
	struct verifier *v = make(&c);
	tamper(v, "x509_tamper", false);
	tamper(v, "x509_unicode", false);
	tamper(v, "ed_tamper", false);
	tamper(v, "ed_unicode", false);
	tamper(v, "x509_sha1", true);
	tamper(v, "ed_ok", true);
	verifier_free(v);
}

/* Rotated CA and CRL files are picked up after a chain failure. */
static void test_reload(void)
{
	if (copy_fixture("ca2.pem", "reload-ca.pem") || copy_fixture("crl0.pem", "reload-crl.pem")) {
		ok(0, "reload fixtures");
		return;
	}
	struct verify_config c = cfg_base("reload-ca.pem");
	struct verifier *rot = make(&c);
	c = cfg_base("ca.pem");
	c.crl_file = strdup(path_of("reload-crl.pem"));
	struct verifier *crl = make(&c);

	expect(rot, "x509_sha1", VERIFY_BAD_CERTIFICATE, NULL, "CA file lacks our CA");
	expect(crl, "x509_revoked", VERIFY_OK, BODHI_CN, "old CRL: not yet revoked (now cached)");
	ok(!copy_fixture("ca.pem", "reload-ca.pem") && !copy_fixture("crl.pem", "reload-crl.pem"),
	   "replace CA and CRL files on disk");
	expect(crl, "x509_revoked", VERIFY_OK, BODHI_CN, "cached: no disk access per message");
	usleep(2100 * 1000); /* past the reload rate limit (RELOAD_MIN_MS) */
	expect(rot, "x509_sha1", VERIFY_OK, BODHI_CN, "new CA file picked up after a failure");
	expect(rot, "x509_sha1", VERIFY_OK, BODHI_CN, "and cached");
	/* Any chain failure reloads; cached entries are then re-checked. */
	expect(crl, "x509_wrongca", VERIFY_BAD_CERTIFICATE, NULL, "a chain failure reloads");
	expect(crl, "x509_revoked", VERIFY_BAD_CERTIFICATE, NULL, "cached cert revoked by new CRL");
	expect(crl, "x509_sha1", VERIFY_OK, BODHI_CN, "others still fine with the new CRL");
	verifier_free(rot);
	verifier_free(crl);
}

/* More certificates than the cache holds: evicted ones verify again, and a
 * signer name handed out before an eviction stays valid (ASan would see). */
static void test_eviction(void)
{
	size_t len;
	char *all = slurp("evict.jsonl", &len);
	struct verify_config c = cfg_base("ca.pem");
	struct verifier *v = make(&c);
	struct buf scratch = BUF_INIT;
	const char *first_signer = NULL;
	int lines = 0, good = 0;
	char *line = all, *nl, *first = all;
	for (; all && line < all + len && (nl = strchr(line, '\n')); line = nl + 1, lines++) {
		struct outcome o = run_raw(v, line, (size_t)(nl - line), &scratch);
		if (o.r == VERIFY_OK && o.signer && !strcmp(o.signer, "many.example.org"))
			good++;
		if (!lines)
			first_signer = o.signer;
	}
	ok(lines == 1100 && good == lines, "1100 distinct certificates: %d of %d verified", good,
	   lines);
	nl = first ? strchr(first, '\n') : NULL;
	struct outcome o = nl ? run_raw(v, first, (size_t)(nl - first), &scratch)
			      : (struct outcome){-1, NULL, NULL};
	ok(o.r == VERIFY_OK, "evicted certificate verifies again");
	ok(first_signer && !strcmp(first_signer, "many.example.org"),
	   "signer name from before the eviction is still valid");
	buf_release(&scratch);
	verifier_free(v);
	free(all);
}

/* ---- threads ---- */

struct loaded {
	char *raw;
	size_t len;
	struct envelope env;
	const char *signer;
};

struct worker {
	struct verifier *v;
	struct loaded *msgs;
	size_t n_msgs;
	int rounds, offset, failures;
	enum verify_result first_bad;
	const char *first_why;
	pthread_barrier_t *start;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct buf scratch = BUF_INIT;
	pthread_barrier_wait(w->start);
	for (int i = 0; i < w->rounds; i++) {
		struct loaded *m = &w->msgs[(size_t)(i + w->offset) % w->n_msgs];
		const char *who = NULL, *why = NULL;
		enum verify_result r = verify_envelope(w->v, &m->env, m->raw, m->len, &scratch, &who, &why);
		if ((r != VERIFY_OK || !who || strcmp(who, m->signer)) && !w->failures++) {
			w->first_bad = r;
			w->first_why = why;
		}
	}
	buf_release(&scratch);
	return NULL;
}

static void test_threads(void)
{
	static const struct {
		const char *name, *signer;
	} set[] = {{"x509_sha1", BODHI_CN}, {"x509_sha256", BODHI_CN}, {"x509_unicode", BODHI_CN},
		   {"x509_koji", KOJI_CN},  {"x509_sha1", BODHI_CN},   {"ed_ok", "bodhi"}};
	enum { N = sizeof set / sizeof *set, ROUNDS = 10000 };
	struct loaded msgs[N];
	char file[256];
	int loaded = 0;
	for (int i = 0; i < N; i++) {
		snprintf(file, sizeof file, "%s.json", set[i].name);
		msgs[i].raw = slurp(file, &msgs[i].len);
		msgs[i].signer = set[i].signer;
		if (msgs[i].raw &&
		    envelope_parse(&msgs[i].env, msgs[i].raw, msgs[i].len, NULL) == ENVELOPE_OK)
			loaded++;
	}
	if (loaded != N) {
		ok(0, "thread fixtures");
		return;
	}
	/* A fresh verifier, so both threads also race on the first cache fill. */
	struct verify_config c = cfg_base("ca.pem");
	add_route(&c, "*", BODHI_CN, KOJI_CN, "bodhi", NULL);
	struct verifier *v = make(&c);
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, 2);
	struct worker w[2];
	pthread_t t[2];
	for (int i = 0; i < 2; i++) {
		/* Different starting points so the threads are not in lockstep. */
		w[i] = (struct worker){v, msgs, N, ROUNDS, i * 3, 0, VERIFY_OK, NULL, &start};
		if (pthread_create(&t[i], NULL, work, &w[i]))
			abort();
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	ok(!w[0].failures && !w[1].failures, "2 threads x %d verifications: %d + %d failures", ROUNDS,
	   w[0].failures, w[1].failures);
	for (int i = 0; i < 2; i++)
		if (w[i].failures)
			diag("thread %d first failure: %s (%s)", i, verify_result_name(w[i].first_bad),
			     w[i].first_why ? w[i].first_why : "wrong signer");
	pthread_barrier_destroy(&start);
	verifier_free(v);
	for (int i = 0; i < N; i++) {
		envelope_release(&msgs[i].env);
		free(msgs[i].raw);
	}
}

/* ---- signing ---- */

static void test_signer(void)
{
	struct ed25519_signer *s = NULL;
	char err[512] = "";
	ok(verify_signer_load(path_of("no-such-key.pem"), &s, err, sizeof err) < 0 && !s &&
		   strstr(err, "no-such-key.pem"),
	   "missing key file: %s", err);
	ok(verify_signer_load(path_of("rsa.key"), &s, err, sizeof err) == -EINVAL && !s,
	   "RSA key refused: %s", err);
	verify_signer_free(NULL);
	int rc = verify_signer_load(path_of("ed.pem"), &s, err, sizeof err);
	if (!ok(rc == 0 && s, "load ed25519 key from openssl genpkey")) {
		diag("%s", err);
		return;
	}

	/* Escapes, astral characters, an integer past 64 bits: what we sign
	 * must be what Python/openssl check. */
	const char *env = "{\"topic\": \"org.example.prod.bodhi.update.comment\", \"crypto\": "
			  "\"ed25519\", \"signer\": \"bodhi\", \"timestamp\": 1700000000, "
			  "\"msg\": {\"z\": \"caf\xc3\xa9 \\ud83d\\ude00 \xf0\x9f\x98\x80\", \"a\": 1E5, "
			  "\"big\": 123456789012345678901234567890, \"s\": \"\\/x\"}}";
	struct buf sig = BUF_INIT, signed_env = BUF_INIT;
	rc = verify_signer_sign(s, env, strlen(env), &sig);
	ok(rc == 0 && sig.len == 88 && !memchr(sig.data, '\n', sig.len),
	   "sign: 88 characters of base64, no newline");
	buf_append(&signed_env, env, strlen(env) - 1);
	buf_printf(&signed_env, ", \"signature\": \"%s\"}", sig.data ? sig.data : "");

	struct verify_config c = cfg_base(NULL);
	struct verifier *v = make(&c);
	struct buf scratch = BUF_INIT;
	struct outcome o = run_raw(v, signed_env.data, signed_env.len, &scratch);
	ok(o.r == VERIFY_OK && o.signer && !strcmp(o.signer, "bodhi"),
	   "round trip: verify_envelope accepts our signature");

	char out[4200], cmd[9000];
	snprintf(out, sizeof out, "%s/roundtrip.json", fixdir);
	ok(!spit(out, signed_env.data, signed_env.len), "write roundtrip.json");
	snprintf(cmd, sizeof cmd, "sh '%s/ed_verify.sh' '%s' '%s/ed.pub.pem' >/dev/null 2>&1", fixdir,
		 out, fixdir);
	ok(system(cmd) == 0, "round trip: python canonical bytes + openssl pkeyutl -verify agree");

	/* Signing an envelope that already carries credentials ignores them. */
	struct buf sig2 = BUF_INIT;
	rc = verify_signer_sign(s, signed_env.data, signed_env.len, &sig2);
	ok(rc == 0 && sig2.len == sig.len && !memcmp(sig2.data, sig.data, sig.len),
	   "existing signature is not signed over");
	ok(verify_signer_sign(s, "{\"a\": 1,}", 9, &sig2) == -EINVAL, "bad JSON refused");

	buf_release(&sig);
	buf_release(&sig2);
	buf_release(&signed_env);
	buf_release(&scratch);
	verifier_free(v);
	verify_signer_free(s);
}

static void test_config_release(void)
{
	/* Under ASan/LSan this proves every owned field is freed. */
	struct verify_config c = cfg_base("ca.pem");
	c.crl_file = strdup("crl");
	add_route(&c, "a.*", "x", "y", NULL);
	add_route(&c, "b", "z", NULL);
	verify_config_release(&c);
	ok(!c.ca_file && !c.crl_file && !c.routes && !c.n_routes && !c.keys && !c.n_keys,
	   "verify_config_release clears the config");
	verify_config_release(&c);
	ok(1, "verify_config_release twice is harmless");
}

int main(int argc, char **argv)
{
	fixdir = argc > 1 ? argv[1] : getenv("VERIFY_FIXTURES");
	if (!fixdir) {
		printf("Bail out! usage: test_verify FIXTURE_DIR (or set VERIFY_FIXTURES)\n");
		return 1;
	}
	/* Reload notices would be noise between TAP lines; warnings stay. */
	log_setup("test_verify", L_WARN, false);
	test_topic_match();
	test_names();
	test_new_errors();
	test_x509();
	test_legacy();
	test_ed25519();
	test_unsigned_and_policy();
	test_tamper();
	test_signer();
	test_config_release();
	test_eviction();
	test_threads();
	test_reload();
	return tap_done();
}
