/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ece_bench: the raw rate of one core at what the webpush sink does per
 * message (plugins/webpush/ece.c: a fresh P-256 key pair, ECDH with the
 * browser's key, two HKDF-SHA-256, AES-128-GCM of one record), for
 * bench/webpush's first line.
 *
 *   ece_bench [PLAIN_BYTES]     (default 300: a typical notice)
 *
 * Runs each loop for about two seconds of this thread's CPU time and prints
 * one JSON line: operations per CPU-second.
 */
#define _GNU_SOURCE
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ece.h"

static double cpu_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A browser's subscription key: a P-256 point from a fresh key pair. */
static int browser_key(unsigned char pub[ECE_PUBLIC_LEN])
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	size_t n = 0;
	int rc = -1;

	if (k && EVP_PKEY_get_octet_string_param(k, "encoded-pub-key", pub, ECE_PUBLIC_LEN, &n) &&
	    n == ECE_PUBLIC_LEN)
		rc = 0;
	EVP_PKEY_free(k);
	return rc;
}

int main(int argc, char **argv)
{
	size_t plain_len = argc > 1 ? strtoul(argv[1], NULL, 10) : 300;
	unsigned char pub[ECE_PUBLIC_LEN], auth[ECE_AUTH_LEN] = "0123456789abcdef";
	unsigned char *plain = calloc(1, plain_len + 1), *out;
	struct ece *e = NULL;
	size_t out_len;
	unsigned long n = 0;
	double t0, t;

	if (!plain || plain_len > ECE_MAX_BODY - ECE_OVERHEAD || ece_new(&e) || browser_key(pub)) {
		fprintf(stderr, "ece_bench: setup failed (plain at most %d bytes)\n",
			ECE_MAX_BODY - ECE_OVERHEAD);
		return 1;
	}
	memset(plain, 'x', plain_len);
	t0 = cpu_s();
	do {
		for (int i = 0; i < 100; i++, n++) {
			if (ece_encrypt(e, pub, auth, plain, plain_len, 0, NULL, NULL, &out, &out_len)) {
				fprintf(stderr, "ece_bench: ece_encrypt failed\n");
				return 1;
			}
			free(out);
		}
		t = cpu_s() - t0;
	} while (t < 2.0);
	printf("{\"bench\": \"webpush\", \"phase\": \"raw_crypto\", \"what\": \"keygen+ECDH+HKDF+GCM\", "
	       "\"plain_bytes\": %zu, \"encryptions\": %lu, \"cpu_seconds\": %.3f, "
	       "\"encryptions_per_core_s\": %.0f, \"us_each\": %.1f}\n",
	       plain_len, n, t, (double)n / t, t * 1e6 / (double)n);
	ece_free(e);
	free(plain);
	return 0;
}
