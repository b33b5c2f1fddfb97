/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* p256pub: a P-256 public point in base64url (see p256pub.h). */
#include "p256pub.h"

#include <errno.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

#include "b64url.h"

#define POINT_LEN 65 /* 0x04 || X || Y */

static void openssl_reason(char *err, size_t errlen, const char *what)
{
	unsigned long e = ERR_get_error();
	char detail[256] = "no detail";
	if (e)
		ERR_error_string_n(e, detail, sizeof detail);
	ERR_clear_error();
	snprintf(err, errlen, "%s (%s)", what, detail);
}

int p256pub_b64url(EVP_PKEY *pk, char out[P256PUB_B64_LEN], char *err, size_t errlen)
{
	char group[64] = "";
	unsigned char point[POINT_LEN + 1];
	size_t n = 0;
	if (!EVP_PKEY_is_a(pk, "EC")) {
		snprintf(err, errlen, "not an EC key (%s)", EVP_PKEY_get0_type_name(pk));
		return -EINVAL;
	}
	if (!EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
					    NULL) ||
	    strcmp(group, "prime256v1")) {
		snprintf(err, errlen, "not a P-256 key (curve %s)", *group ? group : "unknown");
		return -EINVAL;
	}
	if (!EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point,
					     sizeof point, &n) ||
	    n != POINT_LEN || point[0] != 0x04) {
		openssl_reason(err, errlen, "no uncompressed public point");
		return -EINVAL;
	}
	b64url_encode(point, n, out);
	return 0;
}

int p256pub_read_pem(const char *path, char out[P256PUB_B64_LEN], char *err, size_t errlen)
{
	EVP_PKEY *pk = NULL;
	int rc;
	FILE *f = fopen(path, "re");
	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "%s", strerror(errno));
		return rc;
	}
	/* A private key only: the file is the sink's signing key. */
	if (!(pk = PEM_read_PrivateKey(f, NULL, NULL, NULL))) {
		openssl_reason(err, errlen, "not a PEM private key");
		rc = -EINVAL;
		goto out;
	}
	rc = p256pub_b64url(pk, out, err, errlen);
out:
	EVP_PKEY_free(pk);
	fclose(f);
	return rc;
}
