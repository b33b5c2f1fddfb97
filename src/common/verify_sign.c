/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * verify_sign: signing with an Ed25519 private key (see verify.h), for
 * `herald publish` and tests: the same canonical bytes verify_envelope()
 * checks, signed and base64-encoded.
 *
 * Not for verifying (verify.c) nor for X.509 signing: fedmsg's RSA
 * certificates are only ever checked here, never used to sign.
 */
#include "verify.h"

#include <errno.h>
#include <stdlib.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "canon.h"
#include "verify_int.h"

struct ed25519_signer {
	EVP_PKEY *pkey;
};

/* Never prompt on a terminal from a daemon: encrypted keys are refused. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int verify_signer_load(const char *pem_path, struct ed25519_signer **out, char *err,
		       size_t errlen)
{
	int rc = 0;
	*out = NULL;
	BIO *bio = BIO_new_file(pem_path, "r");
	EVP_PKEY *pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	BIO_free(bio);
	if (!pkey)
		return verify_ossl_fail(err, errlen, -EINVAL, "verify: cannot read private key '%s'",
				 pem_path);
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_ED25519) {
		rc = verify_ossl_fail(err, errlen, -EINVAL, "verify: '%s' is not an Ed25519 private key",
			       pem_path);
		goto out;
	}
	struct ed25519_signer *s = malloc(sizeof *s);
	if (!s) {
		rc = verify_ossl_fail(err, errlen, -ENOMEM, "verify: out of memory");
		goto out;
	}
	s->pkey = pkey;
	pkey = NULL;
	*out = s;
out:
	EVP_PKEY_free(pkey);
	return rc;
}

/* -EINVAL: not canonicalizable JSON; -ENOMEM; -EIO: OpenSSL refused. */
int verify_signer_sign(struct ed25519_signer *s, const char *envelope_json, size_t len,
		       struct buf *sig_b64)
{
	struct buf tbs = BUF_INIT;
	unsigned char sig[64];
	unsigned char text[4 * (sizeof sig + 2) / 3 + 1];
	size_t siglen = sizeof sig;
	EVP_MD_CTX *ctx = NULL;
	/* The same transformation verify_envelope() applies, so what we sign
	 * is what will be checked. */
	int rc = canon_json(envelope_json, len, CANON_STRIP_CREDENTIALS | CANON_FIX_ARCHIVE, &tbs,
			    NULL);
	if (rc)
		goto out;
	if (!(ctx = EVP_MD_CTX_new())) {
		rc = -ENOMEM;
		goto out;
	}
	if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, s->pkey) != 1 ||
	    EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)tbs.data, tbs.len) != 1 ||
	    siglen != sizeof sig) {
		ERR_clear_error();
		rc = -EIO;
		goto out;
	}
	int n = EVP_EncodeBlock(text, sig, (int)siglen); /* no newlines */
	rc = buf_append(sig_b64, text, (size_t)n);
out:
	EVP_MD_CTX_free(ctx);
	buf_release(&tbs);
	return rc;
}

void verify_signer_free(struct ed25519_signer *s)
{
	if (!s)
		return;
	EVP_PKEY_free(s->pkey);
	free(s);
}
