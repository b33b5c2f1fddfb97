/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Unit tests for pushkey (the webpush sinks' VAPID public keys of GET
 * /v1/webpush): a P-256 key in PKCS#8 and in SEC1 PEM gives its
 * uncompressed point (checked against the key's SubjectPublicKeyInfo, not
 * the same call); a P-384 key, an Ed25519 key, a public key alone, a file
 * that is not PEM and a missing file are refused, each saying why. From a
 * config: only the sinks whose plugin is webpush (by name or path), the
 * relative vapid_key from the config file's folder whatever the current
 * directory, config order; a sink without vapid_key or with a bad key left
 * out. Reload: a rotated key is served and counted, a file broken since
 * keeps the key read before.
 */
#include "src/common/p256pub.h"
#include "src/web/pushkey.h"

#include <errno.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "src/common/b64url.h"
#include "src/common/config.h"
#include "tests/unit/tap.h"

static char dir[] = "/tmp/herald-test-pushkey-XXXXXX";

static char *in_dir(const char *name)
{
	static char paths[8][300];
	static int next;
	char *p = paths[next++ % 8];
	snprintf(p, 300, "%s/%s", dir, name);
	return p;
}

static void write_text(const char *name, const char *text)
{
	FILE *f = fopen(in_dir(name), "w");
	fputs(text, f);
	fclose(f);
}

/* A fresh key of `alg`/`curve`, written as PEM: PKCS#8, SEC1 ("type-specific")
 * or the public key alone. Its point (base64url, from the DER
 * SubjectPublicKeyInfo's last 65 bytes) in want when given. */
static void make_key(const char *name, const char *alg, const char *curve, const char *form,
		     char want[88])
{
	EVP_PKEY *pk =
	    curve ? EVP_PKEY_Q_keygen(NULL, NULL, alg, curve) : EVP_PKEY_Q_keygen(NULL, NULL, alg);
	FILE *f = fopen(in_dir(name), "w");
	if (!strcmp(form, "pkcs8")) {
		PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
	} else if (!strcmp(form, "public")) {
		PEM_write_PUBKEY(f, pk);
	} else {
		OSSL_ENCODER_CTX *ec = OSSL_ENCODER_CTX_new_for_pkey(
		    pk, OSSL_KEYMGMT_SELECT_KEYPAIR, "PEM", "type-specific", NULL);
		OSSL_ENCODER_to_fp(ec, f);
		OSSL_ENCODER_CTX_free(ec);
	}
	fclose(f);
	if (want) {
		unsigned char *der = NULL;
		int n = i2d_PUBKEY(pk, &der);
		b64url_encode(der + n - 65, 65, want);
		OPENSSL_free(der);
	}
	EVP_PKEY_free(pk);
}

static void read_keys(void)
{
	char want[88], got[88] = "", err[300] = "";
	make_key("pkcs8.pem", "EC", "P-256", "pkcs8", want);
	ok(p256pub_read_pem(in_dir("pkcs8.pem"), got, err, sizeof err) == 0 && !strcmp(got, want),
	   "PKCS#8 P-256: the uncompressed point %s (%s)", got, err);
	ok(strlen(got) == 87 && got[0] == 'B', "87 base64url characters, 0x04 first (B...)");
	make_key("sec1.pem", "EC", "P-256", "sec1", want);
	FILE *f = fopen(in_dir("sec1.pem"), "r");
	char line[64] = "";
	fgets(line, sizeof line, f);
	fclose(f);
	ok(!strncmp(line, "-----BEGIN EC PRIVATE KEY-----", 30),
	   "the SEC1 file is what openssl ecparam writes");
	ok(p256pub_read_pem(in_dir("sec1.pem"), got, err, sizeof err) == 0 && !strcmp(got, want),
	   "SEC1 P-256: its point (%s)", err);

	struct {
		const char *name, *alg, *curve, *form, *why;
	} bad[] = {
	    {"p384.pem", "EC", "P-384", "pkcs8", "not a P-256 key (curve secp384r1)"},
	    {"ed.pem", "ED25519", NULL, "pkcs8", "not an EC key (ED25519)"},
	    {"pub.pem", "EC", "P-256", "public", "not a PEM private key"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		make_key(bad[i].name, bad[i].alg, bad[i].curve, bad[i].form, NULL);
		err[0] = '\0';
		int rc = p256pub_read_pem(in_dir(bad[i].name), got, err, sizeof err);
		ok(rc == -EINVAL && strstr(err, bad[i].why), "%s refused: %s", bad[i].name, err);
	}
	write_text("junk.pem",
		   "-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n");
	ok(p256pub_read_pem(in_dir("junk.pem"), got, err, sizeof err) == -EINVAL &&
	       strstr(err, "not a PEM private key"),
	   "a broken PEM refused: %s", err);
	ok(p256pub_read_pem(in_dir("none.pem"), got, err, sizeof err) == -ENOENT,
	   "a missing file: -ENOENT (%s)", err);
}

static char *listing(struct pushkey *pk)
{
	json_t *v = NULL;
	char *s = pushkey_json(pk, NULL, NULL, &v) ? NULL : json_dumps(v, JSON_COMPACT);
	json_decref(v);
	return s;
}

static void from_config(void)
{
	char k1[88], k2[88], k3[88], conf[8192], err[600] = "", expect[600];
	struct config cfg;
	struct pushkey *pk = NULL;
	make_key("k1.pem", "EC", "P-256", "pkcs8", k1);
	make_key("k2.pem", "EC", "P-256", "sec1", k2);
	snprintf(
	    conf, sizeof conf,
	    "[daemon]\nstate_dir = %s/state\n[endpoint bus]\nconnect = tcp://127.0.0.1:1\n"
	    "[sink one]\nplugin = webpush\nvapid_key = k1.pem\nsubject = mailto:a@example.org\n"
	    "[sink mail]\nplugin = file\npath = f.jsonl\n"
	    "[sink nokey]\nplugin = webpush\nsubject = mailto:a@example.org\n"
	    "[sink two]\nplugin = /usr/lib/herald/sinks/webpush.so\nvapid_key = %s\n"
	    "[sink lookalike]\nplugin = webpushx\nvapid_key = k1.pem\n"
	    "[sink badkey]\nplugin = webpush\nvapid_key = p384.pem\n",
	    dir, in_dir("k2.pem"));
	write_text("heraldd.conf", conf);
	if (!ok(config_load(in_dir("heraldd.conf"), &cfg, err, sizeof err) == 0,
		"the config loads (%s)", err))
		return;
	chdir("/"); /* a relative vapid_key is from the config's folder, not from here */
	ok(pushkey_new(&cfg, &pk) == 0 && pk, "pushkey_new");
	config_release(&cfg); /* the pushkey keeps copies */
	char *s = listing(pk);
	snprintf(expect, sizeof expect,
		 "{\"sinks\":[{\"sink\":\"one\",\"public_key\":\"%s\"},{\"sink\":\"two\",\"public_"
		 "key\":\"%s\"}]}",
		 k1, k2);
	ok(s && !strcmp(s, expect), "only the webpush sinks with a readable key, in order: %s", s);
	free(s);

	make_key("k1.pem", "EC", "P-256", "pkcs8", k3);
	write_text("k2.pem", "broken since\n");
	ok(pushkey_reload(pk) == 1, "reload: one key changed");
	s = listing(pk);
	snprintf(expect, sizeof expect,
		 "{\"sinks\":[{\"sink\":\"one\",\"public_key\":\"%s\"},{\"sink\":\"two\",\"public_"
		 "key\":\"%s\"}]}",
		 k3, k2);
	ok(s && !strcmp(s, expect), "the rotated key served, the broken file's old key kept: %s",
	   s);
	free(s);
	ok(pushkey_reload(pk) == 0, "reload again: nothing changed");
	pushkey_free(pk);
	pushkey_free(NULL);
}

int main(void)
{
	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		return 1;
	}
	read_keys();
	from_config();
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		diag("could not remove %s", dir);
	return tap_done();
}
